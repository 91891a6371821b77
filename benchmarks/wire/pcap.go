package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"time"
)

// segment is one TCP segment with a payload, as captured.
type segment struct {
	at       int64 // ns, the kernel's timestamp
	toServer bool
	payload  []byte
}

// readPcap reads a classic pcap file with nanosecond timestamps on an Ethernet-framed
// link (Linux loopback) and returns the TCP segments with a payload to or from port.
func readPcap(file string, port int) ([]segment, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	if len(data) < 24 || binary.LittleEndian.Uint32(data) != 0xa1b23c4d {
		return nil, fmt.Errorf("%s: not a little-endian nanosecond pcap file", file)
	}
	if link := binary.LittleEndian.Uint32(data[20:]); link != 1 {
		return nil, fmt.Errorf("%s: link type %d, want 1 (Ethernet, as on lo)", file, link)
	}
	var segs []segment
	for off := 24; off+16 <= len(data); {
		sec, nsec := binary.LittleEndian.Uint32(data[off:]), binary.LittleEndian.Uint32(data[off+4:])
		n := int(binary.LittleEndian.Uint32(data[off+8:]))
		off += 16
		if off+n > len(data) {
			return nil, fmt.Errorf("%s: a packet cut short", file)
		}
		if s, ok := tcpSegment(data[off:off+n], port); ok {
			s.at = int64(sec)*1e9 + int64(nsec)
			segs = append(segs, s)
		}
		off += n
	}
	return segs, nil
}

// tcpSegment parses an Ethernet frame holding IPv4 or IPv6 and TCP.
func tcpSegment(frame []byte, port int) (segment, bool) {
	if len(frame) < 14 {
		return segment{}, false
	}
	ip := frame[14:]
	var tcp []byte
	switch binary.BigEndian.Uint16(frame[12:]) {
	case 0x0800:
		if len(ip) < 20 || ip[9] != 6 {
			return segment{}, false
		}
		total := int(binary.BigEndian.Uint16(ip[2:]))
		if total > len(ip) || int(ip[0]&15)*4 > total {
			return segment{}, false
		}
		tcp = ip[int(ip[0]&15)*4 : total]
	case 0x86dd:
		if len(ip) < 40 || ip[6] != 6 {
			return segment{}, false
		}
		tcp = ip[40:min(len(ip), 40+int(binary.BigEndian.Uint16(ip[4:])))]
	default:
		return segment{}, false
	}
	if len(tcp) < 20 || int(tcp[12]>>4)*4 > len(tcp) {
		return segment{}, false
	}
	payload := tcp[int(tcp[12]>>4)*4:]
	if len(payload) == 0 {
		return segment{}, false
	}
	return segment{toServer: int(binary.BigEndian.Uint16(tcp[2:])) == port, payload: payload}, true
}

// wirePhases pairs each MAIL, RCPT, DATA and final dot with the server's next segment
// (a non-pipelining client waits for each reply), in the connection's order.
func wirePhases(file string, port int) (map[string][]time.Duration, error) {
	segs, err := readPcap(file, port)
	if err != nil {
		return nil, err
	}
	out := map[string][]time.Duration{}
	pending, sentAt := "", int64(0)
	for _, s := range segs {
		if !s.toServer {
			if pending != "" {
				out[pending] = append(out[pending], time.Duration(s.at-sentAt))
				pending = ""
			}
			continue
		}
		switch {
		case bytes.HasPrefix(s.payload, []byte("MAIL ")):
			pending = "mail"
		case bytes.HasPrefix(s.payload, []byte("RCPT ")):
			pending = "rcpt"
		case bytes.HasPrefix(s.payload, []byte("DATA\r\n")):
			pending = "data"
		case bytes.HasSuffix(s.payload, []byte("\r\n.\r\n")):
			pending = "eod"
		default:
			continue // HELO, QUIT, or the first part of a body
		}
		sentAt = s.at
	}
	return out, nil
}

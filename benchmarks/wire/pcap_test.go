package main

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// frame builds an Ethernet/IPv4/TCP frame on loopback.
func frame(src, dst uint16, payload string) []byte {
	f := make([]byte, 14+20+20, 14+20+20+len(payload))
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(40+len(payload)))
	ip[9] = 6
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp, src)
	binary.BigEndian.PutUint16(tcp[2:], dst)
	tcp[12] = 5 << 4
	return append(f, payload...)
}

// writePcap writes frames as a nanosecond pcap file, the i-th at base + offsets[i] ns.
func writePcap(t *testing.T, frames [][]byte, at []int64) string {
	t.Helper()
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr, 0xa1b23c4d)
	binary.LittleEndian.PutUint32(hdr[20:], 1)
	out := hdr
	for i, f := range frames {
		rec := make([]byte, 16)
		binary.LittleEndian.PutUint32(rec, uint32(1700000000+at[i]/1e9))
		binary.LittleEndian.PutUint32(rec[4:], uint32(at[i]%1e9))
		binary.LittleEndian.PutUint32(rec[8:], uint32(len(f)))
		binary.LittleEndian.PutUint32(rec[12:], uint32(len(f)))
		out = append(append(out, rec...), f...)
	}
	file := filepath.Join(t.TempDir(), "t.pcap")
	if err := os.WriteFile(file, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestWirePhases(t *testing.T) {
	const c, s = 40000, 2525
	frames := [][]byte{
		frame(s, c, "220 x\r\n"), frame(c, s, "HELO vm\r\n"), frame(s, c, "250 x\r\n"),
		frame(c, s, "MAIL FROM:<a@x>\r\n"), frame(s, c, "250 ok\r\n"),
		frame(c, s, "RCPT TO:<b@y>\r\n"), frame(s, c, "250 ok\r\n"),
		frame(c, s, "DATA\r\n"), frame(s, c, "354 go\r\n"),
		frame(c, s, "Subject: x\r\n"), frame(c, s, "\r\nbody\r\n.\r\n"), frame(s, c, "250 queued\r\n"),
		frame(c, s, "QUIT\r\n"),
	}
	at := []int64{0, 10, 20, 1000, 1500, 2000, 2700, 3000, 3100, 4000, 4100, 9100, 9500}
	got, err := wirePhases(writePcap(t, frames, at), s)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Duration{"mail": 500, "rcpt": 700, "data": 100, "eod": 5000}
	for p, d := range want {
		if len(got[p]) != 1 || got[p][0] != d {
			t.Errorf("%s: %v, want [%v]", p, got[p], d)
		}
	}
}

func TestReadPcapRefuses(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bad.pcap")
	if err := os.WriteFile(file, []byte("not a capture at all, long enough"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readPcap(file, 25); err == nil {
		t.Error("a file that is not a pcap was read")
	}
}

func FuzzTCPSegment(f *testing.F) {
	f.Add(frame(40000, 25, "MAIL FROM:<a@x>\r\n"), 25)
	f.Add(frame(25, 40000, "250 ok\r\n"), 25)
	f.Fuzz(func(t *testing.T, b []byte, port int) {
		s, ok := tcpSegment(b, port)
		if ok && (len(s.payload) == 0 || len(s.payload) > len(b)) {
			t.Fatalf("payload of %d bytes from a %d-byte frame", len(s.payload), len(b))
		}
	})
}

package sink

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"time"
)

// The PROXY protocol (HAProxy's proxy-protocol.txt), as Postfix's
// smtpd_upstream_proxy_protocol = haproxy takes it: with Config.ProxyProtocol every
// connection starts with a version 1 or 2 header, before the banner, and the session's
// client is the header's source (stats, dumps, pushback). A bad header closes the
// connection without a reply, as Postfix does.

const (
	proxyV1Max        = 107 // the longest version 1 line, CRLF included
	proxyV2Signature  = "\r\n\r\n\x00\r\nQUIT\n"
	proxyV2HeaderSize = 16
)

// stepProxy reads the PROXY header; the banner follows it.
func (s *Session) stepProxy(in []byte) (int, Action, time.Duration) {
	n, addr, ok := parseProxyHeader(in)
	if !ok {
		s.phase = phaseClosed
		return len(in), ActionClose, 0
	}
	if n == 0 {
		return 0, ActionContinue, 0 // more to come
	}
	if addr.IsValid() {
		s.clientAddr = dumpAddr(addr)
	}
	s.env.stats.esmtp.proxyHeaders.Add(1)
	s.phase = phaseGreeting
	return n, ActionContinue, 0
}

// dumpAddr is an address in the dumps' form: "192.0.2.1", "ipv6:2001:db8::1".
func dumpAddr(a netip.Addr) string {
	if a.Is4() || a.Is4In6() {
		return a.Unmap().String()
	}
	return "ipv6:" + a.String()
}

// parseProxyHeader reads a header at the start of in: its length (0: incomplete), the
// source address (invalid for v1 UNKNOWN and v2 LOCAL) and whether it is well formed so
// far.
func parseProxyHeader(in []byte) (n int, src netip.Addr, ok bool) {
	switch {
	case len(in) == 0:
		return 0, src, true
	case in[0] == '\r':
		return parseProxyV2(in)
	}
	if !bytes.HasPrefix([]byte("PROXY "), in[:min(len(in), 6)]) {
		return 0, src, false
	}
	end := bytes.Index(in[:min(len(in), proxyV1Max)], []byte("\r\n"))
	if end < 0 {
		return 0, src, len(in) < proxyV1Max
	}
	f := bytes.Fields(in[:end])
	switch {
	case len(f) >= 2 && string(f[1]) == "UNKNOWN":
		return end + 2, src, true
	case len(f) != 6 || string(f[1]) != "TCP4" && string(f[1]) != "TCP6":
		return 0, src, false
	}
	a, err := netip.ParseAddr(string(f[2]))
	if err != nil || a.Is4() != (string(f[1]) == "TCP4") {
		return 0, src, false
	}
	return end + 2, a, true
}

func parseProxyV2(in []byte) (n int, src netip.Addr, ok bool) {
	if !bytes.HasPrefix([]byte(proxyV2Signature), in[:min(len(in), len(proxyV2Signature))]) {
		return 0, src, false
	}
	if len(in) < proxyV2HeaderSize {
		return 0, src, true
	}
	verCmd, fam := in[12], in[13]
	size := proxyV2HeaderSize + int(binary.BigEndian.Uint16(in[14:16]))
	if verCmd>>4 != 2 || verCmd&0xf > 1 {
		return 0, src, false
	}
	if len(in) < size {
		return 0, src, true
	}
	body := in[proxyV2HeaderSize:size]
	switch {
	case verCmd&0xf == 0: // LOCAL: the connection's own address stands
	case fam>>4 == 1 && len(body) >= 12:
		src = netip.AddrFrom4([4]byte(body[:4]))
	case fam>>4 == 2 && len(body) >= 36:
		src = netip.AddrFrom16([16]byte(body[:16]))
	default:
		return 0, src, false
	}
	return size, src, true
}

package sink

import (
	"strings"
	"testing"
)

func TestParseProxyHeader(t *testing.T) {
	v2 := proxyV2Signature + "\x21\x11\x00\x0c\xc0\x00\x02\x07\xc6\x33\x64\x01\x04\x00\x00\x19"
	for _, tc := range []struct {
		in   string
		n    int
		addr string
		ok   bool
	}{
		{"PROXY TCP4 192.0.2.7 198.51.100.1 1024 25\r\nEHLO x\r\n", 43, "192.0.2.7", true},
		{"PROXY TCP6 2001:db8::7 :: 1024 25\r\n", 35, "2001:db8::7", true},
		{"PROXY UNKNOWN\r\n", 15, "invalid IP", true},
		{"PROXY TCP4 192.0.2.7 198.51.100.1 1024", 0, "invalid IP", true}, // incomplete
		{"PRO", 0, "invalid IP", true},
		{"EHLO x\r\n", 0, "invalid IP", false},
		{"PROXY TCP4 2001:db8::7 :: 1 2\r\n", 0, "invalid IP", false},
		{"PROXY TCP4 " + strings.Repeat("1", 120), 0, "invalid IP", false},
		{v2 + "EHLO", 28, "192.0.2.7", true},
		{v2[:20], 0, "invalid IP", true},
		{proxyV2Signature + "\x20\x00\x00\x00", 16, "invalid IP", true}, // LOCAL
		{proxyV2Signature + "\x31\x11\x00\x0c", 0, "invalid IP", false},
		{"\r\n\r\nX", 0, "invalid IP", false},
	} {
		n, addr, ok := parseProxyHeader([]byte(tc.in))
		if n != tc.n || addr.String() != tc.addr || ok != tc.ok {
			t.Fatalf("%q: %d %v %v, want %d %s %v", tc.in, n, addr, ok, tc.n, tc.addr, tc.ok)
		}
	}
}

// With --proxy-protocol the banner waits for the header, split at every byte; the
// client in the dump is the header's.
func TestSessionProxyHeader(t *testing.T) {
	in := "PROXY TCP4 192.0.2.7 198.51.100.1 1024 25\r\nHELO x\r\nQUIT\r\n"
	for _, chunk := range []int{1, 2, 5, 100} {
		e := newTestEnv(t, func(c *Config) { c.ProxyProtocol = true })
		s := newSession(e, "127.0.0.1")
		tr := runSession(s, in, func() int { return chunk })
		if !strings.HasPrefix(tr.out, "220 ") || !strings.Contains(tr.out, "221 ") || s.clientAddr != "192.0.2.7" {
			t.Fatalf("chunk %d: %q, client %s", chunk, tr.out, s.clientAddr)
		}
		if e.stats.Snapshot().ESMTP.ProxyHeaders != 1 {
			t.Fatal("header not counted")
		}
	}
	e := newTestEnv(t, func(c *Config) { c.ProxyProtocol = true })
	if tr := runSession(newSession(e, "127.0.0.1"), "HELO x\r\n", nil); !tr.closed || tr.out != "" {
		t.Fatalf("no header: %q, closed %v", tr.out, tr.closed)
	}
}

func FuzzParseProxyHeader(f *testing.F) {
	f.Add([]byte("PROXY TCP4 192.0.2.7 198.51.100.1 1024 25\r\n"))
	f.Add([]byte(proxyV2Signature + "\x21\x21\x00\x24" + strings.Repeat("\x01", 36)))
	f.Fuzz(func(t *testing.T, in []byte) {
		n, _, ok := parseProxyHeader(in)
		if n < 0 || n > len(in) || !ok && n != 0 {
			t.Fatalf("%q: n %d ok %v", in, n, ok)
		}
	})
}

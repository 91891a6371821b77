package protocol

import (
	"encoding/binary"
	"math/rand"
	"net/netip"
	"strings"
	"testing"
)

func TestParseAddrList(t *testing.T) {
	l, err := ParseAddrList("192.0.2.1, 198.51.100.254/31,2001:db8::ff/127,::ffff:10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"192.0.2.1", "198.51.100.254", "198.51.100.255", "2001:db8::fe", "2001:db8::ff", "10.0.0.1", "192.0.2.1"}
	for i, w := range want {
		if got := l.At(uint64(i)).String(); got != w {
			t.Fatalf("At(%d) = %s, want %s", i, got, w)
		}
	}
	if l.Len() != 6 {
		t.Fatalf("Len %d", l.Len())
	}
	big, _ := ParseAddrList("10.0.0.0/8,2001:db8::/32")
	if big.Len() != 1<<24+1<<32 || big.At(1<<24-1).String() != "10.255.255.255" || big.At(1<<24+65536).String() != "2001:db8::1:0" {
		t.Fatalf("Len %d, %s, %s", big.Len(), big.At(1<<24-1), big.At(1<<24+65536))
	}
	for _, bad := range []string{"", "x", "192.0.2.1,", "192.0.2.0/33", "fe80::1%eth0", "1.2.3.4/x"} {
		if _, err := ParseAddrList(bad); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
}

func TestParseXClient(t *testing.T) {
	x, err := ParseXClient("ADDR=192.0.2.1,2001:db8::1,name=client.example,HELO=a b+c")
	if err != nil {
		t.Fatal(err)
	}
	if string(x.attrs) != " NAME=client.example HELO=a+20b+2Bc" || x.Addrs.Len() != 2 {
		t.Fatalf("attrs %q, %d addresses", x.attrs, x.Addrs.Len())
	}
	for _, bad := range []string{"", "ADDR", "FOO=1", "ADDR=300.1.1.1", "NAME=", ",NAME=x"} {
		if _, err := ParseXClient(bad); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
}

// XCLIENT goes after the first EHLO, one address of the rotation per session; the
// server's new 220 is answered with EHLO again; replies split at every byte.
func TestXClientSession(t *testing.T) {
	newX := func() *XClient {
		x, err := ParseXClient("ADDR=192.0.2.1,2001:db8::1,NAME=client.example")
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	x := newX()
	var res run
	for seed := int64(1); seed < 30; seed++ { // a fresh rotation each time
		sc := esmtpScenario(Config{Trace: true}, esmtpSpec, "250-XCLIENT NAME ADDR PROTO HELO\r\n", &ESMTP{XClient: newX()})
		sc.messages = 3
		r := drive(t, sc, rand.New(rand.NewSource(seed)), 1+int(seed%7))
		if seed > 1 && r.client != res.client {
			t.Fatalf("seed %d: client bytes differ with small chunks:\n%s\nvs\n%s", seed, r.client, res.client)
		}
		res = r
	}
	if res.err != nil || len(res.rec.outcomes) != 3 || res.rec.outcomes[3] != Accepted {
		t.Fatalf("err %v, outcomes %v", res.err, res.rec.outcomes)
	}
	for _, want := range []string{
		"EHLO vm\r\nXCLIENT ADDR=192.0.2.1 NAME=client.example\r\nEHLO vm\r\nMAIL FROM:<foo@vm>\r\n",
		"EHLO vm\r\nXCLIENT ADDR=IPV6:2001:db8::1 NAME=client.example\r\nEHLO vm\r\nMAIL",
	} {
		if !strings.Contains(res.client, want) {
			t.Fatalf("%q not sent:\n%s", want, res.client)
		}
	}
	if !strings.HasPrefix(strings.Join(res.rec.phases, " "), "banner:220 helo:250 xclient:220 helo:250 mail:250") {
		t.Fatalf("phases %v", res.rec.phases)
	}
	// Not announced: not sent. Refused: a rejection; with -A the session goes on as itself.
	plain := driveChunked(t, esmtpScenario(Config{}, esmtpSpec, "", &ESMTP{XClient: x}))
	if strings.Contains(plain.client, "XCLIENT") || plain.err != nil {
		t.Fatalf("err %v:\n%s", plain.err, plain.client)
	}
	one, _ := ParseXClient("ADDR=192.0.2.1") // one address: the same bytes under every chunking
	sc := esmtpScenario(Config{AllowReject: true}, esmtpSpec, "250-XCLIENT ADDR\r\n", &ESMTP{XClient: one})
	sc.server.Replies = map[string]string{"XCLIENT": "550 5.7.0 Error: insufficient authorization\r\n"}
	res = driveChunked(t, sc)
	if res.err != nil || res.rec.outcomes[1] != Accepted || len(res.rec.warnings) != 2 ||
		res.rec.warnings[0] != "XCLIENT rejected: 550 5.7.0 Error: insufficient authorization" {
		t.Fatalf("err %v, outcomes %v, warnings %q", res.err, res.rec.outcomes, res.rec.warnings)
	}
}

// Every connection starts with the PROXY header, before the banner, each from the next
// source.
func TestProxyHeader(t *testing.T) {
	srcs, _ := ParseAddrList("192.0.2.7,2001:db8::7")
	for _, tc := range []struct {
		v    ProxyVersion
		want []string
	}{
		{ProxyV1, []string{"PROXY TCP4 192.0.2.7 198.51.100.1 1024 2525\r\n", "PROXY TCP6 2001:db8::7 :: 1025 2525\r\n", "PROXY TCP4 192.0.2.7 198.51.100.1 1026 2525\r\n"}},
		{ProxyV2, []string{
			proxyV2Signature + "\x21\x11\x00\x0c" + "\xc0\x00\x02\x07" + "\xc6\x33\x64\x01" + "\x04\x00" + "\x09\xdd",
			proxyV2Signature + "\x21\x21\x00\x24" + string(netip.MustParseAddr("2001:db8::7").AsSlice()) + string(make([]byte, 16)) + "\x04\x01" + "\x09\xdd",
		}},
	} {
		h := &ProxyHeader{Version: tc.v, Sources: srcs, Dest: netip.MustParseAddrPort("198.51.100.1:2525")}
		s := newSession(t, Config{ESMTP: &ESMTP{Proxy: h}}, 10)
		for i, want := range tc.want {
			if i > 0 {
				s.c.Start(int64(i+1), 0)
			}
			if got := s.handOver(); got != want {
				t.Fatalf("v%d session %d: header %q, want %q", tc.v, i, got, want)
			}
			if s.read("220 hi\r\n") != StepRead || s.handOver() != "HELO \r\n" {
				t.Fatal("no HELO after the banner")
			}
		}
		if tc.v == ProxyV2 && binary.BigEndian.Uint16([]byte(tc.want[1])[14:]) != 36 {
			t.Fatal("v2 length")
		}
	}
}

func FuzzParseAddrList(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "10.0.0.0/8,2001:db8::/32", "::ffff:1.2.3.4/120", "0.0.0.0/0", "::/0,1.1.1.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseAddrList(s)
		if err != nil {
			return
		}
		if l.Len() == 0 {
			t.Fatalf("%q: empty list accepted", s)
		}
		for _, i := range []uint64{0, 1, l.Len() - 1, l.Len(), 1 << 40} {
			if a := l.At(i); !a.IsValid() || a != l.At(i%l.Len()) {
				t.Fatalf("%q: At(%d) = %v", s, i, a)
			}
		}
	})
}

func FuzzParseXClient(f *testing.F) {
	for _, s := range []string{"ADDR=192.0.2.1,NAME=x", "ADDR=10.0.0.0/8,2001:db8::/64,HELO=h e", "PROTO=ESMTP", "NAME=[UNAVAILABLE]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		x, err := ParseXClient(s)
		if err != nil {
			return
		}
		for _, ch := range x.attrs {
			if ch < ' ' || ch > '~' {
				t.Fatalf("%q: attributes %q not xtext", s, x.attrs)
			}
		}
	})
}

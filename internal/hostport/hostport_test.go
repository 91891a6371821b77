package hostport

import (
	"encoding/json"
	"net"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Address
		err  string
	}{
		{"127.0.0.1", Address{Network: "tcp", Host: "127.0.0.1"}, ""},
		{"host.example:2525", Address{Network: "tcp", Host: "host.example", Port: "2525"}, ""},
		{"inet:host.example:smtp", Address{Network: "tcp", Host: "host.example", Port: "smtp"}, ""},
		{"host:", Address{Network: "tcp", Host: "host"}, ""},
		{":2525", Address{Network: "tcp", Port: "2525"}, ""},
		{"inet:", Address{Network: "tcp"}, ""},
		{"::1:2525", Address{Network: "tcp", Host: "::1", Port: "2525"}, ""},
		{"[127.0.0.1]:2525", Address{Network: "tcp", Host: "127.0.0.1", Port: "2525", Bracketed: true}, ""},
		{"[127.0.0.1]", Address{Network: "tcp", Host: "127.0.0.1", Bracketed: true}, ""},
		{"inet:[::1]:25", Address{Network: "tcp", Host: "::1", Port: "25", Bracketed: true}, ""},
		{"[IPv6:::1]:25", Address{Network: "tcp", Host: "::1", Port: "25", Bracketed: true}, ""},
		{"[ipv6:::ffff:127.0.0.1]:25", Address{Network: "tcp", Host: "::ffff:127.0.0.1", Port: "25", Bracketed: true}, ""},
		{"[name]:25", Address{Network: "tcp", Host: "name", Port: "25", Bracketed: true}, ""},
		{"unix:/run/x.sock", Address{Network: "unix", Path: "/run/x.sock"}, ""},
		{"unix:", Address{Network: "unix"}, ""},
		{"[127.0.0.1", Address{}, `[127.0.0.1: missing "]"`},
		{"[127.0.0.1]x", Address{}, `[127.0.0.1]x: garbage after "]"`},
		{"[ipv6:127.0.0.1]:25", Address{}, "[ipv6:127.0.0.1]:25: malformed IPv6 address"},
		{"[ipv6:nonsense]:25", Address{}, "[ipv6:nonsense]:25: malformed IPv6 address"},
		{"unix:/" + strings.Repeat("x", 107), Address{}, "unix-domain name too long: /" + strings.Repeat("x", 107)},
	} {
		got, err := Parse(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%q: %+v, %v; want error %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestFamily(t *testing.T) {
	for _, f := range []Family{Any, IPv4, IPv6} {
		b, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		var back Family
		if err := json.Unmarshal(b, &back); err != nil || back != f {
			t.Errorf("%v: %s → %v, %v", f, b, back, err)
		}
	}
	var f Family
	if err := json.Unmarshal([]byte(`"ipv5"`), &f); err == nil {
		t.Error("ipv5 accepted")
	}
	if _, err := json.Marshal(Family(7)); err == nil {
		t.Error("family 7 encoded")
	}
	v4, v6 := net.ParseIP("10.0.0.1"), net.ParseIP("::1")
	if !Any.Allows(v4) || !Any.Allows(v6) || !IPv4.Allows(v4) || IPv4.Allows(v6) || !IPv6.Allows(v6) || IPv6.Allows(v4) {
		t.Error("Allows")
	}
}

// FuzzParse checks that Parse never panics and that what it returns is the operand's
// parts: a unix path is the rest of the operand; a bare host and port join back to it;
// an error is worded "OPERAND: TEXT" (or names the too-long path).
func FuzzParse(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "[::1]:25", "[ipv6:::1]:2525", "::1:2525", "unix:/tmp/s", "inet:host:smtp", "[x", "[1.2.3.4]z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		a, err := Parse(in)
		if err != nil {
			var e *Error
			if !strings.HasPrefix(err.Error(), "unix-domain name too long: ") && (!asError(err, &e) || e.Operand != in) {
				t.Fatalf("%q: error %v", in, err)
			}
			return
		}
		switch a.Network {
		case "unix":
			if "unix:"+a.Path != in || len(a.Path) >= MaxUnixPath {
				t.Fatalf("%q: %+v", in, a)
			}
		case "tcp":
			s := strings.TrimPrefix(in, "inet:")
			if !a.Bracketed {
				joined := a.Host
				if strings.Contains(s, ":") {
					joined += ":" + a.Port
				}
				if joined != s || strings.Contains(a.Port, ":") {
					t.Fatalf("%q: %+v", in, a)
				}
			} else {
				end := strings.IndexByte(s, ']')
				inner, rest := s[1:end], s[end+1:]
				if !strings.HasSuffix(inner, a.Host) || rest != "" && rest != ":"+a.Port {
					t.Fatalf("%q: %+v", in, a)
				}
			}
		default:
			t.Fatalf("%q: network %q", in, a.Network)
		}
	})
}

func asError(err error, target **Error) bool {
	e, ok := err.(*Error)
	*target = e
	return ok
}

package engine

import (
	"context"
	"net"
	"strings"
	"testing"
)

// Resolve reads literals as getaddrinfo() does for smtp-source, and service names in
// their case.
func TestResolveLiterals(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		operand string
		family  Family
		want    string // the address, or the error text after "OPERAND: "
	}{
		{"127.0.0.010:25", FamilyAny, "127.0.0.8:25"},
		{"0.0.0.0:25", FamilyAny, "0.0.0.0:25"},
		{"[::]:25", FamilyAny, "[::]:25"},
		{"[ipv6:::ffff:127.0.0.1]:25", FamilyAny, "127.0.0.1:25"},
		{"[ipv6:::ffff:127.0.0.1]:25", FamilyIPv4, "Address family for hostname not supported"},
		{"127.0.0.1:25", FamilyIPv6, "Address family for hostname not supported"},
		{"127.0.0.08:25", FamilyAny, "Name or service not known"},
		{"127.0.0.1:smtp", FamilyAny, "127.0.0.1:25"},
		{"127.0.0.1:SMTP", FamilyAny, "Servname not supported for ai_socktype"},
		{"127.0.0.1:no-such-service", FamilyAny, "Servname not supported for ai_socktype"},
		{"[localhost]:25", FamilyIPv4, "127.0.0.1:25"},
		{"LOCALHOST:25", FamilyIPv4, "127.0.0.1:25"},
	} {
		target, err := ParseTarget(tc.operand)
		if err != nil {
			t.Errorf("%s: %v", tc.operand, err)
			continue
		}
		addr, err := target.Resolve(ctx, tc.family)
		got := ""
		if err != nil {
			got = strings.TrimPrefix(err.Error(), tc.operand+": ")
		} else {
			got = addr.String()
		}
		if got != tc.want {
			t.Errorf("%s (%v): got %q, want %q", tc.operand, tc.family, got, tc.want)
		}
	}
	// "unix:" with no path is the address smtp-source connects to then: an all-zero
	// sockaddr_un path, an abstract name nobody listens on.
	target, err := ParseTarget("unix:")
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := target.Resolve(ctx, FamilyAny)
	if ua, ok := addr.(*net.UnixAddr); !ok || ua.Name != "@"+strings.Repeat("\x00", 107) {
		t.Errorf("unix: resolves to %q", addr)
	}
}

// FuzzParseTarget: any operand is a target or one line of error, never a panic, and a
// target names a network with what that network needs.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "[localhost]:25", "[ipv6:::1]:2525", "::1:25", "inet:", "unix:", "unix:/x",
		"[127.0.0.1", "127.1:25", "127.0.0.1:87036", "host:SMTP", "inet:inet:x:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, operand string) {
		target, err := ParseTarget(operand)
		if err != nil {
			if strings.Contains(err.Error(), "\n") && !strings.Contains(operand, "\n") {
				t.Fatalf("%q: multi-line error %q", operand, err)
			}
			return
		}
		switch target.Network {
		case "unix":
			if target.Path == "" {
				t.Fatalf("%q: no path", operand)
			}
		case "tcp":
			if target.Port == "" || strings.ContainsAny(target.Host, "[]") {
				t.Fatalf("%q: %+v", operand, target)
			}
		default:
			t.Fatalf("%q: network %q", operand, target.Network)
		}
	})
}

// Package hostport reads the address operands of smtp-source and smtp-sink
// ("[inet:]host[:port]", "[addr]:port", "[ipv6:addr]:port", "unix:/path") the way
// Postfix's host_port() does, and holds the address family both programs restrict
// themselves to with -4 and -6. The source (engine) and the sink share it so that an
// operand means the same on both sides; each adds the rules only it has (the source
// wants a host and a valid service, the sink a port).
package hostport

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/go-smtp-source/go-smtp-source/internal/validhost"
)

// Family restricts name resolution (the source) or the listener (the sink) to one IP
// version, like smtp-source's and smtp-sink's -4 and -6. The zero value allows both.
type Family uint8

const (
	Any Family = iota
	IPv4
	IPv6
)

// String is the family's name in plans and messages: "any", "ipv4" or "ipv6".
func (f Family) String() string {
	switch f {
	case Any:
		return "any"
	case IPv4:
		return "ipv4"
	case IPv6:
		return "ipv6"
	}
	return fmt.Sprintf("Family(%d)", uint8(f))
}

// MarshalText writes the family's name.
func (f Family) MarshalText() ([]byte, error) {
	if f > IPv6 {
		return nil, fmt.Errorf("hostport: unknown family %d", uint8(f))
	}
	return []byte(f.String()), nil
}

// UnmarshalText reads "any" (or nothing), "ipv4" or "ipv6".
func (f *Family) UnmarshalText(b []byte) error {
	switch string(b) {
	case "", "any":
		*f = Any
	case "ipv4":
		*f = IPv4
	case "ipv6":
		*f = IPv6
	default:
		return fmt.Errorf("address family %q: want any, ipv4 or ipv6", b)
	}
	return nil
}

// Allows reports whether ip is of the family.
func (f Family) Allows(ip net.IP) bool {
	is4 := ip.To4() != nil
	return f == Any || f == IPv4 && is4 || f == IPv6 && !is4
}

// MaxUnixPath is sizeof(sockaddr_un.sun_path) on Linux: a unix-domain path must be shorter.
const MaxUnixPath = 108

// Address is an operand split into its parts.
type Address struct {
	Network   string // "tcp" or "unix"
	Host      string // TCP: as written, without brackets and "ipv6:"; may be empty
	Port      string // TCP: as written (a number or a service name); empty when absent
	Path      string // unix: the socket path
	Bracketed bool   // TCP: the host was an address literal in brackets
}

// Error is a malformed operand, worded like Postfix: "OPERAND: TEXT".
type Error struct {
	Operand string
	Text    string
}

func (e *Error) Error() string { return e.Operand + ": " + e.Text }

// Parse splits an operand as host_port() does: "unix:" names a socket path; otherwise an
// "inet:" prefix is dropped, a bracketed host is an address literal (with an optional,
// case-insensitive "ipv6:" prefix, which then must be an IPv6 address), and a bare host
// splits at its last colon, so "::1:2525" is host ::1, port 2525. It checks only the
// syntax both programs share: what a host or port must be is the caller's rule.
func Parse(operand string) (Address, error) {
	if path, ok := strings.CutPrefix(operand, "unix:"); ok {
		if len(path) >= MaxUnixPath {
			return Address{}, errors.New("unix-domain name too long: " + path)
		}
		return Address{Network: "unix", Path: path}, nil
	}
	a := Address{Network: "tcp"}
	s := strings.TrimPrefix(operand, "inet:")
	fail := func(text string) (Address, error) { return Address{}, &Error{Operand: operand, Text: text} }
	if !strings.HasPrefix(s, "[") {
		if i := strings.LastIndexByte(s, ':'); i >= 0 {
			a.Host, a.Port = s[:i], s[i+1:]
		} else {
			a.Host = s
		}
		return a, nil
	}
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return fail(`missing "]"`)
	}
	a.Host, a.Bracketed = s[1:end], true
	switch rest := s[end+1:]; {
	case rest == "":
	case rest[0] == ':':
		a.Port = rest[1:]
	default:
		return fail(`garbage after "]"`)
	}
	if bare, ok := validhost.CutIPv6Prefix(a.Host); ok {
		a.Host = bare
		if validhost.IPv6(bare) != nil { // Postfix's rule: "[ipv6:::ffff:192.0.2.1]" is one
			return fail("malformed IPv6 address")
		}
	}
	return a, nil
}

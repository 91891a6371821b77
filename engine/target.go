package engine

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/go-smtp-source/go-smtp-source/internal/hostport"
	"github.com/go-smtp-source/go-smtp-source/internal/validhost"
)

// Target is where the sessions go: smtp-source's operand, parsed.
type Target struct {
	Operand string // as given, for diagnostics
	Network string // "tcp" or "unix"
	Host    string // TCP: a host name or address literal (brackets and "ipv6:" removed)
	Port    string // TCP: a number or a service name; default "smtp"
	Path    string // unix: the socket path
}

// TargetError is a bad operand or a failed lookup, worded like smtp-source:
// "OPERAND: TEXT", the operand without its "inet:" prefix, as smtp-source echoes it.
type TargetError struct {
	Operand string
	Text    string
}

func (e *TargetError) Error() string { return e.Operand + ": " + e.Text }

// abstractZero is the unix-domain address smtp-source connects to for "unix:" with no
// path: a sockaddr_un whose 108-byte path is all zeros, which Linux reads as an abstract
// name (Go writes an abstract name as "@" and the rest).
var abstractZero = "@" + strings.Repeat("\x00", hostport.MaxUnixPath-1)

// ParseTarget reads smtp-source's operand as it does: "unix:PATH" is a socket path; one
// "inet:" prefix is dropped; the rest goes through Postfix's host_port() ("[host]:port",
// "[ipv6:addr]:port", "host:port" split at the last colon, the port "smtp" by default);
// then the host must be a valid host name or network address by Postfix's rules
// (validhost: "[localhost]" is fine, "127.1" is neither), and a port that starts with
// a digit must be all digits. A bracketed host is only a literal's notation here: no MX
// lookup is ever made.
func ParseTarget(operand string) (Target, error) {
	t := Target{Operand: operand}
	if strings.HasPrefix(operand, "unix:") {
		a, err := hostport.Parse(operand)
		if err != nil {
			return t, err
		}
		t.Network, t.Path = "unix", a.Path
		if t.Path == "" {
			t.Path = abstractZero
		}
		return t, nil
	}
	t.Operand = strings.TrimPrefix(operand, "inet:")
	fail := func(text string) (Target, error) { return t, &TargetError{Operand: t.Operand, Text: text} }
	a, err := hostport.Parse("inet:" + t.Operand) // so that hostport drops no second "inet:"
	if err != nil {
		var he *hostport.Error
		if errors.As(err, &he) {
			return fail(he.Text)
		}
		return t, err
	}
	host, port := a.Host, a.Port
	switch {
	case host == "" && !a.Bracketed:
		return fail("missing host information")
	case validhost.Hostname(host) != nil && validhost.Hostaddr(host) != nil:
		return fail("valid hostname or network address required")
	}
	if port == "" {
		port = "smtp"
	} else if isDigit(port[0]) {
		if strings.TrimLeft(port, "0123456789") != "" {
			return fail("garbage after numerical service")
		}
		if n, err := strconv.ParseUint(port, 10, 64); err != nil || n > 65535 {
			return fail("out-of-range port number")
		}
	}
	t.Network, t.Host, t.Port = "tcp", host, port
	return t, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// Family restricts name resolution, like smtp-source's -4 and -6: the one family type
// of source and sink (hostport.Family).
type Family = hostport.Family

const (
	FamilyAny  = hostport.Any
	FamilyIPv4 = hostport.IPv4
	FamilyIPv6 = hostport.IPv6
)

// Resolve turns the target into the one address every session connects to, as
// getaddrinfo() does for smtp-source: a literal IPv4 address in inet_aton()'s notation
// ("127.0.0.010" is 127.0.0.8), a literal IPv6 one of the family its notation says
// ("::ffff:127.0.0.1" is IPv6 to -4 and -6), a name looked up; only the first address
// of the family allowed is used. Service names are case-sensitive, as in /etc/services.
func (t Target) Resolve(ctx context.Context, family Family) (net.Addr, error) {
	if t.Network == "unix" {
		return &net.UnixAddr{Name: t.Path, Net: "unix"}, nil
	}
	fail := func(text string) (net.Addr, error) { return nil, &TargetError{Operand: t.Operand, Text: text} }
	port, err := lookupPort(ctx, t.Port)
	if err != nil {
		return fail("Servname not supported for ai_socktype")
	}
	if ip, literal := literalIP(t.Host); literal {
		isV6 := strings.Contains(t.Host, ":")
		if family == FamilyIPv4 && isV6 || family == FamilyIPv6 && !isV6 {
			return fail("Address family for hostname not supported")
		}
		if ip == nil {
			return fail("Name or service not known")
		}
		return &net.TCPAddr{IP: ip, Port: port}, nil
	}
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, t.Host)
	if err != nil {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return fail("Name or service not known")
		}
		return fail("Temporary failure in name resolution")
	}
	for _, a := range addrs {
		if family.Allows(a.IP) {
			return &net.TCPAddr{IP: a.IP, Port: port}, nil
		}
	}
	return fail("Name or service not known")
}

// literalIP reads a host that is a network address by Postfix's rules. literal is
// false for a name; ip is nil for an address getaddrinfo cannot read either (an IPv4
// octet like "08", which is no octal number), which it then fails to look up as a name.
func literalIP(host string) (ip net.IP, literal bool) {
	if validhost.Hostaddr(host) != nil {
		return nil, false
	}
	if strings.Contains(host, ":") {
		return net.ParseIP(host), true
	}
	var b [4]byte
	for i, part := range strings.Split(host, ".") {
		base := 10
		if len(part) > 1 && part[0] == '0' {
			base = 8 // inet_aton
		}
		n, err := strconv.ParseUint(part, base, 8)
		if err != nil {
			return nil, true
		}
		b[i] = byte(n)
	}
	return net.IPv4(b[0], b[1], b[2], b[3]), true
}

// lookupPort reads a port number, or a service name as getservbyname() does: Go's
// resolver folds the case of names, /etc/services does not ("SMTP" is unknown).
func lookupPort(ctx context.Context, service string) (int, error) {
	if service != strings.ToLower(service) && !servicesList(service) {
		return 0, errors.New("unknown service")
	}
	return net.DefaultResolver.LookupPort(ctx, "tcp", service)
}

// servicesList reports whether /etc/services names service (or an alias) for TCP,
// in exactly this case.
func servicesList(service string) bool {
	b, err := os.ReadFile("/etc/services")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		if len(f) < 2 || !strings.HasSuffix(f[1], "/tcp") {
			continue
		}
		for _, name := range append(f[:1:1], f[2:]...) {
			if name == service {
				return true
			}
		}
	}
	return false
}

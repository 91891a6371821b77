package engine

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"

	"github.com/go-smtp-source/go-smtp-source/internal/hostport"
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
// "OPERAND: TEXT".
type TargetError struct {
	Operand string
	Text    string
}

func (e *TargetError) Error() string { return e.Operand + ": " + e.Text }

// ParseTarget reads "[inet:]host[:port]", "[addr]:port", "[ipv6:addr]:port" or
// "unix:/path" (hostport.Parse) and applies smtp-source's own rules: a host is required,
// a bracketed one must be an address, a bare one a valid host name or a specified
// address, and a numeric service a port number; the port defaults to "smtp".
func ParseTarget(operand string) (Target, error) {
	t := Target{Operand: operand}
	a, err := hostport.Parse(operand)
	if err != nil {
		var he *hostport.Error
		if errors.As(err, &he) {
			return t, &TargetError{Operand: he.Operand, Text: he.Text}
		}
		return t, err
	}
	t.Network = a.Network
	if a.Network == "unix" {
		t.Path = a.Path
		return t, nil
	}
	fail := func(text string) (Target, error) { return t, &TargetError{Operand: operand, Text: text} }
	host, port := a.Host, a.Port
	if a.Bracketed && net.ParseIP(host) == nil {
		return fail("valid hostname or network address required")
	}
	if host == "" {
		return fail("missing host information")
	}
	if strings.Contains(host, ":") {
		if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
			return fail("valid hostname or network address required")
		}
	} else if net.ParseIP(host) == nil && !validHostname(host) {
		return fail("valid hostname or network address required")
	}
	if port == "" {
		port = "smtp"
	} else if port[0] >= '0' && port[0] <= '9' {
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return fail("garbage after numerical service")
		}
	}
	t.Host, t.Port = host, port
	return t, nil
}

// validHostname accepts letters, digits, '-', '_' and non-empty dot-separated labels.
func validHostname(h string) bool {
	if len(h) > 255 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// Family restricts name resolution, like smtp-source's -4 and -6: the one family type
// of source and sink (hostport.Family).
type Family = hostport.Family

const (
	FamilyAny  = hostport.Any
	FamilyIPv4 = hostport.IPv4
	FamilyIPv6 = hostport.IPv6
)

// Resolve turns the target into the one address every session connects to: like
// smtp-source, only the first address the lookup returns is used.
func (t Target) Resolve(ctx context.Context, family Family) (net.Addr, error) {
	if t.Network == "unix" {
		return &net.UnixAddr{Name: t.Path, Net: "unix"}, nil
	}
	fail := func(text string) (net.Addr, error) { return nil, &TargetError{Operand: t.Operand, Text: text} }
	port, err := net.DefaultResolver.LookupPort(ctx, "tcp", t.Port)
	if err != nil {
		return fail("Servname not supported for ai_socktype")
	}
	var ips []net.IP
	if ip := net.ParseIP(t.Host); ip != nil {
		ips = []net.IP{ip}
	} else {
		addrs, err := net.DefaultResolver.LookupIPAddr(ctx, t.Host)
		if err != nil {
			var dnsErr *net.DNSError
			if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
				return fail("Name or service not known")
			}
			return fail("Temporary failure in name resolution")
		}
		for _, a := range addrs {
			ips = append(ips, a.IP)
		}
	}
	for _, ip := range ips {
		if family.Allows(ip) {
			return &net.TCPAddr{IP: ip, Port: port}, nil
		}
	}
	if net.ParseIP(t.Host) != nil {
		return fail("Address family for hostname not supported")
	}
	return fail("Name or service not known")
}

package engine

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
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

// maxUnixPath is sizeof(sockaddr_un.sun_path) on Linux.
const maxUnixPath = 108

// ParseTarget reads "[inet:]host[:port]", "[addr]:port", "[ipv6:addr]:port" or
// "unix:/path" the way Postfix's host_port() does: a bare host splits at its last colon,
// so "::1:2525" is host ::1, port 2525.
func ParseTarget(operand string) (Target, error) {
	t := Target{Operand: operand}
	if path, ok := strings.CutPrefix(operand, "unix:"); ok {
		if len(path) >= maxUnixPath {
			return t, errors.New("unix-domain name too long: " + path)
		}
		t.Network, t.Path = "unix", path
		return t, nil
	}
	t.Network = "tcp"
	s := strings.TrimPrefix(operand, "inet:")
	fail := func(text string) (Target, error) { return t, &TargetError{Operand: operand, Text: text} }
	var host, port string
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return fail(`missing "]"`)
		}
		host = s[1:end]
		rest := s[end+1:]
		switch {
		case rest == "":
		case rest[0] == ':':
			port = rest[1:]
		default:
			return fail(`garbage after "]"`)
		}
		if len(host) >= 5 && strings.EqualFold(host[:5], "ipv6:") {
			host = host[5:]
			if ip := net.ParseIP(host); ip == nil || ip.To4() != nil {
				return fail("malformed IPv6 address")
			}
		} else if net.ParseIP(host) == nil {
			return fail("valid hostname or network address required")
		}
	} else if i := strings.LastIndexByte(s, ':'); i >= 0 {
		host, port = s[:i], s[i+1:]
	} else {
		host = s
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

// Family restricts name resolution, like smtp-source's -4 and -6.
type Family uint8

const (
	FamilyAny Family = iota
	FamilyIPv4
	FamilyIPv6
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
		is4 := ip.To4() != nil
		if family == FamilyIPv4 && !is4 || family == FamilyIPv6 && is4 {
			continue
		}
		return &net.TCPAddr{IP: ip, Port: port}, nil
	}
	if net.ParseIP(t.Host) != nil {
		return fail("Address family for hostname not supported")
	}
	return fail("Name or service not known")
}

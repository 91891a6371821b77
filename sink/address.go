package sink

import (
	"fmt"
	"net"
	"strings"
)

// Family restricts name resolution and listening to one IP version (-4, -6).
type Family uint8

const (
	FamilyAny Family = iota
	FamilyIPv4
	FamilyIPv6
)

// ParseListenAddress turns smtp-sink's operand ("[inet:][host]:port", "unix:/path")
// into a gnet listen address. As smtp-sink, it splits host and port at the last colon,
// accepts "[addr]" brackets (with an optional "ipv6:" prefix), binds only the first
// address a name resolves to, and binds IPv4 0.0.0.0 when the host is empty.
func ParseListenAddress(operand string, family Family) (string, error) {
	if path, ok := strings.CutPrefix(operand, "unix:"); ok {
		if path == "" {
			return "", fmt.Errorf("%s: missing socket path", operand)
		}
		if len(path) >= 108 {
			return "", fmt.Errorf("unix-domain name too long: %s", path)
		}
		return "unix://" + path, nil
	}
	addr := strings.TrimPrefix(operand, "inet:")
	var host, port string
	if strings.HasPrefix(addr, "[") {
		end := strings.IndexByte(addr, ']')
		if end < 0 {
			return "", fmt.Errorf("%s: missing \"]\"", operand)
		}
		host = addr[1:end]
		rest := addr[end+1:]
		if rest != "" && !strings.HasPrefix(rest, ":") {
			return "", fmt.Errorf("%s: garbage after \"]\"", operand)
		}
		port = strings.TrimPrefix(rest, ":")
		if h, ok := cutPrefixFold(host, "ipv6:"); ok {
			host = h
			if ip := net.ParseIP(h); ip == nil || ip.To4() != nil {
				return "", fmt.Errorf("%s: malformed IPv6 address", operand)
			}
		}
	} else {
		i := strings.LastIndexByte(addr, ':')
		if i < 0 {
			return "", fmt.Errorf("%s: missing port (want [host]:port)", operand)
		}
		host, port = addr[:i], addr[i+1:]
	}
	if port == "" {
		port = "25"
	}
	if p, err := net.LookupPort("tcp", port); err != nil {
		return "", fmt.Errorf("%s: %v", operand, err)
	} else {
		port = fmt.Sprint(p)
	}
	if host == "" {
		if family == FamilyIPv6 {
			return "tcp6://[::]:" + port, nil
		}
		return "tcp4://0.0.0.0:" + port, nil
	}
	ip := net.ParseIP(host)
	if ip == nil {
		ips, err := net.LookupIP(host)
		if err != nil {
			return "", fmt.Errorf("%s: %v", operand, err)
		}
		for _, cand := range ips {
			if family == FamilyAny || (family == FamilyIPv4) == (cand.To4() != nil) {
				ip = cand
				break
			}
		}
		if ip == nil {
			return "", fmt.Errorf("%s: Address family for hostname not supported", operand)
		}
	}
	if ip.To4() != nil {
		if family == FamilyIPv6 {
			return "", fmt.Errorf("%s: Address family for hostname not supported", operand)
		}
		return "tcp4://" + net.JoinHostPort(ip.String(), port), nil
	}
	if family == FamilyIPv4 {
		return "", fmt.Errorf("%s: Address family for hostname not supported", operand)
	}
	return "tcp6://" + net.JoinHostPort(ip.String(), port), nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// clientAddrString renders a peer address as smtp-sink's dumps do: "127.0.0.1",
// "ipv6:::1", or "local" for a unix-domain client.
func clientAddrString(a net.Addr) string {
	switch a := a.(type) {
	case *net.TCPAddr:
		if a.IP.To4() != nil {
			return a.IP.String()
		}
		return "ipv6:" + a.IP.String()
	}
	return "local"
}

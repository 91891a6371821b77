package sink

import (
	"fmt"
	"net"
	"strings"

	"github.com/go-smtp-source/go-smtp-source/internal/hostport"
)

// Family restricts name resolution and listening to one IP version (-4, -6): the one
// family type of source and sink (hostport.Family).
type Family = hostport.Family

const (
	FamilyAny  = hostport.Any
	FamilyIPv4 = hostport.IPv4
	FamilyIPv6 = hostport.IPv6
)

// ParseListenAddress turns smtp-sink's operand ("[inet:][host]:port", "unix:/path")
// into a gnet listen address. The operand is split by hostport.Parse, as the source's
// is; the sink's own rules: a bare host without a port is refused, an empty port is 25,
// a name binds only the first address it resolves to, and an empty host binds IPv4
// 0.0.0.0 (IPv6 [::] with -6).
func ParseListenAddress(operand string, family Family) (string, error) {
	a, err := hostport.Parse(operand)
	if err != nil {
		return "", err
	}
	if a.Network == "unix" {
		if a.Path == "" {
			return "", fmt.Errorf("%s: missing socket path", operand)
		}
		return "unix://" + a.Path, nil
	}
	if !a.Bracketed && !strings.Contains(strings.TrimPrefix(operand, "inet:"), ":") {
		return "", fmt.Errorf("%s: missing port (want [host]:port)", operand)
	}
	port := a.Port
	if port == "" {
		port = "25"
	}
	if p, err := net.LookupPort("tcp", port); err != nil {
		return "", fmt.Errorf("%s: %v", operand, err)
	} else {
		port = fmt.Sprint(p)
	}
	if a.Host == "" {
		if family == FamilyIPv6 {
			return "tcp6://[::]:" + port, nil
		}
		return "tcp4://0.0.0.0:" + port, nil
	}
	ip := net.ParseIP(a.Host)
	if ip == nil {
		ips, err := net.LookupIP(a.Host)
		if err != nil {
			return "", fmt.Errorf("%s: %v", operand, err)
		}
		for _, cand := range ips {
			if family.Allows(cand) {
				ip = cand
				break
			}
		}
		if ip == nil {
			return "", fmt.Errorf("%s: Address family for hostname not supported", operand)
		}
	}
	if !family.Allows(ip) {
		return "", fmt.Errorf("%s: Address family for hostname not supported", operand)
	}
	if ip.To4() != nil {
		return "tcp4://" + net.JoinHostPort(ip.String(), port), nil
	}
	return "tcp6://" + net.JoinHostPort(ip.String(), port), nil
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

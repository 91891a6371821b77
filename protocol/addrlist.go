package protocol

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// AddrList is a list of client addresses that sessions take in turn (XCLIENT ADDR=, the
// PROXY header's source): single addresses and CIDR prefixes, each prefix standing for
// every address in it, in order. It is never expanded: At computes the i-th address.
type AddrList struct {
	parts []addrRange
	total uint64
}

type addrRange struct {
	first netip.Addr
	n     uint64 // addresses in it (a prefix larger than 2^32 counts as 2^32)
}

// maxRange bounds what one prefix contributes to a rotation: 2^32 addresses.
const maxRange = 1 << 32

// ParseAddrList reads "192.0.2.1,198.51.100.0/24,2001:db8::/120": addresses and prefixes
// separated by commas.
func ParseAddrList(s string) (AddrList, error) {
	var l AddrList
	if strings.TrimSpace(s) == "" {
		return l, errors.New("empty address list")
	}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		r, err := parseAddrRange(item)
		if err != nil {
			return AddrList{}, err
		}
		l.parts = append(l.parts, r)
		l.total += r.n
	}
	return l, nil
}

func parseAddrRange(item string) (addrRange, error) {
	if !strings.Contains(item, "/") {
		a, err := netip.ParseAddr(item)
		if err != nil || a.Zone() != "" {
			return addrRange{}, fmt.Errorf("%q: not an IP address or CIDR prefix", item)
		}
		return addrRange{first: a.Unmap(), n: 1}, nil
	}
	p, err := netip.ParsePrefix(item)
	if err != nil {
		return addrRange{}, fmt.Errorf("%q: not an IP address or CIDR prefix", item)
	}
	p = p.Masked()
	hostBits := p.Addr().BitLen() - p.Bits()
	n := uint64(maxRange)
	if hostBits < 32 {
		n = 1 << hostBits
	}
	return addrRange{first: p.Addr().Unmap(), n: n}, nil
}

// Len is the number of addresses in the rotation.
func (l *AddrList) Len() uint64 { return l.total }

// At is address i of the rotation (i modulo Len).
func (l *AddrList) At(i uint64) netip.Addr {
	if l.total == 0 {
		return netip.Addr{}
	}
	i %= l.total
	for _, r := range l.parts {
		if i < r.n {
			return addOffset(r.first, i)
		}
		i -= r.n
	}
	return netip.Addr{}
}

// addOffset is a + off, within a's family (off is below the range's size).
func addOffset(a netip.Addr, off uint64) netip.Addr {
	b := a.As16()
	for i := 15; i >= 0 && off > 0; i-- {
		sum := uint64(b[i]) + off&0xff
		b[i] = byte(sum)
		off = off>>8 + sum>>8
	}
	r := netip.AddrFrom16(b)
	if a.Is4() {
		return r.Unmap()
	}
	return r
}

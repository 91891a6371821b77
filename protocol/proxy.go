package protocol

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"sync/atomic"
)

// ProxyVersion is the PROXY protocol header a session sends first (HAProxy's
// proxy-protocol.txt), so that a server behind a proxy (Postfix's
// smtpd_upstream_proxy_protocol = haproxy) takes the header's source for the client.
type ProxyVersion uint8

const (
	ProxyNone ProxyVersion = iota
	ProxyV1                // "PROXY TCP4 src dst sport dport\r\n"
	ProxyV2                // the binary header
)

// ProxyHeader is the header every session of a run sends, each from the next source
// address of the rotation.
type ProxyHeader struct {
	Version ProxyVersion
	Sources AddrList
	Dest    netip.AddrPort // the server's address as the header states it

	next atomic.Uint64
}

// proxyV2Signature starts every version 2 header.
const proxyV2Signature = "\r\n\r\n\x00\r\nQUIT\n"

// appendHeader appends the next session's header. Its source port walks 1024…65535.
func (p *ProxyHeader) appendHeader(dst []byte) []byte {
	n := p.next.Add(1) - 1
	src := p.Sources.At(n)
	sport := uint16(1024 + n%64512)
	dest := p.Dest.Addr()
	if dest.Is4() != src.Is4() || !dest.IsValid() { // the header states one family
		dest = netip.IPv6Unspecified()
		if src.Is4() {
			dest = netip.IPv4Unspecified()
		}
	}
	if p.Version == ProxyV1 {
		return appendProxyV1(dst, src, dest, sport, p.Dest.Port())
	}
	return appendProxyV2(dst, src, dest, sport, p.Dest.Port())
}

func appendProxyV1(dst []byte, src, dest netip.Addr, sport, dport uint16) []byte {
	dst = append(dst, "PROXY TCP4 "...)
	if !src.Is4() {
		dst[len(dst)-2] = '6'
	}
	dst = src.AppendTo(dst)
	dst = dest.AppendTo(append(dst, ' '))
	dst = strconv.AppendUint(append(dst, ' '), uint64(sport), 10)
	dst = strconv.AppendUint(append(dst, ' '), uint64(dport), 10)
	return append(dst, '\r', '\n')
}

func appendProxyV2(dst []byte, src, dest netip.Addr, sport, dport uint16) []byte {
	dst = append(dst, proxyV2Signature...)
	dst = append(dst, 0x21) // version 2, PROXY
	if src.Is4() {
		dst = append(dst, 0x11, 0, 12) // TCP over IPv4, 12 address bytes
	} else {
		dst = append(dst, 0x21, 0, 36) // TCP over IPv6, 36 address bytes
	}
	dst = append(dst, src.AsSlice()...)
	dst = append(dst, dest.AsSlice()...)
	dst = binary.BigEndian.AppendUint16(dst, sport)
	return binary.BigEndian.AppendUint16(dst, dport)
}

// startProxy puts the PROXY header first in the connection's output.
func (c *Client) startProxy() {
	e := c.cfg.ESMTP
	if e == nil || e.Proxy == nil || e.Proxy.Version == ProxyNone {
		return
	}
	start := len(c.out.B)
	c.out.B = e.Proxy.appendHeader(c.out.B)
	if e.Proxy.Version == ProxyV1 {
		c.traceSent(c.out.B[start : len(c.out.B)-2])
	}
}

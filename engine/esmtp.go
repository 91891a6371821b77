package engine

import (
	"fmt"
	"net/netip"
	"strconv"

	"github.com/panjf2000/gnet/v2"

	"github.com/go-smtp-source/go-smtp-source/plan"
	"github.com/go-smtp-source/go-smtp-source/protocol"
)

// esmtpConfig is the plan's service extensions for the protocol machine, prepared from
// the run's template; nil when the plan asks for none.
func esmtpConfig(p plan.Plan, t *protocol.Template) (*protocol.ESMTP, error) {
	e := p.ESMTP
	if e == nil {
		return nil, nil
	}
	pe := &protocol.ESMTP{Size: e.Size, SMTPUTF8: e.SMTPUTF8, RequireTLS: e.RequireTLS,
		DSNReturn: e.DSNReturn, DSNNotify: e.DSNNotify, BDAT: e.BDAT, Chunk: e.BDATChunk}
	switch e.EightBitMIME {
	case "auto":
		pe.EightBit = protocol.EightBitAuto
	case "always":
		pe.EightBit = protocol.EightBitAlways
	}
	pe.Prepare(t)
	var err error
	if e.XClient != "" {
		if pe.XClient, err = protocol.ParseXClient(e.XClient); err != nil {
			return nil, fmt.Errorf("esmtp.xclient: %w", err)
		}
	}
	if e.ProxyProtocol != "" {
		if pe.Proxy, err = proxyHeader(p); err != nil {
			return nil, err
		}
	}
	return pe, nil
}

// proxyHeader is the plan's PROXY header. Its destination is the target when that is an
// address literal (port 25 unless a number is given), the unspecified address otherwise.
func proxyHeader(p plan.Plan) (*protocol.ProxyHeader, error) {
	h := &protocol.ProxyHeader{Version: protocol.ProxyV1}
	if p.ESMTP.ProxyProtocol == "v2" {
		h.Version = protocol.ProxyV2
	}
	var err error
	if h.Sources, err = protocol.ParseAddrList(p.ESMTP.ProxySource); err != nil {
		return nil, fmt.Errorf("esmtp.proxy_source: %w", err)
	}
	port := uint16(25)
	target, _ := ParseTarget(p.Target)
	if n, err := strconv.ParseUint(target.Port, 10, 16); err == nil {
		port = uint16(n)
	}
	addr, _ := netip.ParseAddr(target.Host)
	h.Dest = netip.AddrPortFrom(addr.Unmap(), port)
	return h, nil
}

// sendProxyHeader writes the PROXY protocol header the machine put first in a new
// connection's output (plan.ESMTP.ProxyProtocol), before anything else: before the
// banner and before an implicit TLS handshake.
func (s *slot) sendProxyHeader(c gnet.Conn) {
	if s.client.OutputLen() > 0 {
		s.flush(c, s.r.now())
	}
}

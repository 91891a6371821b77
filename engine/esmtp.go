package engine

import (
	"github.com/go-smtp-source/go-smtp-source/plan"
	"github.com/go-smtp-source/go-smtp-source/protocol"
)

// esmtpConfig is the plan's service extensions for the protocol machine, prepared from
// the run's template; nil when the plan asks for none.
func esmtpConfig(p plan.Plan, t *protocol.Template) *protocol.ESMTP {
	e := p.ESMTP
	if e == nil {
		return nil
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
	return pe
}

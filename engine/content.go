package engine

import (
	"github.com/go-smtp-source/go-smtp-source/plan"
	"github.com/go-smtp-source/go-smtp-source/protocol"
	"github.com/go-smtp-source/go-smtp-source/protocol/dist"
)

// applyContent sets the message options of realistic traffic (sizes, bodies, templates,
// envelopes) on spec. Each draw is a function of the plan's seed and the message's
// global sequence number, so every shard of a run draws what one process would.
func applyContent(spec *protocol.MessageSpec, m plan.Message) error {
	spec.ExtraHeaders, spec.Seed = m.Headers, m.Seed
	if m.File != nil && protocol.FileHasTokens(spec.Content) {
		spec.FileTemplate, spec.KeepMessageID = true, m.KeepMessageID
	}
	sizes, ok, err := m.SizeDist()
	if err != nil {
		return err
	}
	if !ok {
		return nil
	}
	seed := m.Seed
	spec.Content, spec.Length, spec.Seed, spec.Body = nil, 0, seed, m.BodyKind()
	spec.Size = func(seq int64) int { return int(sizes.Quantile(dist.Even(seed, seq, dist.StreamSize))) }
	attach, ok, err := m.AttachDist()
	if err != nil {
		return err
	}
	if ok {
		spec.Attach = func(seq int64) int { return int(attach.Quantile(dist.Even(seed, seq, dist.StreamAttach))) }
	}
	return nil
}

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
	sizes, ok, err := m.SizeDist()
	if err != nil {
		return err
	}
	if ok {
		seed := m.Seed
		spec.Content, spec.Length = nil, 0
		spec.Size = func(seq int64) int { return int(sizes.Quantile(dist.Even(seed, seq, dist.StreamSize))) }
	}
	return nil
}

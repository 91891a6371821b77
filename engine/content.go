package engine

import (
	"fmt"

	"github.com/go-smtp-source/go-smtp-source/plan"
	"github.com/go-smtp-source/go-smtp-source/protocol"
	"github.com/go-smtp-source/go-smtp-source/protocol/corpus"
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
	if err := applyEnvelope(spec, m); err != nil {
		return err
	}
	if m.Corpus != "" {
		msgs, err := corpus.Load(m.Corpus, corpus.Keep{Addr: m.CorpusKeepHeaders, MessageID: m.KeepMessageID})
		if err != nil {
			return fmt.Errorf("message.corpus: %w", err)
		}
		spec.Corpus, spec.CorpusRandom, spec.CorpusKeepAddr = msgs, m.RandomPick, m.CorpusKeepHeaders
		spec.KeepMessageID = m.KeepMessageID
		spec.Content, spec.Length = nil, 0
		return nil
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

// applyEnvelope sets the envelope's lists, recipient counts and domains.
func applyEnvelope(spec *protocol.MessageSpec, m plan.Message) error {
	e := &spec.Envelope
	if m.FromList != nil {
		e.Senders = m.FromList.Addresses
	}
	if m.RcptList != nil {
		e.Recipients = m.RcptList.Addresses
	}
	e.Random = m.RandomPick
	seed := m.Seed
	if m.RcptCount != "" {
		counts, err := dist.Parse(m.RcptCount)
		if err != nil {
			return fmt.Errorf("message.rcpt_count: %w", err)
		}
		e.Count = func(seq int64) int { return int(counts.Quantile(dist.Unit(seed, seq, dist.StreamRcptCount))) }
		e.MaxCount = int(counts.Max())
	}
	if m.RcptDomains != "" {
		domains, err := dist.ParseChoice(m.RcptDomains)
		if err != nil {
			return fmt.Errorf("message.rcpt_domains: %w", err)
		}
		e.Domain = func(seq int64, i int) string {
			return domains.Pick(dist.Unit(seed, seq*int64(plan.MaxRcptCount)+int64(i), dist.StreamDomain))
		}
	}
	return nil
}

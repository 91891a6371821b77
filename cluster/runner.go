package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-smtp-source/go-smtp-source/engine"
	"github.com/go-smtp-source/go-smtp-source/internal/hostport"
	"github.com/go-smtp-source/go-smtp-source/internal/tlsburst"
	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/plan"
	"github.com/go-smtp-source/go-smtp-source/protocol"
)

// EngineRunner runs a worker's shards with the engine: the plan the coordinator shipped,
// as it is, with only what belongs to this machine added. It never parses a command line.
type EngineRunner struct {
	Name    string     // this worker's, for the result document
	Allowed AllowList  // the targets this worker may be aimed at (empty: any)
	Local   plan.Local // this machine's source addresses and event loops
	// Grace caps the plan's: how long sessions in flight may finish once stopped.
	Grace time.Duration
	// Credentials reads the AUTH secrets a plan names, on this machine (its environment,
	// its files); it may be nil when no plan asks for AUTH.
	Credentials func(*plan.Auth) ([]protocol.Credential, error)
}

// enginePrepared is a shard ready to run: its plan, its hooks, and who ran it.
type enginePrepared struct {
	plan  plan.Plan
	hooks engine.Hooks
	about *metrics.RunInfo
}

// Prepare decodes the shipped plan and makes it this worker's shard of the run: checked,
// aimed at an allowed target, with this machine's settings, secrets and TLS
// configuration.
func (r *EngineRunner) Prepare(a Assignment, shard int) (Prepared, error) {
	p, err := plan.Decode(a.Plan)
	if err != nil {
		return nil, err
	}
	p.Shard = &plan.Shard{Index: shard, Weights: a.Weights}
	about := &metrics.RunInfo{Tool: Tool, PlanFingerprint: p.Fingerprint(), Worker: r.Name}
	p.Local = r.Local
	if r.Grace > 0 && p.Grace > r.Grace {
		p.Grace = r.Grace
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	target, err := engine.ParseTarget(p.Target)
	if err != nil {
		return nil, err
	}
	if !r.Allowed.Permits(target) {
		return nil, fmt.Errorf("target %s is not in this worker's --allow-target", p.Target)
	}
	var h engine.Hooks
	if p.Auth != nil {
		if r.Credentials == nil {
			return nil, errors.New("the plan asks for AUTH, and this worker has no credentials")
		}
		if h.Credentials, err = r.Credentials(p.Auth); err != nil {
			return nil, err
		}
	}
	if h.TLS, err = engine.TLSConfig(p); err != nil {
		return nil, err
	}
	if h.TLS != nil {
		h.OnInterval = tlsburst.ReleaseAfterBursts(nil)
	}
	return &enginePrepared{plan: p, hooks: h, about: about}, nil
}

// Run runs the shard from startAt and returns its result document. The engine asks
// live.Admit before each message, and its counts go to live.Progress at each sample.
func (e *enginePrepared) Run(ctx context.Context, startAt time.Time, live Live) ([]byte, time.Time, error) {
	p, h := e.plan, e.hooks
	p.StartAt = startAt
	sampled := liveSampler(&h, live.Progress, p.Shard)
	h.Admit = live.Admit
	res, runErr := engine.Run(ctx, p, h)
	if errors.Is(runErr, engine.ErrInterrupted) {
		runErr = fmt.Errorf("stopped: %d messages in flight were cut off", res.Failed)
	}
	if res.Metrics == nil {
		return nil, res.Start, runErr
	}
	sampled.final(res)
	var buf bytes.Buffer
	if err := metrics.ResultReport(p.ForReport(), e.about, res.Measured()).WriteJSON(&buf); err != nil {
		return nil, res.Start, fmt.Errorf("result document: %w", err)
	}
	return buf.Bytes(), res.Start, runErr
}

// shardSampler turns the engine's samples into reports: at each whole second the
// counts and the second's measurements (the sampler calls OnInterval, then Progress,
// from one goroutine), and once the run has ended its final counts and last part of a
// second, so that the merged live view ends at the merged report's counts.
type shardSampler struct {
	report     func(Report)
	share      float64 // of the schedule's rate, which every shard's engine follows
	last       metrics.Live
	start, end time.Time
	second     *metrics.Snapshot
}

// liveSampler hooks a sampler to h (keeping h's OnInterval) that reports to report.
func liveSampler(h *engine.Hooks, report func(Report), shard *plan.Shard) *shardSampler {
	s := &shardSampler{report: report, share: 1}
	if shard != nil && shard.Index < len(shard.Weights) {
		var sum int64
		for _, w := range shard.Weights {
			sum += w
		}
		s.share = float64(shard.Weights[shard.Index]) / float64(sum)
	}
	onInterval := h.OnInterval
	h.OnInterval = func(start, end time.Time, snap *metrics.Snapshot) {
		s.start, s.end, s.second = start, end, snap
		if onInterval != nil {
			onInterval(start, end, snap)
		}
	}
	h.Progress = func(pr engine.Progress) {
		s.last = pr
		s.send(false)
	}
	return s
}

func (s *shardSampler) send(ended bool) {
	l := s.last
	l.TargetRate *= s.share
	ls := metrics.NewLiveSample(l, s.start, s.end, s.second)
	s.second = nil
	r := Report{Accepted: s.last.Accepted, Rejected: s.last.Rejected, Failed: s.last.Failed, InFlight: s.last.InFlight, Ended: ended, Live: &ls}
	if !s.end.IsZero() {
		r.AtUnixNs = s.end.UnixNano() // when the engine took the sample, not when it is sent
	}
	s.report(r)
}

// final reports the run's end: called once Run has returned (the engine's last
// OnInterval came before).
func (s *shardSampler) final(res engine.Result) {
	l := &s.last
	l.Accepted, l.Rejected, l.Failed, l.InFlight, l.TargetRate = res.Accepted, res.Rejected, res.Failed, 0, 0
	l.Late, l.Dropped = res.Metrics.Counter(metrics.Late), res.Metrics.Counter(metrics.Dropped)
	s.send(true)
}

// AllowList is the targets a worker may be aimed at (--allow-target): hosts with an
// optional port, and unix-domain paths.
type AllowList []hostport.Address

// ParseAllowList reads HOST[:PORT], [ADDR]:PORT and unix:PATH entries (hostport.Parse).
func ParseAllowList(entries []string) (AllowList, error) {
	var list AllowList
	for _, e := range entries {
		a, err := hostport.Parse(e)
		if err != nil {
			return nil, fmt.Errorf("--allow-target: %w", err)
		}
		if a.Network == "tcp" && a.Host == "" {
			return nil, fmt.Errorf("--allow-target: empty host in %q", e)
		}
		list = append(list, a)
	}
	return list, nil
}

// Permits reports whether the target is allowed (everything is when the list is empty).
// A host matches without regard to case; an entry without a port allows any port.
func (l AllowList) Permits(t engine.Target) bool {
	if len(l) == 0 {
		return true
	}
	port := t.Port
	if port == "smtp" {
		port = "25"
	}
	for _, a := range l {
		switch {
		case t.Network == "unix":
			if a.Network == "unix" && a.Path == t.Path {
				return true
			}
		case a.Network == "tcp" && strings.EqualFold(a.Host, t.Host) && (a.Port == "" || a.Port == port || a.Port == t.Port):
			return true
		}
	}
	return false
}

package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/go-smtp-source/go-smtp-source/engine"
	"github.com/go-smtp-source/go-smtp-source/plan"
)

// DefaultJoinTimeout is how long a coordinator waits for its workers unless told.
const DefaultJoinTimeout = 60 * time.Second

// CoordinatorConfig is one cluster run as the coordinator sees it.
type CoordinatorConfig struct {
	Workers int // how many workers the run needs (the roster is frozen at this many)
	// Plan is the whole run, as every worker receives it (without Local: each worker
	// brings its own); its sessions (the open model's session cap) are shared by weight.
	Plan    plan.Plan
	Version string // workers of another version are refused

	JoinTimeout    time.Duration // the roster must be full by then (default DefaultJoinTimeout)
	ReadyTimeout   time.Duration // every worker must be ready by then (default 30 s)
	Lead           time.Duration // least time between "go" and the start (default 2 s)
	ReportInterval time.Duration // workers' report period (default 1 s)
	MissedReports  int           // reports missed before a worker is lost (default 3)
	CoordGrace     time.Duration // workers stop after this long without the coordinator (default 5 s)
	ContinueOnLoss bool          // a lost worker does not abort the others

	// Event receives what happens (joins, refusals, losses), Progress the merged progress
	// once per report interval. Either may be nil. Both are called from Coordinate's goroutine.
	Event    func(text string)
	Progress func(Progress)
}

// Progress is the run's merged progress: the sum of every worker's last cumulative report.
type Progress struct {
	Elapsed  time.Duration
	Accepted int64
	Rejected int64
	Failed   int64
	InFlight int64
	Rate     float64 // messages answered per second since the previous progress
	Workers  int     // reporting
	Lost     int
}

// WorkerResult is one worker's part of the outcome.
type WorkerResult struct {
	Name     string
	Host     string
	Shard    int
	Planned  int64  // messages it owned
	Document []byte // its result document (metrics.Report JSON); nil if it never delivered one
	Error    string // its run's error, if any
	Lost     bool   // declared lost (no report for MissedReports intervals)
	LastSeen time.Time
	Last     Report        // its last cumulative report
	OffsetNs int64         // its clock offset (coordinator − worker)
	RTT      time.Duration // the round trip of its best clock probe
	Started  time.Time     // its actual start, on the coordinator's clock
}

// Unaccounted is how many of its messages a lost worker's last report does not account for.
func (w *WorkerResult) Unaccounted() int64 {
	n := w.Planned - w.Last.Accepted - w.Last.Rejected - w.Last.Failed
	if n < 0 {
		return 0
	}
	return n
}

// Outcome is how a cluster run ended.
type Outcome struct {
	Run        string
	StartAt    time.Time // the shared start, coordinator's clock
	Workers    []WorkerResult
	Incomplete bool   // a worker was lost: its messages are not all accounted for
	Aborted    string // why the run was aborted, if it was
	StartSkew  time.Duration
}

// ErrWorkerLost is the error of a run that lost a worker (the outcome is incomplete).
var ErrWorkerLost = errors.New("worker lost")

// Coordinate runs one cluster run: it announces the run, freezes the roster at Workers
// joins (later ones are refused), sends the plan, waits until every worker is ready,
// gives the start time, collects the reports (heartbeats) and the final results. The
// outcome is returned even on error, as far as it got.
func Coordinate(ctx context.Context, nc *nats.Conn, cfg CoordinatorConfig) (*Outcome, error) {
	if cfg.Workers < 1 {
		return nil, fmt.Errorf("coordinator: %d workers", cfg.Workers)
	}
	if err := cfg.Plan.Validate(); err != nil {
		return nil, fmt.Errorf("coordinator: plan: %w", err)
	}
	if cfg.Plan.Shard != nil || cfg.Plan.Local.EventLoops != 0 || len(cfg.Plan.Local.SourceAddrs) > 0 {
		return nil, errors.New("coordinator: the plan has a shard or a machine's settings (local): the coordinator splits the run, and each worker brings its own")
	}
	planJSON := cfg.Plan.JSON()
	if limit := nc.MaxPayload(); int64(len(planJSON))+4096 > limit { // room for the roster
		return nil, fmt.Errorf("coordinator: the plan is %d bytes, too many for the NATS server's %d-byte messages: a smaller message file", len(planJSON), limit)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.JoinTimeout, DefaultJoinTimeout)
	def(&cfg.ReadyTimeout, 30*time.Second)
	def(&cfg.Lead, 2*time.Second)
	def(&cfg.ReportInterval, time.Second)
	def(&cfg.CoordGrace, 5*time.Second)
	if cfg.MissedReports < 1 {
		cfg.MissedReports = 3
	}
	if cfg.Event == nil {
		cfg.Event = func(string) {}
	}
	var idb [8]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return nil, fmt.Errorf("coordinator: run id: %w", err)
	}
	c := &coordinator{nc: nc, cfg: cfg, out: &Outcome{Run: hex.EncodeToString(idb[:])},
		planJSON: planJSON, messages: engine.TotalMessages(cfg.Plan)}
	return c.out, c.coordinate(ctx)
}

type coordinator struct {
	nc  *nats.Conn
	cfg CoordinatorConfig
	out *Outcome

	planJSON []byte // cfg.Plan's
	messages int64  // the whole run's, stages included

	msgs    chan *nats.Msg
	frozen  bool
	weights []int64 // by shard, as the workers asked when joining
	parts   map[int][][]byte
	done    map[int]bool // workers whose final result is whole
}

func (c *coordinator) subj(name string) string { return subject(c.out.Run, name) }

func (c *coordinator) coordinate(ctx context.Context) error {
	c.msgs = make(chan *nats.Msg, 1024)
	var subs []*nats.Subscription
	defer func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
	}()
	for _, name := range []string{"join", "ready.*", "report.*", "final.*"} {
		s, err := c.nc.ChanSubscribe(c.subj(name), c.msgs)
		if err != nil {
			return fmt.Errorf("coordinator: subscribe: %w", err)
		}
		subs = append(subs, s)
	}
	probe, err := c.nc.Subscribe(c.subj("time"), func(m *nats.Msg) {
		_ = m.Respond(encode(TimeProbe{CoordUnixNs: time.Now().UnixNano()}))
	})
	if err != nil {
		return fmt.Errorf("coordinator: subscribe: %w", err)
	}
	subs = append(subs, probe)
	if err := c.nc.Flush(); err != nil {
		return fmt.Errorf("coordinator: %w", err)
	}

	// The coordinator's heartbeat, and the announcement, for the whole run: a worker
	// that comes late hears of the run, asks to join, and is told it is too late.
	hbCtx, stopHB := context.WithCancel(context.Background())
	defer stopHB()
	ann := encode(Announce{Run: c.out.Run, WantWorkers: c.cfg.Workers, Version: c.cfg.Version, Proto: ProtocolVersion})
	go func() {
		hb := time.NewTicker(c.cfg.CoordGrace / 5)
		defer hb.Stop()
		announce := time.NewTicker(time.Second)
		defer announce.Stop()
		_ = c.nc.Publish(SubjectAnnounce, ann)
		for {
			_ = c.nc.Publish(c.subj("coord"), nil)
			select {
			case <-hbCtx.Done():
				return
			case <-hb.C:
			case <-announce.C:
				_ = c.nc.Publish(SubjectAnnounce, ann)
			}
		}
	}()

	if err := c.gather(ctx); err != nil {
		c.abort(err.Error())
		return err
	}
	if err := c.ready(ctx); err != nil {
		c.abort(err.Error())
		return err
	}
	return c.follow(ctx)
}

func (c *coordinator) abort(reason string) {
	if c.out.Aborted == "" {
		c.out.Aborted = reason
	}
	_ = c.nc.Publish(c.subj("ctl"), encode(Control{Abort: true, Reason: reason}))
	_ = c.nc.Flush()
}

// gather takes joins until the roster is full, then sends the plan.
func (c *coordinator) gather(ctx context.Context) error {
	deadline := time.NewTimer(c.cfg.JoinTimeout)
	defer deadline.Stop()
	for len(c.out.Workers) < c.cfg.Workers {
		select {
		case <-ctx.Done():
			return errors.New("interrupted while workers joined")
		case <-deadline.C:
			return fmt.Errorf("only %d of %d workers joined within %v", len(c.out.Workers), c.cfg.Workers, c.cfg.JoinTimeout)
		case m := <-c.msgs:
			c.handle(m)
		}
	}
	c.frozen = true
	names := make([]string, len(c.out.Workers))
	for k, w := range c.out.Workers {
		names[k] = w.Name
	}
	split, err := plan.NewSplit(c.weights)
	if err != nil {
		return err
	}
	if err := split.Validate(c.messages, c.cfg.Plan.SplitSessions()); err != nil {
		return err
	}
	for k := range c.out.Workers {
		c.out.Workers[k].Planned = split.Shard(k).Count(c.messages)
		if c.out.Workers[k].Planned == 0 {
			return fmt.Errorf("worker %s (shard %d) would own none of the %d messages: use fewer workers", names[k], k, c.messages)
		}
	}
	shardPlan := c.cfg.Plan
	shardPlan.Shard = &plan.Shard{Weights: c.weights}
	a := Assignment{Run: c.out.Run, Plan: c.planJSON, Weights: c.weights, Workers: names,
		ReportInterval: c.cfg.ReportInterval, CoordGrace: c.cfg.CoordGrace, Fingerprint: shardPlan.Fingerprint()}
	if err := c.nc.Publish(c.subj("plan"), encode(a)); err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	c.cfg.Event(fmt.Sprintf("roster full (%d workers): plan %s sent", len(names), a.Fingerprint))
	return nil
}

// ready waits for every worker's ready, then gives the start.
func (c *coordinator) ready(ctx context.Context) error {
	deadline := time.NewTimer(c.cfg.ReadyTimeout)
	defer deadline.Stop()
	ready := make(map[int]bool)
	for len(ready) < len(c.out.Workers) {
		select {
		case <-ctx.Done():
			return errors.New("interrupted before the start")
		case <-deadline.C:
			var missing []string
			for k, w := range c.out.Workers {
				if !ready[k] {
					missing = append(missing, w.Name)
				}
			}
			return fmt.Errorf("not ready within %v: %s", c.cfg.ReadyTimeout, strings.Join(missing, ", "))
		case m := <-c.msgs:
			k, ok := shardOf(m.Subject, "ready")
			if !ok {
				c.handle(m)
				continue
			}
			var r Ready
			if json.Unmarshal(m.Data, &r) != nil || k >= len(c.out.Workers) {
				continue
			}
			w := &c.out.Workers[k]
			if r.Error != "" {
				return fmt.Errorf("worker %s refused the plan: %s", w.Name, r.Error)
			}
			w.OffsetNs, w.RTT, w.LastSeen = r.OffsetNs, r.RTT, time.Now()
			ready[k] = true
		}
	}
	lead := c.cfg.Lead
	for _, w := range c.out.Workers {
		lead = max(lead, 10*w.RTT)
	}
	c.out.StartAt = time.Now().Add(lead)
	if err := c.nc.Publish(c.subj("go"), encode(Go{StartAtUnixNs: c.out.StartAt.UnixNano()})); err != nil {
		return fmt.Errorf("go: %w", err)
	}
	c.cfg.Event(fmt.Sprintf("all ready: start at %s", c.out.StartAt.UTC().Format(time.RFC3339Nano)))
	for k := range c.out.Workers {
		c.out.Workers[k].LastSeen = c.out.StartAt // liveness counts from the start
	}
	return nil
}

// follow collects reports and final results until every worker has delivered or is lost.
func (c *coordinator) follow(ctx context.Context) error {
	tick := time.NewTicker(c.cfg.ReportInterval)
	defer tick.Stop()
	live := time.NewTicker(c.cfg.ReportInterval / 4)
	defer live.Stop()
	c.parts, c.done = make(map[int][][]byte), make(map[int]bool)
	meter := rateMeter{at: time.Now()}
	var runErr error
	for c.pending() > 0 {
		select {
		case <-ctx.Done():
			if c.out.Aborted == "" {
				c.abort("the coordinator was interrupted")
				c.cfg.Event("interrupted: aborting the run")
			}
			ctx = context.Background()
		case now := <-live.C:
			c.checkLiveness(now)
		case now := <-tick.C:
			c.checkLiveness(now)
			c.progress(now, &meter)
		case m := <-c.msgs:
			if err := c.take(m); err != nil && runErr == nil {
				runErr = err
			}
		}
	}
	c.out.StartSkew = c.startSkew()
	switch {
	case runErr != nil:
		return runErr
	case c.out.Incomplete:
		return ErrWorkerLost
	case c.out.Aborted != "":
		return errors.New(c.out.Aborted)
	}
	return nil
}

// pending is the number of workers neither done nor lost.
func (c *coordinator) pending() int {
	n := 0
	for k, w := range c.out.Workers {
		if !c.done[k] && !w.Lost {
			n++
		}
	}
	return n
}

// take handles one message while the run goes: a part of a final result (a worker's
// failed run aborts the others and is returned), or what handle takes.
func (c *coordinator) take(m *nats.Msg) error {
	k, ok := shardOf(m.Subject, "final")
	if !ok || k >= len(c.out.Workers) {
		c.handle(m)
		return nil
	}
	complete, err := c.final(m, k)
	if err != nil {
		c.cfg.Event(err.Error())
		return nil
	}
	if !complete || c.done[k] {
		return nil
	}
	c.done[k] = true
	w := &c.out.Workers[k]
	if w.Error == "" || c.out.Aborted != "" {
		return nil
	}
	err = fmt.Errorf("worker %s: %s", w.Name, w.Error)
	c.abort(err.Error())
	return err
}

// rateMeter remembers the last progress, for the rate since.
type rateMeter struct {
	total int64
	at    time.Time
}

// progress sums every worker's last cumulative report into the run's progress.
func (c *coordinator) progress(now time.Time, meter *rateMeter) {
	p := Progress{Elapsed: now.Sub(c.out.StartAt)}
	for k := range c.out.Workers {
		w := &c.out.Workers[k]
		p.Accepted += w.Last.Accepted
		p.Rejected += w.Last.Rejected
		p.Failed += w.Last.Failed
		p.InFlight += w.Last.InFlight
		if w.Lost {
			p.Lost++
		} else {
			p.Workers++
		}
	}
	total := p.Accepted + p.Rejected + p.Failed
	if secs := now.Sub(meter.at).Seconds(); secs > 0 {
		p.Rate = float64(total-meter.total) / secs
	}
	meter.total, meter.at = total, now
	if c.cfg.Progress != nil && now.After(c.out.StartAt) {
		c.cfg.Progress(p)
	}
}

// startSkew is the spread of the workers' actual starts, on the coordinator's clock.
func (c *coordinator) startSkew() time.Duration {
	var starts []time.Time
	for _, w := range c.out.Workers {
		if !w.Started.IsZero() {
			starts = append(starts, w.Started)
		}
	}
	if len(starts) < 2 {
		return 0
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i].Before(starts[j]) })
	return starts[len(starts)-1].Sub(starts[0])
}

// checkLiveness declares lost the workers that have not reported for MissedReports
// intervals (those done excepted), and aborts the run unless ContinueOnLoss.
func (c *coordinator) checkLiveness(now time.Time) {
	for k := range c.out.Workers {
		w := &c.out.Workers[k]
		if w.Lost || c.done[k] || now.Sub(w.LastSeen) <= time.Duration(c.cfg.MissedReports)*c.cfg.ReportInterval {
			continue
		}
		w.Lost = true
		c.out.Incomplete = true
		reason := fmt.Sprintf("worker %s (shard %d) lost: no report since %s; %d of its %d messages unaccounted for",
			w.Name, w.Shard, w.LastSeen.UTC().Format(time.RFC3339Nano), w.Unaccounted(), w.Planned)
		c.cfg.Event(reason)
		if !c.cfg.ContinueOnLoss {
			c.abort(reason)
		}
	}
}

// final takes one part of a worker's final result; complete says the result is whole.
func (c *coordinator) final(m *nats.Msg, k int) (complete bool, err error) {
	var f Final
	if err := json.Unmarshal(m.Data, &f); err != nil {
		return false, fmt.Errorf("final result of shard %d: %w", k, err)
	}
	_ = m.Respond([]byte("ok")) // acknowledged even when repeated: parts are idempotent
	w := &c.out.Workers[k]
	w.LastSeen = time.Now()
	if f.Parts < 1 || f.Part < 0 || f.Part >= f.Parts || f.Parts > 1<<16 {
		return false, fmt.Errorf("final result of shard %d: part %d of %d", k, f.Part, f.Parts)
	}
	if len(c.parts[k]) != f.Parts {
		c.parts[k] = make([][]byte, f.Parts)
	}
	c.parts[k][f.Part] = append([]byte{}, f.Data...)
	for _, p := range c.parts[k] {
		if p == nil {
			return false, nil
		}
	}
	var doc []byte
	for _, p := range c.parts[k] {
		doc = append(doc, p...)
	}
	w.Document, w.Error = doc, f.Error
	if len(doc) == 0 {
		w.Document = nil
	}
	if !f.StartAt.IsZero() {
		w.Started = f.StartAt.Add(time.Duration(w.OffsetNs))
	}
	return true, nil
}

// handle answers joins (at any time: refused once the roster is frozen) and takes reports.
func (c *coordinator) handle(m *nats.Msg) {
	if m.Subject == c.subj("join") {
		var req JoinRequest
		reply := func(r JoinReply) { _ = m.Respond(encode(r)) }
		switch {
		case json.Unmarshal(m.Data, &req) != nil || req.Worker == "":
			reply(JoinReply{Reject: "bad", Reason: "unreadable join request"})
		case req.Version != c.cfg.Version:
			reply(JoinReply{Reject: "version", Reason: fmt.Sprintf("worker version %q, coordinator %q: run the same build everywhere", req.Version, c.cfg.Version)})
			c.cfg.Event(fmt.Sprintf("refused worker %s: version %q, not %q", req.Worker, req.Version, c.cfg.Version))
		case c.frozen:
			reply(JoinReply{Reject: "started", Reason: "the run has its workers already (late joiners are refused)"})
			c.cfg.Event(fmt.Sprintf("refused late worker %s", req.Worker))
		default:
			for _, w := range c.out.Workers {
				if w.Name == req.Worker {
					reply(JoinReply{Reject: "duplicate", Reason: fmt.Sprintf("a worker named %s has joined already", req.Worker)})
					return
				}
			}
			k := len(c.out.Workers)
			weight := req.Weight
			if weight < 1 {
				weight = 1
			}
			c.out.Workers = append(c.out.Workers, WorkerResult{Name: req.Worker, Host: req.Host, Shard: k, LastSeen: time.Now()})
			c.weights = append(c.weights, weight)
			reply(JoinReply{Shard: k})
			c.cfg.Event(fmt.Sprintf("worker %s (%s) joined as shard %d", req.Worker, req.Host, k))
		}
		return
	}
	if k, ok := shardOf(m.Subject, "report"); ok && k < len(c.out.Workers) {
		var r Report
		if json.Unmarshal(m.Data, &r) != nil {
			return
		}
		w := &c.out.Workers[k]
		if w.Lost {
			return // lost is final: a late report does not bring it back
		}
		w.LastSeen = time.Now()
		if r.Seq > w.Last.Seq {
			w.Last = r
		}
	}
}

// shardOf reads the shard from a subject gss.v2.<run>.<kind>.<shard>.
func shardOf(subj, kind string) (int, bool) {
	parts := strings.Split(subj, ".")
	if len(parts) != 5 || parts[3] != kind {
		return 0, false
	}
	k, err := strconv.Atoi(parts[4])
	return k, err == nil && k >= 0
}

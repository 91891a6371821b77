package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/go-smtp-source/go-smtp-source/engine"
	"github.com/go-smtp-source/go-smtp-source/metrics"
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
	CoordGrace     time.Duration // before the start and after the run, workers give up after this long without the coordinator (default 5 s; while running: StopAfter)
	ContinueOnLoss bool          // a lost worker does not abort the others

	// Event receives what happens (joins, refusals, losses), Progress the merged progress
	// of each whole second once every running worker has reported it, and OnInterval
	// what the workers measured up to that second since the one shown before (each
	// worker's measurements once). Any may be nil. All are called from Coordinate's
	// goroutine.
	Event      func(text string)
	Progress   func(Progress)
	OnInterval func(start, end time.Time, snap *metrics.Snapshot)
}

// Progress is the run's merged progress at one whole second of the shared timeline, as
// a single run's live line shows it (metrics.FormatLive): the sum of every worker's
// cumulative counts at that second, the percentiles of their merged histograms of the
// second, and the workers reporting and lost.
type Progress = metrics.Live

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
	// Late is what it delivered after it was declared lost (it came back): kept out of
	// the merge and reported apart. Nil when nothing came.
	Late *LateResult
}

// LateResult is a lost worker's final result, come after the loss.
type LateResult struct {
	Document []byte
	Error    string
	Totals   *metrics.Totals // read from Document; nil when it could not be read
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
	cfg.withDefaults()
	var idb [8]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return nil, fmt.Errorf("coordinator: run id: %w", err)
	}
	c := &coordinator{nc: nc, cfg: cfg, out: &Outcome{Run: hex.EncodeToString(idb[:])},
		planJSON: planJSON, messages: engine.TotalMessages(cfg.Plan)}
	return c.out, c.coordinate(ctx)
}

func (cfg *CoordinatorConfig) withDefaults() {
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
}

// lostAfter is how long a worker may go unheard before it is lost.
func (cfg *CoordinatorConfig) lostAfter() time.Duration {
	return time.Duration(cfg.MissedReports) * cfg.ReportInterval
}

// stopAfter is how stale a worker's heartbeats may be before it stops (Assignment): the
// loss window less the worst age of the worker's last report when it was stopped (a
// quarter interval: it reports four times an interval) and as much again for that report
// to reach the coordinator and be checked. A worker resumed before stopAfter reports in
// time not to be lost; one resumed later never starts a message.
func (cfg *CoordinatorConfig) stopAfter() time.Duration {
	return cfg.lostAfter() - cfg.ReportInterval/2
}

type coordinator struct {
	nc  *nats.Conn
	cfg CoordinatorConfig
	out *Outcome

	planJSON []byte // cfg.Plan's
	messages int64  // the whole run's, stages included

	msgs     chan *nats.Msg
	frozen   bool
	weights  []int64 // by shard, as the workers asked when joining
	parts    map[int][][]byte
	done     map[int]bool // workers whose final result is whole
	timeline *timeline    // the live progress

	mu   sync.Mutex // the lost shards, which the heartbeats name
	lost []int
}

func (c *coordinator) subj(name string) string { return subject(c.out.Run, name) }

func (c *coordinator) coordinate(ctx context.Context) error {
	unsubscribe, err := c.subscribe()
	defer unsubscribe()
	if err != nil {
		return err
	}
	stopBeats := c.beat()
	defer stopBeats()
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

// subscribe listens to the workers' joins, readiness, reports and final results, and
// answers their clock probes.
func (c *coordinator) subscribe() (unsubscribe func(), err error) {
	c.msgs = make(chan *nats.Msg, 1024)
	var subs []*nats.Subscription
	unsubscribe = func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
	}
	for _, name := range []string{"join", "ready.*", "report.*", "final.*"} {
		s, err := c.nc.ChanSubscribe(c.subj(name), c.msgs)
		if err != nil {
			return unsubscribe, fmt.Errorf("coordinator: subscribe: %w", err)
		}
		subs = append(subs, s)
	}
	probe, err := c.nc.Subscribe(c.subj("time"), func(m *nats.Msg) {
		_ = m.Respond(encode(TimeProbe{CoordUnixNs: time.Now().UnixNano()}))
	})
	if err != nil {
		return unsubscribe, fmt.Errorf("coordinator: subscribe: %w", err)
	}
	subs = append(subs, probe)
	if err := c.nc.Flush(); err != nil {
		return unsubscribe, fmt.Errorf("coordinator: %w", err)
	}
	return unsubscribe, nil
}

// beat sends the coordinator's heartbeat four times a report interval, and the
// announcement once a second, for the whole run: a worker that comes late hears of the
// run, asks to join, and is told it is too late. stop ends both.
func (c *coordinator) beat() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ann := encode(Announce{Run: c.out.Run, WantWorkers: c.cfg.Workers, Version: c.cfg.Version, Proto: ProtocolVersion})
	go func() {
		hb := time.NewTicker(c.cfg.ReportInterval / 4)
		defer hb.Stop()
		announce := time.NewTicker(time.Second)
		defer announce.Stop()
		_ = c.nc.Publish(SubjectAnnounce, ann)
		for {
			c.heartbeat()
			select {
			case <-ctx.Done():
				return
			case <-hb.C:
			case <-announce.C:
				_ = c.nc.Publish(SubjectAnnounce, ann)
			}
		}
	}()
	return cancel
}

// heartbeat publishes one heartbeat: the time, and the shards declared lost.
func (c *coordinator) heartbeat() {
	c.mu.Lock()
	hb := Heartbeat{Lost: slices.Clone(c.lost)}
	c.mu.Unlock()
	hb.SentUnixNs = time.Now().UnixNano()
	_ = c.nc.Publish(c.subj("coord"), encode(hb))
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
	return c.sendPlan()
}

// sendPlan splits the run over the roster and sends every worker the plan.
func (c *coordinator) sendPlan() error {
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
		ReportInterval: c.cfg.ReportInterval, CoordGrace: c.cfg.CoordGrace, Fingerprint: shardPlan.Fingerprint(),
		StopAfter: c.cfg.stopAfter()}
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
	return c.start()
}

// start gives the start: far enough ahead for every worker to hear it in time.
func (c *coordinator) start() error {
	lead := c.cfg.Lead
	for _, w := range c.out.Workers {
		lead = max(lead, 10*w.RTT)
	}
	c.out.StartAt = time.Now().Add(lead)
	if err := c.nc.Publish(c.subj("go"), encode(Go{StartAtUnixNs: c.out.StartAt.UnixNano()})); err != nil {
		return fmt.Errorf("go: %w", err)
	}
	c.cfg.Event(fmt.Sprintf("all ready: start at %s", c.out.StartAt.UTC().Format(time.RFC3339Nano)))
	offsets := make([]int64, len(c.out.Workers))
	for k := range c.out.Workers {
		c.out.Workers[k].LastSeen = c.out.StartAt // liveness counts from the start
		offsets[k] = c.out.Workers[k].OffsetNs
	}
	c.timeline = newTimeline(c.out.StartAt, offsets)
	return nil
}

package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Runner is what a worker runs; the command line provides it.
type Runner interface {
	// Prepare checks shard `shard` of plan (its target allowed, its options valid) and
	// prepares it; an error refuses the plan and aborts the run.
	Prepare(plan Plan, shard int) (Prepared, error)
}

// Prepared is a shard ready to start.
type Prepared interface {
	// Run runs the shard, starting at startAt on the local clock; progress receives the
	// cumulative counts once a second. It returns the result document (JSON), and the
	// run's error if it failed (the document may then still be there).
	Run(ctx context.Context, startAt time.Time, progress func(Report)) (result []byte, started time.Time, err error)
}

// WorkerConfig is a worker's identity and what it runs.
type WorkerConfig struct {
	Name    string // unique in the cluster
	Host    string
	Version string // must equal the coordinator's
	Weight  int64  // its share of the load relative to the others (default 1)
	Runner  Runner
	// Event receives what happens (joined, refused, started, lost the coordinator…), for
	// the command line to print. It may be nil.
	Event func(run, text string)

	// Once makes Serve return after the first run it joined (a Kubernetes Job's worker),
	// with that run's error.
	Once bool

	// MaxClockUncertainty refuses a run when the best clock probe's half round trip
	// (the offset's uncertainty) exceeds it; default 25 ms.
	MaxClockUncertainty time.Duration

	// clockSkew is added to this worker's clock readings (tests: a skewed clock).
	clockSkew time.Duration

	// JoinTimeout bounds waiting for the plan after joining; default 2 minutes.
	JoinTimeout time.Duration
	// FinalTimeout bounds delivering the final result; default 30 s.
	FinalTimeout time.Duration
}

// Serve is a worker: it answers the coordinators' announcements, one run at a time,
// until ctx ends. A run whose coordinator goes silent for the plan's grace is stopped.
func Serve(ctx context.Context, nc *nats.Conn, cfg WorkerConfig) error {
	if cfg.Weight < 1 {
		cfg.Weight = 1
	}
	if cfg.JoinTimeout <= 0 {
		cfg.JoinTimeout = 2 * time.Minute
	}
	if cfg.FinalTimeout <= 0 {
		cfg.FinalTimeout = 30 * time.Second
	}
	if cfg.MaxClockUncertainty <= 0 {
		cfg.MaxClockUncertainty = 25 * time.Millisecond
	}
	if cfg.Event == nil {
		cfg.Event = func(string, string) {}
	}
	announces := make(chan *nats.Msg, 64)
	sub, err := nc.ChanSubscribe(SubjectAnnounce, announces)
	if err != nil {
		return fmt.Errorf("worker: subscribe %s: %w", SubjectAnnounce, err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	refused := make(map[string]bool) // runs that refused us: not asked again
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-announces:
			var a Announce
			if json.Unmarshal(m.Data, &a) != nil || a.Proto != ProtocolVersion || a.Run == "" || refused[a.Run] {
				continue
			}
			w := &workerRun{nc: nc, cfg: cfg, run: a.Run}
			err := w.serve(ctx)
			if err != nil {
				if errors.Is(err, errRefused) {
					refused[a.Run] = true
				}
				cfg.Event(a.Run, err.Error())
			}
			if cfg.Once && w.joined {
				return err
			}
			for len(announces) > 0 { // announcements of the run just served
				<-announces
			}
		}
	}
}

var errRefused = errors.New("refused")

type workerRun struct {
	nc  *nats.Conn
	cfg WorkerConfig
	run string

	joined bool // the coordinator gave it a shard

	mu        sync.Mutex
	lastCoord time.Time
}

func (w *workerRun) heard() {
	w.mu.Lock()
	w.lastCoord = time.Now()
	w.mu.Unlock()
}

func (w *workerRun) silentFor() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return time.Since(w.lastCoord)
}

func (w *workerRun) serve(ctx context.Context) error {
	msgs := make(chan *nats.Msg, 256)
	var subs []*nats.Subscription
	defer func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
	}()
	for _, name := range []string{"plan", "go", "ctl"} {
		s, err := w.nc.ChanSubscribe(subject(w.run, name), msgs)
		if err != nil {
			return fmt.Errorf("run %s: subscribe: %w", w.run, err)
		}
		subs = append(subs, s)
	}
	coord, err := w.nc.Subscribe(subject(w.run, "coord"), func(*nats.Msg) { w.heard() })
	if err != nil {
		return fmt.Errorf("run %s: subscribe: %w", w.run, err)
	}
	subs = append(subs, coord)
	w.heard()

	req := JoinRequest{Worker: w.cfg.Name, Host: w.cfg.Host, Version: w.cfg.Version, Weight: w.cfg.Weight}
	m, err := w.nc.Request(subject(w.run, "join"), encode(req), 5*time.Second)
	if err != nil {
		return fmt.Errorf("run %s: join: %w", w.run, err)
	}
	var jr JoinReply
	if err := json.Unmarshal(m.Data, &jr); err != nil {
		return fmt.Errorf("run %s: join reply: %w", w.run, err)
	}
	if jr.Reject != "" {
		return fmt.Errorf("run %s: %w: %s", w.run, errRefused, jr.Reason)
	}
	w.joined = true
	w.cfg.Event(w.run, fmt.Sprintf("joined as shard %d", jr.Shard))

	// The plan, once the roster is full.
	grace := 10 * time.Second // until the plan says otherwise
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	joinDeadline := time.Now().Add(w.cfg.JoinTimeout)
	var plan Plan
	for plan.Run == "" {
		select {
		case <-ctx.Done():
			return fmt.Errorf("run %s: stopped", w.run)
		case <-tick.C:
			if time.Now().After(joinDeadline) {
				return fmt.Errorf("run %s: no plan within %v", w.run, w.cfg.JoinTimeout)
			}
			if d := w.silentFor(); d > grace {
				return fmt.Errorf("run %s: lost the coordinator (silent for %v)", w.run, d.Round(time.Millisecond))
			}
		case m := <-msgs:
			switch m.Subject {
			case subject(w.run, "plan"):
				if err := json.Unmarshal(m.Data, &plan); err != nil {
					return fmt.Errorf("run %s: plan: %w", w.run, err)
				}
			case subject(w.run, "ctl"):
				return fmt.Errorf("run %s: aborted before the plan: %s", w.run, controlReason(m.Data))
			}
		}
	}
	if plan.CoordGrace > 0 {
		grace = plan.CoordGrace
	}
	interval := plan.ReportInterval
	if interval <= 0 {
		interval = time.Second
	}

	ready := Ready{Shard: jr.Shard}
	prepared, err := w.cfg.Runner.Prepare(plan, jr.Shard)
	if err != nil {
		ready.Error = err.Error()
	} else {
		ready.OffsetNs, ready.RTT, err = w.measureClock()
		switch {
		case err != nil:
			ready.Error = err.Error()
		case ready.RTT/2 > w.cfg.MaxClockUncertainty:
			ready.Error = fmt.Sprintf("clock offset too uncertain to start together: best probe round trip %v, more than twice %v", ready.RTT, w.cfg.MaxClockUncertainty)
		}
	}
	if err := w.nc.Publish(subject(w.run, fmt.Sprintf("ready.%d", jr.Shard)), encode(ready)); err != nil {
		return fmt.Errorf("run %s: ready: %w", w.run, err)
	}
	if ready.Error != "" {
		return fmt.Errorf("run %s: refused the plan: %s", w.run, ready.Error)
	}

	// The start.
	var start Go
	for start.StartAtUnixNs == 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("run %s: stopped", w.run)
		case <-tick.C:
			if d := w.silentFor(); d > grace {
				return fmt.Errorf("run %s: lost the coordinator before the start (silent for %v)", w.run, d.Round(time.Millisecond))
			}
		case m := <-msgs:
			switch m.Subject {
			case subject(w.run, "go"):
				if err := json.Unmarshal(m.Data, &start); err != nil {
					return fmt.Errorf("run %s: go: %w", w.run, err)
				}
			case subject(w.run, "ctl"):
				return fmt.Errorf("run %s: aborted before the start: %s", w.run, controlReason(m.Data))
			}
		}
	}
	localStart := time.Unix(0, start.StartAtUnixNs-ready.OffsetNs)
	w.cfg.Event(w.run, fmt.Sprintf("starting shard %d of %d at %s (clock offset %v, rtt %v)",
		jr.Shard, len(plan.Weights), localStart.UTC().Format(time.RFC3339Nano), time.Duration(ready.OffsetNs), ready.RTT))

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var progMu sync.Mutex
	last := Report{Shard: jr.Shard, State: "waiting"}
	type outcome struct {
		doc     []byte
		started time.Time
		err     error
	}
	done := make(chan outcome, 1)
	go func() {
		doc, started, err := prepared.Run(runCtx, localStart, func(r Report) {
			progMu.Lock()
			r.Shard, r.State = jr.Shard, "running"
			last = r
			progMu.Unlock()
		})
		done <- outcome{doc, started, err}
	}()
	report := time.NewTicker(interval)
	defer report.Stop()
	var seq int64
	publish := func(state string) {
		progMu.Lock()
		r := last
		progMu.Unlock()
		seq++
		r.Seq = seq
		if state != "" {
			r.State = state
		}
		_ = w.nc.Publish(subject(w.run, fmt.Sprintf("report.%d", jr.Shard)), encode(r))
	}
	var stopReason string
	var res outcome
	for running := true; running; {
		select {
		case res = <-done:
			running = false
		case <-report.C:
			publish("")
		case <-tick.C:
			if d := w.silentFor(); d > grace && stopReason == "" {
				stopReason = fmt.Sprintf("lost the coordinator (silent for %v): stopped sending", d.Round(time.Millisecond))
				w.cfg.Event(w.run, stopReason)
				cancel()
			}
		case m := <-msgs:
			if m.Subject == subject(w.run, "ctl") && stopReason == "" {
				stopReason = "aborted by the coordinator: " + controlReason(m.Data)
				w.cfg.Event(w.run, stopReason)
				cancel()
			}
		}
	}
	publish("done")

	// The final result, in acknowledged parts, while the reports go on as heartbeats.
	final := Final{Shard: jr.Shard, StartAt: res.started}
	if res.err != nil {
		final.Error = res.err.Error()
	}
	deadline := time.Now().Add(w.cfg.FinalTimeout)
	partSize := (int(w.nc.MaxPayload()) - 4096) / 4 * 3 // JSON carries the bytes in base64
	if partSize < 1024 {
		partSize = 1024
	}
	parts := (len(res.doc) + partSize - 1) / partSize
	if parts == 0 {
		parts = 1
	}
	for p := 0; p < parts; p++ {
		f := final
		f.Part, f.Parts = p, parts
		f.Data = res.doc[min(p*partSize, len(res.doc)):min((p+1)*partSize, len(res.doc))]
		for {
			if time.Now().After(deadline) {
				return fmt.Errorf("run %s: the coordinator did not take the final result within %v", w.run, w.cfg.FinalTimeout)
			}
			if w.silentFor() > grace {
				return fmt.Errorf("run %s: lost the coordinator before the final result was delivered", w.run)
			}
			_, err := w.nc.Request(subject(w.run, fmt.Sprintf("final.%d", jr.Shard)), encode(f), 2*time.Second)
			if err == nil {
				break
			}
			select {
			case <-report.C:
				publish("done")
			default:
			}
		}
	}
	if stopReason != "" {
		return fmt.Errorf("run %s: %s", w.run, stopReason)
	}
	if res.err != nil {
		return fmt.Errorf("run %s: %w", w.run, res.err)
	}
	w.cfg.Event(w.run, "done")
	return nil
}

// measureClock sends 8 probes and keeps the one of least round trip:
// offset = coordinator time − the probe's midpoint.
func (w *workerRun) measureClock() (offset int64, rtt time.Duration, err error) {
	best := time.Duration(-1)
	for i := 0; i < 8; i++ {
		t0 := time.Now().Add(w.cfg.clockSkew)
		m, err := w.nc.Request(subject(w.run, "time"), nil, 2*time.Second)
		t3 := time.Now().Add(w.cfg.clockSkew)
		if err != nil {
			continue
		}
		var tp TimeProbe
		if json.Unmarshal(m.Data, &tp) != nil {
			continue
		}
		d := t3.Sub(t0)
		if best < 0 || d < best {
			best = d
			mid := t0.UnixNano() + int64(d)/2
			offset = tp.CoordUnixNs - mid
		}
	}
	if best < 0 {
		return 0, 0, errors.New("no clock probe answered")
	}
	return offset, best, nil
}

func controlReason(data []byte) string {
	var c Control
	if json.Unmarshal(data, &c) != nil || c.Reason == "" {
		return "no reason given"
	}
	return c.Reason
}

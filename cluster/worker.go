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

// Runner is what a worker runs its shards with (EngineRunner, or a test's fake).
type Runner interface {
	// Prepare checks shard `shard` of the assignment's plan (its target allowed, its
	// options valid) and prepares it; an error refuses the plan and aborts the run.
	Prepare(a Assignment, shard int) (Prepared, error)
}

// Prepared is a shard ready to start.
type Prepared interface {
	// Run runs the shard, starting at startAt on the local clock, and returns the result
	// document (JSON), and the run's error if it failed (the document may then still be
	// there).
	Run(ctx context.Context, startAt time.Time, live Live) (result []byte, started time.Time, err error)
}

// Live is what a running shard tells its worker and asks it.
type Live struct {
	// Progress takes the cumulative counts at each sample (the engine's, once a second
	// on whole wall-clock seconds).
	Progress func(Report)
	// Admit says whether a message may start now: false once the worker may have been
	// declared lost, and from then on. It is quick, and safe from any goroutine.
	Admit func() bool
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

// retryPause is how long a worker waits between attempts to deliver a part of its final
// result: with the coordinator gone, a request fails at once (no responders).
const retryPause = 250 * time.Millisecond

// workerRun is one run as a worker serves it, phase by phase: join, the plan, ready,
// the start, the run, the final result.
type workerRun struct {
	nc  *nats.Conn
	cfg WorkerConfig
	run string

	joined bool // the coordinator gave it a shard
	shard  int
	msgs   chan *nats.Msg // plan, go and ctl
	tick   *time.Ticker   // checks the coordinator's liveness
	grace  time.Duration  // the coordinator may be silent this long

	mu        sync.Mutex
	lastCoord time.Time // the last message heard from the coordinator, when it came

	fence fence // the coordinator's heartbeats as they bear on starting messages
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
	unsubscribe, err := w.subscribe()
	defer unsubscribe()
	if err != nil {
		return err
	}
	if err := w.join(); err != nil {
		return err
	}
	w.grace = 10 * time.Second // until the plan says otherwise
	w.tick = time.NewTicker(250 * time.Millisecond)
	defer w.tick.Stop()
	var a Assignment
	if err := w.await(ctx, "plan", w.cfg.JoinTimeout, &a); err != nil {
		return err
	}
	if a.CoordGrace > 0 {
		w.grace = a.CoordGrace
	}
	prepared, clock, err := w.prepare(a)
	if err != nil {
		return err
	}
	var start Go
	if err := w.await(ctx, "start", 0, &start); err != nil {
		return err
	}
	localStart := time.Unix(0, start.StartAtUnixNs-clock.OffsetNs)
	w.cfg.Event(w.run, fmt.Sprintf("starting shard %d of %d at %s (clock offset %v, rtt %v)",
		w.shard, len(a.Weights), localStart.UTC().Format(time.RFC3339Nano), time.Duration(clock.OffsetNs), clock.RTT))
	w.fence.starting(localStart)
	hb := newHeartbeat(w, a.ReportInterval)
	defer hb.stop()
	res, stop := w.runShard(ctx, prepared, localStart, hb)
	if err := w.deliver(res, stop, hb); err != nil {
		return err
	}
	switch {
	case stop.kind != StopNone:
		return fmt.Errorf("run %s: %s", w.run, stop.reason)
	case res.err != nil:
		return fmt.Errorf("run %s: %w", w.run, res.err)
	}
	w.cfg.Event(w.run, "done")
	return nil
}

// subscribe listens to the run's plan, go and ctl subjects, and to the coordinator's
// heartbeat; unsubscribe ends what was started, whatever failed.
func (w *workerRun) subscribe() (unsubscribe func(), err error) {
	w.msgs = make(chan *nats.Msg, 256)
	var subs []*nats.Subscription
	unsubscribe = func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
	}
	for _, name := range []string{"plan", "go", "ctl"} {
		s, err := w.nc.ChanSubscribe(subject(w.run, name), w.msgs)
		if err != nil {
			return unsubscribe, fmt.Errorf("run %s: subscribe: %w", w.run, err)
		}
		subs = append(subs, s)
	}
	w.fence.init()
	w.fence.skew = w.cfg.clockSkew
	coord, err := w.nc.Subscribe(subject(w.run, "coord"), func(m *nats.Msg) {
		w.heard()
		w.fence.heartbeat(m.Data)
	})
	if err != nil {
		return unsubscribe, fmt.Errorf("run %s: subscribe: %w", w.run, err)
	}
	subs = append(subs, coord)
	w.heard()
	return unsubscribe, nil
}

// join asks for a place in the run.
func (w *workerRun) join() error {
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
	w.joined, w.shard = true, jr.Shard
	w.fence.shard.Store(int64(jr.Shard))
	w.cfg.Event(w.run, fmt.Sprintf("joined as shard %d", jr.Shard))
	return nil
}

// await waits for the coordinator's "plan" or "start" (subject go) and decodes it into v.
// It gives up when ctx ends, after timeout (0: never), when the coordinator has been
// silent longer than the grace, and when the coordinator aborts the run.
func (w *workerRun) await(ctx context.Context, what string, timeout time.Duration, v any) error {
	name := map[string]string{"plan": "plan", "start": "go"}[what]
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("run %s: stopped", w.run)
		case <-w.tick.C:
			if timeout > 0 && time.Now().After(deadline) {
				return fmt.Errorf("run %s: no %s within %v", w.run, what, timeout)
			}
			if d := w.silentFor(); d > w.grace {
				return fmt.Errorf("run %s: lost the coordinator before the %s (silent for %v)", w.run, what, d.Round(time.Millisecond))
			}
		case m := <-w.msgs:
			switch m.Subject {
			case subject(w.run, name):
				if err := json.Unmarshal(m.Data, v); err != nil {
					return fmt.Errorf("run %s: %s: %w", w.run, name, err)
				}
				return nil
			case subject(w.run, "ctl"):
				return fmt.Errorf("run %s: aborted before the %s: %s", w.run, what, controlReason(m.Data))
			}
		}
	}
}

// prepare has the runner prepare the shard and measures the clock, then tells the
// coordinator it is ready (or why not). From then on the coordinator's heartbeats are
// timed on the worker's clock (fence).
func (w *workerRun) prepare(a Assignment) (Prepared, Ready, error) {
	ready := Ready{Shard: w.shard}
	prepared, err := w.cfg.Runner.Prepare(a, w.shard)
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
	if ready.Error == "" {
		w.fence.timed(ready.OffsetNs, a.StopAfter)
	}
	if err := w.nc.Publish(subject(w.run, fmt.Sprintf("ready.%d", w.shard)), encode(ready)); err != nil {
		return nil, ready, fmt.Errorf("run %s: ready: %w", w.run, err)
	}
	if ready.Error != "" {
		return nil, ready, fmt.Errorf("run %s: refused the plan: %s", w.run, ready.Error)
	}
	return prepared, ready, nil
}

// outcome is how a shard's run ended.
type outcome struct {
	doc     []byte
	started time.Time
	err     error
}

// stopped is why a shard was stopped before its end, if it was.
type stopped struct {
	kind   Stop
	reason string
}

// runShard runs the prepared shard while reporting its progress, and stops it when the
// coordinator aborts the run or declares this worker lost, or when its heartbeats are
// stale (the engine itself starts no message from that moment: fence.admit).
func (w *workerRun) runShard(ctx context.Context, prepared Prepared, start time.Time, hb *heartbeat) (res outcome, stop stopped) {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan outcome, 1)
	go func() {
		doc, started, err := prepared.Run(runCtx, start, Live{Progress: hb.progress, Admit: w.fence.admit})
		done <- outcome{doc, started, err}
	}()
	halt := func(kind Stop, reason string) {
		if stop.kind == StopNone {
			stop = stopped{kind, reason}
			w.cfg.Event(w.run, reason)
			cancel()
		}
	}
	for {
		select {
		case res = <-done:
			hb.publish("done")
			return res, stop
		case <-hb.live.C:
			hb.publish("")
			if kind, reason := w.fence.check(); kind != StopNone {
				halt(kind, reason)
			}
		case m := <-w.msgs:
			if m.Subject == subject(w.run, "ctl") {
				halt(StopAborted, "aborted by the coordinator: "+controlReason(m.Data))
			}
		}
	}
}

// deliver sends the final result in acknowledged parts, the reports going on as
// heartbeats. A part that is not acknowledged is sent again after a pause, until the
// coordinator has been silent longer than the grace or FinalTimeout has passed.
func (w *workerRun) deliver(res outcome, stop stopped, hb *heartbeat) error {
	final := Final{Shard: w.shard, StartAt: res.started, Stopped: stop.kind}
	if res.err != nil {
		final.Error = res.err.Error()
	}
	deadline := time.Now().Add(w.cfg.FinalTimeout)
	parts := splitParts(res.doc, (int(w.nc.MaxPayload())-4096)/4*3) // JSON carries the bytes in base64
	for p, data := range parts {
		f := final
		f.Part, f.Parts, f.Data = p, len(parts), data
		for {
			if time.Now().After(deadline) {
				return fmt.Errorf("run %s: the coordinator did not take the final result within %v", w.run, w.cfg.FinalTimeout)
			}
			if w.silentFor() > w.grace {
				return fmt.Errorf("run %s: lost the coordinator before the final result was delivered", w.run)
			}
			if _, err := w.nc.Request(subject(w.run, fmt.Sprintf("final.%d", w.shard)), encode(f), 2*time.Second); err == nil {
				break
			}
			select {
			case <-hb.ticker.C:
				hb.publish("done")
			case <-time.After(retryPause):
			}
		}
	}
	return nil
}

// splitParts cuts doc into parts of at most size bytes (at least 1 KiB); an empty doc
// is one empty part.
func splitParts(doc []byte, size int) [][]byte {
	if len(doc) == 0 {
		return [][]byte{doc}
	}
	size = max(size, 1024)
	var parts [][]byte
	for len(doc) > 0 {
		n := min(size, len(doc))
		parts, doc = append(parts, doc[:n]), doc[n:]
	}
	return parts
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

package cluster

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// fence is a worker's view of the coordinator's heartbeats, for deciding whether it may
// start a message. A worker that the coordinator has declared lost must not send
// another message, and it must not learn that too late: a process stopped (SIGSTOP, a
// frozen VM) and resumed runs on at once, while the heartbeats that tell it it was lost
// are still to be read, behind stale ones. So every heartbeat names the lost shards, and
// a heartbeat counts as fresh by when the coordinator sent it (converted with the
// measured clock offset), not by when it arrived: after a pause longer than StopAfter,
// admit says no before anything else has run, and the worker stops.
//
// The heartbeat handler (a NATS goroutine), the worker's loop and the engine (admit, on
// its event loops and dialers) use it at once: its fields are atomic.
type fence struct {
	base      time.Time     // the monotonic origin of freshNs
	skew      time.Duration // added to this machine's clock readings (tests)
	shard     atomic.Int64  // this worker's shard, -1 before it joined
	offsetNs  atomic.Int64  // coordinator clock − this clock
	stopAfter atomic.Int64  // ns; 0: heartbeats are not timed yet (before the clock is measured)
	freshNs   atomic.Int64  // since base: when the freshest heartbeat was sent, on this machine's monotonic clock
	fenced    atomic.Bool   // a heartbeat named this worker's shard lost
}

func (f *fence) init() {
	f.base = time.Now()
	f.shard.Store(-1)
}

func (f *fence) sinceBase() int64 { return int64(time.Since(f.base)) }

// timed starts timing heartbeats: the clock offset is known, and the run says how stale
// they may be. The measurement just made counts as a fresh heartbeat.
func (f *fence) timed(offsetNs int64, stopAfter time.Duration) {
	f.offsetNs.Store(offsetNs)
	f.freshNs.Store(f.sinceBase())
	f.stopAfter.Store(int64(stopAfter))
}

// starting counts the shared start (on this machine's clock) as a fresh heartbeat: the
// coordinator counts a worker's silence from the start too, so a worker stopped before
// the start is safe until stopAfter after it (and refuses by itself if it resumes later
// than the start allows).
func (f *fence) starting(start time.Time) {
	f.freshen(f.sinceBase() + int64(time.Until(start)))
}

// freshen makes at (since base) the freshest heartbeat's time, unless one is fresher.
func (f *fence) freshen(at int64) {
	for {
		old := f.freshNs.Load()
		if at <= old || f.freshNs.CompareAndSwap(old, at) {
			return
		}
	}
}

// heartbeat takes one of the coordinator's heartbeats: the fence first (a heartbeat that
// names this shard never counts as fresh), then its age.
func (f *fence) heartbeat(data []byte) {
	var hb Heartbeat
	if json.Unmarshal(data, &hb) != nil {
		return
	}
	if k := f.shard.Load(); k >= 0 && slices.Contains(hb.Lost, int(k)) {
		f.fenced.Store(true)
		return
	}
	if f.stopAfter.Load() == 0 {
		return
	}
	sentHere := hb.SentUnixNs - f.offsetNs.Load()
	age := max(time.Now().Add(f.skew).UnixNano()-sentHere, 0)
	f.freshen(f.sinceBase() - age)
}

// stale is how long ago the freshest heartbeat was sent.
func (f *fence) stale() time.Duration { return time.Duration(f.sinceBase() - f.freshNs.Load()) }

// admit is the engine's Admit hook: no once the shard is fenced or the heartbeats are
// older than StopAfter.
func (f *fence) admit() bool {
	if f.fenced.Load() {
		return false
	}
	limit := f.stopAfter.Load()
	return limit == 0 || f.sinceBase()-f.freshNs.Load() <= limit
}

// check says whether the run must stop, and why.
func (f *fence) check() (Stop, string) {
	switch {
	case f.fenced.Load():
		return StopFenced, "declared lost by the coordinator: stopped sending (what it sent is reported apart, not merged)"
	case !f.admit():
		return StopSilent, fmt.Sprintf("lost the coordinator (no fresh heartbeat for %v): stopped sending, as it may be declared lost", f.stale().Round(time.Millisecond))
	}
	return StopNone, ""
}

// heartbeat is a worker's cumulative progress, reported at each of the run's samples
// and four times a report interval (live) between them: the reports double as its
// heartbeat, and since they are cumulative a lost one is harmless. After the run, the
// final result's delivery reports once an interval (ticker).
type heartbeat struct {
	w        *workerRun
	ticker   *time.Ticker
	live     *time.Ticker
	interval time.Duration
	mu       sync.Mutex
	last     Report
	seq      int64
	sent     time.Time // the last report sent at a sample
}

func newHeartbeat(w *workerRun, interval time.Duration) *heartbeat {
	if interval <= 0 {
		interval = time.Second
	}
	return &heartbeat{w: w, ticker: time.NewTicker(interval), live: time.NewTicker(interval / 4), interval: interval,
		last: Report{Shard: w.shard, State: "waiting"}}
}

func (h *heartbeat) stop() {
	h.ticker.Stop()
	h.live.Stop()
}

// progress takes the run's cumulative counts (from the run's goroutine) and stamps them
// with this machine's clock: when they were taken (AtUnixNs, local), or now. They are
// reported at once (the live view shows a second as soon as every worker has reported
// it), unless counts were reported so less than a quarter interval ago: then with the
// next report.
func (h *heartbeat) progress(r Report) {
	now := time.Now()
	at := now
	if r.AtUnixNs != 0 {
		at = time.Unix(0, r.AtUnixNs)
	}
	h.mu.Lock()
	r.Shard, r.State = h.w.shard, "running"
	r.AtUnixNs = at.Add(h.w.cfg.clockSkew).UnixNano()
	h.last = r
	soon := now.Sub(h.sent) >= h.interval/4
	if soon {
		h.sent = now
	}
	h.mu.Unlock()
	if soon {
		h.publish("")
	}
}

// publish sends the last counts, in state (empty: as they are).
func (h *heartbeat) publish(state string) {
	h.mu.Lock()
	r := h.last
	h.seq++
	r.Seq = h.seq
	h.mu.Unlock()
	if state != "" {
		r.State = state
	}
	_ = h.w.nc.Publish(subject(h.w.run, fmt.Sprintf("report.%d", h.w.shard)), encode(r))
}

package engine

import (
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// Progress is one second of a run, for a live display (metrics.FormatLive).
type Progress = metrics.Live

// recorder is what a session records into: its event loop's metrics.Recorder, or
// nothing at all when metrics are off (Config.NoMetrics, for measuring their cost).
type recorder interface {
	Record(p metrics.Phase, nanos int64)
	Add(c metrics.Counter, n int64)
	Error(key, text string)
}

type nopRecorder struct{}

func (nopRecorder) Record(metrics.Phase, int64) {}
func (nopRecorder) Add(metrics.Counter, int64)  {}
func (nopRecorder) Error(string, string)        {}

// recorders hands each event loop its own metrics.Recorder, so recording needs no lock,
// and samples them all once a second into the run's interval series.
type recorders struct {
	mu    sync.Mutex
	loops []loopRecorder
	off   bool

	dialMu sync.Mutex // dialing goroutines share one recorder, taking turns
	dial   *metrics.Recorder

	total     *metrics.Snapshot
	intervals []metrics.Interval // compact: long runs keep one small record a second
	last      time.Time
	onSample  func(start, end time.Time, snap *metrics.Snapshot)
}

type loopRecorder struct {
	loop gnet.EventLoop
	rec  *metrics.Recorder
}

func newRecorders(start time.Time, off bool) *recorders {
	return &recorders{dial: metrics.NewRecorder(), total: metrics.NewSnapshot(), last: start, off: off}
}

// forLoop returns the recorder of the event loop that runs a connection.
func (rs *recorders) forLoop(el gnet.EventLoop) recorder {
	if rs.off {
		return nopRecorder{}
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, lr := range rs.loops {
		if lr.loop == el {
			return lr.rec
		}
	}
	rec := metrics.NewRecorder()
	rs.loops = append(rs.loops, loopRecorder{loop: el, rec: rec})
	return rec
}

// withDial records from a dialing goroutine.
func (rs *recorders) withDial(f func(*metrics.Recorder)) {
	rs.dialMu.Lock()
	f(rs.dial)
	rs.dialMu.Unlock()
}

// sample closes the current interval at now: every recorder's samples since the last
// call are merged into one interval and into the total.
func (rs *recorders) sample(now time.Time) *metrics.Snapshot {
	snap := metrics.NewSnapshot()
	rs.mu.Lock()
	loops := append([]loopRecorder(nil), rs.loops...)
	rs.mu.Unlock()
	for _, lr := range loops {
		snap.Merge(lr.rec.Swap())
	}
	rs.dialMu.Lock()
	snap.Merge(rs.dial.Swap())
	rs.dialMu.Unlock()
	rs.intervals = append(rs.intervals, metrics.NewInterval(rs.last, now, snap))
	if rs.onSample != nil {
		rs.onSample(rs.last, now, snap)
	}
	rs.last = now
	rs.total.Merge(snap)
	return snap
}

// run samples at every whole wall-clock second until stop is closed, reporting progress.
// Whole seconds make the series of several runs (cluster workers) line up exactly.
func (rs *recorders) run(r *runner, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	next := time.Now().Truncate(time.Second).Add(time.Second)
	t := time.NewTimer(time.Until(next))
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			now := time.Now()
			next = next.Add(time.Second)
			for !next.After(now) {
				next = next.Add(time.Second) // a stalled process skips, never bunches
			}
			t.Reset(time.Until(next))
			snap := rs.sample(now)
			r.warns.flush()
			r.checkThresholds(now)
			if r.cfg.Progress != nil {
				r.cfg.Progress(r.progress(now, snap))
			}
		}
	}
}

// progress is the live view of the second that ended at now (snap) and of the run so
// far.
func (r *runner) progress(now time.Time, snap *metrics.Snapshot) Progress {
	rs := r.recs
	total := rs.total
	p := Progress{
		Elapsed:   now.Sub(r.epoch),
		Total:     r.cfg.MaxDuration,
		Accepted:  total.Counter(metrics.MessagesAccepted),
		Rejected:  total.Counter(metrics.MessagesRejected),
		Failed:    total.Counter(metrics.MessagesFailed),
		Rate:      float64(snap.Counter(metrics.MessagesAccepted) + snap.Counter(metrics.MessagesRejected)),
		Late:      total.Counter(metrics.Late),
		Dropped:   total.Counter(metrics.Dropped),
		InFlight:  r.inFlight.Load(),
		EODP99:    snap.Quantile(metrics.EOD, 0.99),
		Intervals: len(rs.intervals),
	}
	p.Done = p.Accepted + p.Rejected + p.Failed
	if !r.unbounded {
		p.Planned = r.local
	}
	if r.model.scheduled() {
		p.Corrected, p.LatencyP99 = true, snap.Quantile(metrics.Latency, 0.99)
	} else {
		p.LatencyP99 = snap.Quantile(metrics.ServiceTime, 0.99)
	}
	if r.sched != nil && !r.stopping.Load() {
		p.TargetRate = r.sched.RateAt(p.Elapsed)
		if p.Total == 0 && r.sched.Length() > 0 {
			p.Total = r.sched.Length()
		}
	}
	return p
}

// checkThresholds stops the run when a threshold is lost (ThresholdAbort), once
// AbortDelay has passed: over the figures so far, the sending window being the time so
// far.
func (r *runner) checkThresholds(now time.Time) {
	elapsed := now.Sub(r.epoch)
	if !r.cfg.ThresholdAbort || elapsed < r.cfg.AbortDelay || r.stopping.Load() {
		return
	}
	total := r.recs.total
	t := metrics.Totals{Planned: r.local, Accepted: total.Counter(metrics.MessagesAccepted),
		Rejected: total.Counter(metrics.MessagesRejected), Failed: total.Counter(metrics.MessagesFailed),
		Sessions: total.Counter(metrics.SessionsOpened)}
	t.NotStarted = t.Planned - t.Accepted - t.Rejected - t.Failed
	f := metrics.Figures{Totals: t, Snap: total, Window: elapsed, Answered: t.Accepted + t.Rejected}
	var lost []metrics.Verdict
	for _, th := range r.cfg.Thresholds {
		if th.Lost(f) {
			lost = append(lost, th.Check(f))
		}
	}
	if len(lost) > 0 {
		r.fatal(&ThresholdError{After: elapsed, Breached: lost})
	}
}

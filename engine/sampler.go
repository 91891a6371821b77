package engine

import (
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// Progress is one second of a run, for a live display.
type Progress struct {
	Elapsed   time.Duration
	Accepted  int64         // since the start
	Rejected  int64         // since the start
	Failed    int64         // since the start
	Rate      float64       // messages answered per second in the last interval
	InFlight  int64         // connections open now
	EODP99    time.Duration // end-of-data reply p99 over the last interval
	Intervals int           // intervals so far
}

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
			if r.cfg.Progress == nil {
				continue
			}
			r.cfg.Progress(Progress{
				Elapsed:   now.Sub(r.epoch),
				Accepted:  rs.total.Counter(metrics.MessagesAccepted),
				Rejected:  rs.total.Counter(metrics.MessagesRejected),
				Failed:    rs.total.Counter(metrics.MessagesFailed),
				Rate:      float64(snap.Counter(metrics.MessagesAccepted) + snap.Counter(metrics.MessagesRejected)),
				InFlight:  r.inFlight.Load(),
				EODP99:    snap.Quantile(metrics.EOD, 0.99),
				Intervals: len(rs.intervals),
			})
		}
	}
}

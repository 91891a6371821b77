// Package promexport serves a run's measurements to Prometheus (OpenMetrics or the text
// format, through github.com/prometheus/client_golang): counters, gauges and per-phase
// histograms with classic buckets and native (exponential) buckets.
//
// Nothing here is on the recording path: the exporter takes each second's merged
// measurements once the engine has swapped them out of its per-loop recorders
// (Interval, from the sampler) and the live view's figures (Progress), adds them to its
// totals under its own lock, and converts the totals to Prometheus metrics when scraped.
// It never prints, exits or reads flags.
//
// The totals move once a second, so each sample carries the time it is true at (the end
// of the last second added, the live view's time for the gauges): stamped with the
// scrape's time instead, a scrape just before a second closes and the next just after it
// would put two seconds' messages between two scrapes one second apart, and rate()
// over a few scrapes would swing by a second's worth.
package promexport

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// Namespace prefixes every metric's name.
const Namespace = "gosmtpsource"

// Exporter holds a run's totals for Prometheus. Its methods are safe for concurrent use.
type Exporter struct {
	mu     sync.Mutex
	total  *metrics.Snapshot // everything measured so far
	at     time.Time         // the time total is true at (zero: nothing added yet)
	live   metrics.Live      // the last second's view (gauges)
	liveAt time.Time         // the time of live
	ended  bool              // Final was called: the totals are the run's result's
	served chan struct{}     // closed once a scrape that began after Final has been answered
	once   sync.Once

	reg     *prometheus.Registry
	handler http.Handler
}

// New is an exporter with empty totals, its own registry holding its collector.
func New() *Exporter {
	e := &Exporter{total: metrics.NewSnapshot(), served: make(chan struct{}), reg: prometheus.NewRegistry()}
	e.reg.MustRegister(newCollector(e))
	inner := promhttp.HandlerFor(e.reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
	e.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		afterFinal := e.ended
		e.mu.Unlock()
		inner.ServeHTTP(w, r)
		if afterFinal {
			e.once.Do(func() { close(e.served) })
		}
	})
	return e
}

// Registry is the exporter's registry, for a caller that serves more metrics with it.
func (e *Exporter) Registry() *prometheus.Registry { return e.reg }

// Handler serves the metrics (the path is the caller's: /metrics by convention).
func (e *Exporter) Handler() http.Handler { return e.handler }

// Interval adds one interval's measurements (the engine's Hooks.OnInterval, a cluster
// coordinator's merged seconds); the totals are then true at end. snap is read during
// the call only.
func (e *Exporter) Interval(_, end time.Time, snap *metrics.Snapshot) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.ended {
		e.total.Merge(snap)
		e.at = later(e.at, end)
	}
}

// Progress takes the live view's figures of the last second (open connections, the
// target rate, the achieved rate), true now.
func (e *Exporter) Progress(l metrics.Live) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.ended {
		e.live = l
		e.liveAt = later(e.liveAt, time.Now())
	}
}

// later is the later of a and b: a sample's time never goes back, or Prometheus would
// refuse it as out of order.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Final sets the totals to the run's result (its exact totals: a cluster's merged
// report, a run's last part of a second included) and the gauges to an ended run's; the
// seconds that come after are ignored. Counters never go down: one that the result
// counts lower (a lost worker's messages, kept out of a merge) keeps its value.
func (e *Exporter) Final(total *metrics.Snapshot) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ended && total == nil {
		return
	}
	if total != nil {
		e.total = atLeast(total, e.total)
	}
	// The result gets a time of its own, after every one served: Prometheus refuses a
	// second sample at a time it has with another value.
	now := time.Now()
	e.at, e.liveAt = later(e.at, now), later(e.liveAt, now)
	e.live.InFlight, e.live.TargetRate, e.live.Rate = 0, 0, 0
	e.ended = true
}

// Served is closed once a scrape that began after Final has been answered: the run's
// final figures have been read.
func (e *Exporter) Served() <-chan struct{} { return e.served }

// atLeast is final with every counter and error count at least prev's.
func atLeast(final, prev *metrics.Snapshot) *metrics.Snapshot {
	out := final.Clone()
	for c := metrics.Counter(0); c < metrics.NumCounters; c++ {
		if d := prev.Counter(c) - final.Counter(c); d > 0 {
			out.Add(c, d)
		}
	}
	finalErrs := make(map[string]int64)
	for _, ec := range final.Errors() {
		finalErrs[ec.Key] = ec.Count
	}
	for _, ec := range prev.Errors() {
		out.AddErrors(ec.Key, ec.Count-finalErrs[ec.Key])
	}
	return out
}

// sample is a copy of the totals and the gauges, each with the time it is true at, for
// a scrape.
type sample struct {
	total  *metrics.Snapshot
	at     time.Time
	live   metrics.Live
	liveAt time.Time
}

func (e *Exporter) snapshot() sample {
	e.mu.Lock()
	defer e.mu.Unlock()
	return sample{total: e.total.Clone(), at: e.at, live: e.live, liveAt: e.liveAt}
}

// Package promexport serves a run's measurements to Prometheus (OpenMetrics or the text
// format, through github.com/prometheus/client_golang): counters, gauges and per-phase
// histograms with classic buckets and native (exponential) buckets.
//
// Nothing here is on the recording path: the exporter takes each second's merged
// measurements once the engine has swapped them out of its per-loop recorders
// (Interval, from the sampler) and the live view's figures (Progress), adds them to its
// totals under its own lock, and converts the totals to Prometheus metrics when scraped.
// It never prints, exits or reads flags.
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
	live   metrics.Live      // the last second's view (gauges)
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
// coordinator's merged seconds). snap is read during the call only.
func (e *Exporter) Interval(_, _ time.Time, snap *metrics.Snapshot) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.ended {
		e.total.Merge(snap)
	}
}

// Progress takes the live view's figures of the last second (open connections, the
// target rate, the achieved rate).
func (e *Exporter) Progress(l metrics.Live) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.ended {
		e.live = l
	}
}

// Final sets the totals to the run's result (its exact totals: a cluster's merged
// report, a run's last part of a second included) and the gauges to an ended run's; the
// seconds that come after are ignored. Counters never go down: one that the result
// counts lower (a lost worker's messages, kept out of a merge) keeps its value.
func (e *Exporter) Final(total *metrics.Snapshot) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if total != nil {
		e.total = atLeast(total, e.total)
	}
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

// snapshot is a copy of the totals and the gauges, for a scrape.
func (e *Exporter) snapshot() (*metrics.Snapshot, metrics.Live) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.total.Clone(), e.live
}

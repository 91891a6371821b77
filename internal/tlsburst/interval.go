package tlsburst

import (
	"runtime/debug"
	"time"

	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// IntervalFunc is what receives a run's second-by-second measurements
// (engine.Hooks.OnInterval).
type IntervalFunc = func(start, end time.Time, snap *metrics.Snapshot)

// ReleaseAfterBursts has a TLS run give a burst of handshakes' garbage back to the
// system once the burst is over, before next (which may be nil) gets the second: the
// one place both go-smtp-source's runs and its cluster workers take it from.
func ReleaseAfterBursts(next IntervalFunc) IntervalFunc {
	var burst Detector
	return func(start, end time.Time, snap *metrics.Snapshot) {
		if burst.Second(snap.Counter(metrics.TLSHandshakes)) {
			go debug.FreeOSMemory() // a full collection: off the sampler's goroutine
		}
		if next != nil {
			next(start, end, snap)
		}
	}
}

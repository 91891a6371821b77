package main

import (
	"runtime/debug"
	"time"

	"github.com/go-smtp-source/go-smtp-source/engine"
	"github.com/go-smtp-source/go-smtp-source/internal/tlsburst"
	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// releaseAfterHandshakeBursts has a TLS run give a burst of handshakes' garbage back to the
// system once the burst is over (see internal/tlsburst), before cfg.OnInterval's own work.
func releaseAfterHandshakeBursts(cfg *engine.Config) {
	if cfg.TLS == nil {
		return
	}
	var burst tlsburst.Detector
	next := cfg.OnInterval
	cfg.OnInterval = func(start, end time.Time, snap *metrics.Snapshot) {
		if burst.Second(snap.Counter(metrics.TLSHandshakes)) {
			go debug.FreeOSMemory() // a full collection: off the sampler's goroutine
		}
		if next != nil {
			next(start, end, snap)
		}
	}
}

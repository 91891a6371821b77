package main

import (
	"crypto/tls"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/engine"
	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// The burst watch goes in front of the interval log (--hdr-log), which still gets every
// second, and only into TLS runs.
func TestReleaseAfterHandshakeBurstsChains(t *testing.T) {
	calls := 0
	cfg := engine.Config{TLS: &tls.Config{}, OnInterval: func(time.Time, time.Time, *metrics.Snapshot) { calls++ }}
	releaseAfterHandshakeBursts(&cfg)
	for _, n := range []int64{0, 100, 0} {
		snap := metrics.NewSnapshot()
		snap.Add(metrics.TLSHandshakes, n)
		cfg.OnInterval(time.Time{}, time.Time{}, snap)
	}
	if calls != 3 {
		t.Fatalf("the interval log got %d of 3 seconds", calls)
	}

	plain := engine.Config{}
	releaseAfterHandshakeBursts(&plain)
	if plain.OnInterval != nil {
		t.Fatal("a run without TLS got an interval hook")
	}
}

package tlsburst

import (
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// The burst watch goes in front of the interval log (--hdr-log), which still gets every
// second.
func TestReleaseAfterBurstsChains(t *testing.T) {
	calls := 0
	f := ReleaseAfterBursts(func(time.Time, time.Time, *metrics.Snapshot) { calls++ })
	for _, n := range []int64{0, 100, 0} {
		snap := metrics.NewSnapshot()
		snap.Add(metrics.TLSHandshakes, n)
		f(time.Time{}, time.Time{}, snap)
	}
	if calls != 3 {
		t.Fatalf("the interval log got %d of 3 seconds", calls)
	}
	ReleaseAfterBursts(nil)(time.Time{}, time.Time{}, metrics.NewSnapshot()) // no next: no panic
}

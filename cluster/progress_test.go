package cluster

import (
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// The live view sums the workers' counts at the same whole second of the shared
// timeline, whatever order and delay their reports come in, and shows a second as soon
// as the last running worker has reported it: at a steady 3 × 1,000 msg/s every second
// shows 3,000 msg/s, none before it is complete. A lost or finished worker holds no
// second back and counts with its last counts.
func TestTimelineShowsCompleteSeconds(t *testing.T) {
	start := time.Unix(1_000_000, 400_000_000) // between two seconds, as starts are
	offsets := []int64{0, int64(300 * time.Millisecond), int64(-200 * time.Millisecond)}
	tl := newTimeline(start, offsets)
	report := func(k int, sec int64, late time.Duration, perSec int64) {
		// the worker's sampler fires just after the whole second of the shared timeline,
		// which is offsets[k] earlier on its own clock
		at := time.Unix(sec, 0).Add(late).UnixNano() - offsets[k]
		elapsed := time.Unix(sec, 0).Sub(start).Seconds()
		tl.add(k, Report{Seq: sec, AtUnixNs: at, Accepted: int64(elapsed * float64(perSec))})
	}
	var shown []Progress
	next := func() {
		if p, _, ok := tl.next(); ok {
			shown = append(shown, p)
		}
	}
	for sec := int64(1_000_001); sec <= 1_000_005; sec++ {
		for _, k := range []int{2, 0, 1} { // worker 1 is always last
			report(k, sec, time.Duration(k+1)*3*time.Millisecond, 1000)
			next()
			if k != 1 && len(shown) > 0 && shown[len(shown)-1].Elapsed == time.Unix(sec, 0).Sub(start) {
				t.Fatalf("second %d shown before worker 1 reported it", sec)
			}
		}
	}
	if len(shown) != 5 {
		t.Fatalf("%d seconds shown, want 5: %+v", len(shown), shown)
	}
	for i, p := range shown {
		if want := time.Unix(1_000_001+int64(i), 0).Sub(start); p.Elapsed != want {
			t.Errorf("second %d: elapsed %v, want %v", i, p.Elapsed, want)
		}
		if p.Rate < 2990 || p.Rate > 3010 {
			t.Errorf("second %d: %.0f msg/s, want 3000 (%+v)", i, p.Rate, p)
		}
	}
	// Worker 1 is lost: the others go on being shown, with its last counts.
	tl.settle(1)
	report(0, 1_000_006, time.Millisecond, 1000)
	next()
	if len(shown) != 5 {
		t.Fatalf("second 6 shown before worker 2 reported it")
	}
	report(2, 1_000_006, time.Millisecond, 1000)
	next()
	if len(shown) != 6 || shown[5].Rate < 1990 || shown[5].Rate > 2010 {
		t.Fatalf("after the loss: %+v", shown[len(shown)-1])
	}
	// A sample taken late (a loaded machine) is still at its second.
	if got := tl.secondOf(0, time.Unix(1_000_006, 400_000_000).UnixNano()); got != 1_000_006 {
		t.Errorf("counts at 6.4 s are at second %d, want 1000006", got)
	}
}

// The merged line's percentiles come from the workers' merged histograms of the second,
// never from their percentiles averaged; late, dropped, open connections and target
// rates add up; two samples that fall on one second (a late one, then one on time) are
// both counted, and a repeated report is not counted twice.
func TestTimelineMergesSeconds(t *testing.T) {
	start := time.Unix(2_000_000, 0)
	tl := newTimeline(start, []int64{0, 0})
	second := func(latency time.Duration, n int) *metrics.LiveSecond {
		snap := metrics.NewSnapshot()
		for range n {
			snap.Record(metrics.Latency, int64(latency))
			snap.Record(metrics.EOD, int64(latency/10))
		}
		return metrics.NewLiveSecond(start, start.Add(time.Second), snap)
	}
	at := func(sec int64, late time.Duration) int64 { return time.Unix(sec, 0).Add(late).UnixNano() }
	// worker 0: 100 messages at 10 ms; worker 1: 100 at 100 ms, in two samples of 50.
	tl.add(0, Report{Seq: 1, AtUnixNs: at(2_000_001, time.Millisecond), Accepted: 100, InFlight: 3,
		Live: &metrics.LiveSample{Late: 2, Dropped: 1, TargetRate: 150, Corrected: true, Second: second(10*time.Millisecond, 100)}})
	tl.add(1, Report{Seq: 1, AtUnixNs: at(2_000_000, 700*time.Millisecond), Accepted: 50, InFlight: 4,
		Live: &metrics.LiveSample{Late: 5, TargetRate: 150, Corrected: true, Second: second(100*time.Millisecond, 50)}})
	repeat := Report{Seq: 2, AtUnixNs: at(2_000_001, 2*time.Millisecond), Accepted: 100, InFlight: 5,
		Live: &metrics.LiveSample{Late: 6, Dropped: 2, TargetRate: 150, Corrected: true, Second: second(100*time.Millisecond, 50)}}
	tl.add(1, repeat)
	repeat.Seq = 3
	tl.add(1, repeat) // a heartbeat repeating the last sample
	p, measured, ok := tl.next()
	if !ok {
		t.Fatal("no second shown")
	}
	if p.Accepted != 200 || p.Done != 200 || p.Late != 8 || p.Dropped != 3 || p.InFlight != 8 || p.TargetRate != 300 || !p.Corrected {
		t.Errorf("sums: %+v", p)
	}
	if n := measured.Count(metrics.Latency); n != 200 {
		t.Errorf("%d latency samples merged, want 200", n)
	}
	if p.LatencyP99 < 99*time.Millisecond || p.LatencyP99 > 101*time.Millisecond {
		t.Errorf("latency p99 %v, want 100ms (the merged histogram's)", p.LatencyP99)
	}
	if p.EODP99 < 9900*time.Microsecond || p.EODP99 > 10100*time.Microsecond {
		t.Errorf("eod p99 %v, want 10ms", p.EODP99)
	}
	if _, _, again := tl.next(); again {
		t.Error("a second shown twice")
	}
}

package metrics

import (
	"strings"
	"testing"
	"time"
)

func TestFormatLive(t *testing.T) {
	open := Live{Elapsed: 12 * time.Second, Total: 60 * time.Second, Accepted: 3580, Rejected: 1, Failed: 2,
		TargetRate: 300, Rate: 298, Late: 2, Dropped: 1, InFlight: 12, LatencyP99: 3214 * time.Microsecond,
		EODP99: 44700 * time.Millisecond, Corrected: true}
	want := "12s/60s  target 300/s  achieved 298/s  latency p99 3.21ms  eod p99 44.7s  accepted 3580  rejected 1  failed 2  late 2  dropped 1  conns open 12"
	if got := FormatLive(open); got != want {
		t.Errorf("open model:\n got %q\nwant %q", got, want)
	}
	closed := Live{Elapsed: 3 * time.Second, Planned: 1000, Done: 600, Rate: 200, Accepted: 600, InFlight: 4}
	want = "3s  done 600/1000  achieved 200/s  service p99 -  eod p99 -  accepted 600  rejected 0  failed 0  late 0  dropped 0  conns open 4"
	if got := FormatLive(closed); got != want {
		t.Errorf("closed model:\n got %q\nwant %q", got, want)
	}
	cluster := Live{Elapsed: time.Second, Workers: 3, Lost: 1}
	if got := FormatLive(cluster); !strings.HasSuffix(got, "  workers 3  lost 1") {
		t.Errorf("cluster: %q", got)
	}
}

// A merge's sending window runs to the latest end of any input's; rates are per second
// of it, and the drain is what follows.
func TestMergeWindows(t *testing.T) {
	a := NewReport(nil, testStart, 10*time.Second, Totals{Planned: 100, Accepted: 100}, nil, nil)
	a.Window = &Window{SendingNs: int64(4 * time.Second), DrainNs: int64(6 * time.Second), Answered: 100}
	b := NewReport(nil, testStart.Add(time.Second), 4*time.Second, Totals{Planned: 100, Accepted: 100}, nil, nil) // no window: all of it
	m, _, err := Merge([]*Report{a, b}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	w := m.Window
	if w == nil || w.SendingNs != int64(5*time.Second) || w.DrainNs != int64(5*time.Second) || w.Answered != 200 {
		t.Fatalf("window %+v", w)
	}
	if m.Summary.AchievedPerSec != 40 || m.Summary.OfferedPerSec != 40 {
		t.Fatalf("summary %+v", m.Summary)
	}
	if !SameRun(a, a) || SameRun(a, b) {
		t.Fatal("SameRun")
	}
}

package metrics

import (
	"encoding/json"
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

// A second's measurements travel as LiveSecond and come back the same: counters, error
// counts by key, every phase's exact statistics and histogram.
func TestLiveSecondRoundTrip(t *testing.T) {
	s := NewSnapshot()
	for i := 1; i <= 1000; i++ {
		s.Record(Latency, int64(i)*int64(time.Millisecond))
		s.Record(EOD, int64(i)*int64(time.Microsecond))
	}
	s.Add(MessagesAccepted, 990)
	s.Add(MessagesRejected, 10)
	s.Error("smtp:rcpt:perm:550", "550 no")
	s.Error("smtp:rcpt:perm:550", "550 no")
	start := time.Unix(1_700_000_000, 0)
	ls := NewLiveSecond(start, start.Add(time.Second), s)
	b, err := json.Marshal(ls)
	if err != nil {
		t.Fatal(err)
	}
	var back LiveSecond
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	got, err := back.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []Phase{Latency, EOD} {
		if got.Count(p) != s.Count(p) || got.Min(p) != s.Min(p) || got.Max(p) != s.Max(p) || got.Sum(p) != s.Sum(p) ||
			got.Quantile(p, 0.99) != s.Quantile(p, 0.99) {
			t.Errorf("%v: got %d %v..%v p99 %v, want %d %v..%v p99 %v", p, got.Count(p), got.Min(p), got.Max(p), got.Quantile(p, 0.99),
				s.Count(p), s.Min(p), s.Max(p), s.Quantile(p, 0.99))
		}
	}
	if got.Counter(MessagesAccepted) != 990 || got.Counter(MessagesRejected) != 10 || got.ErrorTotal() != 2 {
		t.Errorf("counters %d %d, errors %d", got.Counter(MessagesAccepted), got.Counter(MessagesRejected), got.ErrorTotal())
	}
	if lat, eod := LiveP99s(got, true); lat != s.Quantile(Latency, 0.99) || eod != s.Quantile(EOD, 0.99) {
		t.Errorf("LiveP99s %v %v", lat, eod)
	}
	if lat, _ := LiveP99s(got, false); lat != 0 {
		t.Errorf("service p99 %v without service-time samples", lat)
	}
	var corrupt LiveSecond
	if err := json.Unmarshal(b, &corrupt); err != nil {
		t.Fatal(err)
	}
	corrupt.Phases[0].Histogram = "not base64"
	if _, err := corrupt.Snapshot(); err == nil {
		t.Error("a corrupt histogram decoded")
	}
}

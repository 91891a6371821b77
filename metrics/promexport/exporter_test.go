package promexport

import (
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/go-smtp-source/go-smtp-source/metrics"
)

func second(accepted int64, latencies ...time.Duration) *metrics.Snapshot {
	s := metrics.NewSnapshot()
	s.Add(metrics.MessagesAccepted, accepted)
	s.Add(metrics.BytesSent, 100*accepted)
	for _, d := range latencies {
		s.Record(metrics.Latency, int64(d))
	}
	return s
}

func gather(t *testing.T, e *Exporter) map[string][]*dto.Metric {
	t.Helper()
	fams, err := e.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string][]*dto.Metric)
	for _, f := range fams {
		out[f.GetName()] = f.GetMetric()
	}
	return out
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// Seconds add up; the histograms' classic and native buckets hold every sample where
// its value belongs; the gauges are the last second's; Final sets the run's exact
// totals, never lower, and Served says when a scrape has read them.
func TestExporter(t *testing.T) {
	e := New()
	ms := time.Millisecond
	e.Interval(time.Time{}, time.Time{}, second(3, ms, ms, ms))
	e.Interval(time.Time{}, time.Time{}, second(2, 2*time.Second))
	errs := metrics.NewSnapshot()
	errs.Error("net:timeout", "read: i/o timeout")
	e.Interval(time.Time{}, time.Time{}, errs)
	e.Progress(metrics.Live{InFlight: 7, TargetRate: 300, Rate: 290})

	got := gather(t, e)
	accepted := func() float64 {
		for _, m := range gather(t, e)["gosmtpsource_messages_total"] {
			if label(m, "outcome") == "accepted" {
				return m.GetCounter().GetValue()
			}
		}
		return -1
	}
	if a := accepted(); a != 5 {
		t.Errorf("accepted %v, want 5", a)
	}
	if v := got["gosmtpsource_bytes_sent_total"][0].GetCounter().GetValue(); v != 500 {
		t.Errorf("bytes %v", v)
	}
	if m := got["gosmtpsource_errors_total"]; len(m) != 1 || label(m[0], "key") != "net:timeout" || m[0].GetCounter().GetValue() != 1 {
		t.Errorf("errors %v", m)
	}
	if g := got["gosmtpsource_connections_open"][0].GetGauge().GetValue(); g != 7 {
		t.Errorf("open %v", g)
	}
	if g := got["gosmtpsource_target_rate"][0].GetGauge().GetValue(); g != 300 {
		t.Errorf("target %v", g)
	}
	h := got["gosmtpsource_phase_seconds"][0].GetHistogram()
	if h.GetSampleCount() != 4 || math.Abs(h.GetSampleSum()-2.003) > 1e-9 {
		t.Errorf("count %d sum %v", h.GetSampleCount(), h.GetSampleSum())
	}
	for _, b := range h.GetBucket() {
		want := uint64(0)
		switch {
		case b.GetUpperBound() >= 2.5:
			want = 4
		case b.GetUpperBound() >= 0.001:
			want = 3
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("le %v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
	// Native: 1 ms is in (2^-10, 2^(-79/8)], bucket -79; 2 s in (2^(7/8), 2^1], bucket 8.
	var idx []int
	var n int64
	i := 0
	for _, sp := range h.GetPositiveSpan() {
		i += int(sp.GetOffset())
		for j := 0; j < int(sp.GetLength()); j++ {
			idx = append(idx, i)
			i++
		}
	}
	counts := make([]int64, len(idx))
	for k, d := range h.GetPositiveDelta() {
		n += d
		counts[k] = n
	}
	if h.GetSchema() != NativeSchema || len(idx) != 2 || idx[0] != -79 || idx[1] != 8 || counts[0] != 3 || counts[1] != 1 {
		t.Errorf("native buckets %v counts %v (schema %d)", idx, counts, h.GetSchema())
	}

	rec := httptest.NewRecorder()
	e.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `gosmtpsource_messages_total{outcome="accepted"} 5`) {
		t.Errorf("text format:\n%s", rec.Body.String())
	}
	select {
	case <-e.Served():
		t.Fatal("served before Final")
	default:
	}
	final := second(6, ms)
	e.Final(final)
	e.Interval(time.Time{}, time.Time{}, second(100)) // after the end: ignored
	if a := accepted(); a != 6 {
		t.Errorf("after Final: accepted %v, want 6", a)
	}
	e.Final(second(1))
	if a := accepted(); a != 6 {
		t.Errorf("a lower final count: accepted %v, want 6 (counters never go down)", a)
	}
	e.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/metrics", nil))
	select {
	case <-e.Served():
	default:
		t.Fatal("not served after a scrape following Final")
	}
}

func TestNativeIndex(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want int
	}{{1, 0}, {2, 8}, {0.5, -8}, {1.0001, 1}, {math.Pow(2, 1.0/8) * 0.9999, 1}, {math.Pow(2, 1.0/8) * 1.0001, 2}} {
		if got := nativeIndex(c.v); got != c.want {
			t.Errorf("nativeIndex(%v) = %d, want %d", c.v, got, c.want)
		}
	}
}

package promexport

import (
	"fmt"
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

// Each sample carries the time its figures are true at: the totals the end of the last
// second added (never going back), the gauges the live view's time, both the end's
// after Final; before the first second, none (true whenever scraped).
func TestExporterStampsSamples(t *testing.T) {
	e := New()
	stamps := func() (total, gauge int64, stamped bool) {
		got := gather(t, e)
		acc, open := got["gosmtpsource_messages_total"][0], got["gosmtpsource_connections_open"][0]
		return acc.GetTimestampMs(), open.GetTimestampMs(), acc.TimestampMs != nil || open.TimestampMs != nil
	}
	if _, _, stamped := stamps(); stamped {
		t.Error("a sample is stamped before any second was added")
	}
	t0 := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	e.Interval(t0, t0.Add(time.Second), second(3))
	e.Interval(t0.Add(time.Second), t0.Add(2*time.Second), second(2))
	e.Interval(t0, t0.Add(1500*time.Millisecond), second(1)) // late: the time stays
	before := time.Now()
	e.Progress(metrics.Live{InFlight: 4})
	total, gauge, _ := stamps()
	if want := t0.Add(2 * time.Second).UnixMilli(); total != want {
		t.Errorf("totals stamped %d, want %d (the last second's end)", total, want)
	}
	if gauge < before.UnixMilli() || gauge > time.Now().UnixMilli() {
		t.Errorf("gauges stamped %d, want the Progress call's time (%d…)", gauge, before.UnixMilli())
	}
	before = time.Now()
	e.Final(second(7))
	e.Final(nil)
	total, gauge, _ = stamps()
	if total < before.UnixMilli() || gauge < before.UnixMilli() || total > time.Now().UnixMilli() {
		t.Errorf("after Final: totals %d, gauges %d, want Final's time (%d…)", total, gauge, before.UnixMilli())
	}
	rec := httptest.NewRecorder()
	e.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if want := fmt.Sprintf(`gosmtpsource_messages_total{outcome="accepted"} 7 %d`, total); !strings.Contains(rec.Body.String(), want) {
		t.Errorf("text format has no %q:\n%s", want, rec.Body.String())
	}
}

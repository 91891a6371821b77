package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/engine"
	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/plan"
	"github.com/go-smtp-source/go-smtp-source/sink"
	"github.com/go-smtp-source/go-smtp-source/sink/sinktest"
)

// tracingSink is an in-process go-smtp-sink with --trace, its SMTP address and its
// /trace's base URL (both on port 0).
func tracingSink(t *testing.T) (smtp, base string) {
	t.Helper()
	srv := sinktest.Start(t, sink.Config{EventLoops: 1, TraceHeader: sink.DefaultTraceHeader})
	hs := httptest.NewServer(srv.HTTPHandler())
	t.Cleanup(hs.Close)
	return srv.Addr().String(), hs.URL
}

// send runs go-smtp-source's engine: messages to addr, traced as run.
func send(t *testing.T, addr, run string, messages int64) engine.Result {
	t.Helper()
	p := plan.Defaults()
	p.Target, p.Messages, p.Sessions = addr, messages, 4
	p.Session.Hostname = "source.test"
	p.Trace = &plan.Trace{Run: run}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := engine.Run(ctx, p.WithDefaults(), engine.Hooks{})
	if err != nil || res.Accepted != messages {
		t.Fatalf("run: %v, %d accepted", err, res.Accepted)
	}
	return res
}

func record(res engine.Result) metrics.E2ERun {
	return *res.Measured().E2E
}

// The poller follows a run live (the sink's count reaches the run's), then reconciles:
// every message delivered once, latencies above 0 and below the run's length, and the
// clock of a sink on this host measured within its uncertainty, so not corrected.
func TestPollerFollowsAndReconciles(t *testing.T) {
	smtp, base := tracingSink(t)
	p, err := NewPoller(Config{Sinks: []string{base}, Run: "live", Header: sink.DefaultTraceHeader})
	if err != nil {
		t.Fatal(err)
	}
	p.Start()
	defer p.Stop()
	started := time.Now()
	res := send(t, smtp, "live", 400)
	deadline := time.Now().Add(10 * time.Second)
	for p.Live().Delivered < 400 {
		if time.Now().After(deadline) {
			t.Fatalf("the live figures never reached 400: %+v", p.Live())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if l := p.Live(); l.Answered != 1 || l.Sinks != 1 {
		t.Errorf("live %+v", l)
	}
	run, warnings := p.Finish(context.Background(), record(res), 5*time.Second)
	elapsed := time.Since(started)
	if len(warnings) > 0 {
		t.Fatal(warnings)
	}
	if run.Delivered != 400 || run.Lost != 0 || run.Duplicates != 0 || run.DeliveredLate != 0 || run.Unexpected != 0 {
		t.Errorf("figures %+v", run)
	}
	d := run.Delivery
	if d.Count != 400 || d.MinNs <= 0 || time.Duration(d.MaxNs) >= elapsed || d.Histogram == "" {
		t.Errorf("delivery %+v (run %v)", d, elapsed)
	}
	s := run.Sinks[0]
	if s.ClockRTTNs <= 0 || s.ClockCorrected || abs(s.ClockOffsetNs) > s.ClockRTTNs/2 {
		t.Errorf("clock of a sink on this host: offset %v ± %v, corrected %v", time.Duration(s.ClockOffsetNs), time.Duration(s.ClockRTTNs/2), s.ClockCorrected)
	}
	if run.Deadline.IsZero() || run.OnTime.Len() != 400 || s.Seen.Len() != 400 {
		t.Errorf("deadline %v, on time %d, seen %d", run.Deadline, run.OnTime.Len(), s.Seen.Len())
	}
}

func abs(n int64) int64 { return max(n, -n) }

// A number the sink never sees keeps the wait going until its end, and is lost; a sink
// that cannot be asked is recorded with its error and has seen nothing.
func TestFinishWaitsThenCountsLost(t *testing.T) {
	smtp, base := tracingSink(t)
	res := send(t, smtp, "waited", 50)
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close() // nothing listens there any more
	p, err := NewPoller(Config{Sinks: []string{base, down.URL}, Run: "waited", Header: sink.DefaultTraceHeader, Interval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rec := record(res)
	rec.Accepted.Add(51) // accepted, never sent to the sink
	const wait = 600 * time.Millisecond
	start := time.Now()
	run, warnings := p.Finish(context.Background(), rec, wait)
	if waited := time.Since(start); waited < wait {
		t.Errorf("gave up after %v, before the wait's %v", waited, wait)
	}
	if run.Lost != 1 || !slices.Equal(run.LostSeqs, []uint64{51}) || run.Delivered != 50 {
		t.Errorf("figures: delivered %d, lost %v", run.Delivered, run.LostSeqs)
	}
	if len(warnings) != 1 || len(run.Sinks) != 2 || run.Sinks[1].Error == "" || run.Sinks[1].Seen.Len() != 0 {
		t.Errorf("the sink that is down: %v, %+v", warnings, run.Sinks)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start = time.Now()
	if _, _ = p.Finish(ctx, rec, time.Minute); time.Since(start) > 10*time.Second {
		t.Errorf("an interrupted wait went on")
	}
}

// Record corrects a sink's latencies by a clock offset beyond its uncertainty, and
// leaves them when it is within it; the series moves onto the source's clock.
func TestRecordClock(t *testing.T) {
	smtp, base := tracingSink(t)
	send(t, smtp, "clock", 100)
	resp, err := http.Get(base + "/trace?run=clock")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := ReadDocument(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := Record("s", doc, "clock", Clock{})
	if err != nil || raw.Seen.Len() != 100 || raw.Delivery.Count != 100 {
		t.Fatalf("%v %+v", err, raw)
	}
	small, _ := Record("s", doc, "clock", Clock{Offset: 100 * time.Microsecond, RTT: time.Millisecond})
	if small.ClockCorrected || small.Delivery.MaxNs != raw.Delivery.MaxNs {
		t.Errorf("an offset within its uncertainty corrected the latencies")
	}
	behind, _ := Record("s", doc, "clock", Clock{Offset: -2 * time.Second, RTT: time.Millisecond})
	if !behind.ClockCorrected || behind.Delivery.MinNs != raw.Delivery.MinNs+int64(2*time.Second) || behind.Delivery.Count != 100 {
		t.Errorf("a sink 2s behind: min %v, was %v", time.Duration(behind.Delivery.MinNs), time.Duration(raw.Delivery.MinNs))
	}
	if !behind.Intervals[0].Start.Equal(raw.Intervals[0].Start.Add(2 * time.Second)) {
		t.Errorf("the series did not move onto the source's clock")
	}
	ahead, _ := Record("s", doc, "clock", Clock{Offset: 2 * time.Second})
	if !ahead.ClockCorrected || ahead.Delivery.MaxNs != 0 {
		t.Errorf("a sink 2s ahead: max %v (its latencies are below 2s: 0 once corrected)", time.Duration(ahead.Delivery.MaxNs))
	}
	cheap, _ := http.Get(base + "/trace?run=clock&ranges=0")
	cheapDoc, _ := ReadDocument(cheap.Body)
	cheap.Body.Close()
	if _, err := Record("s", cheapDoc, "clock", Clock{}); err == nil || !strings.Contains(err.Error(), "no seen_set") {
		t.Errorf("a document without its seen set: %v", err)
	}
	if none, err := Record("s", doc, "other", Clock{}); err != nil || none.Seen.Len() != 0 {
		t.Errorf("a run the sink never saw: %v %+v", err, none)
	}
}

// Reconcile puts the sinks' documents into each traced run of a report.
func TestReconcile(t *testing.T) {
	smtp, base := tracingSink(t)
	res := send(t, smtp, "later", 80)
	rep := metrics.ResultReport(nil, nil, res.Measured())
	resp, err := http.Get(base + "/trace")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := ReadDocument(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := Reconcile(rep, []Source{{Name: "trace.json", Doc: doc}}); err != nil {
		t.Fatal(err)
	}
	r, _ := rep.E2E.Run("later")
	if r.Delivered != 80 || r.Lost != 0 || r.Delivery.Count != 80 || r.Sinks[0].Name != "trace.json" {
		t.Errorf("reconciled %+v", r)
	}
	doc.Header = "X-Other"
	if err := Reconcile(rep, []Source{{Name: "t", Doc: doc}}); err == nil || !strings.Contains(err.Error(), "header") {
		t.Errorf("another header: %v", err)
	}
	if err := Reconcile(metrics.NewReport(nil, time.Now(), time.Second, metrics.Totals{}, nil, nil), []Source{{Name: "t", Doc: doc}}); err == nil {
		t.Errorf("an untraced run reconciled")
	}
}

func TestTraceURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8080":         "http://127.0.0.1:8080/trace",
		"http://127.0.0.1:8080/":        "http://127.0.0.1:8080/trace",
		"https://sink.test:1/trace":     "https://sink.test:1/trace",
		"http://[::1]:9/trace/":         "http://[::1]:9/trace/",
		"127.0.0.1:8080":                "",
		"ftp://x/":                      "",
		"http://x/stats":                "",
		"http://x/trace?run=a":          "",
		"http://user:pw@x:1/trace":      "",
		"http:///trace":                 "",
		"http://x:1/trace#frag":         "",
		"http://127.0.0.1:8080/metrics": "",
	} {
		u, err := TraceURL(in)
		switch {
		case want == "" && err == nil:
			t.Errorf("%q accepted as %v", in, u)
		case want != "" && (err != nil || u.String() != want):
			t.Errorf("%q: %v %v, want %s", in, u, err, want)
		}
	}
}

func TestReadDocumentRejects(t *testing.T) {
	for _, in := range []string{`{"schema":"go-smtp-source/report","schema_version":2}`, `{"schema":"go-smtp-sink/trace","schema_version":2}`, `[`} {
		if _, err := ReadDocument(strings.NewReader(in)); err == nil {
			t.Errorf("%s accepted", in)
		}
	}
}

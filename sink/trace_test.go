package sink

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/metrics"
)

func TestParseTraceValue(t *testing.T) {
	tests := []struct {
		in      string
		want    TraceValue
		wantErr error
	}{
		{"run-1 1 1764350000000000000", TraceValue{Run: []byte("run-1"), Seq: 1, SentNs: 1764350000000000000}, nil},
		{"  r.2_x\t42   7  reserved fields", TraceValue{Run: []byte("r.2_x"), Seq: 42, SentNs: 7}, nil},
		{"r 4294967296 0", TraceValue{Run: []byte("r"), Seq: 1 << 32, SentNs: 0}, nil},
		{"r 4294967297 0", TraceValue{}, ErrTraceSeq},
		{"r 0 5", TraceValue{}, ErrTraceSeq},
		{"r 1", TraceValue{}, ErrTraceSyntax},
		{"", TraceValue{}, ErrTraceSyntax},
		{"r -1 5", TraceValue{}, ErrTraceSyntax},
		{"r 1 9223372036854775808", TraceValue{}, ErrTraceSyntax},
		{"r 1 99999999999999999999", TraceValue{}, ErrTraceSyntax},
		{"r 1x 5", TraceValue{}, ErrTraceSyntax},
		{"r/1 1 5", TraceValue{}, ErrTraceRunID},
		{strings.Repeat("a", 65) + " 1 5", TraceValue{}, ErrTraceRunID},
	}
	for _, tt := range tests {
		got, err := ParseTraceValue([]byte(tt.in), DefaultTraceMaxSeq)
		if err != tt.wantErr || string(got.Run) != string(tt.want.Run) || got.Seq != tt.want.Seq || got.SentNs != tt.want.SentNs {
			t.Errorf("ParseTraceValue(%q) = %+v, %v; want %+v, %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// traceMessage is one message carrying a trace header.
func traceMessage(header, run string, seq uint64, sent time.Time) string {
	return "MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\nSubject: t\r\n" + header + ": " + run + " " +
		strconv.FormatUint(seq, 10) + " " + strconv.FormatInt(sent.UnixNano(), 10) + "\r\n\r\nbody\r\n.\r\n"
}

// TestTraceSession sends crafted trace headers through sessions with a settable clock and
// checks the document: seen, duplicates, missing, ranges, the latency histogram and the
// per-second series.
func TestTraceSession(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	e := newTestEnv(t, func(c *Config) { c.TraceHeader = "X-Trace"; c.TraceMaxRuns = 2 })
	e.clock = func() time.Time { return now }
	send := func(in string) { runSession(newSession(e, "127.0.0.1"), in, nil) }
	sent := now.Add(-250 * time.Millisecond)
	for _, seq := range []uint64{1, 2, 3, 5, 9, 3} { // 4, 6, 7, 8 lost; 3 twice
		send(traceMessage("x-TRACE", "run-a", seq, sent))
	}
	e.trace.roll(now.Truncate(time.Second).Add(time.Second)) // as the server does after each second
	now = now.Add(1500 * time.Millisecond)                   // the next second: 1.75 s after sending
	send(traceMessage("X-Trace", "run-a", 10, sent) + traceMessage("X-Trace", "run-a", 1, sent))
	send(traceMessage("X-Trace", "run-b", 1, now.Add(time.Second))) // sent "after" it arrived
	send(traceMessage("X-Trace", "run-c", 1, sent))                 // a third run: over the limit
	send("MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\nX-Trace: run-a 11\r\n\r\n.\r\n")
	send("MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\nX-Trace: run-a 4294967297 1\r\n\r\n.\r\n")
	send("MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\n\r\nX-Trace: run-a 12 1\r\n.\r\n") // in the body: not a header

	doc, _ := (&Server{env: e}).TraceDocument(TraceQuery{})
	if doc.Malformed != 1 || doc.OutOfRange != 1 || doc.RunsOverLimit != 1 || doc.WithoutHeader != 1 || len(doc.Runs) != 2 {
		t.Fatalf("document %+v", doc)
	}
	a, b := doc.Runs[0], doc.Runs[1]
	if a.Run != "run-a" || a.Seen != 6 || a.Duplicates != 2 || !slices.Equal(a.DuplicateSeqs, []uint64{3, 1}) ||
		a.Lowest != 1 || a.Highest != 10 || a.Missing != 4 || !slices.Equal(a.MissingSeqs, []uint64{4, 6, 7, 8}) ||
		a.SeenSet != "1-3,5,9-10" {
		t.Errorf("run-a: %+v", a)
	}
	d := a.Delivery
	if d.Phase != "delivery" || d.Count != 6 || d.MinNs != int64(250*time.Millisecond) || d.MaxNs != int64(1750*time.Millisecond) || d.Histogram == "" {
		t.Errorf("run-a delivery %+v", d)
	}
	if len(a.Intervals) != 2 || a.Intervals[0].Counters["delivered"] != 5 || a.Intervals[0].Counters["duplicates"] != 1 ||
		a.Intervals[1].Counters["delivered"] != 1 || a.Intervals[1].Counters["duplicates"] != 1 ||
		a.Intervals[0].Phases[0].Count != 5 || a.Intervals[0].Phases[0].Phase != "delivery" || !a.Intervals[1].Start.Equal(now.Truncate(time.Second)) {
		t.Errorf("run-a intervals %+v", a.Intervals)
	}
	if b.Run != "run-b" || b.Seen != 1 || b.ClockBehind != 1 || b.Delivery.MaxNs != 0 || b.Missing != 0 || b.MissingSeqs != nil {
		t.Errorf("run-b: %+v", b)
	}
	checkTraceEncoding(t, doc, a)

	// The stats summary and a narrowed query.
	if c := e.stats.Snapshot().Trace; c == nil || c.Runs != 2 || c.Seen != 7 || c.Duplicates != 2 || c.Header != "X-Trace" {
		t.Errorf("stats trace %+v", c)
	}
	narrow, _ := (&Server{env: e}).TraceDocument(TraceQuery{Runs: []string{"run-a"}, Since: now.Truncate(time.Second), NoRanges: true, NoHistograms: true})
	if len(narrow.Runs) != 1 || narrow.Runs[0].SeenSet != "" || len(narrow.Runs[0].Intervals) != 1 {
		t.Fatalf("narrowed: %+v", narrow.Runs)
	}
	// Without the encodings the statistics are the same.
	n := narrow.Runs[0]
	a.Delivery.Histogram, a.Intervals[1].Phases[0].Histogram = "", ""
	if n.Delivery != a.Delivery || n.Intervals[0].Phases[0] != a.Intervals[1].Phases[0] {
		t.Errorf("without histograms:\n%+v\n%+v\nwant\n%+v\n%+v", n.Delivery, n.Intervals[0].Phases[0], a.Delivery, a.Intervals[1].Phases[0])
	}
}

// checkTraceEncoding reads the document back through JSON and merges its delivery
// histogram with the metrics package's reader: the encoding is the reports'.
func checkTraceEncoding(t *testing.T, doc TraceDocument, a TraceRun) {
	t.Helper()
	var back TraceDocument
	if err := json.Unmarshal(doc.JSON(), &back); err != nil {
		t.Fatal(err)
	}
	rep := &metrics.Report{Schema: metrics.ReportSchema, SchemaVersion: metrics.ReportSchemaVersion,
		Counters: map[string]int64{}, Phases: []metrics.PhaseStats{back.Runs[0].Delivery}, Intervals: back.Runs[0].Intervals}
	rep.Phases[0].Phase = "latency" // a phase the reader knows
	snap, err := rep.Snapshot()
	if err != nil {
		t.Fatalf("the delivery histogram does not read as a report's: %v", err)
	}
	if snap.Count(metrics.Latency) != a.Delivery.Count || snap.Quantile(metrics.Latency, 0.5) != time.Duration(a.Delivery.P50Ns) {
		t.Errorf("read back: %d samples, p50 %v; want %d, %v", snap.Count(metrics.Latency), snap.Quantile(metrics.Latency, 0.5), a.Delivery.Count, time.Duration(a.Delivery.P50Ns))
	}
}

// TestTraceIntervalsBounded keeps only the last TraceMaxIntervals seconds.
func TestTraceIntervalsBounded(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	e := newTestEnv(t, func(c *Config) { c.TraceHeader = DefaultTraceHeader; c.TraceMaxIntervals = 3 })
	e.clock = func() time.Time { return now }
	for seq := uint64(1); seq <= 6; seq++ {
		runSession(newSession(e, "127.0.0.1"), traceMessage(DefaultTraceHeader, "r", seq, now), nil)
		now = now.Add(time.Second)
		e.trace.roll(now)
	}
	e.trace.roll(now.Add(time.Second)) // a second without arrivals: no interval
	doc, _ := (&Server{env: e}).TraceDocument(TraceQuery{})
	r := doc.Runs[0]
	if len(r.Intervals) != 3 || r.IntervalsDropped != 3 || r.Intervals[0].Start.Unix() != 1_800_000_003 || r.Delivery.Count != 6 {
		t.Errorf("%d intervals from %v, %d dropped, %d samples", len(r.Intervals), r.Intervals[0].Start, r.IntervalsDropped, r.Delivery.Count)
	}
}

// TestTraceHistograms checks the Prometheus buckets against the samples.
func TestTraceHistograms(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	e := newTestEnv(t, func(c *Config) { c.TraceHeader = DefaultTraceHeader })
	e.clock = func() time.Time { return now }
	for i, lat := range []time.Duration{500 * time.Microsecond, 3 * time.Millisecond, 3 * time.Millisecond, 2 * time.Hour} {
		runSession(newSession(e, "127.0.0.1"), traceMessage(DefaultTraceHeader, "r", uint64(i+1), now.Add(-lat)), nil)
	}
	h := e.trace.histograms()
	if len(h) != 1 || h[0].Count != 4 || h[0].Buckets[0.001] != 1 || h[0].Buckets[0.005] != 3 || h[0].Buckets[3600] != 3 {
		t.Fatalf("histograms %+v", h)
	}
	if want := (2*time.Hour + 6500*time.Microsecond).Seconds(); h[0].SumSeconds != want {
		t.Errorf("sum %v, want %v", h[0].SumSeconds, want)
	}
}

// TestTraceConcurrent records from several goroutines (as the event loops do) while
// documents are read and seconds rolled: nothing is lost or counted twice.
func TestTraceConcurrent(t *testing.T) {
	cfg := Config{TraceHeader: DefaultTraceHeader}.pushbackDefaults()
	tr := newTracer(&cfg, time.Now)
	const writers, each = 4, 2000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 50; i++ {
			tr.document(TraceQuery{})
			tr.roll(time.Now())
		}
	}()
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 1; i <= each; i++ {
				tr.record([]byte("r "+strconv.Itoa(w*each+i)+" "+strconv.FormatInt(time.Now().UnixNano(), 10)), true)
			}
		}(w)
	}
	wg.Wait()
	<-done
	tr.roll(time.Now().Add(time.Second))
	doc := tr.document(TraceQuery{})
	r := doc.Runs[0]
	var delivered, sampled int64
	for _, iv := range r.Intervals {
		delivered += iv.Counters["delivered"]
		sampled += iv.Phases[0].Count
	}
	if r.Seen != writers*each || r.Delivery.Count != writers*each || delivered != writers*each || sampled != writers*each || r.SeenSet != "1-8000" {
		t.Errorf("seen %d, delivery %d, intervals %d delivered / %d sampled, set %q", r.Seen, r.Delivery.Count, delivered, sampled, r.SeenSet)
	}
}

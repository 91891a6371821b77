package metrics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

var testStart = time.Date(2026, 11, 28, 12, 0, 0, 300_000_000, time.UTC)

// runPart is one report's worth of recording: a total and per-second snapshots.
type runPart struct {
	total     *Snapshot
	intervals map[int]*Snapshot
	totals    Totals
}

func newRunPart() *runPart {
	return &runPart{total: NewSnapshot(), intervals: map[int]*Snapshot{}}
}

func (rp *runPart) record(sec int, p Phase, ns int64) {
	rp.total.Record(p, ns)
	iv := rp.intervals[sec]
	if iv == nil {
		iv = NewSnapshot()
		rp.intervals[sec] = iv
	}
	iv.Record(p, ns)
	if p == EOD {
		rp.totals.Planned++
		rp.totals.Accepted++
		rp.total.Add(MessagesAccepted, 1)
		iv.Add(MessagesAccepted, 1)
	}
}

func (rp *runPart) errorAt(sec int, key, text string) {
	rp.total.Error(key, text)
	rp.intervals[sec].Error(key, text)
}

func (rp *runPart) report(start time.Time, seconds int) *Report {
	var ivs []IntervalSample
	for s := 0; s < seconds; s++ {
		ivs = append(ivs, IntervalSample{Start: start.Add(time.Duration(s) * time.Second), Snap: rp.intervals[s]})
	}
	return NewReport(map[string]any{"rate": 100}, start, time.Duration(seconds)*time.Second, rp.totals, rp.total, ivs)
}

func roundTrip(t *testing.T, r *Report) (*Report, []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := ReadReport(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("ReadReport of a written report: %v", err)
	}
	return back, buf.Bytes()
}

func jsonOf(t testing.TB, r *Report) string {
	t.Helper()
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestReportJSONRoundTrip(t *testing.T) {
	phases, nanos := randomRun(7, 20_000)
	rp := newRunPart()
	for i := range phases {
		rp.record(i%5, phases[i], nanos[i])
	}
	rp.errorAt(1, ReplyErrorKey("rcpt", 550, "5.1.1"), "550 5.1.1 <nobody@example.com>: Recipient address rejected")
	rp.totals.Sessions = 10
	r := rp.report(testStart, 5)
	back, first := roundTrip(t, r)
	if second := jsonOf(t, back); second != string(first) {
		t.Fatalf("write → read → write differs:\n%s\n---\n%s", first, second)
	}
	if back.Totals != r.Totals || back.ElapsedNs != r.ElapsedNs || !back.Start.Equal(testStart) {
		t.Fatalf("totals/elapsed/start changed: %+v %d %v", back.Totals, back.ElapsedNs, back.Start)
	}
	// Histograms decode to the recorded buckets, statistics are the snapshot's.
	got, err := back.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sameSnapshots(t, "round trip", got, rp.total)
	for _, ps := range back.Phases {
		p, _ := PhaseByName(ps.Phase)
		want := rp.total
		if ps.MinNs != int64(want.Min(p)) || ps.MaxNs != int64(want.Max(p)) || ps.MeanNs != int64(want.Mean(p)) ||
			ps.P50Ns != int64(want.Quantile(p, 0.5)) || ps.P999Ns != int64(want.Quantile(p, 0.999)) {
			t.Fatalf("%s: statistics %+v differ from the snapshot's", ps.Phase, ps)
		}
	}
	if len(back.Intervals) != 5 {
		t.Fatalf("%d intervals, want 5", len(back.Intervals))
	}
	for i, iv := range back.Intervals {
		if !iv.Start.Equal(testStart.Add(time.Duration(i)*time.Second)) || iv.DurationNs != int64(time.Second) {
			t.Fatalf("interval %d: start %v, duration %d", i, iv.Start, iv.DurationNs)
		}
		for _, ps := range iv.Phases {
			p, _ := PhaseByName(ps.Phase)
			if !IsIntervalPhase(p) || ps.Histogram == "" || ps.Count != rp.intervals[i].Count(p) {
				t.Fatalf("interval %d: phase %+v", i, ps)
			}
		}
	}
	if back.Intervals[1].Errors != 1 || back.Intervals[0].Errors != 0 {
		t.Fatalf("interval errors %d %d", back.Intervals[0].Errors, back.Intervals[1].Errors)
	}
	var plan map[string]int
	if err := json.Unmarshal(back.Plan, &plan); err != nil || plan["rate"] != 100 {
		t.Fatalf("plan %s (%v)", back.Plan, err)
	}
	if !strings.Contains(string(first), "<nobody@example.com>") {
		t.Fatal("error text was HTML-escaped")
	}
}

func TestNewReportEdges(t *testing.T) {
	r := NewReport(func() {}, testStart, 0, Totals{}, nil, []IntervalSample{{Start: testStart}})
	if !strings.Contains(string(r.Plan), "unencodable plan") {
		t.Fatalf("plan %s", r.Plan)
	}
	if r.Summary.RatePerSec != 0 || r.Summary.SuccessRatio != 0 || len(r.Phases) != 0 {
		t.Fatalf("empty report: %+v", r.Summary)
	}
	if _, _ = roundTrip(t, r); len(r.Intervals) != 1 {
		t.Fatal("interval lost")
	}
	raw := NewReport(json.RawMessage(`{"a":1}`), testStart, time.Second, Totals{}, nil, nil)
	if string(raw.Plan) != `{"a":1}` {
		t.Fatalf("raw plan %s", raw.Plan)
	}
}

func TestReadReportRejects(t *testing.T) {
	valid := jsonOf(t, func() *Report {
		s := NewSnapshot()
		s.Record(EOD, 3e6)
		return NewReport(nil, testStart, time.Second, Totals{Planned: 1, Accepted: 1}, s, nil)
	}())
	otherGeometry := func() string {
		h := hdr.New(1, 1000, 2)
		_ = h.RecordValue(3)
		b, _ := h.Encode(hdr.V2CompressedEncodingCookieBase)
		return string(b)
	}()
	for _, c := range []struct {
		name, input, want string
	}{
		{"empty", "", "empty input"},
		{"blank", " \n\t", "empty input"},
		{"garbage", "garbage", "invalid JSON at line 1, column 1"},
		{"array", "[1,2]", "not a go-smtp-source report"},
		{"null", "null", "schema is missing"},
		{"no schema", "{}", "schema is missing"},
		{"other schema", `{"schema":"k6/summary","schema_version":1}`, `schema is "k6/summary"`},
		{"newer version", `{"schema":"go-smtp-source/report","schema_version":3}`, "unsupported schema version 3 (this program reads versions 1 to 2)"},
		{"older version", `{"schema":"go-smtp-source/report","schema_version":0}`, "unsupported schema version 0"},
		{"version as string", `{"schema":"go-smtp-source/report","schema_version":"1"}`, `schema_version is "1"`},
		{"no version", `{"schema":"go-smtp-source/report"}`, "schema_version is missing"},
		{"truncated", valid[:len(valid)/2], "truncated"},
		{"trailing garbage", valid + "}", "invalid JSON"},
		{"wrong type", strings.Replace(valid, `"elapsed_ns": 1000000000`, `"elapsed_ns": "1s"`, 1), `field "elapsed_ns"`},
		{"bad histogram", strings.Replace(valid, `"histogram": "HIST`, `"histogram": "!HIST`, 1), `phase "eod": histogram:`},
		{"count mismatch", strings.Replace(valid, `"count": 1,`, `"count": 2,`, 1), "histogram holds 1 samples, count says 2"},
		{"other geometry", strings.Replace(valid, `"histogram": "HIST`, `"histogram": "`+otherGeometry+`", "x": "`, 1), "geometry 1…1000 µs at 2 digits"},
		{"negative elapsed", strings.Replace(valid, `"elapsed_ns": 1000000000`, `"elapsed_ns": -1`, 1), "elapsed_ns is negative"},
		{"duplicate phase", strings.Replace(valid, `"phases": [`, `"phases": [{"phase":"eod","count":0},`, 1), `phase "eod" appears twice`},
		{"no histogram", strings.Replace(valid, `"histogram": "HIST`, `"histogram": "", "x": "`, 1), "1 samples but no histogram"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := ReadReport(strings.NewReader(c.input))
			if err == nil {
				t.Fatalf("accepted: %+v", r)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
		})
	}
}

// FuzzReadReport: no input panics ReadReport, and whatever it accepts writes, reads back,
// merges and prints.
func FuzzReadReport(f *testing.F) {
	s := NewSnapshot()
	s.Record(EOD, 3e6)
	s.Record(Connect, 120e3)
	s.Error("rcpt:perm:550:5.1.1", "550 no")
	f.Add([]byte(jsonOf(f, NewReport(nil, testStart, time.Second, Totals{Planned: 1, Accepted: 1}, s, []IntervalSample{{Start: testStart, Snap: s}}))))
	f.Add([]byte(`{"schema":"go-smtp-source/report","schema_version":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ReadReport(bytes.NewReader(data))
		if err != nil {
			if r != nil {
				t.Fatal("a report with an error")
			}
			return
		}
		var buf bytes.Buffer
		if err := r.WriteJSON(&buf); err != nil {
			return // e.g. a time outside JSON's range
		}
		again, err := ReadReport(&buf)
		if err != nil {
			t.Fatalf("a written report does not read back: %v", err)
		}
		m, _, err := Merge([]*Report{r, again}, time.Second)
		if err == nil {
			_ = WriteText(&bytes.Buffer{}, m)
		}
		_ = WriteText(&bytes.Buffer{}, r)
		_, _ = r.Snapshot()
	})
}

func TestReportSnapshotKnowsCounters(t *testing.T) {
	s := NewSnapshot()
	s.Add(RecipientsRejected, 4)
	s.Record(Latency, 9e6)
	r, _ := roundTrip(t, NewReport(nil, testStart, time.Second, Totals{}, s, nil))
	r.Counters["from_the_future"] = 3
	got, err := r.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if ps, ok := r.Phase("latency"); !ok || ps.MaxNs != 9e6 {
		t.Fatalf("Phase(latency) = %+v, %v", ps, ok)
	}
	if _, ok := r.Phase("eod"); ok {
		t.Fatal("Phase(eod) found without samples")
	}
	if got.Counter(RecipientsRejected) != 4 || got.Count(Latency) != 1 || got.Max(Latency) != 9e6 {
		t.Fatalf("snapshot of report: %d rejected, %d latency samples", got.Counter(RecipientsRejected), got.Count(Latency))
	}
}

func TestMergeOfSplitReportsIsExact(t *testing.T) {
	const n, seconds = 5, 6
	phases, nanos := randomRun(11, 40_000)
	rng := rand.New(rand.NewPCG(5, 5))
	whole := newRunPart()
	parts := make([]*runPart, n)
	for i := range parts {
		parts[i] = newRunPart()
	}
	for i := range phases {
		sec := i * seconds / len(phases)
		whole.record(sec, phases[i], nanos[i])
		k := rng.IntN(n)
		parts[k].record(sec, phases[i], nanos[i])
		if i%997 == 0 {
			key := ReplyErrorKey("eod", 451, "4.3.0")
			whole.errorAt(sec, key, "451 4.3.0 later")
			parts[k].errorAt(sec, key, "451 4.3.0 later")
		}
	}
	var reports []*Report
	for k, p := range parts {
		p.totals.Sessions = int64(k + 1)
		whole.totals.Sessions += int64(k + 1)
		r, _ := roundTrip(t, p.report(testStart, seconds))
		r.Origin = fmt.Sprintf("worker-%d.json", k)
		reports = append(reports, r)
	}
	merged, warnings, err := Merge(reports, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Fatalf("warnings: %v", warnings)
	}
	merged, _ = roundTrip(t, merged)
	want := whole.report(testStart, seconds)

	if merged.Totals != want.Totals || merged.Summary != want.Summary || merged.ElapsedNs != want.ElapsedNs || !merged.Start.Equal(want.Start) {
		t.Fatalf("merged totals %+v %+v, want %+v %+v", merged.Totals, merged.Summary, want.Totals, want.Summary)
	}
	if fmt.Sprint(merged.Counters) != fmt.Sprint(want.Counters) || fmt.Sprint(merged.Errors) != fmt.Sprint(want.Errors) {
		t.Fatalf("counters/errors differ:\n%v %v\n%v %v", merged.Counters, merged.Errors, want.Counters, want.Errors)
	}
	samePhaseStats(t, "totals", merged.Phases, want.Phases)
	if len(merged.Intervals) != seconds {
		t.Fatalf("%d intervals, want %d", len(merged.Intervals), seconds)
	}
	for i := range merged.Intervals {
		g, w := merged.Intervals[i], want.Intervals[i]
		if !g.Start.Equal(w.Start.Truncate(time.Second)) || g.Errors != w.Errors || fmt.Sprint(g.Counters) != fmt.Sprint(w.Counters) {
			t.Fatalf("interval %d: %v %d %v, want %v %d %v", i, g.Start, g.Errors, g.Counters, w.Start, w.Errors, w.Counters)
		}
		samePhaseStats(t, fmt.Sprintf("interval %d", i), g.Phases, w.Phases)
	}
	if len(merged.Sources) != n || merged.Sources[2].Name != "worker-2.json" || merged.Sources[2].Totals != parts[2].totals {
		t.Fatalf("sources %+v", merged.Sources)
	}
	for _, ps := range merged.Sources[0].Phases {
		if ps.Histogram != "" {
			t.Fatal("sources carry histograms")
		}
	}
	if string(merged.Plan) != string(compactJSON(want.Plan)) && !bytes.Equal(compactJSON(merged.Plan), compactJSON(want.Plan)) {
		t.Fatalf("plan %s", merged.Plan)
	}

	// A merge of merges flattens the sources and is still exact.
	half1, _, err := Merge(reports[:2], time.Second)
	if err != nil {
		t.Fatal(err)
	}
	half2, _, err := Merge(reports[2:], time.Second)
	if err != nil {
		t.Fatal(err)
	}
	again, _, err := Merge([]*Report{half1, half2}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	samePhaseStats(t, "merge of merges", again.Phases, want.Phases)
	if len(again.Sources) != n {
		t.Fatalf("%d sources, want %d", len(again.Sources), n)
	}
}

// samePhaseStats: every statistic and the histogram encoding are identical.
func samePhaseStats(t *testing.T, what string, got, want []PhaseStats) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d phases, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		g.hist, w.hist = nil, nil
		if g != w {
			t.Fatalf("%s: phase %s:\n got %+v\nwant %+v", what, w.Phase, g, w)
		}
	}
}

func TestMergeAlignsIntervalsOnWallClockSeconds(t *testing.T) {
	mk := func(start time.Time, perSecond []int, name string) *Report {
		rp := newRunPart()
		for sec, n := range perSecond {
			for i := 0; i < n; i++ {
				rp.record(sec, EOD, int64(1+sec)*1e6)
			}
		}
		r := rp.report(start, len(perSecond))
		r.Origin = name
		return r
	}
	a := mk(time.Date(2026, 11, 28, 12, 0, 0, 300e6, time.UTC), []int{1, 2, 3}, "a.json")    // seconds 00, 01, 02
	b := mk(time.Date(2026, 11, 28, 12, 0, 1, 700e6, time.UTC), []int{10, 20, 30}, "b.json") // seconds 01, 02, 03
	m, warnings, err := Merge([]*Report{a, b}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "start times differ by 1.4s") || !strings.Contains(warnings[0], "a.json") || !strings.Contains(warnings[0], "b.json") {
		t.Fatalf("warnings %q", warnings)
	}
	if _, w, _ := Merge([]*Report{a, b}, 2*time.Second); len(w) != 0 {
		t.Fatalf("warned within the bound: %q", w)
	}
	if _, w, _ := Merge([]*Report{a, b}, -1); len(w) != 0 {
		t.Fatalf("warned with the check off: %q", w)
	}
	wantCounts := []int64{1, 2 + 10, 3 + 20, 30}
	if len(m.Intervals) != len(wantCounts) {
		t.Fatalf("%d intervals, want %d", len(m.Intervals), len(wantCounts))
	}
	for i, iv := range m.Intervals {
		if want := time.Date(2026, 11, 28, 12, 0, i, 0, time.UTC); !iv.Start.Equal(want) {
			t.Fatalf("interval %d starts %v, want %v", i, iv.Start, want)
		}
		if iv.Counters["messages_accepted"] != wantCounts[i] || len(iv.Phases) != 1 || iv.Phases[0].Count != wantCounts[i] {
			t.Fatalf("interval %d: %v, %+v", i, iv.Counters, iv.Phases)
		}
	}
	// The window is the union: 12:00:00.3 … 12:00:04.7.
	if !m.Start.Equal(a.Start) || m.Elapsed() != 4400*time.Millisecond {
		t.Fatalf("window %v + %v", m.Start, m.Elapsed())
	}
	if m.Totals.Accepted != 66 || math.Abs(m.Summary.ThroughputPerSec-15) > 1e-9 {
		t.Fatalf("accepted %d, throughput %v", m.Totals.Accepted, m.Summary.ThroughputPerSec)
	}
	if m.Plan == nil {
		t.Fatal("identical plans not kept")
	}
}

func TestMergeWarnsAboutTheSameRunTwice(t *testing.T) {
	s := NewSnapshot()
	s.Record(EOD, 1e6)
	r := NewReport(nil, testStart, time.Second, Totals{Planned: 1, Accepted: 1}, s, nil)
	r2, _ := roundTrip(t, r)
	r.Origin, r2.Origin = "x.json", "copy-of-x.json"
	_, warnings, err := Merge([]*Report{r, r2}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "x.json and copy-of-x.json look like the same run") {
		t.Fatalf("warnings %q", warnings)
	}
	if _, _, err := Merge(nil, time.Second); err == nil {
		t.Fatal("merged nothing")
	}
	r3 := *r
	r3.SchemaVersion = 9
	if _, _, err := Merge([]*Report{r, &r3}, time.Second); err == nil || !strings.Contains(err.Error(), "version 9") {
		t.Fatalf("merged another version: %v", err)
	}
	r4 := NewReport(map[string]int{"shard": 2}, testStart, time.Second, Totals{}, nil, nil)
	if m, _, _ := Merge([]*Report{r, r4}, time.Second); m.Plan != nil || m.Sources[1].Plan == nil {
		t.Fatal("different plans: the merged plan should be empty and the sources keep theirs")
	}
}

// ResultReport embeds the plan and the run's identity, keeps the intervals the engine
// built, and reads back; a version-1 document still reads and merges with it.
func TestResultReport(t *testing.T) {
	s := NewSnapshot()
	s.Record(EOD, 2e6)
	iv := NewInterval(testStart, testStart.Add(time.Second), s)
	r := ResultReport(map[string]int{"schema_version": 1, "sessions": 2}, &RunInfo{Tool: "go-smtp-source", PlanFingerprint: "ab", Worker: "w1"},
		RunResult{Start: testStart, Elapsed: time.Second, Totals: Totals{Planned: 1, Accepted: 1}, Snapshot: s, Intervals: []Interval{iv}})
	back, _ := roundTrip(t, r)
	if back.SchemaVersion != ReportSchemaVersion || back.Run == nil || back.Run.Worker != "w1" || back.Run.PlanFingerprint != "ab" ||
		len(back.Intervals) != 1 || string(compactJSON(back.Plan)) != `{"schema_version":1,"sessions":2}` {
		t.Fatalf("%+v", back)
	}
	old := jsonOf(t, NewReport(map[string]int{"sessions": 2}, testStart, time.Second, Totals{Planned: 1, Accepted: 1}, s, nil))
	old = strings.Replace(old, `"schema_version": 2`, `"schema_version": 1`, 1)
	v1, err := ReadReport(strings.NewReader(old))
	if err != nil || v1.SchemaVersion != 1 {
		t.Fatalf("version 1: %v", err)
	}
	m, _, err := Merge([]*Report{back, v1}, -1)
	if err != nil || m.SchemaVersion != ReportSchemaVersion || m.Totals.Accepted != 2 || m.Sources[0].Run == nil || m.Plan != nil {
		t.Fatalf("merge of versions 1 and 2: %+v, %v", m, err)
	}
}

// An interval keeps its errors by key, and a merge adds them key by key within a second.
func TestIntervalErrorKeys(t *testing.T) {
	start := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	interval := func(keys ...string) Interval {
		r := NewRecorder()
		for _, k := range keys {
			r.Error(k, "text")
		}
		return NewInterval(start, start.Add(time.Second), r.Swap())
	}
	a := interval("rcpt:perm:550", "rcpt:perm:550", "eod:temp:451")
	if a.Errors != 3 || a.ErrorKeys["rcpt:perm:550"] != 2 || a.ErrorKeys["eod:temp:451"] != 1 || len(a.ErrorKeys) != 2 {
		t.Fatalf("errors %d by key %v", a.Errors, a.ErrorKeys)
	}
	if none := interval(); none.ErrorKeys != nil {
		t.Fatalf("an interval without errors has keys %v", none.ErrorKeys)
	}
	im := newIntervalMerger()
	b := interval("rcpt:perm:550", "mail:temp:421")
	if err := im.addAll([]Interval{a, b}); err != nil {
		t.Fatal(err)
	}
	m := im.result()
	want := map[string]int64{"rcpt:perm:550": 3, "eod:temp:451": 1, "mail:temp:421": 1}
	if len(m) != 1 || m[0].Errors != 5 || !maps.Equal(m[0].ErrorKeys, want) {
		t.Fatalf("merged %+v, want errors 5 by key %v", m, want)
	}
}

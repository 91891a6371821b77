package metrics

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// sinkOf is a sink's record of the numbers seen, with latencies (ns) recorded per
// number at second sec (the interval series), as go-smtp-sink builds it.
func sinkOf(name string, at time.Time, seen []uint64, dups int64, latency func(uint64) int64) E2ESink {
	total := NewSnapshot()
	bySecond := map[int64]*Snapshot{}
	for _, n := range seen {
		ns := latency(n)
		total.Record(Delivery, ns)
		sec := int64(n % 3) // three seconds of arrivals
		if bySecond[sec] == nil {
			bySecond[sec] = NewSnapshot()
		}
		bySecond[sec].Record(Delivery, ns)
	}
	s := E2ESink{Name: name, Time: at, Seen: SeqSetOf(seen...), Duplicates: dups, Delivery: newPhaseStats("delivery", total.phases[Delivery], true)}
	for sec := int64(0); sec < 3; sec++ {
		if snap := bySecond[sec]; snap != nil {
			start := time.Unix(1800000000+sec, 0)
			iv := NewInterval(start, start.Add(time.Second), snap)
			iv.Counters = map[string]int64{"delivered": snap.Count(Delivery)}
			s.Intervals = append(s.Intervals, iv)
		}
	}
	return s
}

func seqs(lo, hi uint64, skip func(uint64) bool) []uint64 {
	var out []uint64
	for n := lo; n <= hi; n++ {
		if skip == nil || !skip(n) {
			out = append(out, n)
		}
	}
	return out
}

func ms(n uint64) int64 { return int64(n) * int64(time.Millisecond) }

// Derive: the accounting from the MTA's acceptance to two sinks, the deadline's set,
// duplicates at one sink and across both, numbers nobody accepted.
func TestE2EDerive(t *testing.T) {
	endsIn7 := func(n uint64) bool { return n%10 == 7 }
	now := time.Unix(1800000010, 0).UTC()
	r := E2ERun{Run: "r", Header: "X-GSS-Trace", Accepted: SeqSetOf(seqs(1, 100, nil)...),
		Sinks: []E2ESink{
			sinkOf("a", now, seqs(1, 50, endsIn7), 2, ms),
			sinkOf("b", now, seqs(45, 105, endsIn7), 1, ms), // 45-50 at both; 101-105 never accepted
		},
		OnTime: SeqSetOf(seqs(1, 90, endsIn7)...),
	}
	if err := r.Derive(); err != nil {
		t.Fatal(err)
	}
	lost := seqs(1, 100, func(n uint64) bool { return !endsIn7(n) })
	if r.Delivered != 81 || r.DeliveredLate != 9 || r.Lost != 10 || !slices.Equal(r.LostSeqs, lost) {
		t.Errorf("delivered %d, late %d, lost %d %v", r.Delivered, r.DeliveredLate, r.Lost, r.LostSeqs)
	}
	if r.Delivered+r.DeliveredLate+r.Lost != r.Accepted.Len() {
		t.Errorf("delivered + late + lost != accepted")
	}
	bothSinks := int64(len(seqs(45, 50, endsIn7)))
	if r.Duplicates != 3+bothSinks || r.Unexpected != int64(len(seqs(101, 105, nil))) {
		t.Errorf("duplicates %d (want %d), unexpected %d", r.Duplicates, 3+bothSinks, r.Unexpected)
	}
	all := NewSnapshot()
	for _, n := range append(seqs(1, 50, endsIn7), seqs(45, 105, endsIn7)...) {
		all.Record(Delivery, ms(n))
	}
	if want := newPhaseStats("delivery", all.phases[Delivery], true); r.Delivery.Histogram != want.Histogram || r.Delivery.Count != want.Count || r.Delivery.P99Ns != want.P99Ns {
		t.Errorf("delivery %+v, want %+v", r.Delivery, want)
	}
	var delivered int64
	for _, iv := range r.Intervals {
		delivered += iv.Counters["delivered"]
	}
	if len(r.Intervals) != 3 || delivered != all.Count(Delivery) {
		t.Errorf("intervals: %d, %d delivered", len(r.Intervals), delivered)
	}
}

// The e2e sections of shards merge exactly: accepted sets united, the latest document of
// one sink kept, the figures derived again, through the documents' JSON.
func TestE2EMerge(t *testing.T) {
	early, late := time.Unix(1800000005, 0).UTC(), time.Unix(1800000009, 0).UTC()
	missing := func(n uint64) bool { return n == 33 || n == 64 }
	doc := func(name string, shard uint64, at time.Time, upTo uint64) *Report {
		var acc []uint64
		for n := shard; n <= 100; n += 2 {
			acc = append(acc, n)
		}
		r := NewReport(nil, early, time.Second, Totals{Planned: 50, Accepted: 50}, nil, nil)
		run := E2ERun{Run: "r", Header: "X-GSS-Trace", Accepted: SeqSetOf(acc...),
			Sinks: []E2ESink{sinkOf("http://sink", at, seqs(1, upTo, missing), 0, ms)}, Deadline: at, OnTime: SeqSetOf(seqs(1, upTo, missing)...)}
		if err := run.Derive(); err != nil {
			t.Fatal(err)
		}
		r.E2E = &E2E{Runs: []E2ERun{run}}
		r.Origin = name
		var buf bytes.Buffer
		if err := r.WriteJSON(&buf); err != nil {
			t.Fatal(err)
		}
		read, err := ReadReport(&buf)
		if err != nil {
			t.Fatal(err)
		}
		read.Origin = name
		return read
	}
	a, b := doc("a", 1, late, 100), doc("b", 2, early, 90)
	if ra, _ := a.E2E.Run("r"); ra.Lost != 1 || ra.Delivered != 49 {
		t.Fatalf("shard a: %+v", ra)
	}
	merged, _, err := Merge([]*Report{a, b}, -1)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := merged.E2E.Run("r")
	if !ok || len(r.Sinks) != 1 || !r.Sinks[0].Time.Equal(late) || r.Accepted.Len() != 100 {
		t.Fatalf("merged: %+v", r)
	}
	if r.Lost != 2 || !slices.Equal(r.LostSeqs, []uint64{33, 64}) || r.Delivered != 98 || r.DeliveredLate != 0 || r.Duplicates != 0 {
		t.Errorf("merged figures: delivered %d, late %d, lost %v, duplicates %d", r.Delivered, r.DeliveredLate, r.LostSeqs, r.Duplicates)
	}
	if want := sinkOf("x", late, seqs(1, 100, missing), 0, ms).Delivery; r.Delivery.Histogram != want.Histogram {
		t.Errorf("the merged delivery histogram is not the later document's")
	}
	again, _, err := Merge([]*Report{merged}, -1)
	if err != nil {
		t.Fatal(err)
	}
	if ra, _ := again.E2E.Run("r"); ra.Lost != r.Lost || ra.Delivery.Histogram != r.Delivery.Histogram {
		t.Errorf("a merge of the merge changed the figures")
	}
}

// A report whose e2e section does not hold together is refused.
func TestE2EValidate(t *testing.T) {
	r := NewReport(nil, time.Unix(1800000000, 0), time.Second, Totals{}, nil, nil)
	r.E2E = &E2E{Runs: []E2ERun{{Run: "r", Header: "X", Accepted: SeqSetOf(1), Sinks: []E2ESink{{Name: "s", Seen: SeqSetOf(1),
		Delivery: PhaseStats{Phase: "delivery", Count: 3, MinNs: 1, MaxNs: 2}}}}}}
	var buf bytes.Buffer
	_ = r.WriteJSON(&buf)
	doc := buf.String()
	if _, err := ReadReport(strings.NewReader(doc)); err == nil || !strings.Contains(err.Error(), "e2e.runs[0].sinks[0].delivery") {
		t.Errorf("a sink's delivery without its histogram: %v", err)
	}
	js := strings.Replace(doc, `"accepted": {`, `"accepted_": {`, 1)
	if _, err := ReadReport(strings.NewReader(js)); err == nil || !strings.Contains(err.Error(), "no accepted set") {
		t.Errorf("a run without its accepted set: %v", err)
	}
}

// ShiftedBy moves every sample: the count exact, the extremes exact, the percentiles to
// the histogram's precision; samples moved below 0 are 0.
func TestShiftedBy(t *testing.T) {
	orig, moved := NewSnapshot(), NewSnapshot()
	const shift = -3 * time.Second
	for i := int64(1); i <= 1000; i++ {
		ns := 3*int64(time.Second) + i*int64(time.Millisecond)
		orig.Record(Delivery, ns)
		moved.Record(Delivery, ns+int64(shift))
	}
	orig.Record(Delivery, int64(time.Second)) // moved below 0
	moved.Record(Delivery, 0)
	ps := newPhaseStats("delivery", orig.phases[Delivery], true)
	ps.hist = nil // as read from a document
	got, err := ps.ShiftedBy(shift)
	if err != nil {
		t.Fatal(err)
	}
	want := newPhaseStats("delivery", moved.phases[Delivery], true)
	if got.Count != want.Count || got.MinNs != want.MinNs || got.MaxNs != want.MaxNs {
		t.Errorf("shifted %+v, want %+v", got, want)
	}
	for _, q := range [][2]int64{{got.P50Ns, want.P50Ns}, {got.P99Ns, want.P99Ns}} {
		// One bucket of the unshifted values (3.5 s at 3 digits: about 2 ms), and one of the shifted.
		if d := q[0] - q[1]; d < -int64(3*time.Millisecond) || d > int64(3*time.Millisecond) {
			t.Errorf("percentile %v, want %v", time.Duration(q[0]), time.Duration(q[1]))
		}
	}
	cheap := want
	cheap.Histogram, cheap.hist = "", nil
	back, _ := cheap.ShiftedBy(2 * time.Second)
	if back.MinNs != 2*int64(time.Second) || back.P50Ns != want.P50Ns+2*int64(time.Second) {
		t.Errorf("statistics without a histogram: %+v", back)
	}
}

// Thresholds on delivery: the end-to-end counts, their shares of the messages accepted,
// the delivery latency's percentiles; no data before any sink was asked.
func TestDeliveryThresholds(t *testing.T) {
	r := NewReport(nil, time.Unix(1800000000, 0), time.Second, Totals{Planned: 100, Accepted: 100}, nil, nil)
	run := E2ERun{Run: "r", Header: "X-GSS-Trace", Accepted: SeqSetOf(seqs(1, 100, nil)...)}
	r.E2E = &E2E{Runs: []E2ERun{run}}
	check := func(exprs ...string) []Verdict {
		ts, err := ParseThresholds(exprs)
		if err != nil {
			t.Fatal(err)
		}
		vs, err := r.CheckThresholds(ts)
		if err != nil {
			t.Fatal(err)
		}
		return vs
	}
	for _, v := range check("lost==0", "delivery.p99<5s") {
		if v.Pass || !v.NoData {
			t.Errorf("not reconciled: %+v", v)
		}
	}
	run.Sinks = []E2ESink{sinkOf("s", time.Now(), seqs(1, 100, func(n uint64) bool { return n%10 == 7 }), 3, ms)}
	if err := run.Derive(); err != nil {
		t.Fatal(err)
	}
	r.E2E.Runs[0] = run
	want := map[string]struct {
		pass bool
		obs  float64
	}{
		"lost==0": {false, 10}, "lost<=10": {true, 10}, "lost<10%": {false, 10}, "lost<=10%": {true, 10},
		"duplicates==3": {true, 3}, "delivered>=90": {true, 90}, "delivered_late==0": {true, 0}, "unexpected==0": {true, 0},
		"delivery.p99<99ms": {false, float64(99 * time.Millisecond)}, "delivery.max<=100ms": {true, float64(100 * time.Millisecond)},
	}
	var exprs []string
	for e := range want {
		exprs = append(exprs, e)
	}
	for _, v := range check(exprs...) {
		w := want[v.Threshold]
		if v.Pass != w.pass || v.NoData || (v.Threshold != "delivery.p99<99ms" && v.Observed != w.obs) {
			t.Errorf("%s: %+v, want pass %v observed %v", v.Threshold, v, w.pass, w.obs)
		}
	}
	if _, err := ParseThreshold("lost<1s"); err == nil {
		t.Errorf("lost is a count, not a time")
	}
}

func TestFormatLiveDelivery(t *testing.T) {
	l := Live{Elapsed: 3 * time.Second, Accepted: 10, Sinks: 1, Delivered: 8, DeliveryP99: 1500 * time.Millisecond}
	got := FormatLive(l)
	if !strings.Contains(got, "eod p99 -  delivery p99 1.5s  accepted 10  delivered 8  rejected 0") {
		t.Errorf("%q", got)
	}
	l.Sinks = 0
	if strings.Contains(FormatLive(l), "deliver") {
		t.Errorf("without sinks: %q", FormatLive(l))
	}
}

// The JSON of a traced run's section has the fields SCHEMA.md names.
func TestE2EJSONFields(t *testing.T) {
	run := E2ERun{Run: "r", Header: "X-GSS-Trace", Accepted: SeqSetOf(1, 2), Sinks: []E2ESink{sinkOf("s", time.Unix(1800000000, 0), []uint64{1}, 0, ms)}}
	if err := run.Derive(); err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(run)
	for _, f := range []string{`"run":"r"`, `"accepted":{"count":2,"highest":2,"bitmap":`, `"delivered":1`, `"delivered_late":0`, `"lost":1`, `"lost_seqs":[2]`,
		`"duplicates":0`, `"unexpected":0`, `"delivery":{"phase":"delivery","count":1`, `"sinks":[{"name":"s"`, `"seen":{"count":1`, `"clock_offset_ns":0`} {
		if !strings.Contains(string(js), f) {
			t.Errorf("no %s in %s", f, js)
		}
	}
}

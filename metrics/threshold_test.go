package metrics

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestParseThreshold(t *testing.T) {
	for _, tc := range []struct{ in, canonical string }{
		{"eod.p99<500ms", "eod.p99<500ms"},
		{" latency.p99 < 2s ", "latency.p99<2s"},
		{"latency.p(99.9)<=1m30s", "latency.p99.9<=1m30s"},
		{"latency.p99.9<1s", "latency.p99.9<1s"},
		{"EOD.MAX>=1ms", "eod.max>=1ms"},
		{"connect.med<10ms", "connect.p50<10ms"},
		{"txn.avg<20ms", "txn.mean<20ms"},
		{"eod.count>=1000", "eod.count>=1000"},
		{"errors<1%", "errors<1%"},
		{"errors<=0.5%", "errors<=0.5%"},
		{"errors==0", "errors==0"},
		{"rate>=900", "rate>=900"},
		{"rate>=900/s", "rate>=900"},
		{"offered>12.5", "offered>12.5"},
		{"accepted>=100000", "accepted>=100000"},
		{"dropped!=3", "dropped!=3"},
		{"sessions_failed<5", "sessions_failed<5"},
		{"rcpt:perm:550<10", "rcpt:perm:550<10"},
		{"rcpt:perm:550:5.1.1<10", "rcpt:perm:550:5.1.1<10"},
		{"*:net:timeout<1%", "*:net:timeout<1%"},
		{"connect:net:refused==0", "connect:net:refused==0"},
	} {
		th, err := ParseThreshold(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got := th.String(); got != tc.canonical {
			t.Errorf("%q: canonical %q, want %q", tc.in, got, tc.canonical)
		}
	}
}

func TestParseThresholdErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "expected a metric"},
		{"eod<5ms", "phase eod needs a statistic"},
		{"eod.p100<5ms", "a percentile between 0 and 100"},
		{"eod.p(99<5ms", "expected ')'"},
		{"eod.p99<500", "want a duration"},
		{"eod.p99 500ms", "expected a comparison"},
		{"eod.p99<", "expected a value"},
		{"eod.p99=5ms", "expected a comparison"},
		{"eod.q99<5ms", "expected a statistic"},
		{"nosuch<5", "unknown metric"},
		{"nosuch.p99<5ms", "unknown phase"},
		{"errors<1 %", "unexpected"},
		{"errors<-1", "want a count"},
		{"errors<NaN", "want a count"},
		{"errors<0x10", "want a count"},
		{"rate>fast", "a rate"},
		{"rcpt:<3", "expected an error key field"},
		{"eod.p99<5ms" + strings.Repeat(" ", MaxThresholdLen), "longer than"},
	} {
		_, err := ParseThreshold(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one saying %q", tc.in, err, tc.want)
		}
	}
}

// FuzzParseThreshold: the parser never panics, and what it accepts comes back the same
// from its canonical form.
func FuzzParseThreshold(f *testing.F) {
	for _, s := range []string{"eod.p99<500ms", "errors<1%", "rate>=900", "rcpt:perm:550:5.1.1<10", "latency.p(99.9)<=1m30s", "*:net:timeout<1%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		th, err := ParseThreshold(s)
		if err != nil {
			return
		}
		again, err := ParseThreshold(th.String())
		if err != nil {
			t.Fatalf("%q parsed, its canonical form %q does not: %v", s, th.String(), err)
		}
		if again.String() != th.String() || again.Op != th.Op || again.Value != th.Value || again.Percent != th.Percent ||
			again.Metric.String() != th.Metric.String() {
			t.Fatalf("%q: %+v, again %+v", s, th, again)
		}
	})
}

// thresholdFigures: 100 messages planned, 90 accepted, 4 rejected (3 of them 550 5.1.1
// at RCPT), 4 failed (2 timeouts, 2 cut off by the run's end), 2 not started; eod
// 1..94 ms, over a 10 s sending window.
func thresholdFigures(t *testing.T) Figures {
	t.Helper()
	s := NewSnapshot()
	for i := int64(1); i <= 94; i++ {
		s.Record(EOD, i*int64(time.Millisecond))
	}
	s.Add(Dropped, 2)
	s.Add(MessagesCutOff, 2)
	s.Error(ReplyErrorKey("rcpt", 550, "5.1.1"), "550 5.1.1 no")
	s.Error(ReplyErrorKey("rcpt", 550, "5.1.1"), "550 5.1.1 no")
	s.Error(ReplyErrorKey("rcpt", 550, "5.1.1"), "550 5.1.1 no")
	s.Error(ReplyErrorKey("mail", 451, "4.3.0"), "451 later")
	s.Error("banner:net:timeout", "timeout while reading server greeting")
	s.Error("eod:net:timeout", "timeout while sending message")
	s.Error(CutOffKey("eod"), "cut off")
	s.Error(CutOffKey("rcpt"), "cut off")
	r := NewReport(nil, testStart, 12*time.Second, Totals{Planned: 100, Accepted: 90, Rejected: 4, Failed: 4, NotStarted: 2, Sessions: 7}, s, nil)
	r.Window = &Window{SendingNs: int64(10 * time.Second), DrainNs: int64(2 * time.Second), Answered: 92}
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := ReadReport(&buf) // thresholds are evaluated over documents as read back
	if err != nil {
		t.Fatal(err)
	}
	f, err := back.Figures()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestThresholdVerdicts(t *testing.T) {
	f := thresholdFigures(t)
	for _, tc := range []struct {
		expr string
		pass bool
		text string
	}{
		{"eod.p99<100ms", true, "93.055ms"},
		{"eod.p50<40ms", false, "47.007ms"},
		{"eod.max<=94ms", true, "94ms"},
		{"eod.count==94", true, "94"},
		{"accepted>=90", true, "90"},
		{"accepted>=100000", false, "90"},
		{"errors<=6", true, "6"},       // 4 rejected + 4 failed − 2 cut off
		{"errors<5%", false, "6.122%"}, // of 98 attempted
		{"cut_off==2", true, "2"},
		{"rcpt:perm:550<3", false, "3"},
		{"rcpt:perm:550:5.1.1==3", true, "3"},
		{"rcpt:perm<10", true, "3"},
		{"*:net:timeout==2", true, "2"},
		{"*:cut_off==2", true, "2"},
		{"rate>=9", true, "9.2/s"},
		{"offered==10", true, "10.0/s"}, // (98 attempted + 2 dropped) / 10 s
		{"dropped<1", false, "2"},
		{"latency.p99<1s", false, "no data"},
		{"latency.count==0", true, "0"},
	} {
		th, err := ParseThreshold(tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		v := th.Check(f)
		if v.Pass != tc.pass || v.Text != tc.text {
			t.Errorf("%s: pass %v, observed %q; want %v, %q", tc.expr, v.Pass, v.Text, tc.pass, tc.text)
		}
	}
}

// A count that can only grow is lost once it passes an upper limit, never before a
// lower one is reached; a percentile or a rate failing now is lost (k6's abortOnFail).
func TestThresholdLost(t *testing.T) {
	f := thresholdFigures(t)
	for expr, lost := range map[string]bool{
		"errors<5":              true,
		"errors<10":             false,
		"accepted>=100000":      false,
		"accepted==50":          true,
		"accepted==95":          false,
		"not_started>5":         true,
		"not_started<1":         false,
		"eod.p50<40ms":          true,
		"eod.p99<100ms":         false,
		"rate>=100":             true,
		"errors<1%":             true,
		"latency.p99<1s":        false, // no data yet: not lost
		"rcpt:perm:550:5.1.1<3": true,
	} {
		th, err := ParseThreshold(expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := th.Lost(f); got != lost {
			t.Errorf("%s: lost %v, want %v", expr, got, lost)
		}
	}
}

// A merge re-evaluates over the merged histograms: two halves that each hold a
// threshold can break it together.
func TestThresholdsOverAMerge(t *testing.T) {
	a, b := NewSnapshot(), NewSnapshot()
	for i := 0; i < 98; i++ {
		a.Record(EOD, int64(time.Millisecond))
		b.Record(EOD, int64(time.Millisecond))
	}
	for i := 0; i < 2; i++ {
		a.Record(EOD, int64(time.Second))
	}
	ra := NewReport(nil, testStart, time.Second, Totals{Planned: 100, Accepted: 100}, a, nil)
	rb := NewReport(nil, testStart.Add(time.Millisecond), time.Second, Totals{Planned: 98, Accepted: 98}, b, nil)
	th, _ := ParseThreshold("eod.p99<500ms")
	va, _ := ra.CheckThresholds([]Threshold{th})
	if va[0].Pass {
		t.Fatalf("a alone: %+v (2 of 100 at 1s: p99 is 1s)", va[0])
	}
	m, _, err := Merge([]*Report{ra, rb}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	vm, err := m.CheckThresholds([]Threshold{th})
	if err != nil || !vm[0].Pass || vm[0].Text != "1ms" {
		t.Fatalf("merged: %+v, %v (2 of 198 at 1s: p99 is 1ms)", vm, err)
	}
	if len(m.Thresholds) != 1 {
		t.Fatalf("verdicts not recorded: %+v", m.Thresholds)
	}
}

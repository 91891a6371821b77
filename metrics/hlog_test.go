package metrics

import (
	"bytes"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// The interval log reads back with hdrhistogram-go's reader: the same histograms, tags and
// interval times.
func TestIntervalLogReadsBack(t *testing.T) {
	var buf bytes.Buffer
	log, err := NewIntervalLog(&buf, testStart)
	if err != nil {
		t.Fatal(err)
	}
	type written struct {
		tag        string
		start, end time.Time
		hist       *hdr.PackedHistogram
	}
	var want []written
	phases, nanos := randomRun(3, 3000)
	for sec := 0; sec < 3; sec++ {
		s := NewSnapshot()
		for i := sec; i < len(phases); i += 3 {
			if phases[i] == EOD || phases[i] == Connect || phases[i] == Rcpt {
				s.Record(phases[i], nanos[i])
			}
		}
		start := testStart.Add(time.Duration(sec) * time.Second)
		end := start.Add(time.Second)
		if err := log.Write(start, end, s); err != nil {
			t.Fatal(err)
		}
		for _, p := range s.Phases() {
			want = append(want, written{p.String(), start, end, s.phases[p].hist})
			if s.phases[p].hist.Tag() != "" {
				t.Fatal("Write tagged the snapshot's own histogram")
			}
		}
	}
	if err := log.Write(testStart, testStart, nil); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	if !strings.Contains(text, "#[Histogram log format version 1.3]") || !strings.Contains(text, "#[StartTime: ") || !strings.Contains(text, "Tag=eod,") {
		t.Fatalf("log header or tags missing:\n%s", text)
	}

	rd := hdr.NewHistogramLogReader(&buf)
	for i, w := range want {
		h, err := rd.NextIntervalHistogram()
		if err != nil || h == nil {
			t.Fatalf("histogram %d: %v (nil: %v)", i, err, h == nil)
		}
		if h.Tag() != w.tag {
			t.Fatalf("histogram %d: tag %q, want %q", i, h.Tag(), w.tag)
		}
		if h.StartTimeMs() != w.start.UnixMilli() || h.EndTimeMs() != w.end.UnixMilli() {
			t.Fatalf("histogram %d: %d…%d ms, want %d…%d", i, h.StartTimeMs(), h.EndTimeMs(), w.start.UnixMilli(), w.end.UnixMilli())
		}
		got := newHistogram()
		got.MergeFrom(h)
		sameBuckets(t, w.tag, got, w.hist)
		if h.LowestTrackableValue() != HistogramLowestUS || h.HighestTrackableValue() != HistogramHighestUS || h.SignificantFigures() != HistogramSigFigs {
			t.Fatalf("geometry changed in the log")
		}
	}
	if h, err := rd.NextIntervalHistogram(); h != nil || err != nil {
		t.Fatalf("extra histogram in the log (%v)", err)
	}
}

package metrics

import (
	"fmt"
	"io"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// IntervalLog writes an HdrHistogram interval log (.hlog, format 1.3): one histogram per
// phase with samples per interval, tagged with the phase's name (Tag=eod,…). Values are
// microseconds, so the log's Interval_Max column reads in seconds (µs / 10^6) and the
// HdrHistogram tools want an output value unit ratio of 1000 for milliseconds
// (HistogramLogProcessor -outputValueUnitRatio 1000). Timestamps are seconds since the
// log's start. An IntervalLog is not safe for concurrent use.
type IntervalLog struct {
	w *hdr.HistogramLogWriter
}

// NewIntervalLog writes the log's header (version, start time, base time, legend) to w.
func NewIntervalLog(w io.Writer, start time.Time) (*IntervalLog, error) {
	lw := hdr.NewHistogramLogWriter(w)
	// The header lines carry whole seconds, so the base time is the start's second and
	// the timestamps keep the sub-second part.
	startMs := start.Unix() * 1000
	lw.SetBaseTime(startMs)
	for _, write := range []func() error{
		lw.OutputLogFormatVersion,
		func() error {
			return lw.OutputComment("go-smtp-source phase histograms, values in microseconds, tagged by phase")
		},
		func() error { return lw.OutputStartTime(startMs) },
		func() error { return lw.OutputBaseTime(startMs) },
		lw.OutputLegend,
	} {
		if err := write(); err != nil {
			return nil, fmt.Errorf("histogram log header: %w", err)
		}
	}
	return &IntervalLog{w: lw}, nil
}

// Write logs one interval: every phase of s with samples, in phase order.
func (l *IntervalLog) Write(start, end time.Time, s *Snapshot) error {
	if s == nil {
		return nil
	}
	for _, p := range s.Phases() {
		h := s.phases[p].hist.Clone() // the tag and times are the log's, not the snapshot's
		h.SetTag(p.String())
		h.SetStartTimeMs(start.UnixMilli())
		h.SetEndTimeMs(end.UnixMilli())
		if err := l.w.OutputIntervalPackedHistogram(h); err != nil {
			return fmt.Errorf("histogram log: %s interval at %s: %w", p, start.Format(time.RFC3339), err)
		}
	}
	return nil
}

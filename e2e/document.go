// Package e2e measures a run end to end, through the MTA: it polls go-smtp-sink's /trace
// (the sinks the MTA relays to) while the run goes on, waits for the stragglers at its
// end, and reconciles what the sinks saw with the messages the MTA accepted — live, or
// afterwards from saved documents. The figures go into the result document's e2e
// section (metrics.E2ERun). It never prints, exits or reads flags.
package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// The go-smtp-sink trace document this package reads (metrics/SCHEMA.md, "go-smtp-sink
// trace document").
const (
	TraceSchema        = "go-smtp-sink/trace"
	TraceSchemaVersion = 1

	// maxDocumentBytes bounds a trace document read from a sink or a file.
	maxDocumentBytes = metrics.MaxReportBytes
)

// TraceDocument is the part of go-smtp-sink's trace document reconciliation reads.
type TraceDocument struct {
	Schema        string     `json:"schema"`
	SchemaVersion int        `json:"schema_version"`
	Header        string     `json:"header"`
	Time          time.Time  `json:"time"`
	Runs          []TraceRun `json:"runs"`
}

// TraceRun is one run id's deliveries at a sink.
type TraceRun struct {
	Run           string             `json:"run"`
	Seen          int64              `json:"seen"`
	Duplicates    int64              `json:"duplicates"`
	DuplicateSeqs []uint64           `json:"duplicate_seqs"`
	Highest       uint64             `json:"highest"`
	SeenSet       string             `json:"seen_set"`
	ClockBehind   int64              `json:"clock_behind"`
	Delivery      metrics.PhaseStats `json:"delivery"`
	Intervals     []metrics.Interval `json:"intervals"`
}

// ReadDocument reads and checks a trace document: its schema and version.
func ReadDocument(r io.Reader) (*TraceDocument, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxDocumentBytes+1))
	if err != nil {
		return nil, fmt.Errorf("trace document: %w", err)
	}
	if len(data) > maxDocumentBytes {
		return nil, fmt.Errorf("trace document: larger than %d MiB", maxDocumentBytes>>20)
	}
	var doc TraceDocument
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("trace document: %w", err)
	}
	if doc.Schema != TraceSchema || doc.SchemaVersion != TraceSchemaVersion {
		return nil, fmt.Errorf("not a go-smtp-sink trace document: schema %q version %d, want %q version %d",
			doc.Schema, doc.SchemaVersion, TraceSchema, TraceSchemaVersion)
	}
	return &doc, nil
}

// ReadDocumentFile reads a trace document saved by go-smtp-sink --trace-file (or a GET
// of /trace).
func ReadDocumentFile(path string) (*TraceDocument, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	doc, err := ReadDocument(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return doc, nil
}

// run is the document's entry for run id, if it has one.
func (d *TraceDocument) run(id string) (*TraceRun, bool) {
	for i := range d.Runs {
		if d.Runs[i].Run == id {
			return &d.Runs[i], true
		}
	}
	return nil, false
}

// Clock is what is known of a sink's clock: its offset from the source's (sink −
// source) and the round trip it was measured over (0: given, not measured).
type Clock struct {
	Offset time.Duration
	RTT    time.Duration
}

// corrects reports whether latencies are corrected by the offset: a measured offset
// only beyond its uncertainty (half the round trip: on one host the clocks agree, and
// the measurement is noise), a given one always.
func (c Clock) corrects() bool {
	if c.RTT == 0 {
		return c.Offset != 0
	}
	return c.Offset > c.RTT/2 || c.Offset < -c.RTT/2
}

// onSourceClock is a latency the sink measured, corrected when the offset is
// significant.
func (c Clock) onSourceClock(d time.Duration) time.Duration {
	if !c.corrects() {
		return d
	}
	return max(0, d-c.Offset)
}

// Record is what the sink's document says of run id, as the result document keeps it:
// the seen set (the document must carry it: not a ?ranges=0 one), the duplicates, and
// the delivery latency and its series moved onto the source's clock when the clock's
// offset is significant. A document without the run says the sink saw none of it.
func Record(name string, doc *TraceDocument, run string, clock Clock) (metrics.E2ESink, error) {
	s := metrics.E2ESink{Name: name, Time: doc.Time.UTC(), ClockOffsetNs: int64(clock.Offset), ClockRTTNs: int64(clock.RTT),
		ClockCorrected: clock.corrects(), Seen: metrics.NewSeqSet(), Delivery: metrics.PhaseStats{Phase: metrics.Delivery.String()}}
	tr, ok := doc.run(run)
	if !ok {
		return s, nil
	}
	seen, err := metrics.ParseSeqRanges(tr.SeenSet)
	if err != nil {
		return s, fmt.Errorf("%s: run %s: seen_set: %w", name, run, err)
	}
	if seen.Len() != tr.Seen {
		if tr.SeenSet == "" {
			return s, fmt.Errorf("%s: run %s: the document has no seen_set (fetched with ranges=0?)", name, run)
		}
		return s, fmt.Errorf("%s: run %s: seen_set holds %d numbers, seen says %d", name, run, seen.Len(), tr.Seen)
	}
	s.Seen, s.Duplicates, s.DuplicateSeqs, s.ClockBehind = seen, tr.Duplicates, tr.DuplicateSeqs, tr.ClockBehind
	shift := time.Duration(0)
	if s.ClockCorrected {
		shift = -clock.Offset
	}
	if s.Delivery, err = tr.Delivery.ShiftedBy(shift); err != nil {
		return s, fmt.Errorf("%s: run %s: delivery: %w", name, run, err)
	}
	s.Delivery.Phase = metrics.Delivery.String()
	if s.Intervals, err = shiftIntervals(tr.Intervals, shift); err != nil {
		return s, fmt.Errorf("%s: run %s: %w", name, run, err)
	}
	return s, nil
}

// shiftIntervals moves a sink's series onto the source's clock: each second's start and
// its latencies by shift.
func shiftIntervals(ivs []metrics.Interval, shift time.Duration) ([]metrics.Interval, error) {
	out := make([]metrics.Interval, 0, len(ivs))
	for _, iv := range ivs {
		iv.Start = iv.Start.Add(shift).UTC()
		phases := make([]metrics.PhaseStats, 0, len(iv.Phases))
		for _, ps := range iv.Phases {
			moved, err := ps.ShiftedBy(shift)
			if err != nil {
				return nil, fmt.Errorf("interval %s: %w", iv.Start.Format(time.RFC3339), err)
			}
			phases = append(phases, moved)
		}
		iv.Phases = phases
		out = append(out, iv)
	}
	return out, nil
}

// errNoTrace is a result document that was not traced.
var errNoTrace = errors.New("the run document has no e2e section: the run was not traced (--trace, --e2e-sink)")

package sink

import (
	"encoding/json"
	"sort"
	"time"

	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// The trace document's identity (metrics/SCHEMA.md, "go-smtp-sink trace document").
const (
	TraceSchema        = "go-smtp-sink/trace"
	TraceSchemaVersion = 1
)

// TraceDocument is what --trace has seen: /trace serves it, --trace-file saves it.
type TraceDocument struct {
	Schema        string    `json:"schema"`
	SchemaVersion int       `json:"schema_version"`
	Header        string    `json:"header"`
	Time          time.Time `json:"time"`    // when the document was made
	MaxSeq        uint64    `json:"max_seq"` // the highest sequence number accepted
	// Messages the sink accepted whose trace header could not be used.
	WithoutHeader int64 `json:"without_header"`
	Malformed     int64 `json:"malformed"`
	OutOfRange    int64 `json:"out_of_range"`
	RunsOverLimit int64 `json:"runs_over_limit"`

	Runs []TraceRun `json:"runs"` // by run id
}

// TraceRun is one run id's deliveries.
type TraceRun struct {
	Run        string `json:"run"`
	Seen       int64  `json:"seen"` // distinct sequence numbers delivered
	Duplicates int64  `json:"duplicates"`
	// DuplicateSeqs lists the first duplicates' sequence numbers, in arrival order.
	DuplicateSeqs []uint64 `json:"duplicate_seqs,omitempty"`
	Lowest        uint64   `json:"lowest"`
	Highest       uint64   `json:"highest"`
	// Missing counts the numbers from 1 to Highest not delivered; MissingSeqs lists them
	// all when there are at most 1,000 (and is absent otherwise).
	Missing     int64    `json:"missing"`
	MissingSeqs []uint64 `json:"missing_seqs,omitempty"`
	// SeenSet is the set of delivered numbers as comma-separated runs, "first-last" or a
	// lone "n", in increasing order ("1-3,5,9-10"); absent when the request asked for
	// ranges=0 or nothing was delivered.
	SeenSet string `json:"seen_set,omitempty"`
	// ClockBehind counts deliveries that arrived before their send time (a clock
	// difference between the hosts); their latency is recorded as 0.
	ClockBehind  int64     `json:"clock_behind"`
	FirstArrival time.Time `json:"first_arrival"`
	LastArrival  time.Time `json:"last_arrival"`
	// Delivery is the latency from the send time in the header to the arrival, one sample
	// per distinct sequence number (duplicates are not sampled), as the reports' phase
	// statistics with phase "delivery".
	Delivery metrics.PhaseStats `json:"delivery"`
	// Intervals is the per-second series, by arrival second: counters "delivered" and
	// "duplicates" and the phase "delivery"; seconds without arrivals are left out, and
	// only the last 3,600 are kept (IntervalsDropped counts the others).
	Intervals        []metrics.Interval `json:"intervals"`
	IntervalsDropped int64              `json:"intervals_dropped,omitempty"`
}

// TraceQuery narrows a document: some runs, the series from a second on, no ranges.
type TraceQuery struct {
	Runs         []string  // only these run ids (all when empty)
	Since        time.Time // only intervals starting at or after it
	NoRanges     bool      // leave SeenSet out
	NoHistograms bool      // leave the histograms' encodings out (the statistics stay)
}

// TraceDocument returns what --trace has seen so far; ok is false without --trace.
func (s *Server) TraceDocument(q TraceQuery) (doc TraceDocument, ok bool) {
	t := s.env.trace
	if t == nil {
		return TraceDocument{}, false
	}
	return t.document(q), true
}

func (t *tracer) document(q TraceQuery) TraceDocument {
	t.readMu.Lock()
	defer t.readMu.Unlock()
	doc, runs, snaps := t.copyWritten(q)
	for i, r := range runs {
		r.open.Merge(snaps[i])
		d := &doc.Runs[i]
		total := r.total.Clone()
		total.Merge(r.open)
		d.Delivery = deliveryStats(total, !q.NoHistograms)
		d.Intervals, d.IntervalsDropped = []metrics.Interval{}, r.dropped
		for _, iv := range r.intervals {
			if !iv.Start.Before(q.Since) {
				d.Intervals = append(d.Intervals, withoutHistograms(iv, q.NoHistograms))
			}
		}
		open := doc.Time.Truncate(time.Second)
		if !open.Before(q.Since) && (r.openSeen > 0 || r.openDups > 0) {
			d.Intervals = append(d.Intervals, r.openInterval(open, !q.NoHistograms))
		}
	}
	sort.Sort(byRun{doc.Runs, runs})
	return doc
}

// copyWritten copies what the loops wrote (under mu): the counters and, per run asked
// for, its figures and sets, with the samples it hands over.
func (t *tracer) copyWritten(q TraceQuery) (TraceDocument, []*traceRun, []*metrics.Snapshot) {
	doc := TraceDocument{
		Schema: TraceSchema, SchemaVersion: TraceSchemaVersion, Header: t.header,
		MaxSeq: t.maxSeq, WithoutHeader: t.withoutHeader.Load(), Runs: []TraceRun{},
	}
	var runs []*traceRun
	var snaps []*metrics.Snapshot
	t.mu.Lock()
	defer t.mu.Unlock()
	doc.Time = t.clock().UTC()
	doc.Malformed, doc.OutOfRange, doc.RunsOverLimit = t.malformed, t.outOfRange, t.runsOverLimit
	for id, r := range t.runs {
		if len(q.Runs) == 0 || contains(q.Runs, id) {
			doc.Runs = append(doc.Runs, r.figures(q))
			runs = append(runs, r)
			snaps = append(snaps, r.handOver())
		}
	}
	return doc, runs, snaps
}

// byRun sorts a document's runs and the matching traceRuns by run id.
type byRun struct {
	docs []TraceRun
	runs []*traceRun
}

func (b byRun) Len() int           { return len(b.docs) }
func (b byRun) Less(i, j int) bool { return b.docs[i].Run < b.docs[j].Run }
func (b byRun) Swap(i, j int) {
	b.docs[i], b.docs[j] = b.docs[j], b.docs[i]
	b.runs[i], b.runs[j] = b.runs[j], b.runs[i]
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// figures is the run's counts and sets (under tracer.mu).
func (r *traceRun) figures(q TraceQuery) TraceRun {
	d := TraceRun{
		Run: r.id, Seen: r.count, Duplicates: r.duplicates, DuplicateSeqs: append([]uint64(nil), r.dupSeqs...),
		Lowest: r.lowest, Highest: r.highest, Missing: int64(r.highest) - r.count,
		ClockBehind: r.clockBehind, FirstArrival: r.first.UTC(), LastArrival: r.latest.UTC(),
	}
	if d.Missing > 0 && d.Missing <= maxListedMissing {
		d.MissingSeqs = r.seen.Absent(1, r.highest, maxListedMissing)
	}
	if !q.NoRanges && r.count > 0 {
		d.SeenSet = string(r.seen.AppendRanges(nil))
	}
	return d
}

// deliveryStats is the delivery phase's statistics in the reports' encoding, with the
// histogram's encoding or without it (which saves its compression, the costly part).
func deliveryStats(s *metrics.Snapshot, withHistogram bool) metrics.PhaseStats {
	if withHistogram {
		iv := metrics.NewInterval(time.Time{}, time.Time{}, s) // the one way metrics encodes a phase
		for _, ps := range iv.Phases {
			if ps.Phase == deliveryPhase.String() {
				ps.Phase = "delivery"
				return ps
			}
		}
	}
	p := deliveryPhase
	ps := metrics.PhaseStats{Phase: "delivery", Count: s.Count(p)}
	if ps.Count == 0 {
		return ps
	}
	ps.MinNs, ps.MeanNs, ps.MaxNs, ps.SumNs = int64(s.Min(p)), int64(s.Mean(p)), int64(s.Max(p)), int64(s.Sum(p))
	ps.P50Ns, ps.P90Ns = int64(s.Quantile(p, 0.50)), int64(s.Quantile(p, 0.90))
	ps.P99Ns, ps.P999Ns = int64(s.Quantile(p, 0.99)), int64(s.Quantile(p, 0.999))
	return ps
}

// withoutHistograms is iv, without its phases' encodings when drop is set.
func withoutHistograms(iv metrics.Interval, drop bool) metrics.Interval {
	if drop && len(iv.Phases) > 0 {
		iv.Phases = append([]metrics.PhaseStats(nil), iv.Phases...)
		for i := range iv.Phases {
			iv.Phases[i].Histogram = ""
		}
	}
	return iv
}

// JSON renders the document as indented JSON with a final newline.
func (d TraceDocument) JSON() []byte {
	b, _ := json.MarshalIndent(d, "", "  ") // times, strings and integers cannot fail to encode
	return append(b, '\n')
}

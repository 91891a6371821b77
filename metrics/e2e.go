package metrics

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// MaxListedLost bounds the lost sequence numbers an E2ERun lists.
const MaxListedLost = 1000

// E2E is a result document's end-to-end section: per trace run id (go-smtp-source
// --trace), the messages the MTA accepted and what the sinks behind it saw of them.
type E2E struct {
	Runs []E2ERun `json:"runs"`
}

// E2ERun is one trace run id's end-to-end figures. Accepted, Sinks, Deadline and OnTime
// are the record; the figures after them are derived from it (Derive), so that a merge
// of documents derives them again from the merged record.
type E2ERun struct {
	Run    string `json:"run"`
	Header string `json:"header"`
	// Accepted is the sequence numbers the MTA accepted (a 2xx reply after the dot).
	Accepted *SeqSet `json:"accepted"`

	// Sinks is what each sink had seen of the run when it was last asked (absent until
	// one was: --e2e-sink, reconcile).
	Sinks []E2ESink `json:"sinks,omitempty"`
	// Deadline is the end of the wait for stragglers (--e2e-wait); OnTime is the
	// numbers the sinks had seen by then. What comes after it is delivered late. Without
	// a deadline every delivery is on time.
	Deadline time.Time `json:"deadline,omitzero"`
	OnTime   *SeqSet   `json:"on_time,omitempty"`

	// Delivered + DeliveredLate + Lost == Accepted.Len().
	Delivered     int64    `json:"delivered"`           // accepted numbers seen by the deadline
	DeliveredLate int64    `json:"delivered_late"`      // accepted numbers first seen after it
	Lost          int64    `json:"lost"`                // accepted numbers no sink has seen
	LostSeqs      []uint64 `json:"lost_seqs,omitempty"` // the first MaxListedLost of them, ascending
	// Duplicates is the deliveries of a number already delivered: at the same sink (its
	// own count) or at another one.
	Duplicates int64 `json:"duplicates"`
	// Unexpected is the numbers seen that the MTA did not accept from this run: a
	// message the source counted as failed that the MTA had queued anyway, or another
	// shard's (a document of one shard).
	Unexpected int64 `json:"unexpected"`
	// Delivery is the delivery latency over every sink (arrival − send time, corrected
	// for a measured clock offset), and Intervals its per-second series by arrival
	// second (counters delivered and duplicates, phase delivery).
	Delivery  PhaseStats `json:"delivery"`
	Intervals []Interval `json:"intervals,omitempty"`
}

// E2ESink is what one sink had seen of a run: its trace document's figures for the run
// id, as go-smtp-sink serves them (/trace) or saves them (--trace-file).
type E2ESink struct {
	Name  string    `json:"name"`            // the URL polled or the file read
	Time  time.Time `json:"time"`            // the sink's document's time (its clock)
	Error string    `json:"error,omitempty"` // why it could not be asked (then it has seen nothing)

	// The sink's clock minus the source's (NTP-style: the document's time against the
	// midpoint of the request's round trip ClockRTTNs, the best of the polls), and
	// whether the latencies were corrected by it: only when the offset exceeds its
	// uncertainty (half the round trip).
	ClockOffsetNs  int64 `json:"clock_offset_ns"`
	ClockRTTNs     int64 `json:"clock_rtt_ns,omitempty"`
	ClockCorrected bool  `json:"clock_corrected,omitempty"`

	Seen          *SeqSet    `json:"seen"`
	Duplicates    int64      `json:"duplicates"`
	DuplicateSeqs []uint64   `json:"duplicate_seqs,omitempty"`
	ClockBehind   int64      `json:"clock_behind,omitempty"` // arrivals before their send time, by the sink's clock
	Delivery      PhaseStats `json:"delivery"`
	Intervals     []Interval `json:"intervals,omitempty"`
}

// Reconciled reports whether any sink was asked about the run.
func (r *E2ERun) Reconciled() bool { return len(r.Sinks) > 0 }

// Derive computes the run's figures from its record: the union of the sinks' seen sets
// against the accepted set and the deadline's, the duplicates, and the merge of the
// sinks' latency histograms and series.
func (r *E2ERun) Derive() error {
	seen := NewSeqSet()
	var seenSum, dups int64
	delivery := newPhaseMerger()
	series := newIntervalMerger()
	for i := range r.Sinks {
		s := &r.Sinks[i]
		seen.Union(s.Seen)
		seenSum += s.Seen.Len()
		dups += s.Duplicates
		if s.Delivery.Count > 0 {
			if err := delivery.add([]PhaseStats{s.Delivery}); err != nil {
				return fmt.Errorf("end to end: run %s: sink %s: %w", r.Run, s.Name, err)
			}
		}
		if err := series.addAll(s.Intervals); err != nil {
			return fmt.Errorf("end to end: run %s: sink %s: %w", r.Run, s.Name, err)
		}
	}
	r.Duplicates = dups + seenSum - seen.Len() // a number seen at two sinks is delivered twice
	onTime := r.OnTime
	if onTime == nil {
		onTime = seen
	}
	everSeen := seen.Clone()
	everSeen.Union(onTime)
	r.Delivered = Intersection(r.Accepted, onTime).Len()
	r.DeliveredLate = Difference(Intersection(r.Accepted, seen), onTime).Len()
	lost := Difference(r.Accepted, everSeen)
	r.Lost, r.LostSeqs = lost.Len(), lost.Members(MaxListedLost)
	r.Unexpected = Difference(everSeen, r.Accepted).Len()
	r.Delivery = PhaseStats{Phase: Delivery.String()}
	if ps := delivery.result(true); len(ps) > 0 {
		r.Delivery = ps[0]
	}
	r.Intervals = series.result()
	return nil
}

// Run is the end-to-end record of run id, if the document has one.
func (e *E2E) Run(id string) (*E2ERun, bool) {
	if e == nil {
		return nil, false
	}
	for i := range e.Runs {
		if e.Runs[i].Run == id {
			return &e.Runs[i], true
		}
	}
	return nil, false
}

// mergeE2E merges the end-to-end sections of several documents: per run id, the
// accepted sets and the deadline's sets are united, the latest deadline kept, and of
// the sinks of one name (the same sink asked by several processes, or at several
// times) the latest document, which holds all that the earlier ones did. The figures
// are derived again.
func mergeE2E(sections []*E2E) (*E2E, error) {
	byRun := map[string]*E2ERun{}
	var order []string
	for _, sec := range sections {
		if sec == nil {
			continue
		}
		for _, in := range sec.Runs {
			r := byRun[in.Run]
			if r == nil {
				r = &E2ERun{Run: in.Run, Header: in.Header, Accepted: NewSeqSet()}
				byRun[in.Run] = r
				order = append(order, in.Run)
			}
			mergeE2ERun(r, in)
		}
	}
	if len(order) == 0 {
		return nil, nil
	}
	sort.Strings(order)
	out := &E2E{}
	for _, id := range order {
		r := byRun[id]
		if err := r.Derive(); err != nil {
			return nil, err
		}
		out.Runs = append(out.Runs, *r)
	}
	return out, nil
}

func mergeE2ERun(dst *E2ERun, in E2ERun) {
	dst.Accepted.Union(in.Accepted)
	if in.OnTime != nil {
		if dst.OnTime == nil {
			dst.OnTime = NewSeqSet()
		}
		dst.OnTime.Union(in.OnTime)
	}
	if in.Deadline.After(dst.Deadline) {
		dst.Deadline = in.Deadline
	}
	for _, s := range in.Sinks {
		k := sinkIndex(dst.Sinks, s.Name)
		switch {
		case k < 0:
			dst.Sinks = append(dst.Sinks, s)
		case s.Time.After(dst.Sinks[k].Time):
			dst.Sinks[k] = s
		}
	}
}

func sinkIndex(sinks []E2ESink, name string) int {
	for i := range sinks {
		if sinks[i].Name == name {
			return i
		}
	}
	return -1
}

// validate checks what JSON decoding cannot in a document's end-to-end section, and
// decodes its histograms once.
func (e *E2E) validate() error {
	if e == nil {
		return nil
	}
	for i := range e.Runs {
		r := &e.Runs[i]
		if r.Accepted == nil {
			return fmt.Errorf("e2e.runs[%d]: no accepted set", i)
		}
		if err := validatePhases(fmt.Sprintf("e2e.runs[%d].delivery", i), nonEmpty(r.Delivery), true); err != nil {
			return err
		}
		for j := range r.Sinks {
			s := &r.Sinks[j]
			where := fmt.Sprintf("e2e.runs[%d].sinks[%d]", i, j)
			if err := validatePhases(where+".delivery", nonEmpty(s.Delivery), true); err != nil {
				return err
			}
			for k := range s.Intervals {
				if err := validatePhases(fmt.Sprintf("%s.intervals[%d].phases", where, k), s.Intervals[k].Phases, true); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func nonEmpty(ps PhaseStats) []PhaseStats {
	if ps.Phase == "" && ps.Count == 0 {
		return nil
	}
	return []PhaseStats{ps}
}

// E2EFigures is what thresholds on delivery read: the sums over a document's reconciled
// runs (E2E.Figures).
type E2EFigures struct {
	Accepted, Delivered, DeliveredLate, Lost, Duplicates, Unexpected int64
	Delivery                                                         *phaseSnapshot // nil: no sample
}

// Figures sums the reconciled runs; ok is false when none was reconciled.
func (e *E2E) Figures() (f E2EFigures, ok bool, err error) {
	if e == nil {
		return f, false, nil
	}
	for i := range e.Runs {
		r := &e.Runs[i]
		if !r.Reconciled() {
			continue
		}
		ok = true
		f.Accepted += r.Accepted.Len()
		f.Delivered += r.Delivered
		f.DeliveredLate += r.DeliveredLate
		f.Lost += r.Lost
		f.Duplicates += r.Duplicates
		f.Unexpected += r.Unexpected
		if r.Delivery.Count == 0 {
			continue
		}
		ps, err := r.Delivery.phaseSnapshot()
		if err != nil {
			return f, ok, fmt.Errorf("e2e run %s: %w", r.Run, err)
		}
		if f.Delivery == nil {
			f.Delivery = &phaseSnapshot{count: ps.count, sumNs: ps.sumNs, minNs: ps.minNs, maxNs: ps.maxNs, hist: ps.hist.Clone()}
		} else if dropped := f.Delivery.merge(ps); dropped != 0 {
			return f, ok, fmt.Errorf("e2e run %s: %d delivery samples would not merge", r.Run, dropped)
		}
	}
	return f, ok, nil
}

// ShiftedBy is ps with every sample moved by d and clamped at 0: a sink's delivery
// latency corrected by a measured clock offset (d = −offset). Count is exact; the
// extremes and the sum are exact unless samples were clamped; the histogram moves bucket
// by bucket, so a percentile is as precise as it was before the shift (3 significant
// digits of the unshifted value). Statistics without a histogram
// (a poller's cheap form) have each figure moved.
func (ps PhaseStats) ShiftedBy(d time.Duration) (PhaseStats, error) {
	if d == 0 || ps.Count == 0 {
		return ps, nil
	}
	if ps.Histogram == "" && ps.hist == nil {
		out := ps
		for _, f := range []*int64{&out.MinNs, &out.MeanNs, &out.P50Ns, &out.P90Ns, &out.P99Ns, &out.P999Ns, &out.MaxNs} {
			*f = max(0, *f+int64(d))
		}
		out.SumNs = max(0, saturatingShift(ps.SumNs, ps.Count, int64(d)))
		return out, nil
	}
	snap, err := ps.phaseSnapshot()
	if err != nil {
		return PhaseStats{}, err
	}
	shifted := &phaseSnapshot{count: snap.count, minNs: max(0, snap.minNs+int64(d)), maxNs: max(0, snap.maxNs+int64(d)),
		sumNs: max(0, saturatingShift(snap.sumNs, snap.count, int64(d))), hist: newHistogram()}
	dUS := int64(d / time.Microsecond)
	var failed error
	snap.hist.ForEachBucket(func(v, n int64) bool {
		failed = shifted.hist.RecordValues(min(max(0, v+dUS), HistogramHighestUS), n)
		return failed == nil
	})
	if failed != nil {
		return PhaseStats{}, fmt.Errorf("phase %q: shift: %w", ps.Phase, failed)
	}
	return newPhaseStats(ps.Phase, shifted, true), nil
}

// saturatingShift is sum + count×d, saturated to the int64 range.
func saturatingShift(sum, count, d int64) int64 {
	delta := float64(count) * float64(d)
	if f := float64(sum) + delta; f >= math.MaxInt64 || f <= math.MinInt64 {
		if f > 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return sum + count*d
}

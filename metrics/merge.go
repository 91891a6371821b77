package metrics

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"
)

// Merge combines reports exactly: it sums totals, counters and error counts, merges every
// histogram bucket by bucket (percentiles are recomputed from the merged histograms, never
// averaged), aligns the interval series on wall-clock seconds, computes rates over the
// union of the reports' windows, and keeps a per-report breakdown in Sources (a merged
// input contributes its own sources). Reports are named by their Origin.
//
// warnings say when the start times differ by more than maxStartSkew (a negative bound
// disables the check) and when two inputs look like the same run.
func Merge(reports []*Report, maxStartSkew time.Duration) (merged *Report, warnings []string, err error) {
	if len(reports) == 0 {
		return nil, nil, errors.New("merge: no reports")
	}
	names := make([]string, len(reports))
	for i, r := range reports {
		if r == nil {
			return nil, nil, fmt.Errorf("merge: report %d is nil", i+1)
		}
		names[i] = r.Origin
		if names[i] == "" {
			names[i] = fmt.Sprintf("report %d", i+1)
		}
		if r.Schema != ReportSchema || !ReadableSchemaVersion(r.SchemaVersion) {
			return nil, nil, fmt.Errorf("merge: %s: schema %q version %d, want %q version %d to %d", names[i], r.Schema, r.SchemaVersion, ReportSchema, OldestReportSchemaVersion, ReportSchemaVersion)
		}
	}

	m := &Report{
		Schema:        ReportSchema,
		SchemaVersion: ReportSchemaVersion,
		Counters:      make(map[string]int64),
		Phases:        []PhaseStats{},
		Errors:        []ErrorStats{},
		Intervals:     []Interval{},
	}
	phases := newPhaseMerger()
	errs := newErrorMerger()
	intervals := newIntervalMerger()
	samePlan := true
	var e2es []*E2E
	for i, r := range reports {
		start, end := r.Start, r.Start.Add(r.Elapsed())
		if i == 0 || start.Before(m.Start) {
			m.Start = start
		}
		if i == 0 || end.After(m.End) {
			m.End = end
		}
		m.Totals.add(r.Totals)
		for k, n := range r.Counters {
			m.Counters[k] += n
		}
		if err := phases.add(r.Phases); err != nil {
			return nil, nil, fmt.Errorf("merge: %s: %w", names[i], err)
		}
		for _, e := range r.Errors {
			errs.add(e)
		}
		if err := intervals.addAll(r.Intervals); err != nil {
			return nil, nil, fmt.Errorf("merge: %s: %w", names[i], err)
		}
		e2es = append(e2es, r.E2E)
		if len(r.Sources) > 0 {
			m.Sources = append(m.Sources, r.Sources...)
		} else {
			m.Sources = append(m.Sources, newSource(names[i], r))
		}
		if !bytes.Equal(compactJSON(r.Plan), compactJSON(reports[0].Plan)) {
			samePlan = false
		}
	}
	m.Start, m.End = m.Start.UTC(), m.End.UTC()
	m.ElapsedNs = int64(m.End.Sub(m.Start))
	if samePlan {
		m.Plan = reports[0].Plan
	}
	m.Phases = phases.result(true)
	m.Errors = errs.result()
	m.Intervals = append(m.Intervals, intervals.result()...)
	if m.E2E, err = mergeE2E(e2es); err != nil {
		return nil, nil, fmt.Errorf("merge: %w", err)
	}
	m.Window = mergeWindows(reports, m)
	m.Summary = newSummary(m)
	return m, mergeWarnings(reports, names, maxStartSkew), nil
}

// mergeWindows is the merged sending window: from the earliest start to the latest end
// of any input's sending window; the drain is what follows until the merged end.
func mergeWindows(reports []*Report, m *Report) *Window {
	var sendEnd time.Time
	var answered int64
	for _, r := range reports {
		w := r.window()
		if e := r.Start.Add(time.Duration(w.SendingNs)); e.After(sendEnd) {
			sendEnd = e
		}
		answered += w.Answered
	}
	return &Window{SendingNs: int64(sendEnd.Sub(m.Start)), DrainNs: int64(m.End.Sub(sendEnd)), Answered: answered}
}

// SameRun reports whether two documents are the same run: the same start, duration,
// totals and producer (a file given twice, or a copy of it).
func SameRun(a, b *Report) bool {
	if !a.Start.Equal(b.Start) || a.ElapsedNs != b.ElapsedNs || a.Totals != b.Totals {
		return false
	}
	ra, rb := a.Run, b.Run
	switch {
	case ra == nil || rb == nil:
		return ra == rb
	case ra.Worker != rb.Worker || ra.PlanFingerprint != rb.PlanFingerprint || ra.Host != rb.Host:
		return false
	}
	return true
}

func mergeWarnings(reports []*Report, names []string, maxStartSkew time.Duration) []string {
	var warnings []string
	first, last := 0, 0
	for i, r := range reports {
		if r.Start.Before(reports[first].Start) {
			first = i
		}
		if r.Start.After(reports[last].Start) {
			last = i
		}
	}
	if skew := reports[last].Start.Sub(reports[first].Start); maxStartSkew >= 0 && skew > maxStartSkew {
		warnings = append(warnings, fmt.Sprintf("start times differ by %v (%s started %s, %s started %s), more than %v: interval and rate figures mix different moments",
			skew, names[first], reports[first].Start.Format(time.RFC3339Nano), names[last], reports[last].Start.Format(time.RFC3339Nano), maxStartSkew))
	}
	for i := range reports {
		for j := i + 1; j < len(reports); j++ {
			a, b := reports[i], reports[j]
			if SameRun(a, b) {
				warnings = append(warnings, fmt.Sprintf("%s and %s look like the same run (same start, duration and totals): counted twice", names[i], names[j]))
			}
		}
	}
	return warnings
}

func newSource(name string, r *Report) Source {
	src := Source{Name: name, Start: r.Start, ElapsedNs: r.ElapsedNs, Plan: r.Plan, Run: r.Run, Totals: r.Totals, Summary: r.Summary}
	for _, ps := range r.Phases {
		ps.Histogram, ps.hist = "", nil
		src.Phases = append(src.Phases, ps)
	}
	return src
}

func (t *Totals) add(o Totals) {
	t.Planned += o.Planned
	t.Accepted += o.Accepted
	t.Rejected += o.Rejected
	t.Failed += o.Failed
	t.NotStarted += o.NotStarted
	t.Sessions += o.Sessions
}

func compactJSON(raw json.RawMessage) []byte {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}

// intervalMerger merges interval series on wall-clock seconds: an interval goes to the
// second its start falls in; counters and errors add up, histograms merge, and the
// merged interval reaches to the latest end among those merged into it.
type intervalMerger struct {
	bySecond map[int64]*intervalAcc
}

type intervalAcc struct {
	start    time.Time
	end      time.Time
	counters map[string]int64
	errors   int64
	keys     map[string]int64
	phases   *phaseMerger
}

func newIntervalMerger() *intervalMerger {
	return &intervalMerger{bySecond: make(map[int64]*intervalAcc)}
}

func (im *intervalMerger) addAll(ivs []Interval) error {
	for j := range ivs {
		if err := im.add(&ivs[j]); err != nil {
			return fmt.Errorf("interval %s: %w", ivs[j].Start.Format(time.RFC3339), err)
		}
	}
	return nil
}

func (im *intervalMerger) add(iv *Interval) error {
	sec := iv.Start.Unix()
	acc := im.bySecond[sec]
	if acc == nil {
		acc = &intervalAcc{start: time.Unix(sec, 0).UTC(), phases: newPhaseMerger()}
		acc.end = acc.start
		im.bySecond[sec] = acc
	}
	if e := iv.Start.Add(time.Duration(iv.DurationNs)); e.After(acc.end) {
		acc.end = e
	}
	for k, n := range iv.Counters {
		if acc.counters == nil {
			acc.counters = make(map[string]int64)
		}
		acc.counters[k] += n
	}
	acc.errors += iv.Errors
	for k, n := range iv.ErrorKeys {
		if acc.keys == nil {
			acc.keys = make(map[string]int64)
		}
		acc.keys[k] += n
	}
	return acc.phases.add(iv.Phases)
}

// result is the merged series in time order.
func (im *intervalMerger) result() []Interval {
	secs := make([]int64, 0, len(im.bySecond))
	for sec := range im.bySecond {
		secs = append(secs, sec)
	}
	sort.Slice(secs, func(i, j int) bool { return secs[i] < secs[j] })
	out := make([]Interval, 0, len(secs))
	for _, sec := range secs {
		acc := im.bySecond[sec]
		iv := Interval{Start: acc.start, DurationNs: int64(acc.end.Sub(acc.start)), Counters: acc.counters, Errors: acc.errors, ErrorKeys: acc.keys}
		if ps := acc.phases.result(false); len(ps) > 0 {
			iv.Phases = ps
		}
		out = append(out, iv)
	}
	return out
}

// phaseMerger merges phase statistics by name.
type phaseMerger struct {
	byName map[string]*phaseSnapshot
}

func newPhaseMerger() *phaseMerger {
	return &phaseMerger{byName: make(map[string]*phaseSnapshot)}
}

func (pm *phaseMerger) add(phases []PhaseStats) error {
	for i := range phases {
		ps, err := phases[i].phaseSnapshot()
		if err != nil {
			return err
		}
		name := phases[i].Phase
		dst := pm.byName[name]
		if dst == nil {
			pm.byName[name] = &phaseSnapshot{count: ps.count, sumNs: ps.sumNs, minNs: ps.minNs, maxNs: ps.maxNs, hist: ps.hist.Clone()}
			continue
		}
		if dropped := dst.merge(ps); dropped != 0 {
			return fmt.Errorf("phase %q: %d samples would not merge", name, dropped)
		}
	}
	return nil
}

// result is the merged statistics in phase order; keepDecoded keeps the merged
// histograms attached (for a report's totals) rather than only their encoding.
func (pm *phaseMerger) result(keepDecoded bool) []PhaseStats {
	out := make([]PhaseStats, 0, len(pm.byName))
	for name, ps := range pm.byName {
		st := newPhaseStats(name, ps, true)
		if !keepDecoded {
			st.hist = nil
		}
		out = append(out, st)
	}
	sortPhaseStats(out)
	return out
}

// errorMerger merges error counts by key, keeping the first distinct texts.
type errorMerger struct {
	byKey map[string]*errorStat
}

func newErrorMerger() *errorMerger { return &errorMerger{byKey: make(map[string]*errorStat)} }

func (em *errorMerger) add(e ErrorStats) {
	dst := em.byKey[e.Key]
	if dst == nil {
		dst = &errorStat{}
		em.byKey[e.Key] = dst
	}
	dst.count += e.Count
	for _, t := range e.Texts {
		dst.addText(t)
	}
}

func (em *errorMerger) result() []ErrorStats {
	counts := make([]ErrorCount, 0, len(em.byKey))
	for k, e := range em.byKey {
		counts = append(counts, ErrorCount{Key: k, Count: e.count, Texts: e.texts})
	}
	sortErrorCounts(counts)
	out := make([]ErrorStats, len(counts))
	for i, c := range counts {
		out[i] = ErrorStats{Key: c.Key, Count: c.Count, Texts: c.Texts}
	}
	return out
}

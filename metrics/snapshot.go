package metrics

import (
	"math"
	"sort"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Limits on what error bookkeeping keeps.
const (
	// MaxErrorTexts is how many distinct texts are kept per error key.
	MaxErrorTexts = 3
	// MaxErrorTextLen is the length (bytes) an error text is cut to.
	MaxErrorTextLen = 240
	// MaxErrorKeys bounds the distinct keys one recording interval keeps; further new keys
	// are counted under OverflowErrorKey.
	MaxErrorKeys = 1000
	// OverflowErrorKey counts errors whose key did not fit under MaxErrorKeys.
	OverflowErrorKey = "other:overflow"
)

// Snapshot is a set of measurements: per-phase histograms (µs) with exact count, sum,
// minimum and maximum (ns), the counters, and the errors by key. Snapshots merge exactly.
// The zero value is not usable; use NewSnapshot. A Snapshot is not safe for concurrent
// use.
type Snapshot struct {
	phases   [NumPhases]*phaseSnapshot // nil: no samples
	counters [NumCounters]int64
	errors   map[string]*errorStat
}

// phaseSnapshot is one phase's measurements.
type phaseSnapshot struct {
	count int64
	sumNs int64 // saturates at math.MaxInt64
	minNs int64
	maxNs int64
	hist  *hdr.PackedHistogram // microseconds
}

// errorStat counts one error key and keeps its first distinct texts.
type errorStat struct {
	count int64
	texts []string
}

// ErrorCount is one error key's total and its first distinct texts.
type ErrorCount struct {
	Key   string
	Count int64
	Texts []string
}

// NewSnapshot is an empty snapshot.
func NewSnapshot() *Snapshot {
	return &Snapshot{}
}

// Record adds one sample to the snapshot (the slow path; recorders use Recorder.Record).
func (s *Snapshot) Record(p Phase, nanos int64) {
	if p >= NumPhases {
		return
	}
	if nanos < 0 {
		nanos = 0
	}
	ps := s.phase(p)
	ps.add(nanos)
	_ = ps.hist.RecordValue(nanosToMicros(nanos))
}

// Add adds n to a counter.
func (s *Snapshot) Add(c Counter, n int64) {
	if c < NumCounters {
		s.counters[c] += n
	}
}

// Error counts one error under key and keeps text if it is one of the key's first
// distinct texts.
func (s *Snapshot) Error(key, text string) {
	s.errorN(key, 1, text)
}

func (s *Snapshot) errorN(key string, n int64, text string) {
	if s.errors == nil {
		s.errors = make(map[string]*errorStat)
	}
	e := s.errors[key]
	if e == nil {
		if len(s.errors) >= MaxErrorKeys {
			key = OverflowErrorKey
			e = s.errors[key]
		}
		if e == nil {
			e = &errorStat{}
			s.errors[key] = e
		}
	}
	e.count += n
	e.addText(text)
}

func (e *errorStat) addText(text string) {
	if text == "" || len(e.texts) >= MaxErrorTexts {
		return
	}
	text = cleanErrorText(text)
	for _, t := range e.texts {
		if t == text {
			return
		}
	}
	e.texts = append(e.texts, text)
}

// cleanErrorText trims line ends and cuts the text to MaxErrorTextLen bytes (on a rune
// boundary), copying it so that it does not pin a larger buffer.
func cleanErrorText(text string) string {
	for len(text) > 0 && (text[len(text)-1] == '\n' || text[len(text)-1] == '\r') {
		text = text[:len(text)-1]
	}
	if len(text) > MaxErrorTextLen {
		cut := MaxErrorTextLen
		for cut > 0 && text[cut]&0xC0 == 0x80 {
			cut--
		}
		text = text[:cut]
	}
	return string(append([]byte(nil), text...))
}

func (s *Snapshot) phase(p Phase) *phaseSnapshot {
	ps := s.phases[p]
	if ps == nil {
		ps = &phaseSnapshot{minNs: math.MaxInt64, hist: newHistogram()}
		s.phases[p] = ps
	}
	return ps
}

// add accounts one sample's exact statistics (not its histogram bucket).
func (ps *phaseSnapshot) add(nanos int64) {
	ps.count++
	ps.sumNs = addSaturating(ps.sumNs, nanos)
	if nanos < ps.minNs {
		ps.minNs = nanos
	}
	if nanos > ps.maxNs {
		ps.maxNs = nanos
	}
}

func addSaturating(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// merge adds o into ps exactly; dropped counts samples the histogram could not take (none
// between histograms of this package's geometry).
func (ps *phaseSnapshot) merge(o *phaseSnapshot) (dropped int64) {
	ps.count += o.count
	ps.sumNs = addSaturating(ps.sumNs, o.sumNs)
	if o.minNs < ps.minNs {
		ps.minNs = o.minNs
	}
	if o.maxNs > ps.maxNs {
		ps.maxNs = o.maxNs
	}
	return ps.hist.Merge(o.hist)
}

// Merge adds every measurement of o to s, exactly. o is not modified; a nil o is empty.
func (s *Snapshot) Merge(o *Snapshot) {
	if o == nil || o == s {
		return
	}
	for p, ops := range o.phases {
		if ops == nil || ops.count == 0 {
			continue
		}
		if s.phases[p] == nil {
			s.phases[p] = &phaseSnapshot{count: ops.count, sumNs: ops.sumNs, minNs: ops.minNs, maxNs: ops.maxNs, hist: ops.hist.Clone()}
			continue
		}
		s.phases[p].merge(ops)
	}
	for c, n := range o.counters {
		s.counters[c] += n
	}
	for key, e := range o.errors {
		s.errorN(key, e.count, "")
		dst := s.errors[key]
		if dst == nil { // went to the overflow key
			dst = s.errors[OverflowErrorKey]
		}
		for _, t := range e.texts {
			dst.addText(t)
		}
	}
}

// Count is the number of samples of phase p.
func (s *Snapshot) Count(p Phase) int64 {
	if p >= NumPhases || s.phases[p] == nil {
		return 0
	}
	return s.phases[p].count
}

// Min is the exact smallest sample of p (0 without samples).
func (s *Snapshot) Min(p Phase) time.Duration {
	if s.Count(p) == 0 {
		return 0
	}
	return time.Duration(s.phases[p].minNs)
}

// Max is the exact largest sample of p (0 without samples).
func (s *Snapshot) Max(p Phase) time.Duration {
	if s.Count(p) == 0 {
		return 0
	}
	return time.Duration(s.phases[p].maxNs)
}

// Mean is the exact mean of p's samples (0 without samples).
func (s *Snapshot) Mean(p Phase) time.Duration {
	if s.Count(p) == 0 {
		return 0
	}
	ps := s.phases[p]
	return time.Duration(ps.sumNs / ps.count)
}

// Sum is the exact sum of p's samples (saturating at the largest Duration).
func (s *Snapshot) Sum(p Phase) time.Duration {
	if s.Count(p) == 0 {
		return 0
	}
	return time.Duration(s.phases[p].sumNs)
}

// Quantile is the value below or at which the fraction q (0..1) of p's samples lie, with
// the histogram's precision (3 significant digits of µs), clamped to the exact minimum and
// maximum: Quantile(p, 0) is the minimum and Quantile(p, 1) the maximum.
func (s *Snapshot) Quantile(p Phase, q float64) time.Duration {
	if s.Count(p) == 0 {
		return 0
	}
	return time.Duration(s.phases[p].quantileNs(q))
}

func (ps *phaseSnapshot) quantileNs(q float64) int64 {
	if !(q > 0) { // also NaN
		return ps.minNs
	}
	if q >= 1 {
		return ps.maxNs
	}
	return clampQuantile(ps.hist.ValueAtPercentile(q*100), ps.minNs, ps.maxNs)
}

// clampQuantile turns a histogram value (µs, the top of its bucket) into nanoseconds
// within the exact [min, max].
func clampQuantile(us, minNs, maxNs int64) int64 {
	ns := us * 1000
	if us > math.MaxInt64/1000 {
		ns = math.MaxInt64
	}
	if ns < minNs {
		return minNs
	}
	if ns > maxNs {
		return maxNs
	}
	return ns
}

// Counter is the value of counter c.
func (s *Snapshot) Counter(c Counter) int64 {
	if c >= NumCounters {
		return 0
	}
	return s.counters[c]
}

// ErrorTotal is the number of errors of every key.
func (s *Snapshot) ErrorTotal() int64 {
	var n int64
	for _, e := range s.errors {
		n += e.count
	}
	return n
}

// Errors lists the error keys, most frequent first (then by key).
func (s *Snapshot) Errors() []ErrorCount {
	out := make([]ErrorCount, 0, len(s.errors))
	for k, e := range s.errors {
		out = append(out, ErrorCount{Key: k, Count: e.count, Texts: append([]string(nil), e.texts...)})
	}
	sortErrorCounts(out)
	return out
}

func sortErrorCounts(es []ErrorCount) {
	sort.Slice(es, func(i, j int) bool {
		if es[i].Count != es[j].Count {
			return es[i].Count > es[j].Count
		}
		return es[i].Key < es[j].Key
	})
}

// Phases lists the phases that have samples, in phase order.
func (s *Snapshot) Phases() []Phase {
	var out []Phase
	for p, ps := range s.phases {
		if ps != nil && ps.count > 0 {
			out = append(out, Phase(p))
		}
	}
	return out
}

// Clone is an independent copy of s.
func (s *Snapshot) Clone() *Snapshot {
	c := NewSnapshot()
	c.Merge(s)
	return c
}

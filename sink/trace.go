package sink

import (
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// DefaultTraceHeader is the header --trace looks for; go-smtp-source --trace writes it.
const DefaultTraceHeader = "X-GSS-Trace"

// Trace limits (Config.TraceMaxRuns, TraceMaxSeq, TraceMaxIntervals).
const (
	DefaultTraceMaxRuns      = 64
	DefaultTraceMaxSeq       = 1 << 32
	DefaultTraceMaxIntervals = 3600
	// MaxTraceSeqLimit bounds TraceMaxSeq: the highest number a metrics.SeqSet holds, which
	// is also the highest the source's e2e documents accept.
	MaxTraceSeqLimit = metrics.MaxSeq
	// maxTraceRunID is the longest run id accepted.
	maxTraceRunID = 64
	// maxListedDuplicates and maxListedMissing bound the sequence numbers a document lists.
	maxListedDuplicates = 16
	maxListedMissing    = 1000
)

// Errors of ParseTraceValue.
var (
	ErrTraceSyntax = errors.New("trace header: want <run-id> <seq> <send-time-unix-ns>")
	ErrTraceRunID  = errors.New("trace header: run id must be 1-64 of A-Z a-z 0-9 . _ -")
	ErrTraceSeq    = errors.New("trace header: sequence number out of range")
)

// TraceValue is a parsed trace header: "<run-id> <global-seq> <send-time-unix-ns>".
type TraceValue struct {
	Run    []byte // aliases the parsed value
	Seq    uint64 // 1-based, as go-smtp-source numbers its messages
	SentNs int64  // Unix nanoseconds when the message was sent
}

// ParseTraceValue parses a trace header's value (after the colon). Fields are separated by
// blanks; fields after the third are reserved and ignored. Seq must be 1..maxSeq.
func ParseTraceValue(v []byte, maxSeq uint64) (TraceValue, error) {
	var f [3][]byte
	for i := range f {
		start := 0
		for start < len(v) && isBlank(v[start]) {
			start++
		}
		end := start
		for end < len(v) && !isBlank(v[end]) {
			end++
		}
		if end == start {
			return TraceValue{}, ErrTraceSyntax
		}
		f[i], v = v[start:end], v[end:]
	}
	if !validRunID(f[0]) {
		return TraceValue{}, ErrTraceRunID
	}
	seq, ok := parseDecimal(f[1])
	if !ok {
		return TraceValue{}, ErrTraceSyntax
	}
	if seq == 0 || seq > maxSeq {
		return TraceValue{}, ErrTraceSeq
	}
	sent, ok := parseDecimal(f[2])
	if !ok || sent > 1<<63-1 {
		return TraceValue{}, ErrTraceSyntax
	}
	return TraceValue{Run: f[0], Seq: seq, SentNs: int64(sent)}, nil
}

func validRunID(b []byte) bool {
	if len(b) == 0 || len(b) > maxTraceRunID {
		return false
	}
	for _, c := range b {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// parseDecimal reads an unsigned decimal of at most 19 digits (no sign, no overflow).
func parseDecimal(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// tracer is --trace: what the accepted messages' trace headers say, per run id.
//
// Two locks keep the event loops' side short. mu is taken by every accepted message
// (record: a bit, a few counters, a histogram count) and by readers only to copy or hand
// over what the loops wrote. readMu is the readers' (the once-a-second roll, documents):
// it guards what they build from the samples — merged histograms, encoded intervals —
// which the loops never wait for.
type tracer struct {
	header       string // as configured
	lower        string // lower-case, for matching
	maxRuns      int
	maxSeq       uint64
	maxIntervals int
	clock        func() time.Time

	withoutHeader atomic.Int64 // accepted messages without the header

	mu            sync.Mutex
	runs          map[string]*traceRun
	malformed     int64 // headers that did not parse
	outOfRange    int64 // sequence numbers of 0 or above the limit
	runsOverLimit int64 // messages of run ids beyond maxRuns

	readMu sync.Mutex
}

func newTracer(cfg *Config, clock func() time.Time) *tracer {
	return &tracer{
		header:       cfg.TraceHeader,
		lower:        lowerASCII(cfg.TraceHeader),
		maxRuns:      cfg.TraceMaxRuns,
		maxSeq:       cfg.TraceMaxSeq,
		maxIntervals: cfg.TraceMaxIntervals,
		clock:        clock,
		runs:         make(map[string]*traceRun),
	}
}

// record accounts one accepted message whose trace header value is value (found false:
// it had none).
func (t *tracer) record(value []byte, found bool) {
	if !found {
		t.withoutHeader.Add(1)
		return
	}
	tv, err := ParseTraceValue(value, t.maxSeq)
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case errors.Is(err, ErrTraceSeq):
		t.outOfRange++
		return
	case err != nil:
		t.malformed++
		return
	}
	r := t.runs[string(tv.Run)]
	if r == nil {
		if len(t.runs) >= t.maxRuns {
			t.runsOverLimit++
			return
		}
		r = newTraceRun(string(tv.Run), t.maxIntervals)
		t.runs[r.id] = r
	}
	r.add(tv.Seq, tv.SentNs, t.clock())
}

// traceRun is one run id's deliveries.
type traceRun struct {
	id           string
	maxIntervals int

	// Written by the loops (under tracer.mu).
	seen          *metrics.SeqSet
	count         int64 // distinct sequence numbers
	duplicates    int64
	dupSeqs       []uint64
	lowest        uint64
	highest       uint64
	clockBehind   int64 // deliveries that arrived before their send time
	first, latest time.Time
	prom          promBuckets       // the samples in /metrics' histogram buckets
	rec           *metrics.Recorder // the samples since the last hand-over
	recSeen       int64             // first deliveries since then
	recDups       int64             // duplicates since then

	// Built by the readers (under tracer.readMu): the current second so far, and the
	// seconds before it.
	open      *metrics.Snapshot
	openSeen  int64
	openDups  int64
	total     *metrics.Snapshot
	intervals []metrics.Interval
	dropped   int64 // intervals dropped beyond maxIntervals
}

func newTraceRun(id string, maxIntervals int) *traceRun {
	return &traceRun{id: id, maxIntervals: maxIntervals, seen: metrics.NewSeqSet(), rec: metrics.NewRecorder(),
		open: metrics.NewSnapshot(), total: metrics.NewSnapshot()}
}

// deliveryPhase carries the delivery latency in the metrics package's recorders; the
// documents name it "delivery".
const deliveryPhase = metrics.Delivery

func (r *traceRun) add(seq uint64, sentNs int64, now time.Time) {
	if r.first.IsZero() {
		r.first = now
	}
	r.latest = now
	if !r.seen.Add(seq) { // a duplicate: ParseTraceValue kept seq within 1 … MaxSeq
		r.duplicates++
		r.recDups++
		if len(r.dupSeqs) < maxListedDuplicates {
			r.dupSeqs = append(r.dupSeqs, seq)
		}
		return
	}
	r.count++
	r.recSeen++
	if r.lowest == 0 || seq < r.lowest {
		r.lowest = seq
	}
	r.highest = max(r.highest, seq)
	latency := now.UnixNano() - sentNs
	if latency < 0 {
		r.clockBehind++ // recorded as 0
	}
	r.rec.Record(deliveryPhase, latency)
	r.prom.add(latency)
}

// handOver moves the samples and counts the loops recorded since the last hand-over to
// the readers' side (under tracer.mu and tracer.readMu: the swap drains a few hundred
// buckets at most, so the loops wait little).
func (r *traceRun) handOver() *metrics.Snapshot {
	snap := r.rec.Swap()
	r.openSeen += r.recSeen
	r.openDups += r.recDups
	r.recSeen, r.recDups = 0, 0
	return snap
}

// handOverAll is every run, each with the samples it hands over (under tracer.mu).
func (t *tracer) handOverAll() (runs []*traceRun, snaps []*metrics.Snapshot) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range t.runs {
		runs = append(runs, r)
		snaps = append(snaps, r.handOver())
	}
	return runs, snaps
}

// roll ends the second before end (under readMu): every run that had deliveries since
// the last roll gets an interval [end−1s, end). The server rolls once a second, just after
// each whole second, so a sample lands in the second it arrived in, to within the
// roll's few milliseconds of lateness.
func (t *tracer) roll(end time.Time) {
	t.readMu.Lock()
	defer t.readMu.Unlock()
	runs, snaps := t.handOverAll()
	for i, r := range runs {
		r.open.Merge(snaps[i])
		if r.openSeen == 0 && r.openDups == 0 {
			continue // no arrival in that second
		}
		iv := r.openInterval(end.Add(-time.Second), true)
		r.total.Merge(r.open)
		r.open, r.openSeen, r.openDups = metrics.NewSnapshot(), 0, 0
		if len(r.intervals) >= r.maxIntervals {
			n := copy(r.intervals, r.intervals[1:])
			r.intervals = r.intervals[:n]
			r.dropped++
		}
		r.intervals = append(r.intervals, iv)
	}
}

// rollEverySecond rolls just after each whole second until stop is called.
func (t *tracer) rollEverySecond() (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		timer := time.NewTimer(time.Hour)
		defer timer.Stop()
		for {
			now := t.clock()
			next := now.Truncate(time.Second).Add(time.Second)
			timer.Reset(next.Sub(now) + time.Millisecond)
			select {
			case <-done:
				return
			case <-timer.C:
				t.roll(next)
			}
		}
	}()
	return func() { close(done); <-finished }
}

// openInterval is the current second (from start) as an interval, with what has been
// handed over so far (under readMu), with its histogram's encoding or without.
func (r *traceRun) openInterval(start time.Time, withHistogram bool) metrics.Interval {
	iv := metrics.NewInterval(start, start.Add(time.Second), nil)
	switch {
	case withHistogram:
		iv = metrics.NewInterval(start, start.Add(time.Second), r.open)
	case r.open.Count(deliveryPhase) > 0:
		iv.Phases = []metrics.PhaseStats{deliveryStats(r.open, false)}
	}
	iv.Counters = map[string]int64{"delivered": r.openSeen, "duplicates": r.openDups}
	for i := range iv.Phases {
		iv.Phases[i].Phase = "delivery"
	}
	return iv
}

// counts sums the runs for the stats.
func (t *tracer) counts() TraceCounts {
	c := TraceCounts{Header: t.header, WithoutHeader: t.withoutHeader.Load()}
	t.mu.Lock()
	defer t.mu.Unlock()
	c.Runs, c.Malformed, c.OutOfRange, c.RunsOverLimit = int64(len(t.runs)), t.malformed, t.outOfRange, t.runsOverLimit
	for _, r := range t.runs {
		c.Seen += r.count
		c.Duplicates += r.duplicates
	}
	return c
}

// promBucketBounds are the upper bounds (seconds) of /metrics' delivery latency buckets.
var promBucketBounds = [...]float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
	1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}

// promBuckets counts samples per Prometheus bucket (not cumulative; the last slot is
// above every bound) with their exact sum, kept next to the HDR histogram so that a
// scrape copies counts instead of walking a histogram.
type promBuckets struct {
	counts [len(promBucketBounds) + 1]uint64
	sumNs  int64
}

func (p *promBuckets) add(ns int64) {
	ns = max(ns, 0)
	p.sumNs += ns
	sec := float64(ns) / 1e9
	i := sort.SearchFloat64s(promBucketBounds[:], sec) // the first bound ≥ sec
	p.counts[i]++
}

// TraceHistogram is one run's delivery latency in Prometheus' form.
type TraceHistogram struct {
	Run        string
	Seen       int64
	Duplicates int64
	Missing    int64
	Count      uint64
	SumSeconds float64
	Buckets    map[float64]uint64 // upper bound (s) → cumulative count
}

// histograms copies every run's counts for a scrape.
func (t *tracer) histograms() []TraceHistogram {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]TraceHistogram, 0, len(t.runs))
	for _, r := range t.runs {
		h := TraceHistogram{Run: r.id, Seen: r.count, Duplicates: r.duplicates, Missing: int64(r.highest) - r.count,
			SumSeconds: float64(r.prom.sumNs) / 1e9, Buckets: make(map[float64]uint64, len(promBucketBounds))}
		for i, b := range promBucketBounds {
			h.Count += r.prom.counts[i]
			h.Buckets[b] = h.Count
		}
		h.Count += r.prom.counts[len(promBucketBounds)]
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Run < out[j].Run })
	return out
}

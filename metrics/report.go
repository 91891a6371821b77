package metrics

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// The report document's identity. ReadReport accepts this schema at the versions from
// OldestReportSchemaVersion to ReportSchemaVersion (the one written); SCHEMA.md
// describes them. Version 2 embeds the run's plan (the plan package's JSON form) and
// says who ran it in "run"; version 1's plan was the command line's own object.
const (
	ReportSchema              = "go-smtp-source/report"
	ReportSchemaVersion       = 2
	OldestReportSchemaVersion = 1

	// MaxReportBytes bounds the size of a document ReadReport accepts.
	MaxReportBytes = 1 << 30
)

// Report is a run's result document (or the merge of several): what was planned, the
// exact accounting, counters, per-phase statistics with their histograms, errors, and a
// per-second interval series. Its JSON form is documented in SCHEMA.md.
type Report struct {
	Schema        string           `json:"schema"`
	SchemaVersion int              `json:"schema_version"`
	Plan          json.RawMessage  `json:"plan,omitempty"`
	Run           *RunInfo         `json:"run,omitempty"`
	Start         time.Time        `json:"start"`
	End           time.Time        `json:"end"`
	ElapsedNs     int64            `json:"elapsed_ns"`
	Totals        Totals           `json:"totals"`
	Summary       Summary          `json:"summary"`
	Counters      map[string]int64 `json:"counters"`
	Phases        []PhaseStats     `json:"phases"`
	Errors        []ErrorStats     `json:"errors"`
	Intervals     []Interval       `json:"intervals"`
	Sources       []Source         `json:"sources,omitempty"`

	// Window splits the run's time into sending and drain (absent in documents written
	// before it: the whole run was the window).
	Window *Window `json:"window,omitempty"`
	// Thresholds are the run's thresholds and their verdicts (a merge re-evaluates the
	// ones it is given over the merged figures).
	Thresholds []Verdict `json:"thresholds,omitempty"`
	// FindMax is a capacity search's steps and result (--find-max).
	FindMax *FindMaxReport `json:"find_max,omitempty"`
	// E2E is the end-to-end section (--trace): the messages accepted, and what the
	// sinks behind the MTA saw of them.
	E2E *E2E `json:"e2e,omitempty"`

	// Origin names the report in merges and their warnings (a file name); not in JSON.
	Origin string `json:"-"`
}

// Totals is the engine's exact accounting: Accepted+Rejected+Failed+NotStarted == Planned.
type Totals struct {
	Planned    int64 `json:"planned"`
	Accepted   int64 `json:"accepted"`
	Rejected   int64 `json:"rejected"`
	Failed     int64 `json:"failed"`
	NotStarted int64 `json:"not_started"`
	Sessions   int64 `json:"sessions"` // connections established
}

// Summary holds the figures derived from the totals and the duration; merges recompute it.
type Summary struct {
	Attempted        int64   `json:"attempted"`        // planned − not started
	RatePerSec       float64 `json:"rate_per_s"`       // attempted / duration
	ThroughputPerSec float64 `json:"throughput_per_s"` // accepted / duration
	SuccessRatio     float64 `json:"success_ratio"`    // accepted / attempted (0 when none)
	Errors           int64   `json:"errors"`           // all error keys' counts
	OfferedPerSec    float64 `json:"offered_per_s"`    // messages due (attempted + dropped) / sending window
	AchievedPerSec   float64 `json:"achieved_per_s"`   // messages answered within the sending window / sending window
}

// Window is how a run's time divides: the sending window, from the start until no
// message started or was answered any more (or the planned end, --duration), and the
// drain after it, while the last sessions finished, timed out or were cut off. Rates
// are per second of the sending window, not of a stuck tail.
type Window struct {
	SendingNs int64 `json:"sending_ns"`
	DrainNs   int64 `json:"drain_ns"`
	Answered  int64 `json:"answered"` // messages accepted or rejected within the sending window
}

// window is r's Window, or for a document without one the whole run.
func (r *Report) window() Window {
	if r.Window != nil {
		return *r.Window
	}
	return Window{SendingNs: r.ElapsedNs, Answered: r.Totals.Accepted + r.Totals.Rejected}
}

// PhaseStats is one phase's statistics: exact count, min, mean, max and sum (ns),
// percentiles from the histogram (ns, clamped to [min, max]) and, unless left out, the
// histogram itself: HdrHistogram V2 compressed encoding, base64, values in µs.
type PhaseStats struct {
	Phase     string `json:"phase"`
	Count     int64  `json:"count"`
	MinNs     int64  `json:"min_ns"`
	MeanNs    int64  `json:"mean_ns"`
	P50Ns     int64  `json:"p50_ns"`
	P90Ns     int64  `json:"p90_ns"`
	P99Ns     int64  `json:"p99_ns"`
	P999Ns    int64  `json:"p999_ns"`
	MaxNs     int64  `json:"max_ns"`
	SumNs     int64  `json:"sum_ns"`
	Histogram string `json:"histogram,omitempty"`

	hist *hdr.PackedHistogram // decoded Histogram (ReadReport) or the source (NewReport)
}

// ErrorStats is one error key's count and first distinct texts.
type ErrorStats struct {
	Key   string   `json:"key"`
	Count int64    `json:"count"`
	Texts []string `json:"texts,omitempty"`
}

// Interval is one second of wall clock: its counters (non-zero ones), error count and the
// statistics and histograms of the interval phases (see IsIntervalPhase), so that
// intervals of several reports merge exactly.
type Interval struct {
	Start      time.Time        `json:"start"`
	DurationNs int64            `json:"duration_ns"`
	Counters   map[string]int64 `json:"counters,omitempty"`
	Errors     int64            `json:"errors"`
	ErrorKeys  map[string]int64 `json:"error_keys,omitempty"` // Errors by key, for a series per key
	Phases     []PhaseStats     `json:"phases,omitempty"`
}

// Source is one input of a merged report: its identity, accounting and per-phase
// statistics (without histograms).
type Source struct {
	Name      string          `json:"name"`
	Start     time.Time       `json:"start"`
	ElapsedNs int64           `json:"elapsed_ns"`
	Plan      json.RawMessage `json:"plan,omitempty"`
	Run       *RunInfo        `json:"run,omitempty"`
	Totals    Totals          `json:"totals"`
	Summary   Summary         `json:"summary"`
	Phases    []PhaseStats    `json:"phases,omitempty"`
}

// IntervalSample is one interval's measurements as the engine collects them: the merge of
// every recorder's Swap at the end of the interval. End may be zero: NewReport then takes
// the next interval's start (or the run's end for the last one).
type IntervalSample struct {
	Start time.Time
	End   time.Time
	Snap  *Snapshot
}

// IsIntervalPhase reports whether the interval series carries phase p: connect, eod, txn,
// the open model's schedule_lag, latency and service_time, and a sink's delivery. (Every
// phase in every interval would make a long run's report large.)
func IsIntervalPhase(p Phase) bool {
	switch p {
	case Connect, EOD, Txn, ScheduleLag, Latency, ServiceTime, Delivery:
		return true
	}
	return false
}

// Elapsed is the report's duration.
func (r *Report) Elapsed() time.Duration { return time.Duration(r.ElapsedNs) }

// NewReport builds the result document of a run. plan is encoded as JSON as it is (an
// unencodable plan is replaced by a string saying why); start is the run's wall-clock
// start, elapsed its duration; total holds everything recorded; intervals the per-second
// series in order (a nil Snap counts as empty).
func NewReport(plan any, start time.Time, elapsed time.Duration, totals Totals, total *Snapshot, intervals []IntervalSample) *Report {
	if total == nil {
		total = NewSnapshot()
	}
	start = start.Round(0).UTC()
	r := &Report{
		Schema:        ReportSchema,
		SchemaVersion: ReportSchemaVersion,
		Plan:          encodePlan(plan),
		Start:         start,
		End:           start.Add(elapsed),
		ElapsedNs:     int64(elapsed),
		Totals:        totals,
		Counters:      make(map[string]int64, NumCounters),
		Phases:        []PhaseStats{},
		Errors:        []ErrorStats{},
		Intervals:     make([]Interval, 0, len(intervals)),
	}
	for c := Counter(0); c < NumCounters; c++ {
		// 26 cipher suite counters, nearly all zero in any run, would bury the others.
		if n := total.Counter(c); n != 0 || !IsTLSCipherCounter(c) {
			r.Counters[c.String()] = n
		}
	}
	for _, p := range total.Phases() {
		r.Phases = append(r.Phases, newPhaseStats(p.String(), total.phases[p], true))
	}
	for _, e := range total.Errors() {
		r.Errors = append(r.Errors, ErrorStats{Key: e.Key, Count: e.Count, Texts: e.Texts})
	}
	for i, iv := range intervals {
		end := iv.End
		if end.IsZero() {
			if i+1 < len(intervals) {
				end = intervals[i+1].Start
			} else {
				end = r.End
			}
		}
		r.Intervals = append(r.Intervals, NewInterval(iv.Start, end, iv.Snap))
	}
	r.Summary = newSummary(r)
	return r
}

// NewInterval is the report form of one interval's snapshot (a nil s is empty). An engine
// that runs for hours can build its intervals with NewInterval as they end, keep only
// those (a few KB each, rather than a Snapshot), and set Report.Intervals.
func NewInterval(start, end time.Time, s *Snapshot) Interval {
	start = start.Round(0).UTC()
	iv := Interval{Start: start, DurationNs: int64(end.Sub(start))}
	if iv.DurationNs < 0 {
		iv.DurationNs = 0
	}
	if s == nil {
		return iv
	}
	for c := Counter(0); c < NumCounters; c++ {
		if n := s.Counter(c); n != 0 {
			if iv.Counters == nil {
				iv.Counters = make(map[string]int64)
			}
			iv.Counters[c.String()] = n
		}
	}
	iv.Errors = s.ErrorTotal()
	for k, e := range s.errors {
		if iv.ErrorKeys == nil {
			iv.ErrorKeys = make(map[string]int64, len(s.errors))
		}
		iv.ErrorKeys[k] += e.count
	}
	for _, p := range s.Phases() {
		if IsIntervalPhase(p) {
			ps := newPhaseStats(p.String(), s.phases[p], true)
			ps.hist = nil // keep an interval small: only its encoding
			iv.Phases = append(iv.Phases, ps)
		}
	}
	return iv
}

func encodePlan(plan any) json.RawMessage {
	if plan == nil {
		return nil
	}
	if raw, ok := plan.(json.RawMessage); ok {
		if json.Valid(raw) {
			return raw
		}
		plan = string(raw)
	}
	b, err := json.Marshal(plan)
	if err != nil {
		b, _ = json.Marshal(fmt.Sprintf("unencodable plan (%T): %v", plan, err))
	}
	return b
}

// newPhaseStats computes the statistics of ps; withHistogram adds its encoding.
func newPhaseStats(name string, ps *phaseSnapshot, withHistogram bool) PhaseStats {
	st := PhaseStats{
		Phase: name,
		Count: ps.count,
		MinNs: ps.minNs,
		MaxNs: ps.maxNs,
		SumNs: ps.sumNs,
	}
	if ps.count == 0 {
		st.MinNs = 0
		return st
	}
	st.MeanNs = ps.sumNs / ps.count
	st.P50Ns = ps.quantileNs(0.50)
	st.P90Ns = ps.quantileNs(0.90)
	st.P99Ns = ps.quantileNs(0.99)
	st.P999Ns = ps.quantileNs(0.999)
	if withHistogram {
		enc, err := ps.hist.Encode()
		if err == nil { // PackedHistogram.Encode does not fail
			st.Histogram = string(enc)
		}
		st.hist = ps.hist
	}
	return st
}

// newSummary computes the figures derived from r's totals, errors, counters, duration
// and window.
func newSummary(r *Report) Summary {
	t := r.Totals
	s := Summary{Attempted: t.Planned - t.NotStarted}
	for _, e := range r.Errors {
		s.Errors += e.Count
	}
	if r.ElapsedNs > 0 {
		secs := float64(r.ElapsedNs) / 1e9
		s.RatePerSec = float64(s.Attempted) / secs
		s.ThroughputPerSec = float64(t.Accepted) / secs
	}
	if w := r.window(); w.SendingNs > 0 {
		secs := float64(w.SendingNs) / 1e9
		s.OfferedPerSec = float64(s.Attempted+r.Counters[Dropped.String()]) / secs
		s.AchievedPerSec = float64(w.Answered) / secs
	}
	if s.Attempted > 0 {
		s.SuccessRatio = float64(t.Accepted) / float64(s.Attempted)
	}
	return s
}

// WriteJSON writes the report as one indented JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // SMTP texts are full of <addresses>
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// ReadReport reads one report document and checks it: the schema and version, and every
// histogram (decodable, of this package's geometry, holding as many samples as its count).
func ReadReport(rd io.Reader) (*Report, error) {
	data, err := io.ReadAll(io.LimitReader(rd, MaxReportBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	if len(data) > MaxReportBytes {
		return nil, fmt.Errorf("report: larger than %d MiB", MaxReportBytes>>20)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("not a go-smtp-source report: empty input")
	}
	var head struct {
		Schema        json.RawMessage `json:"schema"`
		SchemaVersion json.RawMessage `json:"schema_version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("not a go-smtp-source report: %s", describeJSONError(data, err))
	}
	var schema string
	if head.Schema == nil || json.Unmarshal(head.Schema, &schema) != nil || schema != ReportSchema {
		return nil, fmt.Errorf("not a go-smtp-source report: schema is %s, want %q", orMissing(head.Schema), ReportSchema)
	}
	var version int
	if head.SchemaVersion == nil || json.Unmarshal(head.SchemaVersion, &version) != nil {
		return nil, fmt.Errorf("report: schema_version is %s, want %d", orMissing(head.SchemaVersion), ReportSchemaVersion)
	}
	if !ReadableSchemaVersion(version) {
		return nil, fmt.Errorf("report: unsupported schema version %d (this program reads versions %d to %d)", version, OldestReportSchemaVersion, ReportSchemaVersion)
	}
	r := &Report{}
	if err := json.Unmarshal(data, r); err != nil {
		return nil, fmt.Errorf("report: %s", describeJSONError(data, err))
	}
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	return r, nil
}

// ReadableSchemaVersion reports whether this program reads (and merges) documents of
// schema version v.
func ReadableSchemaVersion(v int) bool {
	return v >= OldestReportSchemaVersion && v <= ReportSchemaVersion
}

func orMissing(raw json.RawMessage) string {
	if raw == nil {
		return "missing"
	}
	const max = 40
	if len(raw) > max {
		return string(raw[:max]) + "…"
	}
	return string(raw)
}

// describeJSONError says what is wrong with data and where (line:column).
func describeJSONError(data []byte, err error) string {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax) && strings.Contains(syntax.Error(), "unexpected end"):
		line, col := lineCol(data, syntax.Offset)
		return fmt.Sprintf("truncated JSON: the input ends at line %d, column %d in the middle of the document", line, col)
	case errors.As(err, &syntax):
		line, col := lineCol(data, syntax.Offset)
		return fmt.Sprintf("invalid JSON at line %d, column %d: %v", line, col, err)
	case errors.As(err, &typeErr) && typeErr.Field == "":
		return fmt.Sprintf("the document is a JSON %s, not an object", typeErr.Value)
	case errors.As(err, &typeErr):
		line, col := lineCol(data, typeErr.Offset)
		return fmt.Sprintf("field %q at line %d, column %d: a JSON %s where %s belongs", typeErr.Field, line, col, typeErr.Value, typeErr.Type)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated JSON (unexpected end of input)"
	}
	return err.Error()
}

func lineCol(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - (bytes.LastIndexByte(before, '\n') + 1)
	return line, col
}

// validate checks what JSON decoding cannot, and decodes the histograms once.
func (r *Report) validate() error {
	if r.ElapsedNs < 0 {
		return fmt.Errorf("elapsed_ns is negative (%d)", r.ElapsedNs)
	}
	if err := validatePhases("phases", r.Phases, true); err != nil {
		return err
	}
	for i := range r.Intervals {
		if err := validatePhases(fmt.Sprintf("intervals[%d].phases", i), r.Intervals[i].Phases, true); err != nil {
			return err
		}
	}
	for i := range r.Sources {
		if err := validatePhases(fmt.Sprintf("sources[%d].phases", i), r.Sources[i].Phases, false); err != nil {
			return err
		}
	}
	return r.E2E.validate()
}

func validatePhases(where string, phases []PhaseStats, needHistogram bool) error {
	seen := make(map[string]bool, len(phases))
	for i := range phases {
		ps := &phases[i]
		if ps.Phase == "" {
			return fmt.Errorf("%s[%d]: phase name is empty", where, i)
		}
		if seen[ps.Phase] {
			return fmt.Errorf("%s: phase %q appears twice", where, ps.Phase)
		}
		seen[ps.Phase] = true
		if ps.Count < 0 || ps.SumNs < 0 || ps.MinNs < 0 || (ps.Count > 0 && ps.MinNs > ps.MaxNs) {
			return fmt.Errorf("%s: phase %q: impossible statistics (count %d, min %d, max %d, sum %d)", where, ps.Phase, ps.Count, ps.MinNs, ps.MaxNs, ps.SumNs)
		}
		if !needHistogram {
			continue
		}
		if ps.Histogram == "" {
			if ps.Count > 0 {
				return fmt.Errorf("%s: phase %q: %d samples but no histogram", where, ps.Phase, ps.Count)
			}
			continue
		}
		h, err := decodeHistogram(ps.Histogram)
		if err != nil {
			return fmt.Errorf("%s: phase %q: %w", where, ps.Phase, err)
		}
		if h.TotalCount() != ps.Count {
			return fmt.Errorf("%s: phase %q: histogram holds %d samples, count says %d", where, ps.Phase, h.TotalCount(), ps.Count)
		}
		ps.hist = h
	}
	return nil
}

// decodeHistogram decodes one base64 V2 compressed histogram of this package's geometry.
func decodeHistogram(enc string) (h *hdr.PackedHistogram, err error) {
	defer func() { // the decoder is hardened; this is a second line against a panic
		if p := recover(); p != nil {
			h, err = nil, fmt.Errorf("histogram: corrupt encoding (%v)", p)
		}
	}()
	if err := checkEncodedGeometry(enc); err != nil {
		return nil, fmt.Errorf("histogram: %w", err)
	}
	h, err = hdr.DecodePacked([]byte(enc))
	if err != nil {
		return nil, fmt.Errorf("histogram: %w", err)
	}
	if !sameGeometry(h) {
		return nil, fmt.Errorf("histogram: geometry %d…%d µs at %d digits, want %d…%d at %d",
			h.LowestTrackableValue(), h.HighestTrackableValue(), h.SignificantFigures(),
			HistogramLowestUS, HistogramHighestUS, HistogramSigFigs)
	}
	if h.TotalCount() == math.MaxInt64 {
		return nil, errors.New("histogram: sample count overflows")
	}
	return h, nil
}

// checkEncodedGeometry reads the geometry from an encoded histogram's header and rejects
// any other than the package's before the payload is decoded (a hostile header could ask
// for a very large one).
func checkEncodedGeometry(enc string) error {
	// Only the 40-byte inner header is inflated; the payload is left to DecodePacked.
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return err
	}
	if len(raw) < 8 {
		return fmt.Errorf("encoding too short (%d bytes)", len(raw))
	}
	if cookie := int32(binary.BigEndian.Uint32(raw[0:4])) &^ 0xf0; cookie != hdr.V2CompressedEncodingCookieBase {
		return fmt.Errorf("not a V2 compressed histogram (cookie %#x)", uint32(cookie))
	}
	z, err := zlib.NewReader(bytes.NewReader(raw[8:]))
	if err != nil {
		return err
	}
	defer z.Close()
	var header [hdr.ENCODING_HEADER_SIZE]byte
	if _, err := io.ReadFull(z, header[:]); err != nil {
		return fmt.Errorf("truncated header: %w", err)
	}
	sig := int32(binary.BigEndian.Uint32(header[12:16]))
	lowest := int64(binary.BigEndian.Uint64(header[16:24]))
	highest := int64(binary.BigEndian.Uint64(header[24:32]))
	if lowest != HistogramLowestUS || highest != HistogramHighestUS || sig != HistogramSigFigs {
		return fmt.Errorf("geometry %d…%d µs at %d digits, want %d…%d at %d", lowest, highest, sig, HistogramLowestUS, HistogramHighestUS, HistogramSigFigs)
	}
	return nil
}

// phaseSnapshot turns statistics back into mergeable form (the histogram is shared, not
// copied: callers clone before modifying).
func (ps *PhaseStats) phaseSnapshot() (*phaseSnapshot, error) {
	h := ps.hist
	if h == nil {
		if ps.Histogram == "" {
			if ps.Count > 0 {
				return nil, fmt.Errorf("phase %q: %d samples but no histogram", ps.Phase, ps.Count)
			}
			h = newHistogram()
		} else {
			var err error
			if h, err = decodeHistogram(ps.Histogram); err != nil {
				return nil, fmt.Errorf("phase %q: %w", ps.Phase, err)
			}
		}
		ps.hist = h
	}
	minNs := ps.MinNs
	if ps.Count == 0 {
		minNs = math.MaxInt64
	}
	return &phaseSnapshot{count: ps.Count, sumNs: ps.SumNs, minNs: minNs, maxNs: ps.MaxNs, hist: h}, nil
}

// Snapshot is the report's totals as a Snapshot (for queries such as thresholds). Phases
// and counters this program does not know are left out.
func (r *Report) Snapshot() (*Snapshot, error) {
	s := NewSnapshot()
	for name, n := range r.Counters {
		if c, ok := CounterByName(name); ok {
			s.counters[c] = n
		}
	}
	for i := range r.Phases {
		p, ok := PhaseByName(r.Phases[i].Phase)
		if !ok || r.Phases[i].Count == 0 {
			continue
		}
		ps, err := r.Phases[i].phaseSnapshot()
		if err != nil {
			return nil, err
		}
		s.phases[p] = &phaseSnapshot{count: ps.count, sumNs: ps.sumNs, minNs: ps.minNs, maxNs: ps.maxNs, hist: ps.hist.Clone()}
	}
	for _, e := range r.Errors {
		s.errorN(e.Key, e.Count, "")
		for _, t := range e.Texts {
			if dst := s.errors[e.Key]; dst != nil {
				dst.addText(t)
			}
		}
	}
	return s, nil
}

// sortPhaseStats orders phases as Phase does, unknown names last by name.
func sortPhaseStats(ps []PhaseStats) {
	rank := func(name string) int {
		if p, ok := PhaseByName(name); ok {
			return int(p)
		}
		return int(NumPhases)
	}
	sort.SliceStable(ps, func(i, j int) bool {
		ri, rj := rank(ps[i].Phase), rank(ps[j].Phase)
		if ri != rj {
			return ri < rj
		}
		return ps[i].Phase < ps[j].Phase
	})
}

// Figures is the document's figures, for thresholds.
func (r *Report) Figures() (Figures, error) {
	snap, err := r.Snapshot()
	if err != nil {
		return Figures{}, err
	}
	w := r.window()
	f := Figures{Totals: r.Totals, Snap: snap, Window: time.Duration(w.SendingNs), Answered: w.Answered}
	e2e, ok, err := r.E2E.Figures()
	if err != nil {
		return Figures{}, err
	}
	if ok {
		f.E2E = &e2e
		if e2e.Delivery != nil {
			snap.phases[Delivery] = e2e.Delivery
		}
	}
	return f, nil
}

// CheckThresholds evaluates thresholds over the document's figures and records the
// verdicts in it (replacing any it had).
func (r *Report) CheckThresholds(ts []Threshold) ([]Verdict, error) {
	f, err := r.Figures()
	if err != nil {
		return nil, err
	}
	r.Thresholds = CheckThresholds(ts, f)
	return r.Thresholds, nil
}

// Phase is the statistics of the named phase, if it has any.
func (r *Report) Phase(name string) (PhaseStats, bool) {
	for _, ps := range r.Phases {
		if ps.Phase == name {
			return ps, true
		}
	}
	return PhaseStats{}, false
}

package metrics

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Figures is what thresholds are evaluated over: a finished run's document (see
// Report.Figures), a merge of several, or a run still going (the engine's running
// totals, for --threshold-abort).
type Figures struct {
	Totals Totals
	Snap   *Snapshot // phases, counters and errors
	// Window is the sending window (a running run: its time so far); rates are per
	// second of it. Answered is the messages accepted or rejected within it.
	Window   time.Duration
	Answered int64
	// E2E is the end-to-end counts, when a sink was asked about the run (its delivery
	// latency is Snap's phase Delivery); nil otherwise.
	E2E *E2EFigures
}

// Errors is the messages the server rejected or that failed, without those the run's
// end cut off: the "errors" of thresholds and of the error budget.
func (f Figures) Errors() int64 {
	return f.Totals.Rejected + f.Totals.Failed - f.counter(MessagesCutOff)
}

func (f Figures) counter(c Counter) int64 {
	if f.Snap == nil {
		return 0
	}
	return f.Snap.Counter(c)
}

// Verdict is a threshold's outcome, as result documents record it.
type Verdict struct {
	Threshold string `json:"threshold"` // canonical form
	// Observed is the figure compared: ns for a time, messages/s for a rate, a count, or
	// a percentage for a P% threshold. 0 with NoData.
	Observed float64 `json:"observed"`
	Text     string  `json:"observed_text"` // the figure as the text report shows it
	Pass     bool    `json:"pass"`
	NoData   bool    `json:"no_data,omitempty"` // nothing to measure (no samples): a failure
}

// Observe is the figure the threshold compares; errNoData when there is none (a phase
// without samples, a rate without a window, a share of no messages).
func (t Threshold) Observe(f Figures) (float64, error) {
	m := t.Metric
	var v float64
	switch m.Kind {
	case KindPhase:
		return observePhase(m, f.Snap)
	case KindTotal:
		v = float64(f.total(m.Name))
	case KindCounter:
		c, _ := CounterByName(m.Name)
		v = float64(f.counter(c))
	case KindRate:
		return f.rate(m.Name)
	case KindErrors:
		v = float64(matchingErrors(f.Snap, m.Pattern))
	case KindDelivery:
		return t.observeDelivery(f.E2E)
	default:
		return 0, fmt.Errorf("threshold %s: metric kind %d", t, m.Kind)
	}
	if !t.Percent {
		return v, nil
	}
	attempted := f.Totals.Planned - f.Totals.NotStarted
	if attempted <= 0 {
		return 0, errNoData
	}
	return 100 * v / float64(attempted), nil
}

// observeDelivery is an end-to-end count, or its share of the messages the MTA
// accepted; no data when no sink was asked.
func (t Threshold) observeDelivery(e *E2EFigures) (float64, error) {
	if e == nil {
		return 0, errNoData
	}
	var v int64
	switch t.Metric.Name {
	case "delivered":
		v = e.Delivered
	case "delivered_late":
		v = e.DeliveredLate
	case "lost":
		v = e.Lost
	case "duplicates":
		v = e.Duplicates
	case "unexpected":
		v = e.Unexpected
	}
	if !t.Percent {
		return float64(v), nil
	}
	if e.Accepted <= 0 {
		return 0, errNoData
	}
	return 100 * float64(v) / float64(e.Accepted), nil
}

func observePhase(m Metric, s *Snapshot) (float64, error) {
	if s == nil {
		s = NewSnapshot()
	}
	if m.Agg == AggCount {
		return float64(s.Count(m.Phase)), nil
	}
	if s.Count(m.Phase) == 0 {
		return 0, errNoData
	}
	var d time.Duration
	switch m.Agg {
	case AggMin:
		d = s.Min(m.Phase)
	case AggMax:
		d = s.Max(m.Phase)
	case AggMean:
		d = s.Mean(m.Phase)
	default:
		d = s.Quantile(m.Phase, m.Pct/100)
	}
	return float64(d), nil
}

func (f Figures) total(name string) int64 {
	t := f.Totals
	switch name {
	case "planned":
		return t.Planned
	case "accepted":
		return t.Accepted
	case "rejected":
		return t.Rejected
	case "failed":
		return t.Failed
	case "not_started":
		return t.NotStarted
	case "attempted":
		return t.Planned - t.NotStarted
	case "sessions":
		return t.Sessions
	case "errors":
		return f.Errors()
	case "cut_off":
		return f.counter(MessagesCutOff)
	}
	return 0
}

// rate is a rate over the sending window: rate, the messages answered (accepted or
// rejected) per second of it; offered, those due (started, or dropped for want of a
// session); throughput, the accepted ones.
func (f Figures) rate(name string) (float64, error) {
	secs := f.Window.Seconds()
	if secs <= 0 {
		return 0, errNoData
	}
	switch name {
	case "offered":
		return float64(f.Totals.Planned-f.Totals.NotStarted+f.counter(Dropped)) / secs, nil
	case "throughput":
		return float64(f.Totals.Accepted) / secs, nil
	}
	return float64(f.Answered) / secs, nil
}

// matchingErrors counts the errors whose key begins with the pattern's fields ("*"
// matches any one field).
func matchingErrors(s *Snapshot, pattern []string) int64 {
	if s == nil {
		return 0
	}
	var n int64
	for key, e := range s.errors {
		if keyMatches(key, pattern) {
			n += e.count
		}
	}
	return n
}

func keyMatches(key string, pattern []string) bool {
	fields := strings.Split(key, ":")
	if len(fields) < len(pattern) {
		return false
	}
	for i, p := range pattern {
		if p != "*" && !strings.EqualFold(p, fields[i]) {
			return false
		}
	}
	return true
}

// Check evaluates the threshold: no data is a failure.
func (t Threshold) Check(f Figures) Verdict {
	v := Verdict{Threshold: t.String()}
	obs, err := t.Observe(f)
	if err != nil {
		v.NoData, v.Text = true, "no data"
		return v
	}
	v.Observed, v.Text, v.Pass = obs, t.format(obs), t.Op.holds(obs, t.Value)
	return v
}

// CheckThresholds evaluates every threshold.
func CheckThresholds(ts []Threshold, f Figures) []Verdict {
	out := make([]Verdict, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.Check(f))
	}
	return out
}

// Breached is the verdicts that failed.
func Breached(vs []Verdict) []Verdict {
	var out []Verdict
	for _, v := range vs {
		if !v.Pass {
			out = append(out, v)
		}
	}
	return out
}

// DescribeBreaches is one line naming each breached threshold and what was observed:
// "eod.p99<500ms (observed 1.2s), errors<1% (observed 3.4%)".
func DescribeBreaches(vs []Verdict) string {
	parts := make([]string, 0, len(vs))
	for _, v := range vs {
		parts = append(parts, v.Threshold+" (observed "+v.Text+")")
	}
	return strings.Join(parts, ", ")
}

func (t Threshold) format(v float64) string {
	switch {
	case t.Metric.kindOfValue() == valueDuration:
		return FormatDuration(time.Duration(v))
	case t.Percent:
		return strconv.FormatFloat(v, 'g', 4, 64) + "%"
	case t.Metric.Kind == KindRate:
		return strconv.FormatFloat(v, 'f', 1, 64) + "/s"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// direction is how a figure can move while a run goes on.
type direction int8

const (
	moves   direction = iota // percentiles, ratios, rates: either way
	grows                    // counts: never down
	shrinks                  // not_started: never up
	fixed                    // planned
)

func (t Threshold) direction() direction {
	if t.Percent {
		return moves
	}
	switch t.Metric.Kind {
	case KindTotal:
		switch t.Metric.Name {
		case "planned":
			return fixed
		case "not_started":
			return shrinks
		}
		return grows
	case KindCounter, KindErrors:
		return grows
	case KindPhase:
		if t.Metric.Agg == AggCount {
			return grows
		}
	}
	return moves
}

// Lost reports, for a run still going, that the threshold is failing now in a way
// --threshold-abort acts on: a count that can only grow has passed an upper limit (it
// can never come back), and any figure that can move either way (a percentile, a rate,
// a share) is failing now, as k6's abortOnFail judges. A count that can still grow to
// a lower limit ("accepted>=100000") is never lost early.
func (t Threshold) Lost(f Figures) bool {
	v := t.Check(f)
	if v.Pass || v.NoData {
		return false
	}
	switch t.direction() {
	case grows:
		return t.Op == OpLess || t.Op == OpLessEq || t.Op == OpEqual && v.Observed > t.Value
	case shrinks:
		return t.Op == OpGreater || t.Op == OpGreaterEq || t.Op == OpEqual && v.Observed < t.Value
	}
	return true
}

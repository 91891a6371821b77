package report

import (
	"fmt"

	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// DefaultTolerance is the change a comparison lets pass before it names it: 10%.
const DefaultTolerance = 0.10

// Finding is one difference between a run and the baseline (the first run) that is
// larger than the tolerance: a regression (worse) or an improvement (better).
type Finding struct {
	Run        string  // the run compared with the baseline
	Metric     string  // what was compared: "eod p99", "achieved rate", "errors", …
	Base       float64 // the baseline's figure (ns for a time, messages/s for a rate, a count or a share)
	Value      float64 // the run's figure
	Text       string  // the finding in words: "eod p99 20.1ms → 31.7ms (+57.7%)"
	Regression bool
}

// comparedPercentiles are the percentiles a comparison checks for each phase.
var comparedPercentiles = []struct {
	name string
	of   func(metrics.PhaseStats) int64
}{
	{"p50", func(ps metrics.PhaseStats) int64 { return ps.P50Ns }},
	{"p99", func(ps metrics.PhaseStats) int64 { return ps.P99Ns }},
}

// Compare names what got worse (or better) by more than tolerance (a fraction: 0.10 is
// 10%) from base to other: each phase's p50 and p99, the achieved rate, the share of
// messages that failed or were rejected, of those dropped, the errors, the thresholds
// that passed and now fail, and end to end the messages lost and the delivery p99.
func Compare(base, other Run, tolerance float64) []Finding {
	c := comparison{run: other.Name, tol: tolerance}
	b, o := base.Report, other.Report
	for _, bp := range b.Phases {
		op, ok := o.Phase(bp.Phase)
		if !ok || bp.Count == 0 || op.Count == 0 {
			continue
		}
		for _, pc := range comparedPercentiles {
			c.higherIsWorse(bp.Phase+" "+pc.name, float64(pc.of(bp)), float64(pc.of(op)), formatNs)
		}
	}
	c.lowerIsWorse("achieved rate", b.Summary.AchievedPerSec, o.Summary.AchievedPerSec, formatRate)
	c.shareWorse("errors", b.Summary.Errors, b.Summary.Attempted, o.Summary.Errors, o.Summary.Attempted)
	c.shareWorse("messages not accepted", b.Totals.Rejected+b.Totals.Failed, b.Summary.Attempted,
		o.Totals.Rejected+o.Totals.Failed, o.Summary.Attempted)
	c.shareWorse("dropped", b.Counters["dropped"], b.Summary.Attempted+b.Counters["dropped"],
		o.Counters["dropped"], o.Summary.Attempted+o.Counters["dropped"])
	c.thresholds(b.Thresholds, o.Thresholds)
	c.delivery(b.E2E, o.E2E)
	return c.found
}

type comparison struct {
	run   string
	tol   float64
	found []Finding
}

func (c *comparison) add(metric string, base, value float64, text string, regression bool) {
	c.found = append(c.found, Finding{Run: c.run, Metric: metric, Base: base, Value: value, Text: text, Regression: regression})
}

// change is value's relative change from base, in words.
func change(base, value float64) string {
	if base == 0 {
		return "from 0"
	}
	return fmt.Sprintf("%+.1f%%", 100*(value-base)/base)
}

// higherIsWorse compares a figure that should stay low (a latency).
func (c *comparison) higherIsWorse(metric string, base, value float64, format func(float64) string) {
	text := fmt.Sprintf("%s %s → %s (%s)", metric, format(base), format(value), change(base, value))
	switch {
	case value > base*(1+c.tol):
		c.add(metric, base, value, text, true)
	case value < base*(1-c.tol):
		c.add(metric, base, value, text, false)
	}
}

// lowerIsWorse compares a figure that should stay high (a rate).
func (c *comparison) lowerIsWorse(metric string, base, value float64, format func(float64) string) {
	text := fmt.Sprintf("%s %s → %s (%s)", metric, format(base), format(value), change(base, value))
	switch {
	case value < base*(1-c.tol):
		c.add(metric, base, value, text, true)
	case value > base*(1+c.tol) && base > 0:
		c.add(metric, base, value, text, false)
	}
}

// shareWorse compares counts as shares of their totals (runs of different sizes): more
// is worse when the share grew by more than the tolerance, or from none to some.
func (c *comparison) shareWorse(metric string, baseN, baseOf, n, of int64) {
	bs, s := share(baseN, baseOf), share(n, of)
	text := fmt.Sprintf("%s %d → %d (%.2f%% → %.2f%%)", metric, baseN, n, 100*bs, 100*s)
	switch {
	case n > 0 && s > bs*(1+c.tol):
		c.add(metric, bs, s, text, true)
	case baseN > 0 && s < bs*(1-c.tol):
		c.add(metric, bs, s, text, false)
	}
}

func share(n, of int64) float64 {
	if of <= 0 {
		return 0
	}
	return float64(n) / float64(of)
}

// thresholds names the thresholds that held in the baseline and fail now, and back.
func (c *comparison) thresholds(base, other []metrics.Verdict) {
	passed := map[string]bool{}
	for _, v := range base {
		passed[v.Threshold] = v.Pass
	}
	for _, v := range other {
		was, ok := passed[v.Threshold]
		switch {
		case !ok || was == v.Pass:
		case was:
			c.add("threshold "+v.Threshold, 1, 0, fmt.Sprintf("threshold %s held, now fails (%s)", v.Threshold, verdictObserved(v)), true)
		default:
			c.add("threshold "+v.Threshold, 0, 1, fmt.Sprintf("threshold %s failed, now holds (%s)", v.Threshold, verdictObserved(v)), false)
		}
	}
}

// delivery compares the end-to-end figures of the first traced run of each.
func (c *comparison) delivery(base, other *metrics.E2E) {
	if base == nil || other == nil || len(base.Runs) == 0 || len(other.Runs) == 0 {
		return
	}
	b, o := base.Runs[0], other.Runs[0]
	if !b.Reconciled() || !o.Reconciled() {
		return
	}
	c.shareWorse("messages lost", b.Lost, b.Accepted.Len(), o.Lost, o.Accepted.Len())
	if b.Delivery.Count > 0 && o.Delivery.Count > 0 {
		c.higherIsWorse("delivery p99", float64(b.Delivery.P99Ns), float64(o.Delivery.P99Ns), formatNs)
	}
}

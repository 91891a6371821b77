package report

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// The figures the charts draw, taken from a report document: time series from its
// per-second intervals (x: seconds since the run's start, at the interval's end), and
// percentile curves from its histograms.

// secondsAt is where an interval sits on a run's time axis: its end, in seconds since
// the run's start.
func secondsAt(runStart time.Time, iv metrics.Interval) float64 {
	return iv.Start.Add(time.Duration(iv.DurationNs)).Sub(runStart).Seconds()
}

// perSecond is n events over an interval, per second (0 for an empty interval).
func perSecond(n int64, iv metrics.Interval) float64 {
	if iv.DurationNs <= 0 {
		return 0
	}
	return float64(n) / time.Duration(iv.DurationNs).Seconds()
}

// counterSeries is the rate of the sum of counters, interval by interval.
func counterSeries(r *metrics.Report, names ...string) []point {
	pts := make([]point, 0, len(r.Intervals))
	for _, iv := range r.Intervals {
		var n int64
		for _, name := range names {
			n += iv.Counters[name]
		}
		pts = append(pts, point{secondsAt(r.Start, iv), perSecond(n, iv)})
	}
	return pts
}

// offeredSeries is what the run asked of the server each second: messages that ended
// (accepted, rejected, failed) and those dropped for want of a free session.
func offeredSeries(r *metrics.Report) []point {
	return counterSeries(r, "messages_accepted", "messages_rejected", "messages_failed", "dropped")
}

// achievedSeries is what the server answered each second (accepted or rejected).
func achievedSeries(r *metrics.Report) []point {
	return counterSeries(r, "messages_accepted", "messages_rejected")
}

// errorSeries is the count of error keys recorded each second.
func errorSeries(r *metrics.Report) []point {
	pts := make([]point, 0, len(r.Intervals))
	for _, iv := range r.Intervals {
		pts = append(pts, point{secondsAt(r.Start, iv), float64(iv.Errors)})
	}
	return pts
}

// errorKeySeries is one error key's count each second.
func errorKeySeries(r *metrics.Report, key string) []point {
	pts := make([]point, 0, len(r.Intervals))
	for _, iv := range r.Intervals {
		pts = append(pts, point{secondsAt(r.Start, iv), float64(iv.ErrorKeys[key])})
	}
	return pts
}

// countSeries is one counter's count each second.
func countSeries(r *metrics.Report, name string) []point {
	pts := make([]point, 0, len(r.Intervals))
	for _, iv := range r.Intervals {
		pts = append(pts, point{secondsAt(r.Start, iv), float64(iv.Counters[name])})
	}
	return pts
}

// intervalPhases are the names of the phases the intervals carry, in phase order.
func intervalPhases(r *metrics.Report) []string {
	seen := map[string]bool{}
	for _, iv := range r.Intervals {
		for _, ps := range iv.Phases {
			if ps.Count > 0 {
				seen[ps.Phase] = true
			}
		}
	}
	return phaseOrder(seen)
}

// phaseOrder sorts phase names as the schema lists them; unknown names go last, by name.
func phaseOrder(names map[string]bool) []string {
	out := make([]string, 0, len(names))
	for n := range names {
		out = append(out, n)
	}
	rank := func(n string) int {
		if p, ok := metrics.PhaseByName(n); ok {
			return int(p)
		}
		return math.MaxInt
	}
	sort.Slice(out, func(i, j int) bool {
		ri, rj := rank(out[i]), rank(out[j])
		if ri != rj {
			return ri < rj
		}
		return out[i] < out[j]
	})
	return out
}

// quantileSeries is a phase's percentile (50, 90 or 99) interval by interval, in ns;
// intervals without a sample of the phase are left out.
func quantileSeries(start time.Time, intervals []metrics.Interval, phase string, pct int) []point {
	var pts []point
	for _, iv := range intervals {
		for _, ps := range iv.Phases {
			if ps.Phase != phase || ps.Count == 0 {
				continue
			}
			v := map[int]int64{50: ps.P50Ns, 90: ps.P90Ns, 99: ps.P99Ns}[pct]
			pts = append(pts, point{secondsAt(start, iv), float64(v)})
		}
	}
	return pts
}

// curveStepsPerDecade is the percentile curve's resolution along its log axis.
const curveStepsPerDecade = 20

// percentileCurve is a phase's latency distribution as HdrHistogram plots it: the value
// (ns) at quantile q for q from 0 to 1 − 1/count, evenly spaced in log10(1/(1−q)), the
// exact maximum last. Values are the histogram's (as the document's p50…p999 are),
// clamped to the exact minimum and maximum.
func percentileCurve(ps metrics.PhaseStats) ([]point, error) {
	if ps.Count == 0 || ps.Histogram == "" {
		return nil, nil
	}
	h, err := decodeHistogram(ps.Histogram)
	if err != nil {
		return nil, fmt.Errorf("phase %s: %w", ps.Phase, err)
	}
	n := h.TotalCount()
	if n == 0 {
		return nil, nil
	}
	end := math.Log10(float64(n)) // 1/(1−q) reaches the count at the last sample
	var qs, pcts []float64
	for k := 0; float64(k)/curveStepsPerDecade < end; k++ {
		q := 1 - math.Pow(10, -float64(k)/curveStepsPerDecade)
		qs, pcts = append(qs, q), append(pcts, 100*q)
	}
	values := h.ValueAtPercentilesSlice(pcts)
	pts := make([]point, 0, len(qs)+1)
	for i, q := range qs {
		v := min(max(values[i]*1000, ps.MinNs), ps.MaxNs)
		pts = append(pts, point{q, float64(v)})
	}
	return append(pts, point{1 - 1/float64(max(n, 2)), float64(ps.MaxNs)}), nil
}

// decodeHistogram decodes a document's histogram (metrics.ReadReport has checked its
// geometry); the decoder is hardened, and a panic is turned into an error all the same.
func decodeHistogram(enc string) (h *hdr.PackedHistogram, err error) {
	defer func() {
		if p := recover(); p != nil {
			h, err = nil, fmt.Errorf("histogram: corrupt encoding (%v)", p)
		}
	}()
	h, err = hdr.DecodePacked([]byte(enc))
	if err != nil {
		return nil, fmt.Errorf("histogram: %w", err)
	}
	if h == nil {
		return nil, errors.New("histogram: empty encoding")
	}
	return h, nil
}

// targetSeries is the open model's planned arrival rate over the run (its --rate, or
// its stages' linear ramps from it), or nil for a closed model.
func targetSeries(p planView, elapsed float64) []point {
	if p.Load.Model != "open" {
		return nil
	}
	if len(p.Load.Stages) == 0 {
		if p.Load.Rate <= 0 {
			return nil
		}
		return []point{{0, p.Load.Rate}, {elapsed, p.Load.Rate}}
	}
	pts := []point{{0, p.Load.Rate}}
	t := 0.0
	for _, s := range p.Load.Stages {
		t += time.Duration(s.DurationNs).Seconds()
		pts = append(pts, point{t, s.Target})
	}
	return pts
}

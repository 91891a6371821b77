package cluster

import (
	"time"

	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// timeline lines the workers' cumulative counts up on the shared timeline, for the live
// view. Each worker's engine samples at whole wall-clock seconds; the workers' reports
// say when (on their clocks, which the measured offsets convert to the coordinator's),
// so that every second shown sums the workers' counts at that same second, and its rate
// is the messages answered during it. A second is shown once every worker still
// running has reported it (a lost or finished worker no longer holds it back; it counts
// with its last counts): the last complete second, shown as soon as it is complete.
type timeline struct {
	start   time.Time
	offsets []int64 // by shard: coordinator clock − worker clock, ns
	shards  []shardSamples
	shown   int64 // the last second shown (Unix seconds); 0: none
}

// shardSamples is one worker's recent samples, by second, ascending.
type shardSamples struct {
	samples []sample
	settled bool // done or lost: it holds no second back
}

// sample is a worker's counts at one whole second, and what it measured since its
// previous sample (nil: nothing, or a report without it).
type sample struct {
	sec    int64 // the whole second (Unix, coordinator clock) the counts are at
	r      Report
	second *metrics.Snapshot
}

// keptSamples bounds each worker's history: enough to find the second before any one
// shown.
const keptSamples = 8

func newTimeline(start time.Time, offsets []int64) *timeline {
	return &timeline{start: start, offsets: offsets, shards: make([]shardSamples, len(offsets))}
}

// secondOf is the whole second a worker's counts, taken at atUnixNs on its clock, are
// at: the nearest, since the engine samples just after each whole second (later under
// load).
func (tl *timeline) secondOf(k int, atUnixNs int64) int64 {
	at := atUnixNs + tl.offsets[k] + int64(time.Second)/2
	return at / int64(time.Second)
}

// add takes a worker's report; reports without a sample (before its start) are ignored.
// A report repeats its last sample (same AtUnixNs) until the next one. Two samples that
// fall on the same second (a late one, then the next on time) are one, their seconds'
// measurements merged, so that every measurement is shown once. A worker's final
// counts (Ended, taken when its run ended) are at the next whole second: nothing
// changes after it.
func (tl *timeline) add(k int, r Report) {
	if tl == nil || r.AtUnixNs == 0 || k >= len(tl.shards) {
		return
	}
	sh := &tl.shards[k]
	n := len(sh.samples)
	if n > 0 && sh.samples[n-1].r.AtUnixNs == r.AtUnixNs {
		if r.Seq >= sh.samples[n-1].r.Seq {
			sh.samples[n-1].r = r
		}
		return
	}
	sec := tl.secondOf(k, r.AtUnixNs)
	if r.Ended {
		sec = tl.secondAfter(k, r.AtUnixNs)
	}
	switch {
	case n > 0 && sh.samples[n-1].sec == sec:
		last := &sh.samples[n-1]
		if r.Seq < last.r.Seq {
			return
		}
		if second := decodeSecond(r); second != nil {
			if last.second == nil {
				last.second = second
			} else {
				last.second.Merge(second)
			}
		}
		last.r = r
	case n == 0 || sh.samples[n-1].sec < sec:
		sh.samples = append(sh.samples, sample{sec: sec, r: r, second: decodeSecond(r)})
		if len(sh.samples) > keptSamples {
			sh.samples = append(sh.samples[:0], sh.samples[1:]...)
		}
	}
}

// secondAfter is the first whole second at or after a worker's atUnixNs (its clock).
func (tl *timeline) secondAfter(k int, atUnixNs int64) int64 {
	at := atUnixNs + tl.offsets[k]
	return (at + int64(time.Second) - 1) / int64(time.Second)
}

// decodeSecond is a report's second of measurements; nil without one or when it cannot
// be read (the line then shows the second without that worker's percentiles).
func decodeSecond(r Report) *metrics.Snapshot {
	if r.Live == nil || r.Live.Second == nil {
		return nil
	}
	snap, err := r.Live.Second.Snapshot()
	if err != nil {
		return nil
	}
	return snap
}

// settle says a worker holds no second back any more: it finished or was lost.
func (tl *timeline) settle(k int) {
	if tl != nil && k < len(tl.shards) {
		tl.shards[k].settled = true
	}
}

// complete is the last second every unsettled worker has reported; with all of them
// settled, the last second anyone reported. ok is false when there is none.
func (tl *timeline) complete() (sec int64, ok bool) {
	var latest, least int64
	running := false
	for _, sh := range tl.shards {
		n := len(sh.samples)
		if n > 0 {
			latest = max(latest, sh.samples[n-1].sec)
		}
		if sh.settled {
			continue
		}
		if n == 0 {
			return 0, false
		}
		if !running || sh.samples[n-1].sec < least {
			least = sh.samples[n-1].sec
		}
		running = true
	}
	if !running {
		return latest, latest > 0
	}
	return least, true
}

// at is the sum of every worker's counts at second sec (each its last sample at or
// before it).
func (tl *timeline) at(sec int64) (sum metrics.Live) {
	for _, sh := range tl.shards {
		for i := len(sh.samples) - 1; i >= 0; i-- {
			if s := sh.samples[i]; s.sec <= sec {
				sum.Accepted += s.r.Accepted
				sum.Rejected += s.r.Rejected
				sum.Failed += s.r.Failed
				sum.InFlight += s.r.InFlight
				if l := s.r.Live; l != nil {
					sum.Total = max(sum.Total, time.Duration(l.TotalNs))
					sum.Planned += l.Planned
					sum.Late += l.Late
					sum.Dropped += l.Dropped
					sum.Corrected = sum.Corrected || l.Corrected
					sum.TargetRate += l.TargetRate // 0 in a worker's final counts
				}
				break
			}
		}
	}
	return sum
}

// measured merges what the workers measured in the seconds after the one shown last,
// up to sec: every sample's measurements are shown once, even when a second was
// skipped.
func (tl *timeline) measured(sec int64) *metrics.Snapshot {
	merged := metrics.NewSnapshot()
	for _, sh := range tl.shards {
		for _, s := range sh.samples {
			if s.sec > tl.shown && s.sec <= sec {
				merged.Merge(s.second)
			}
		}
	}
	return merged
}

// next is the progress of the last complete second, if it has not been shown yet, and
// the workers' measurements since the second shown before it. Workers and Lost are
// left to the caller.
func (tl *timeline) next() (Progress, *metrics.Snapshot, bool) {
	sec, ok := tl.complete()
	if !ok || sec <= tl.shown {
		return Progress{}, nil, false
	}
	end := time.Unix(sec, 0)
	if !end.After(tl.start) {
		return Progress{}, nil, false
	}
	measured := tl.measured(sec)
	tl.shown = sec
	p, before := tl.at(sec), tl.at(sec-1)
	p.Elapsed = end.Sub(tl.start)
	p.Done = p.Accepted + p.Rejected + p.Failed
	span := min(time.Second, end.Sub(tl.start)) // the first second may be a part of one
	answered := p.Accepted + p.Rejected - before.Accepted - before.Rejected
	p.Rate = float64(answered) / span.Seconds()
	p.LatencyP99, p.EODP99 = metrics.LiveP99s(measured, p.Corrected)
	return p, measured, true
}

package engine

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Stage is one leg of a ramp: the target is reached linearly over Duration, starting
// from the previous stage's target (the first starts from Start).
type Stage struct {
	Duration time.Duration
	Target   float64
}

// ParseStages reads "30s:100,2m:500,30s:0" (duration:target, comma separated).
func ParseStages(s string) ([]Stage, error) {
	var stages []Stage
	for _, part := range strings.Split(s, ",") {
		d, t, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok {
			return nil, fmt.Errorf("stage %q: want DURATION:TARGET", part)
		}
		dur, err := time.ParseDuration(d)
		if err != nil || dur <= 0 {
			return nil, fmt.Errorf("stage %q: bad duration %q", part, d)
		}
		target, err := strconv.ParseFloat(t, 64)
		if err != nil || target < 0 || math.IsInf(target, 0) || math.IsNaN(target) {
			return nil, fmt.Errorf("stage %q: bad target %q", part, t)
		}
		stages = append(stages, Stage{Duration: dur, Target: target})
	}
	return stages, nil
}

// Schedule is an open-model arrival timeline: message g (counting from 0) is due at
// Due(g) after the start, independently of how the server answers. On one shared
// timeline every message has its own due time, so a run split over several machines can
// keep the single machine's arrivals.
type Schedule struct {
	start  float64 // rate at t=0 (messages/s)
	stages []Stage // empty: constant rate `start` for ever
	total  int64   // messages due within the stages (all of them for a constant rate)
}

// ConstantRate is rate messages per second, count messages in all.
func ConstantRate(rate float64, count int64) *Schedule {
	return &Schedule{start: rate, total: count}
}

// RampingRate starts at rate start and follows stages; count caps the messages (0: no
// cap beyond what the stages produce).
func RampingRate(start float64, stages []Stage, count int64) *Schedule {
	s := &Schedule{start: start, stages: stages}
	n := s.cumulative(s.Length())
	s.total = int64(math.Ceil(n - 1e-9))
	if count > 0 && count < s.total {
		s.total = count
	}
	return s
}

// Total is the number of messages the schedule releases.
func (s *Schedule) Total() int64 { return s.total }

// Length is how long the stages last (0 for a constant rate).
func (s *Schedule) Length() time.Duration {
	var d time.Duration
	for _, st := range s.stages {
		d += st.Duration
	}
	return d
}

// RateAt is the intended arrival rate at t (for reports and tests).
func (s *Schedule) RateAt(t time.Duration) float64 {
	r0 := s.start
	for _, st := range s.stages {
		if t < st.Duration {
			return r0 + (st.Target-r0)*t.Seconds()/st.Duration.Seconds()
		}
		t -= st.Duration
		r0 = st.Target
	}
	if len(s.stages) > 0 {
		return 0
	}
	return s.start
}

// cumulative is the number of arrivals due by t: the integral of the rate.
func (s *Schedule) cumulative(t time.Duration) float64 {
	if len(s.stages) == 0 {
		return s.start * t.Seconds()
	}
	var n float64
	r0 := s.start
	for _, st := range s.stages {
		d := st.Duration.Seconds()
		x := math.Min(t.Seconds(), d)
		n += r0*x + (st.Target-r0)*x*x/(2*d)
		if t.Seconds() <= d {
			return n
		}
		t -= st.Duration
		r0 = st.Target
	}
	return n
}

// Due is when message g (from 0) is due after the start: the moment the cumulative
// arrivals reach g. ok is false past the end of the schedule.
func (s *Schedule) Due(g int64) (time.Duration, bool) {
	if g < 0 || g >= s.total {
		return 0, false
	}
	if len(s.stages) == 0 {
		return time.Duration(float64(g) / s.start * float64(time.Second)), true
	}
	want := float64(g)
	var elapsed time.Duration
	var n float64
	r0 := s.start
	for _, st := range s.stages {
		d := st.Duration.Seconds()
		a := (st.Target - r0) / (2 * d) // n(x) = n + r0 x + a x²
		end := n + r0*d + a*d*d
		if want < end || math.Abs(want-end) < 1e-9 && st.Target == 0 {
			var x float64
			switch {
			case math.Abs(a) < 1e-12:
				x = (want - n) / r0
			default:
				disc := r0*r0 + 4*a*(want-n)
				x = (-r0 + math.Sqrt(math.Max(disc, 0))) / (2 * a)
			}
			return elapsed + time.Duration(x*float64(time.Second)), true
		}
		n = end
		elapsed += st.Duration
		r0 = st.Target
	}
	return elapsed, true
}

package engine

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/plan"
)

// FindMaxStep is one step of a capacity search: an open-model run at one rate for the
// step's length, and its thresholds' verdicts.
type FindMaxStep struct {
	Rate     float64
	Held     bool // the run ended without error and every threshold passed
	Verdicts []metrics.Verdict
	Result   Result
	Err      error // what ended the step early (a threshold lost, the error budget, a fatal error)
}

// FindMaxResult is a capacity search's outcome.
type FindMaxResult struct {
	Highest float64 // the highest rate that held every threshold; 0 when none did
	Steps   []FindMaxStep
}

// FindMax runs a capacity search (p.FindMax): open-model steps at rising rates until
// one breaks a threshold, then bisection between the highest rate that held and the
// lowest that broke. Each step is a run of its own (engine.Run with the step's rate
// and a hard end at the step's length); step, when not nil, hears of each as it ends.
// The error is a plan that cannot run, an interrupt (ErrInterrupted, with the steps so
// far), or a step that could not start.
func FindMax(ctx context.Context, p plan.Plan, hooks Hooks, step func(FindMaxStep)) (FindMaxResult, error) {
	if p.FindMax == nil {
		return FindMaxResult{}, errors.New("engine: the plan has no find_max")
	}
	if err := p.Validate(); err != nil {
		return FindMaxResult{}, err
	}
	thresholds, err := metrics.ParseThresholds(p.Thresholds.Exprs)
	if err != nil {
		return FindMaxResult{}, err
	}
	s := &search{ctx: ctx, plan: p, hooks: hooks, thresholds: thresholds, report: step}
	return s.run()
}

// search is one capacity search in progress.
type search struct {
	ctx        context.Context
	plan       plan.Plan
	hooks      Hooks
	thresholds []metrics.Threshold
	report     func(FindMaxStep)
	result     FindMaxResult
}

// run rises until a step breaks (or the rising steps run out), then bisects.
func (s *search) run() (FindMaxResult, error) {
	fm := s.plan.FindMax
	held, broke := 0.0, math.Inf(1)
	rate := fm.Start
	for i := 0; i < fm.MaxSteps && rate <= plan.MaxRate; i++ {
		ok, err := s.step(rate)
		if err != nil {
			return s.result, err
		}
		if !ok {
			broke = rate
			break
		}
		held = rate
		if fm.Increment > 0 {
			rate += fm.Increment
		} else {
			rate *= fm.Factor
		}
	}
	for i := 0; i < fm.Bisect && !math.IsInf(broke, 1); i++ {
		mid := (held + broke) / 2
		ok, err := s.step(mid)
		if err != nil {
			return s.result, err
		}
		if ok {
			held = mid
		} else {
			broke = mid
		}
	}
	s.result.Highest = held
	return s.result, nil
}

// step runs one rate and judges it. The error is an interrupt, or a step that could not
// run at all (nothing measured).
func (s *search) step(rate float64) (bool, error) {
	res, err := Run(s.ctx, s.stepPlan(rate), s.hooks)
	if errors.Is(err, ErrInterrupted) || res.Metrics == nil {
		if err == nil {
			err = errors.New("engine: a step measured nothing")
		}
		return false, err
	}
	st := FindMaxStep{Rate: rate, Result: res, Err: err, Verdicts: metrics.CheckThresholds(s.thresholds, res.Figures())}
	st.Held = err == nil && len(metrics.Breached(st.Verdicts)) == 0
	s.result.Steps = append(s.result.Steps, st)
	if s.report != nil {
		s.report(st)
	}
	return st.Held, nil
}

// stepPlan is the plan of one step: the open model at rate for the step's length, as
// many messages as that makes, with a hard end there.
func (s *search) stepPlan(rate float64) plan.Plan {
	p := s.plan
	d := p.FindMax.StepDuration
	p.FindMax = nil
	p.Load.Model, p.Load.Rate, p.Load.Stages = plan.ModelOpen, rate, nil
	p.Messages = max(1, int64(math.Ceil(rate*d.Seconds())))
	p.MaxDuration = d
	if len(s.result.Steps) > 0 {
		p.StartAt = time.Time{} // a shared start is the first step's
	}
	return p
}

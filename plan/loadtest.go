package plan

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// OnError is what a session's failure (a timeout, a reset, a lost connection, a refused
// connect, a TLS or protocol error) does to the run.
type OnError string

const (
	// OnErrorAbort: the first failure ends the run (smtp-source's msg_fatal); a
	// rejection too, unless Session.AllowReject.
	OnErrorAbort OnError = "abort"
	// OnErrorContinue: a failure fails the message it hit and is counted under its
	// key; the session reconnects after a short backoff and takes the next message. A
	// rejection is counted and the session goes on, as with AllowReject.
	OnErrorContinue OnError = "continue"
)

// ErrorPolicy is what failures do to the run, and how many it tolerates.
type ErrorPolicy struct {
	// OnError: abort or continue. WithDefaults takes abort for the closed model
	// (smtp-source's behaviour, which scripts rely on) and continue for the open model
	// and the session ramp (load tests, which exist to watch a server struggle).
	OnError OnError `json:"on_error"`
	// MaxErrors ends the run once more than this many messages were rejected or failed
	// (not counting those the run's end cut off); 0: no limit.
	MaxErrors int64 `json:"max_errors,omitempty"`
	// MaxErrorsPercent ends the run once more than this percentage of the messages with
	// an outcome were rejected or failed, checked from BudgetMinMessages on and at the
	// end; 0: no limit.
	MaxErrorsPercent float64 `json:"max_errors_percent,omitempty"`
}

// BudgetMinMessages is how many messages must have an outcome before a percentage
// budget is checked during a run: one error among the first few messages is no trend.
const BudgetMinMessages = 100

// Thresholds are pass/fail criteria on the run's figures, k6-style
// ("eod.p99<500ms", "errors<1%", "rate>=900"; metrics.ParseThreshold reads them).
type Thresholds struct {
	Exprs []string `json:"exprs,omitempty"`
	// Abort stops the run as soon as a threshold is lost (a count past its upper limit,
	// or any other figure failing), once AbortDelay has passed since the start.
	Abort      bool          `json:"abort,omitempty"`
	AbortDelay time.Duration `json:"abort_delay_ns,omitempty"`
}

// FindMax is a capacity search: open-model steps at rising rates (Start, then times
// Factor or plus Increment) of StepDuration each, until a step breaks a threshold; then
// Bisect steps between the highest rate that held and the lowest that broke. The
// result is the highest rate that held every threshold.
type FindMax struct {
	Start        float64       `json:"start"`
	Factor       float64       `json:"factor,omitempty"`
	Increment    float64       `json:"increment,omitempty"`
	StepDuration time.Duration `json:"step_ns"`
	Bisect       int           `json:"bisect"`    // 0: none (stop at the first break)
	MaxSteps     int           `json:"max_steps"` // rising steps at most
}

// defaultOnError is the error policy of a model: abort for smtp-source's closed model,
// continue for load tests.
func defaultOnError(m Model) OnError {
	if m == ModelClosed {
		return OnErrorAbort
	}
	return OnErrorContinue
}

// withLoadTestDefaults fills the error policy, the threshold abort's delay and the
// search's settings.
func (p *Plan) withLoadTestDefaults(d Plan) {
	if p.Errors.OnError == "" {
		p.Errors.OnError = defaultOnError(p.Load.Model)
	}
	setDuration(&p.Thresholds.AbortDelay, d.Thresholds.AbortDelay)
	if f := p.FindMax; f != nil {
		fm, df := *f, FindMaxDefaults()
		if fm.Factor == 0 && fm.Increment == 0 {
			fm.Factor = df.Factor
		}
		setDuration(&fm.StepDuration, df.StepDuration)
		setInt(&fm.MaxSteps, df.MaxSteps)
		p.FindMax = &fm
	}
}

// validateLoadTest checks the error policy, thresholds and capacity search.
func (p Plan) validateLoadTest() error {
	e := p.Errors
	switch {
	case e.OnError != OnErrorAbort && e.OnError != OnErrorContinue:
		return fmt.Errorf("errors.on_error: want abort or continue, got %q", e.OnError)
	case e.MaxErrors < 0:
		return fmt.Errorf("errors.max_errors: must not be negative: %d", e.MaxErrors)
	case e.MaxErrorsPercent < 0 || e.MaxErrorsPercent > 100 || math.IsNaN(e.MaxErrorsPercent):
		return fmt.Errorf("errors.max_errors_percent: want a percentage in [0, 100]: %g", e.MaxErrorsPercent)
	case e.MaxErrors > 0 && e.MaxErrorsPercent > 0:
		return errors.New("errors.max_errors and errors.max_errors_percent: use one")
	case p.MaxDuration < 0:
		return fmt.Errorf("max_duration_ns: must not be negative: %v", p.MaxDuration)
	case p.Thresholds.AbortDelay < 0:
		return fmt.Errorf("thresholds.abort_delay_ns: must not be negative: %v", p.Thresholds.AbortDelay)
	case p.Thresholds.Abort && len(p.Thresholds.Exprs) == 0:
		return errors.New("thresholds.abort needs thresholds")
	}
	for i, t := range p.Thresholds.Exprs {
		if t == "" {
			return fmt.Errorf("thresholds.exprs[%d]: empty", i)
		}
	}
	return p.validateFindMax()
}

func (p Plan) validateFindMax() error {
	f := p.FindMax
	if f == nil {
		return nil
	}
	switch {
	case len(p.Thresholds.Exprs) == 0:
		return errors.New("find_max needs thresholds: a step holds when every threshold passes")
	case p.Load.Model != ModelOpen || len(p.Load.Stages) > 0:
		return errors.New("find_max steps the open model's rate: it takes neither stages nor another model")
	case p.Shard != nil:
		return errors.New("find_max: a capacity search cannot be split over shards yet")
	case !(f.Start > 0) || f.Start > MaxRate:
		return fmt.Errorf("find_max.start: want messages per second in (0, %g]: %g", MaxRate, f.Start)
	case f.Factor != 0 && f.Increment != 0:
		return errors.New("find_max.factor and find_max.increment: use one")
	case f.Factor != 0 && !(f.Factor > 1 && f.Factor <= 100):
		return fmt.Errorf("find_max.factor: want a factor in (1, 100]: %g", f.Factor)
	case f.Increment != 0 && !(f.Increment > 0 && f.Increment <= MaxRate):
		return fmt.Errorf("find_max.increment: want messages per second above 0: %g", f.Increment)
	case f.StepDuration < 100*time.Millisecond:
		return fmt.Errorf("find_max.step_ns: want at least 100ms: %v", f.StepDuration)
	case f.Bisect < 0 || f.Bisect > 20 || f.MaxSteps < 1 || f.MaxSteps > 100:
		return fmt.Errorf("find_max: bisect in [0, 20] and max_steps in [1, 100] (%d, %d)", f.Bisect, f.MaxSteps)
	}
	return nil
}

package metrics

import "time"

// FindMaxReport is a capacity search's result (--find-max): the steps it ran, in
// order, and the highest rate that held every threshold.
type FindMaxReport struct {
	Highest float64       `json:"highest_rate"` // messages/s; 0 when no step held
	Steps   []FindMaxStep `json:"steps"`
}

// FindMaxStep is one step of a capacity search: an open-model run at one rate.
type FindMaxStep struct {
	Rate      float64   `json:"rate"` // the step's target, messages/s
	Held      bool      `json:"held"` // every threshold passed
	Start     time.Time `json:"start"`
	ElapsedNs int64     `json:"elapsed_ns"`
	Totals    Totals    `json:"totals"`
	Achieved  float64   `json:"achieved_per_s"` // answered per second of its sending window
	Dropped   int64     `json:"dropped"`
	Late      int64     `json:"late"`
	LatencyNs int64     `json:"latency_p99_ns"` // CO-corrected
	EODNs     int64     `json:"eod_p99_ns"`
	Verdicts  []Verdict `json:"thresholds"`
	Error     string    `json:"error,omitempty"` // what ended the step otherwise (a fatal error)
}

// NewFindMaxStep summarises one step's document.
func NewFindMaxStep(rate float64, r *Report, verdicts []Verdict, held bool, stepErr error) FindMaxStep {
	st := FindMaxStep{Rate: rate, Held: held, Start: r.Start, ElapsedNs: r.ElapsedNs, Totals: r.Totals,
		Achieved: r.Summary.AchievedPerSec, Dropped: r.Counters[Dropped.String()], Late: r.Counters[Late.String()],
		Verdicts: verdicts}
	if ps, ok := r.Phase(Latency.String()); ok {
		st.LatencyNs = ps.P99Ns
	}
	if ps, ok := r.Phase(EOD.String()); ok {
		st.EODNs = ps.P99Ns
	}
	if stepErr != nil {
		st.Error = stepErr.Error()
	}
	return st
}

package metrics

import (
	"encoding/json"
	"time"
)

// RunInfo is the result document's "run" object: who produced the document, beside
// what was asked for (the plan). It never holds the command line, which may hold
// secrets (a NATS token) and says nothing the plan does not.
type RunInfo struct {
	Tool string `json:"tool"` // "go-smtp-source"
	// PlanFingerprint identifies the plan a shard is part of: shards of one plan have
	// the same (merge checks it).
	PlanFingerprint string `json:"plan_fingerprint,omitempty"`
	Worker          string `json:"worker,omitempty"` // the cluster worker that ran it
	// StartSkewNs is, for a merge of shards, the spread of their actual starts.
	StartSkewNs int64 `json:"start_skew_ns,omitempty"`
	// Cluster is a coordinated run's outcome (its workers, the start, what a lost worker
	// left unaccounted for), as the cluster package writes it.
	Cluster json.RawMessage `json:"cluster,omitempty"`

	// Where it ran: the tool's version, the host's name, its kernel, its CPU count and
	// the event loops the run used.
	Version    string `json:"version,omitempty"`
	Host       string `json:"host,omitempty"`
	Kernel     string `json:"kernel,omitempty"`
	CPUs       int    `json:"cpus,omitempty"`
	EventLoops int    `json:"event_loops,omitempty"`
}

// RunResult is what one run measured, as the engine hands it over.
type RunResult struct {
	Start     time.Time     // wall clock at the run's start
	Elapsed   time.Duration // the run's duration
	Totals    Totals
	Snapshot  *Snapshot  // everything recorded, merged over loops and intervals
	Intervals []Interval // one per second, built as the run went

	// Sending is the sending window (Window.SendingNs; 0: the whole run), Answered the
	// messages accepted or rejected within it.
	Sending  time.Duration
	Answered int64

	// E2E is a traced run's record: its run id, header and accepted numbers (nil: not
	// traced).
	E2E *E2ERun
}

// ResultReport is the result document of one run: plan is the plan as it is embedded
// (encoded as NewReport does), run says who ran it (nil: nothing to say).
func ResultReport(plan any, run *RunInfo, res RunResult) *Report {
	r := NewReport(plan, res.Start, res.Elapsed, res.Totals, res.Snapshot, nil)
	r.Run = run
	r.Intervals = res.Intervals
	if r.Intervals == nil {
		r.Intervals = []Interval{}
	}
	if res.Sending > 0 {
		r.Window = &Window{SendingNs: int64(res.Sending), DrainNs: int64(res.Elapsed - res.Sending), Answered: res.Answered}
		r.Summary = newSummary(r)
	}
	if res.E2E != nil {
		run := *res.E2E
		if run.Accepted == nil {
			run.Accepted = NewSeqSet()
		}
		r.E2E = &E2E{Runs: []E2ERun{run}}
	}
	return r
}

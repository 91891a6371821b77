package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/plan"
)

// Summary is the "cluster" object of a coordinated run's result document (in its "run"
// object): who did what, the start and its skew, and what a lost worker left
// unaccounted for.
type Summary struct {
	Run         string          `json:"run"`
	StartAt     time.Time       `json:"start_at"`
	StartSkewNs int64           `json:"start_skew_ns"`
	Incomplete  bool            `json:"incomplete"`
	Aborted     string          `json:"aborted,omitempty"`
	Workers     []WorkerSummary `json:"workers"`
}

// WorkerSummary is one worker's line of the Summary.
type WorkerSummary struct {
	Name        string `json:"name"`
	Host        string `json:"host"`
	Shard       int    `json:"shard"`
	Planned     int64  `json:"planned"`
	Lost        bool   `json:"lost,omitempty"`
	Unaccounted int64  `json:"unaccounted,omitempty"`
	LastSeen    string `json:"last_seen,omitempty"`
	Error       string `json:"error,omitempty"`
	OffsetNs    int64  `json:"clock_offset_ns"`
	RTTNs       int64  `json:"rtt_ns"`
	// Late is what a lost worker delivered after it was declared lost: not merged.
	Late *LateSummary `json:"late_result,omitempty"`
}

// LateSummary is a lost worker's late result as the result document records it: its
// own accounting (nil when its document could not be read), and its error.
type LateSummary struct {
	Totals *metrics.Totals `json:"totals,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// Summary is the outcome as the result document records it.
func (o *Outcome) Summary() Summary {
	s := Summary{Run: o.Run, StartAt: o.StartAt.UTC(), StartSkewNs: int64(o.StartSkew), Incomplete: o.Incomplete,
		Aborted: o.Aborted, Workers: []WorkerSummary{}}
	for i := range o.Workers {
		w := &o.Workers[i]
		ws := WorkerSummary{Name: w.Name, Host: w.Host, Shard: w.Shard, Planned: w.Planned, Lost: w.Lost, Error: w.Error,
			OffsetNs: w.OffsetNs, RTTNs: int64(w.RTT)}
		if w.Lost {
			ws.Unaccounted = w.Unaccounted()
			ws.LastSeen = w.LastSeen.UTC().Format(time.RFC3339Nano)
		}
		if w.Late != nil {
			ws.Late = &LateSummary{Totals: w.Late.Totals, Error: w.Late.Error}
		}
		s.Workers = append(s.Workers, ws)
	}
	return s
}

// Merged is a coordinated run's result: the exact merge of the documents its workers
// delivered (lost workers' late results are never among them).
type Merged struct {
	Report     *metrics.Report // empty when no worker delivered a readable document; nil if the run never started
	Delivered  int             // the documents merged
	Unreadable []error         // documents that could not be read, left out of the merge
	Warnings   []string        // the merge's
}

// MergeOutcome merges the workers' result documents exactly; the merged document's plan
// is the run's (p, the plan the coordinator shipped) and its "run" object says how the
// cluster ran it (Summary). When no document came from a run that started (every
// worker lost), the report is still made: empty totals, and the cluster's account of
// what was lost. The error is a merge that failed.
func MergeOutcome(o *Outcome, p plan.Plan) (Merged, error) {
	var m Merged
	var reports []*metrics.Report
	for i := range o.Workers {
		w := &o.Workers[i]
		if w.Document == nil {
			continue
		}
		r, err := metrics.ReadReport(bytes.NewReader(w.Document))
		if err != nil {
			m.Unreadable = append(m.Unreadable, fmt.Errorf("worker %s: result document: %w", w.Name, err))
			continue
		}
		r.Origin = fmt.Sprintf("%s (shard %d)", w.Name, w.Shard)
		reports = append(reports, r)
	}
	m.Delivered = len(reports)
	if len(reports) == 0 && o.StartAt.IsZero() {
		return m, nil // the run never started: nothing to report
	}
	merged := metrics.NewReport(nil, o.StartAt, time.Since(o.StartAt), metrics.Totals{}, nil, nil)
	if len(reports) > 0 {
		var err error
		if merged, m.Warnings, err = metrics.Merge(reports, -1); err != nil {
			return m, err
		}
	}
	summary, err := json.Marshal(o.Summary())
	if err != nil {
		return m, fmt.Errorf("cluster summary: %w", err)
	}
	merged.Plan = p.ForReport().JSON()
	merged.Run = &metrics.RunInfo{Tool: Tool, PlanFingerprint: p.Fingerprint(), StartSkewNs: int64(o.StartSkew), Cluster: summary}
	m.Report = merged
	return m, nil
}

package main

import (
	"encoding/json"
	"fmt"

	"github.com/go-smtp-source/go-smtp-source/cluster"
	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// checkShardReports is merge's check of --shard reports: when any report is a shard,
// all must be the shards of one plan, each exactly once. It returns whether they are
// shards.
func checkShardReports(reports []*metrics.Report) (bool, error) {
	names := make([]string, len(reports))
	plans := make([]json.RawMessage, len(reports))
	for i, r := range reports {
		names[i], plans[i] = r.Origin, r.Plan
	}
	_, ok, err := cluster.CheckShards(names, plans)
	if err != nil {
		return ok, fmt.Errorf("merge: %w", err)
	}
	return ok, nil
}

// setShardMergedPlan gives the merge of a complete set of shards the plan they share
// (metrics.Merge keeps a plan only when all are equal, and shards' differ by index).
func setShardMergedPlan(merged *metrics.Report, reports []*metrics.Report) error {
	plans := make([]json.RawMessage, len(reports))
	for i, r := range reports {
		plans[i] = r.Plan
	}
	p, err := cluster.MergedPlan(plans)
	if err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	// The measured start skew: the spread of the shards' actual starts.
	first, last := reports[0].Start, reports[0].Start
	for _, r := range reports[1:] {
		if r.Start.Before(first) {
			first = r.Start
		}
		if r.Start.After(last) {
			last = r.Start
		}
	}
	var m map[string]any
	if err := json.Unmarshal(p, &m); err != nil {
		return fmt.Errorf("merge: plan: %w", err)
	}
	if sh, ok := m["shard"].(map[string]any); ok {
		sh["start_skew_ns"] = last.Sub(first).Nanoseconds()
	}
	if merged.Plan, err = json.Marshal(m); err != nil {
		return fmt.Errorf("merge: plan: %w", err)
	}
	return nil
}

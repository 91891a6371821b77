package cluster

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/plan"
)

// Tool names the program in result documents' "run" object.
const Tool = "go-smtp-source"

// shardID is a result document's place in a split run: which shard of how many, by
// which weights, of which plan.
type shardID struct {
	Index       int
	Count       int
	Weights     []int64 // nil: equal weights (version 1 wrote them only when unequal)
	Fingerprint string
}

// readShardID reads a document's shard, if it is one. A version-2 document's plan is a
// plan.Plan: its shard and its fingerprint (computed from the plan, the same for every
// shard of it). A version-1 document's plan carried a "shard" object with both.
func readShardID(r *metrics.Report) (id shardID, ok bool, err error) {
	if len(r.Plan) == 0 {
		return shardID{}, false, nil
	}
	var head struct {
		Shard *json.RawMessage `json:"shard"`
	}
	if err := json.Unmarshal(r.Plan, &head); err != nil || head.Shard == nil {
		return shardID{}, false, nil // not an object, or no shard: not a shard
	}
	if r.SchemaVersion == 1 {
		return readShardIDv1(*head.Shard)
	}
	p, err := plan.Decode(r.Plan)
	if err != nil {
		return shardID{}, false, err
	}
	if err := p.Validate(); err != nil {
		return shardID{}, false, fmt.Errorf("plan: %w", err)
	}
	return shardID{Index: p.Shard.Index, Count: p.Shard.Count(), Weights: p.Shard.Weights, Fingerprint: p.Fingerprint()}, true, nil
}

func readShardIDv1(raw json.RawMessage) (shardID, bool, error) {
	var sh struct {
		Index       int     `json:"index"`
		Count       int     `json:"count"`
		Weights     []int64 `json:"weights"`
		Fingerprint string  `json:"plan_fingerprint"`
	}
	if err := json.Unmarshal(raw, &sh); err != nil {
		return shardID{}, false, fmt.Errorf("plan: %w", err)
	}
	if sh.Count < 1 || sh.Index < 0 || sh.Index >= sh.Count || sh.Fingerprint == "" {
		return shardID{}, false, fmt.Errorf("plan: bad shard %d/%d (fingerprint %q)", sh.Index, sh.Count, sh.Fingerprint)
	}
	id := shardID(sh)
	if len(id.Weights) == 0 {
		id.Weights = nil
	}
	return id, true, nil
}

// sameRun reports whether two shards belong to one split of one plan.
func (id shardID) sameRun(o shardID) bool {
	return id.Fingerprint == o.Fingerprint && id.Count == o.Count && slices.Equal(id.equalWeights(), o.equalWeights())
}

// equalWeights is the weights with equal ones written out.
func (id shardID) equalWeights() []int64 {
	if id.Weights != nil {
		return id.Weights
	}
	w := make([]int64, id.Count)
	for i := range w {
		w[i] = 1
	}
	return w
}

// CheckShards checks that reports are the shards of one plan, each present exactly
// once. It returns false (and no error) when none of them is a shard: an ordinary merge
// of independent runs. The error, one line, names the first problem: a report that is
// not a shard among shards, a foreign plan, a shard present twice, shards missing.
func CheckShards(reports []*metrics.Report) (bool, error) {
	ids := make([]shardID, len(reports))
	firstAt := -1
	for i, r := range reports {
		id, isShard, err := readShardID(r)
		if err != nil {
			return false, fmt.Errorf("%s: %w", r.Origin, err)
		}
		ids[i] = id
		if !isShard {
			ids[i].Index = -1
		} else if firstAt < 0 {
			firstAt = i
		}
	}
	if firstAt < 0 {
		return false, nil
	}
	first, firstName := ids[firstAt], reports[firstAt].Origin
	seen := make([]int, first.Count) // index+1 of the report holding each shard
	for i, id := range ids {
		switch {
		case id.Index < 0:
			return true, fmt.Errorf("%s is not a shard, but %s is (shard %d/%d): merge the shards of one plan together", reports[i].Origin, firstName, first.Index, first.Count)
		case !id.sameRun(first):
			return true, fmt.Errorf("%s is shard %d/%d of another plan (fingerprint %s) than %s (shard %d/%d, fingerprint %s)",
				reports[i].Origin, id.Index, id.Count, id.Fingerprint, firstName, first.Index, first.Count, first.Fingerprint)
		case seen[id.Index] != 0:
			return true, fmt.Errorf("shard %d/%d is present twice: %s and %s", id.Index, id.Count, reports[seen[id.Index]-1].Origin, reports[i].Origin)
		}
		seen[id.Index] = i + 1
	}
	var missing []string
	for k, at := range seen {
		if at == 0 {
			missing = append(missing, fmt.Sprint(k))
		}
	}
	if len(missing) > 0 {
		return true, fmt.Errorf("plan %s: shard(s) %s of %d missing (only %d report(s) given)", first.Fingerprint, strings.Join(missing, ","), first.Count, len(reports))
	}
	return true, nil
}

// MergeReports merges result documents exactly (metrics.Merge). When they are the
// shards of one plan (checked by CheckShards) the merge is the whole run's document: the
// run's plan (version-2 shards; version 1's plans are kept per source only), its
// fingerprint and the measured spread of the shards' starts.
func MergeReports(reports []*metrics.Report, maxStartSkew time.Duration) (*metrics.Report, []string, error) {
	sharded, err := CheckShards(reports)
	if err != nil {
		return nil, nil, fmt.Errorf("merge: %w", err)
	}
	merged, warnings, err := metrics.Merge(reports, maxStartSkew)
	if err != nil || !sharded {
		return merged, warnings, err
	}
	id, _, _ := readShardID(reports[0])
	merged.Run = &metrics.RunInfo{Tool: Tool, PlanFingerprint: id.Fingerprint, StartSkewNs: int64(startSpread(reports))}
	if reports[0].SchemaVersion == 1 {
		return merged, warnings, nil
	}
	p, err := plan.Decode(reports[0].Plan)
	if err != nil {
		return nil, nil, fmt.Errorf("merge: %s: %w", reports[0].Origin, err)
	}
	merged.Plan = p.WholeRun().JSON()
	return merged, warnings, nil
}

// startSpread is the time between the earliest and the latest start of reports.
func startSpread(reports []*metrics.Report) time.Duration {
	first, last := reports[0].Start, reports[0].Start
	for _, r := range reports[1:] {
		if r.Start.Before(first) {
			first = r.Start
		}
		if r.Start.After(last) {
			last = r.Start
		}
	}
	return last.Sub(first)
}

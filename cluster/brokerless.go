package cluster

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// ShardPlan is what a shard's result document says about its place in the run (the
// "shard" object of its plan): which shard of how many, the weights, the shared start,
// and the fingerprint of the plan all shards share.
type ShardPlan struct {
	Index       int       `json:"index"`
	Count       int       `json:"count"`
	Weights     []int64   `json:"weights,omitempty"` // absent: equal weights
	StartAt     time.Time `json:"start_at,omitzero"`
	Fingerprint string    `json:"plan_fingerprint"`
	Worker      string    `json:"worker,omitempty"` // the NATS worker's name, when there was one
}

// Fingerprint is the hex SHA-256 (first 16 bytes) of a plan's defining fields, given in
// any order: the same fields in any order give the same fingerprint.
func Fingerprint(fields []string) string {
	sorted := append([]string(nil), fields...)
	sort.Strings(sorted)
	h := sha256.New()
	for _, f := range sorted {
		fmt.Fprintf(h, "%d:%s\n", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// ReadShardPlan extracts the "shard" object of a result document's plan; ok is false
// when the plan has none (a run that was not a shard).
func ReadShardPlan(plan json.RawMessage) (sp ShardPlan, ok bool, err error) {
	if len(plan) == 0 {
		return ShardPlan{}, false, nil
	}
	var p struct {
		Shard *ShardPlan `json:"shard"`
	}
	if err := json.Unmarshal(plan, &p); err != nil {
		return ShardPlan{}, false, fmt.Errorf("plan: %w", err)
	}
	if p.Shard == nil {
		return ShardPlan{}, false, nil
	}
	if p.Shard.Count < 1 || p.Shard.Index < 0 || p.Shard.Index >= p.Shard.Count || p.Shard.Fingerprint == "" {
		return ShardPlan{}, false, fmt.Errorf("plan: bad shard %d/%d (fingerprint %q)", p.Shard.Index, p.Shard.Count, p.Shard.Fingerprint)
	}
	return *p.Shard, true, nil
}

// CheckShards checks that documents named names, with plans plans, are the shards of one
// plan, each present exactly once. It returns ok false (and no error) when none of them
// is a shard: an ordinary merge of independent runs. The error, one line, names the
// first problem: a report that is not a shard among shards, a foreign plan, a shard
// present twice, shards missing.
func CheckShards(names []string, plans []json.RawMessage) (first ShardPlan, ok bool, err error) {
	shards := make([]ShardPlan, len(plans))
	var anyShard bool
	firstAt := -1
	for i, raw := range plans {
		sp, isShard, err := ReadShardPlan(raw)
		if err != nil {
			return ShardPlan{}, false, fmt.Errorf("%s: %w", names[i], err)
		}
		if isShard {
			anyShard = true
			if firstAt < 0 {
				firstAt = i
			}
		}
		shards[i] = sp
		if !isShard {
			shards[i].Index = -1
		}
	}
	if !anyShard {
		return ShardPlan{}, false, nil
	}
	first = shards[firstAt]
	seen := make([]int, first.Count) // index+1 of the report holding each shard
	for i, sp := range shards {
		switch {
		case sp.Index < 0:
			return first, true, fmt.Errorf("%s is not a shard, but %s is (shard %d/%d): merge the shards of one plan together", names[i], names[firstAt], first.Index, first.Count)
		case sp.Fingerprint != first.Fingerprint || sp.Count != first.Count || !equalWeights(sp.Weights, first.Weights):
			return first, true, fmt.Errorf("%s is shard %d/%d of another plan (fingerprint %s) than %s (shard %d/%d, fingerprint %s)",
				names[i], sp.Index, sp.Count, sp.Fingerprint, names[firstAt], first.Index, first.Count, first.Fingerprint)
		case seen[sp.Index] != 0:
			return first, true, fmt.Errorf("shard %d/%d is present twice: %s and %s", sp.Index, sp.Count, names[seen[sp.Index]-1], names[i])
		}
		seen[sp.Index] = i + 1
	}
	var missing []string
	for k, at := range seen {
		if at == 0 {
			missing = append(missing, fmt.Sprint(k))
		}
	}
	if len(missing) > 0 {
		return first, true, fmt.Errorf("plan %s: shard(s) %s of %d missing (only %d report(s) given)", first.Fingerprint, strings.Join(missing, ","), first.Count, len(plans))
	}
	return first, true, nil
}

func equalWeights(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// MergedPlan is the plan of the merge of a complete set of shards: the first shard's
// plan with the shard's index removed and the counts (messages, sessions, max_sessions)
// replaced by the sums over the shards.
func MergedPlan(plans []json.RawMessage) (json.RawMessage, error) {
	if len(plans) == 0 {
		return nil, nil
	}
	var merged map[string]any
	if err := json.Unmarshal(plans[0], &merged); err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	sums := map[string]int64{}
	for _, raw := range plans {
		var counts map[string]json.Number
		d := json.NewDecoder(strings.NewReader(string(raw)))
		d.UseNumber()
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			return nil, fmt.Errorf("plan: %w", err)
		}
		counts = map[string]json.Number{}
		for _, k := range []string{"messages", "sessions", "max_sessions"} {
			if n, ok := m[k].(json.Number); ok {
				counts[k] = n
			}
		}
		for k, n := range counts {
			v, err := n.Int64()
			if err != nil {
				return nil, fmt.Errorf("plan: %s: %w", k, err)
			}
			sums[k] += v
		}
	}
	for k, v := range sums {
		merged[k] = v
	}
	if sh, ok := merged["shard"].(map[string]any); ok {
		delete(sh, "index")
		delete(sh, "worker")
	}
	return json.Marshal(merged)
}

package plan

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// The split lives with the plan, not in cluster/, because a shard is part of a plan:
// the engine runs "shard k of these weights" as it is, and computes from the weights
// alone which messages and how many sessions are its own. Every process that holds the
// plan computes the same split.

// MaxWeightSum bounds the sum of the weights, which is the period of the ownership
// pattern (every process holds the pattern in memory).
const MaxWeightSum = 1 << 16

// Split is a run divided into len(Weights) shards in proportion to their weights, the
// execution-segment idea: shard k owns the segment [B_k/W, B_{k+1}/W) of every total,
// where B_k is the sum of the weights before k and W the sum of them all.
//
// Integer totals (sessions, and anything counted) are shared with Share, which
// telescopes, so the shares always add up to the total exactly. Messages are owned by a
// fixed interleave of period W built by smooth weighted round-robin, in which shard k
// appears exactly w_k times: message g belongs to the shard at position g mod W, so
// with equal weights it is g mod N. Every process that knows the weights computes the
// same pattern.
type Split struct {
	weights []int64
	bounds  []int64 // len(weights)+1 prefix sums
	owner   []int   // the pattern: owner[t] for t in [0, W)
}

// NewSplit checks the weights (each ≥ 1, sum ≤ MaxWeightSum) and builds the pattern.
func NewSplit(weights []int64) (*Split, error) {
	if len(weights) == 0 {
		return nil, errors.New("split: no shards")
	}
	s := &Split{weights: append([]int64(nil), weights...), bounds: make([]int64, len(weights)+1)}
	for k, w := range weights {
		if w < 1 {
			return nil, fmt.Errorf("split: shard %d has weight %d (want ≥ 1)", k, w)
		}
		s.bounds[k+1] = s.bounds[k] + w
		if s.bounds[k+1] > MaxWeightSum {
			return nil, fmt.Errorf("split: weights add up to more than %d", MaxWeightSum)
		}
	}
	s.owner = smoothInterleave(weights, s.bounds[len(weights)])
	return s, nil
}

// smoothInterleave is smooth weighted round-robin's pattern of period total (the sum of
// the weights). Equal weights give plain round-robin, t mod n, computed directly: the
// general loop costs total × n steps, seconds for 65,536 shards.
func smoothInterleave(weights []int64, total int64) []int {
	if slices.ContainsFunc(weights, func(w int64) bool { return w != weights[0] }) {
		return weightedRoundRobin(weights, total)
	}
	owner := make([]int, total)
	for t := range owner {
		owner[t] = t % len(weights)
	}
	return owner
}

// weightedRoundRobin: each step every shard gains its weight, and the richest (the
// first of equals) takes the position and pays total.
func weightedRoundRobin(weights []int64, total int64) []int {
	owner := make([]int, total)
	current := make([]int64, len(weights))
	for t := range owner {
		best := 0
		for k, w := range weights {
			current[k] += w
			if current[k] > current[best] {
				best = k
			}
		}
		current[best] -= total
		owner[t] = best
	}
	return owner
}

// EqualSplit is n shards of weight 1.
func EqualSplit(n int) (*Split, error) {
	if n < 1 {
		return nil, fmt.Errorf("split: %d shards", n)
	}
	w := make([]int64, n)
	for i := range w {
		w[i] = 1
	}
	return NewSplit(w)
}

// N is the number of shards.
func (s *Split) N() int { return len(s.weights) }

// Weights returns a copy of the weights.
func (s *Split) Weights() []int64 { return append([]int64(nil), s.weights...) }

// Period is the length of the ownership pattern (the sum of the weights).
func (s *Split) Period() int64 { return int64(len(s.owner)) }

// Owner is the shard that owns global message g (g ≥ 0).
func (s *Split) Owner(g int64) int { return s.owner[g%int64(len(s.owner))] }

// Shard is the messages shard k owns.
func (s *Split) Shard(k int) *Ownership {
	sh := &Ownership{Period: s.Period()}
	for t, o := range s.owner {
		if o == k {
			sh.Offsets = append(sh.Offsets, int64(t))
		}
	}
	return sh
}

// Share is shard k's part of the integer total q ≥ 0:
// round_half_up(q·B_{k+1}/W) − round_half_up(q·B_k/W). The shares of all shards add up
// to q exactly, and each differs from q·w_k/W by less than 1.
func (s *Split) Share(k int, q int64) int64 {
	return s.scaled(q, s.bounds[k+1]) - s.scaled(q, s.bounds[k])
}

// scaled is round_half_up(q·b/W) without overflow for q·b < 2^63 (b ≤ MaxWeightSum).
func (s *Split) scaled(q, b int64) int64 {
	w := s.Period()
	// q·b/W = (q/W)·b + (q%W)·b/W; the second product stays below W·W ≤ 2^32.
	whole := q / w * b
	rest := q % w * b
	return whole + (2*rest+w)/(2*w)
}

// Validate checks that the split can run the plan: every shard that owns messages
// (of messages in total; 0 for a run without a count, where every shard works) gets at
// least one of sessions.
func (s *Split) Validate(messages, sessions int64) error {
	for k := range s.weights {
		owns := messages == 0 || s.Shard(k).Count(messages) > 0
		if owns && s.Share(k, sessions) < 1 {
			return fmt.Errorf("split: shard %d of %d would own messages but get no session of %d: use fewer shards or more sessions", k, s.N(), sessions)
		}
	}
	return nil
}

// Shard is one process's place in a run spread over several (a cluster worker, or a
// --shard run): shard Index of the split by Weights (one weight per shard). The plan's
// Messages, Sessions and MaxSessions stay the whole run's; the process sends only the
// messages its shard owns, under their global numbers and due times, over its share of
// the sessions.
type Shard struct {
	Index   int     `json:"index"`
	Weights []int64 `json:"weights"`
}

// Count is the number of shards.
func (sh *Shard) Count() int { return len(sh.Weights) }

// ParseShard reads "i/n" (n equal shards) or "i/n:w0,w1,…" (n weights), i from 0.
func ParseShard(v string) (Shard, error) {
	spec, weights, hasWeights := strings.Cut(v, ":")
	is, ns, ok := strings.Cut(spec, "/")
	if !ok {
		return Shard{}, fmt.Errorf("shard %q: want i/n or i/n:w0,w1,…", v)
	}
	i, err1 := strconv.Atoi(is)
	n, err2 := strconv.Atoi(ns)
	if err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("shard %q: want 0 ≤ i < n", v)
	}
	if n > MaxWeightSum {
		return Shard{}, fmt.Errorf("shard %q: more than %d shards", v, MaxWeightSum)
	}
	id := Shard{Index: i, Weights: make([]int64, n)}
	for k := range id.Weights {
		id.Weights[k] = 1
	}
	if hasWeights {
		ws := strings.Split(weights, ",")
		if len(ws) != n {
			return Shard{}, fmt.Errorf("shard %q: %d weights for %d shards", v, len(ws), n)
		}
		for k, w := range ws {
			x, err := strconv.ParseInt(w, 10, 64)
			if err != nil || x < 1 {
				return Shard{}, fmt.Errorf("shard %q: weight %q is not a positive integer", v, w)
			}
			id.Weights[k] = x
		}
	}
	if _, err := NewSplit(id.Weights); err != nil {
		return Shard{}, fmt.Errorf("shard %q: %w", v, err)
	}
	return id, nil
}

// String is the i/n[:weights] form.
func (sh Shard) String() string {
	s := fmt.Sprintf("%d/%d", sh.Index, len(sh.Weights))
	for _, w := range sh.Weights {
		if w != 1 {
			ws := make([]string, len(sh.Weights))
			for k, w := range sh.Weights {
				ws[k] = strconv.FormatInt(w, 10)
			}
			return s + ":" + strings.Join(ws, ",")
		}
	}
	return s
}

// Ownership is the part of a run's messages that one shard owns: message g (0-based,
// global) belongs to it when g mod Period is one of Offsets. Every shard of a run uses
// the same Period, and every offset in [0, Period) belongs to exactly one shard, so each
// message has one owner and keeps its global number (Message-Id, recipient numbers,
// open-model due time) whoever sends it.
type Ownership struct {
	Period  int64
	Offsets []int64 // sorted, distinct, each in [0, Period)
}

// Validate checks the shape of an ownership.
func (o *Ownership) Validate() error {
	if o.Period < 1 || len(o.Offsets) == 0 || int64(len(o.Offsets)) > o.Period {
		return fmt.Errorf("shard: period %d with %d offsets", o.Period, len(o.Offsets))
	}
	if !sort.SliceIsSorted(o.Offsets, func(i, j int) bool { return o.Offsets[i] < o.Offsets[j] }) {
		return fmt.Errorf("shard: offsets not sorted")
	}
	for i, off := range o.Offsets {
		if off < 0 || off >= o.Period || i > 0 && off == o.Offsets[i-1] {
			return fmt.Errorf("shard: bad offset %d for period %d", off, o.Period)
		}
	}
	return nil
}

// Global is the global index of this shard's n-th message (both from 0).
func (o *Ownership) Global(n int64) int64 {
	k := int64(len(o.Offsets))
	return n/k*o.Period + o.Offsets[n%k]
}

// Count is how many of the global messages [0, total) this shard owns.
func (o *Ownership) Count(total int64) int64 {
	full := total / o.Period
	n := full * int64(len(o.Offsets))
	rest := total % o.Period
	for _, off := range o.Offsets {
		if off < rest {
			n++
		}
	}
	return n
}

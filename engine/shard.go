package engine

import (
	"fmt"
	"sort"
)

// Shard is the part of a run's messages that this process owns when one test is spread
// over several: message g (0-based, global) belongs to it when g mod Period is one of
// Offsets. Every shard of a run uses the same Period, and every offset in [0, Period)
// belongs to exactly one shard, so each message has one owner and keeps its global
// number (Message-Id, recipient numbers, open-model due time) whoever sends it.
type Shard struct {
	Period  int64
	Offsets []int64 // sorted, distinct, each in [0, Period)
}

// Validate checks the shape of a shard.
func (s *Shard) Validate() error {
	if s.Period < 1 || len(s.Offsets) == 0 || int64(len(s.Offsets)) > s.Period {
		return fmt.Errorf("shard: period %d with %d offsets", s.Period, len(s.Offsets))
	}
	if !sort.SliceIsSorted(s.Offsets, func(i, j int) bool { return s.Offsets[i] < s.Offsets[j] }) {
		return fmt.Errorf("shard: offsets not sorted")
	}
	for i, o := range s.Offsets {
		if o < 0 || o >= s.Period || i > 0 && o == s.Offsets[i-1] {
			return fmt.Errorf("shard: bad offset %d for period %d", o, s.Period)
		}
	}
	return nil
}

// Global is the global index of this shard's n-th message (both from 0).
func (s *Shard) Global(n int64) int64 {
	k := int64(len(s.Offsets))
	return n/k*s.Period + s.Offsets[n%k]
}

// Count is how many of the global messages [0, total) this shard owns.
func (s *Shard) Count(total int64) int64 {
	full := total / s.Period
	n := full * int64(len(s.Offsets))
	rest := total % s.Period
	for _, o := range s.Offsets {
		if o < rest {
			n++
		}
	}
	return n
}

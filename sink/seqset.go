package sink

import (
	"math/bits"
	"strconv"
)

// seqSet is a set of sequence numbers: one bit each, in 8 KiB pages allocated when a
// number in their range is first added, so a run of N messages costs about N/8 bytes
// plus 8 bytes per 65,536 numbers of range.
type seqSet struct {
	pages []*seqPage
}

const (
	seqPageShift = 16
	seqPageBits  = 1 << seqPageShift
	seqPageWords = seqPageBits / 64
)

type seqPage [seqPageWords]uint64

// add puts n in the set and reports whether it was there already.
func (s *seqSet) add(n uint64) (had bool) {
	p := n >> seqPageShift
	if p >= uint64(len(s.pages)) {
		grown := make([]*seqPage, p+1, max(p+1, 2*uint64(len(s.pages))))
		copy(grown, s.pages)
		s.pages = grown
	}
	page := s.pages[p]
	if page == nil {
		page = new(seqPage)
		s.pages[p] = page
	}
	w, bit := (n%seqPageBits)/64, uint64(1)<<(n%64)
	had = page[w]&bit != 0
	page[w] |= bit
	return had
}

// has reports whether n is in the set.
func (s *seqSet) has(n uint64) bool {
	p := n >> seqPageShift
	if p >= uint64(len(s.pages)) || s.pages[p] == nil {
		return false
	}
	return s.pages[p][(n%seqPageBits)/64]&(uint64(1)<<(n%64)) != 0
}

// next is the first number ≥ from that is in the set (want true) or not (want false),
// or end when there is none below end.
func (s *seqSet) next(from, end uint64, want bool) uint64 {
	for n := from; n < end; {
		p := n >> seqPageShift
		var page *seqPage
		if p < uint64(len(s.pages)) {
			page = s.pages[p]
		}
		if page == nil {
			if !want {
				return n
			}
			n = (p + 1) << seqPageShift
			continue
		}
		word := page[(n%seqPageBits)/64]
		if !want {
			word = ^word
		}
		word >>= n % 64
		if word != 0 {
			return min(n+uint64(bits.TrailingZeros64(word)), end)
		}
		n = (n/64 + 1) * 64
	}
	return end
}

// ranges calls visit for each maximal run [first, last] of members within [lo, hi].
func (s *seqSet) ranges(lo, hi uint64, visit func(first, last uint64)) {
	for n := lo; n <= hi; {
		a := s.next(n, hi+1, true)
		if a > hi {
			return
		}
		b := s.next(a, hi+1, false)
		visit(a, b-1)
		n = b
	}
}

// absent lists up to limit numbers of [lo, hi] that are not in the set.
func (s *seqSet) absent(lo, hi uint64, limit int) []uint64 {
	var out []uint64
	for n := lo; n <= hi && len(out) < limit; n++ {
		n = s.next(n, hi+1, false)
		if n > hi {
			break
		}
		out = append(out, n)
	}
	return out
}

// appendRanges appends the members of [lo, hi] as "a-b,c,d-e" (runs in increasing order).
func (s *seqSet) appendRanges(dst []byte, lo, hi uint64) []byte {
	first := true
	s.ranges(lo, hi, func(a, b uint64) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = strconv.AppendUint(dst, a, 10)
		if b > a {
			dst = append(dst, '-')
			dst = strconv.AppendUint(dst, b, 10)
		}
	})
	return dst
}

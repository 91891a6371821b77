package metrics

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strconv"
	"strings"
	"sync/atomic"
)

// MaxSeq is the highest message sequence number a SeqSet holds: go-smtp-sink's default
// limit, 2^32 (512 MiB of bits if every page were present).
const MaxSeq = 1 << 32

// SeqSet is a set of message sequence numbers (1 … MaxSeq): one bit each, in 8 KiB pages
// allocated when a number in their range is first added, so a run of N messages costs
// about N/8 bytes. It is what end-to-end reconciliation compares: the messages the
// source had accepted, and those a sink saw. Its JSON form is a compressed bitmap (see
// MarshalJSON), about one bit per message at worst and a few bytes for a run without
// holes. The zero value is an empty set; a SeqSet is not safe for concurrent use (see
// SeqRecorder).
type SeqSet struct {
	pages   []*seqPage
	count   int64
	highest uint64
}

const (
	seqPageShift = 16
	seqPageBits  = 1 << seqPageShift
	seqPageWords = seqPageBits / 64
	seqPageBytes = seqPageBits / 8
)

type seqPage [seqPageWords]uint64

// NewSeqSet is an empty set.
func NewSeqSet() *SeqSet { return &SeqSet{} }

// SeqSetOf is the set of the given numbers (for tests and small sets).
func SeqSetOf(ns ...uint64) *SeqSet {
	s := NewSeqSet()
	for _, n := range ns {
		s.Add(n)
	}
	return s
}

// Add puts n in the set and reports whether it was not there yet; a number outside
// 1 … MaxSeq is not a sequence number and is not added.
func (s *SeqSet) Add(n uint64) bool {
	if n == 0 || n > MaxSeq {
		return false
	}
	page := s.page(n>>seqPageShift, true)
	w, bit := (n%seqPageBits)/64, uint64(1)<<(n%64)
	if page[w]&bit != 0 {
		return false
	}
	page[w] |= bit
	s.count++
	s.highest = max(s.highest, n)
	return true
}

// addRange adds lo … hi (1 ≤ lo ≤ hi ≤ MaxSeq, none of them members yet) a word at a
// time.
func (s *SeqSet) addRange(lo, hi uint64) {
	for n := lo; n <= hi; {
		page := s.page(n>>seqPageShift, true)
		w, from := (n%seqPageBits)/64, n%64
		to := min(63, from+(hi-n)) // the last bit of this word to set
		mask := (^uint64(0) >> (63 - to)) &^ (uint64(1)<<from - 1)
		page[w] |= mask
		n += to - from + 1
	}
	s.count += int64(hi - lo + 1)
	s.highest = max(s.highest, hi)
}

// page is page p, created when create is set (nil otherwise when absent).
func (s *SeqSet) page(p uint64, create bool) *seqPage {
	if p >= uint64(len(s.pages)) {
		if !create {
			return nil
		}
		grown := make([]*seqPage, p+1, max(p+1, 2*uint64(len(s.pages))))
		copy(grown, s.pages)
		s.pages = grown
	}
	if s.pages[p] == nil && create {
		s.pages[p] = new(seqPage)
	}
	return s.pages[p]
}

// Has reports whether n is in the set.
func (s *SeqSet) Has(n uint64) bool {
	if s == nil {
		return false
	}
	page := s.page(n>>seqPageShift, false)
	return page != nil && page[(n%seqPageBits)/64]&(uint64(1)<<(n%64)) != 0
}

// Len is the number of members (0 for a nil set).
func (s *SeqSet) Len() int64 {
	if s == nil {
		return 0
	}
	return s.count
}

// Highest is the largest member (0 when empty).
func (s *SeqSet) Highest() uint64 {
	if s == nil {
		return 0
	}
	return s.highest
}

// Clone is an independent copy (of a nil set: an empty one).
func (s *SeqSet) Clone() *SeqSet {
	c := NewSeqSet()
	c.Union(s)
	return c
}

// Union adds every member of o to s (o may be nil).
func (s *SeqSet) Union(o *SeqSet) {
	if o == nil || o == s {
		return
	}
	for p, op := range o.pages {
		if op == nil {
			continue
		}
		dst := s.page(uint64(p), true)
		for w, word := range op {
			s.count += int64(bits.OnesCount64(word &^ dst[w]))
			dst[w] |= word
		}
	}
	s.highest = max(s.highest, o.highest)
}

// Difference is a new set of the members of s that are not in o (either may be nil).
func Difference(s, o *SeqSet) *SeqSet {
	return combine(s, o, func(a, b uint64) uint64 { return a &^ b })
}

// Intersection is a new set of the members of both s and o.
func Intersection(s, o *SeqSet) *SeqSet {
	return combine(s, o, func(a, b uint64) uint64 { return a & b })
}

// combine builds the set of s's pages combined word by word with o's by op, where
// op(0, x) is 0 (so that only s's pages need visiting).
func combine(s, o *SeqSet, op func(a, b uint64) uint64) *SeqSet {
	out := NewSeqSet()
	if s == nil {
		return out
	}
	var zero seqPage
	for p, sp := range s.pages {
		if sp == nil {
			continue
		}
		op2 := &zero
		if o != nil {
			if pg := o.page(uint64(p), false); pg != nil {
				op2 = pg
			}
		}
		var np seqPage
		var n int
		for w := range sp {
			np[w] = op(sp[w], op2[w])
			n += bits.OnesCount64(np[w])
		}
		if n > 0 {
			out.page(uint64(p), true)
			*out.pages[p] = np
			out.count += int64(n)
			out.highest = uint64(p)<<seqPageShift + lastBit(&np)
		}
	}
	return out
}

// lastBit is the index of the highest set bit of a page that has one.
func lastBit(p *seqPage) uint64 {
	for w := len(p) - 1; w >= 0; w-- {
		if p[w] != 0 {
			return uint64(w)*64 + uint64(63-bits.LeadingZeros64(p[w]))
		}
	}
	return 0
}

// Members is the first limit members in increasing order (all with limit < 0).
func (s *SeqSet) Members(limit int) []uint64 {
	var out []uint64
	s.ranges(func(a, b uint64) bool {
		for n := a; n <= b; n++ {
			if limit >= 0 && len(out) >= limit {
				return false
			}
			out = append(out, n)
		}
		return true
	})
	return out
}

// Absent is the first limit numbers of lo … hi that are not members, in increasing order.
// It skips whole words of members, so a set with few gaps is listed in a pass over its bits.
func (s *SeqSet) Absent(lo, hi uint64, limit int) []uint64 {
	var out []uint64
	for n := lo; n <= hi && len(out) < limit; n++ {
		var page *seqPage
		if s != nil {
			page = s.page(n>>seqPageShift, false)
		}
		if page == nil {
			out = append(out, n)
			continue
		}
		gaps := ^page[(n%seqPageBits)/64] >> (n % 64)
		if gaps == 0 {
			n = (n/64+1)*64 - 1 // the loop's n++ moves to the next word
			continue
		}
		n += uint64(bits.TrailingZeros64(gaps))
		if n <= hi {
			out = append(out, n)
		}
	}
	return out
}

// ranges calls visit for each maximal run [a, b] of members, in increasing order, until
// visit returns false.
func (s *SeqSet) ranges(visit func(a, b uint64) bool) {
	if s == nil {
		return
	}
	var start, prev uint64
	for p, pg := range s.pages {
		if pg == nil {
			continue
		}
		for w, word := range pg {
			for word != 0 {
				n := uint64(p)<<seqPageShift + uint64(w)*64 + uint64(bits.TrailingZeros64(word))
				word &= word - 1
				if start != 0 && n == prev+1 {
					prev = n
					continue
				}
				if start != 0 && !visit(start, prev) {
					return
				}
				start, prev = n, n
			}
		}
	}
	if start != 0 {
		visit(start, prev)
	}
}

// AppendRanges appends the members as go-smtp-sink's seen_set writes them: comma-separated
// runs, "first-last" or a lone "n", in increasing order ("1-6,8,10-22").
func (s *SeqSet) AppendRanges(dst []byte) []byte {
	first := true
	s.ranges(func(a, b uint64) bool {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = strconv.AppendUint(dst, a, 10)
		if b > a {
			dst = append(dst, '-')
			dst = strconv.AppendUint(dst, b, 10)
		}
		return true
	})
	return dst
}

// ParseSeqRanges reads a set written as AppendRanges writes it (go-smtp-sink's seen_set):
// runs in strictly increasing, non-overlapping order, every number in 1 … MaxSeq. The
// empty string is the empty set.
func ParseSeqRanges(text string) (*SeqSet, error) {
	s := NewSeqSet()
	if text == "" {
		return s, nil
	}
	var last uint64
	for i, item := range strings.Split(text, ",") {
		lo, hi, err := parseSeqRange(item)
		if err != nil {
			return nil, fmt.Errorf("sequence ranges: item %d %q: %w", i+1, cut(item, 40), err)
		}
		if lo <= last {
			return nil, fmt.Errorf("sequence ranges: item %d %q: not above the run before it (%d)", i+1, cut(item, 40), last)
		}
		s.addRange(lo, hi)
		last = hi
	}
	return s, nil
}

func parseSeqRange(item string) (lo, hi uint64, err error) {
	a, b, isRange := strings.Cut(item, "-")
	if lo, err = parseSeq(a); err != nil {
		return 0, 0, err
	}
	hi = lo
	if isRange {
		if hi, err = parseSeq(b); err != nil {
			return 0, 0, err
		}
		if hi <= lo {
			return 0, 0, errors.New("a run's end must be above its start")
		}
	}
	return lo, hi, nil
}

func parseSeq(s string) (uint64, error) {
	if s == "" || len(s) > 10 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, errors.New("want a decimal sequence number")
	}
	n, _ := strconv.ParseUint(s, 10, 64)
	if n == 0 || n > MaxSeq {
		return 0, fmt.Errorf("%d is outside 1 … %d", n, uint64(MaxSeq))
	}
	return n, nil
}

func cut(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// seqSetJSON is a SeqSet's JSON form: the member count, the highest member, and the
// bitmap of bits 0 … highest (bit n is byte n/8's bit n%8, least significant first; bit 0
// is never set), zlib-compressed and base64-encoded (absent for the empty set).
type seqSetJSON struct {
	Count   int64  `json:"count"`
	Highest uint64 `json:"highest"`
	Bitmap  string `json:"bitmap,omitempty"`
}

// MarshalJSON writes {"count": N, "highest": H, "bitmap": "…"} (SCHEMA.md, "Sequence
// sets"). The same set always gives the same bytes.
func (s *SeqSet) MarshalJSON() ([]byte, error) {
	out := seqSetJSON{Count: s.Len(), Highest: s.Highest()}
	if out.Count > 0 {
		var buf bytes.Buffer
		z, _ := zlib.NewWriterLevel(&buf, zlib.DefaultCompression) // a valid level cannot fail
		s.writeBitmap(z)
		_ = z.Close() // writes into memory: cannot fail
		out.Bitmap = base64.StdEncoding.EncodeToString(buf.Bytes())
	}
	return json.Marshal(out)
}

// writeBitmap writes bytes 0 … highest/8 of the bitmap, absent pages as zeros.
func (s *SeqSet) writeBitmap(w io.Writer) {
	total := s.highest/8 + 1
	var zeros [seqPageBytes]byte
	var buf [seqPageBytes]byte
	for p := uint64(0); p*seqPageBytes < total; p++ {
		n := min(uint64(seqPageBytes), total-p*seqPageBytes)
		pg := s.page(p, false)
		if pg == nil {
			_, _ = w.Write(zeros[:n])
			continue
		}
		for i, word := range pg {
			for b := 0; b < 8; b++ {
				buf[i*8+b] = byte(word >> (8 * b))
			}
		}
		_, _ = w.Write(buf[:n])
	}
}

// UnmarshalJSON reads the JSON form and checks it: highest at most MaxSeq, a bitmap of
// exactly highest/8+1 bytes whose highest bit is highest's, no bit 0, and count members.
// Decoding streams page by page and allocates only pages with members, so a document
// cannot make it allocate more than its members need.
func (s *SeqSet) UnmarshalJSON(data []byte) error {
	var in seqSetJSON
	if err := json.Unmarshal(data, &in); err != nil {
		return err
	}
	got, err := decodeSeqSet(in)
	if err != nil {
		return fmt.Errorf("sequence set: %w", err)
	}
	*s = *got
	return nil
}

func decodeSeqSet(in seqSetJSON) (*SeqSet, error) {
	switch {
	case in.Highest > MaxSeq:
		return nil, fmt.Errorf("highest %d is above %d", in.Highest, uint64(MaxSeq))
	case in.Count < 0 || uint64(in.Count) > in.Highest:
		return nil, fmt.Errorf("count %d of numbers up to %d", in.Count, in.Highest)
	case in.Count == 0 && (in.Highest != 0 || in.Bitmap != ""):
		return nil, errors.New("an empty set has neither highest nor bitmap")
	case in.Count == 0:
		return NewSeqSet(), nil
	}
	raw, err := base64.StdEncoding.DecodeString(in.Bitmap)
	if err != nil {
		return nil, fmt.Errorf("bitmap: %w", err)
	}
	z, err := zlib.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("bitmap: %w", err)
	}
	defer z.Close()
	s, err := readBitmap(z, in.Highest/8+1)
	if err != nil {
		return nil, fmt.Errorf("bitmap: %w", err)
	}
	if s.highest != in.Highest || s.count != in.Count || s.Has(0) {
		return nil, fmt.Errorf("bitmap holds %d numbers up to %d, the set says %d up to %d", s.count, s.highest, in.Count, in.Highest)
	}
	return s, nil
}

// readBitmap reads exactly total bytes of bitmap from r, and then its end.
func readBitmap(r io.Reader, total uint64) (*SeqSet, error) {
	s := NewSeqSet()
	var buf [seqPageBytes]byte
	for p := uint64(0); p*seqPageBytes < total; p++ {
		n := min(uint64(seqPageBytes), total-p*seqPageBytes)
		if _, err := io.ReadFull(r, buf[:n]); err != nil {
			return nil, fmt.Errorf("shorter than its %d bytes: %w", total, err)
		}
		s.fillPage(p, buf[:n])
	}
	var one [1]byte
	if n, _ := r.Read(one[:]); n != 0 {
		return nil, fmt.Errorf("longer than its %d bytes", total)
	}
	if _, err := io.Copy(io.Discard, r); err != nil { // the stream's checksum
		return nil, err
	}
	return s, nil
}

// fillPage sets page p from its bytes (a short last page is zero-padded).
func (s *SeqSet) fillPage(p uint64, b []byte) {
	var pg seqPage
	var n int
	for i, c := range b {
		pg[i/8] |= uint64(c) << (8 * (i % 8))
		n += bits.OnesCount8(c)
	}
	if n == 0 {
		return
	}
	*s.page(p, true) = pg
	s.count += int64(n)
	s.highest = p<<seqPageShift + lastBit(&pg)
}

// SeqRecorder records sequence numbers from many goroutines at once, without a lock: a
// page pointer is installed by compare-and-swap, a bit set by an atomic OR. The engine
// records each accepted message in one.
type SeqRecorder struct {
	pages []atomic.Pointer[seqPage]
	limit uint64
}

// NewSeqRecorder records numbers 1 … limit (0 or above MaxSeq: MaxSeq); its page table
// costs 8 bytes per 65,536 numbers of that range.
func NewSeqRecorder(limit uint64) *SeqRecorder {
	if limit == 0 || limit > MaxSeq {
		limit = MaxSeq
	}
	return &SeqRecorder{pages: make([]atomic.Pointer[seqPage], limit>>seqPageShift+1), limit: limit}
}

// Add records n (numbers outside 1 … limit are ignored).
func (r *SeqRecorder) Add(n uint64) {
	if n == 0 || n > r.limit {
		return
	}
	slot := &r.pages[n>>seqPageShift]
	page := slot.Load()
	if page == nil {
		fresh := new(seqPage)
		if !slot.CompareAndSwap(nil, fresh) {
			fresh = slot.Load()
		}
		page = fresh
	}
	atomic.OrUint64(&page[(n%seqPageBits)/64], uint64(1)<<(n%64))
}

// Set is a copy of what was recorded so far.
func (r *SeqRecorder) Set() *SeqSet {
	s := NewSeqSet()
	for p := range r.pages {
		page := r.pages[p].Load()
		if page == nil {
			continue
		}
		var pg seqPage
		var n int
		for w := range page {
			pg[w] = atomic.LoadUint64(&page[w])
			n += bits.OnesCount64(pg[w])
		}
		if n > 0 {
			*s.page(uint64(p), true) = pg
			s.count += int64(n)
			s.highest = uint64(p)<<seqPageShift + lastBit(&pg)
		}
	}
	return s
}

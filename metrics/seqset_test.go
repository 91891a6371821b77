package metrics

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

// model is a SeqSet's reference: a map.
type model map[uint64]bool

func (m model) sorted() []uint64 {
	out := make([]uint64, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// randomSet is a set and its model: runs and single numbers around page boundaries.
func randomSet(rng *rand.Rand, n int) (*SeqSet, model) {
	s, m := NewSeqSet(), model{}
	for range n {
		base := uint64(rng.IntN(4))<<seqPageShift + uint64(rng.IntN(200))
		if rng.IntN(2) == 0 {
			base = uint64(rng.IntN(4)+1)<<seqPageShift - uint64(rng.IntN(100)) // just below a boundary
		}
		for k := uint64(0); k < uint64(1+rng.IntN(70)); k++ {
			if x := base + k; x > 0 {
				added := s.Add(x)
				if added == m[x] {
					panic("Add's report is wrong")
				}
				m[x] = true
			}
		}
	}
	return s, m
}

func checkSet(t *testing.T, what string, s *SeqSet, m model) {
	t.Helper()
	want := m.sorted()
	if got := s.Members(-1); !slices.Equal(got, want) {
		t.Fatalf("%s: members %v…, want %v…", what, head(got), head(want))
	}
	if s.Len() != int64(len(want)) {
		t.Fatalf("%s: Len %d, want %d", what, s.Len(), len(want))
	}
	highest := uint64(0)
	if len(want) > 0 {
		highest = want[len(want)-1]
	}
	if s.Highest() != highest {
		t.Fatalf("%s: Highest %d, want %d", what, s.Highest(), highest)
	}
}

func head(s []uint64) []uint64 { return s[:min(len(s), 10)] }

// The set's operations agree with a map on random sets whose runs cross page
// boundaries; its two text forms (ranges, JSON bitmap) give it back exactly.
func TestSeqSetAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		a, ma := randomSet(rng, 1+rng.IntN(20))
		b, mb := randomSet(rng, rng.IntN(20))
		checkSet(t, "a", a, ma)
		for n := uint64(0); n < 5<<seqPageShift; n += 97 {
			if a.Has(n) != ma[n] {
				t.Fatalf("round %d: Has(%d) = %v", round, n, a.Has(n))
			}
		}
		hi := a.Highest() + 200
		var absent []uint64
		for n := uint64(1); n <= hi && len(absent) < 3000; n++ {
			if !ma[n] {
				absent = append(absent, n)
			}
		}
		if got := a.Absent(1, hi, 3000); !slices.Equal(got, absent) {
			t.Fatalf("round %d: Absent: %d numbers %v…, want %d %v…", round, len(got), head(got), len(absent), head(absent))
		}
		union, inter, diff := model{}, model{}, model{}
		for n := range ma {
			union[n] = true
			if mb[n] {
				inter[n] = true
			} else {
				diff[n] = true
			}
		}
		for n := range mb {
			union[n] = true
		}
		checkSet(t, "a∩b", Intersection(a, b), inter)
		checkSet(t, "a∖b", Difference(a, b), diff)
		u := a.Clone()
		u.Union(b)
		checkSet(t, "a∪b", u, union)
		checkSet(t, "a after the union of its clone", a, ma)

		parsed, err := ParseSeqRanges(string(a.AppendRanges(nil)))
		if err != nil {
			t.Fatal(err)
		}
		checkSet(t, "ranges round trip", parsed, ma)
		js, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		var back SeqSet
		if err := json.Unmarshal(js, &back); err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		checkSet(t, "JSON round trip", &back, ma)
		again, _ := json.Marshal(&back)
		if string(again) != string(js) {
			t.Fatalf("the same set encodes differently: %s, %s", js, again)
		}
	}
}

func TestSeqSetEdges(t *testing.T) {
	s := NewSeqSet()
	for _, n := range []uint64{0, MaxSeq + 1} {
		if s.Add(n) || s.Len() != 0 {
			t.Errorf("Add(%d) took a number outside 1 … MaxSeq", n)
		}
	}
	if !s.Add(MaxSeq) || !s.Has(MaxSeq) || s.Highest() != MaxSeq {
		t.Errorf("MaxSeq not added")
	}
	var empty *SeqSet
	if empty.Len() != 0 || empty.Has(1) || empty.Members(-1) != nil || Difference(empty, s).Len() != 0 {
		t.Errorf("a nil set is not empty")
	}
	if got := empty.Absent(5, 7, 10); !slices.Equal(got, []uint64{5, 6, 7}) {
		t.Errorf("Absent from a nil set: %v", got)
	}
	if got := SeqSetOf(1, 2, 3, 5, 9, 10).Absent(1, 12, 3); !slices.Equal(got, []uint64{4, 6, 7}) {
		t.Errorf("Absent(1, 12, 3): %v", got)
	}
	if got := string(SeqSetOf(1, 2, 3, 5, 9, 10).AppendRanges(nil)); got != "1-3,5,9-10" {
		t.Errorf("ranges %q", got)
	}
	if got := SeqSetOf(4, 8, 1).Members(2); !slices.Equal(got, []uint64{1, 4}) {
		t.Errorf("Members(2) %v", got)
	}
	js, _ := json.Marshal(NewSeqSet())
	if string(js) != `{"count":0,"highest":0}` {
		t.Errorf("empty set: %s", js)
	}
}

func TestParseSeqRangesErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"0", "outside"},
		{"4294967297", "outside"},
		{"1-", "decimal"},
		{"-3", "decimal"},
		{"5-3", "above its start"},
		{"3-3", "above its start"},
		{"1,1", "not above"},
		{"1-5,4", "not above"},
		{"2,1", "not above"},
		{"1,,2", "decimal"},
		{"+1", "decimal"},
		{"1 ", "decimal"},
		{"99999999999", "decimal"},
	} {
		_, err := ParseSeqRanges(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.in, err, tc.want)
		}
	}
}

// A bitmap that does not say what its count and highest say is refused.
func TestSeqSetJSONRejects(t *testing.T) {
	good, _ := json.Marshal(SeqSetOf(1, 2, 3, 70000))
	var g seqSetJSON
	_ = json.Unmarshal(good, &g)
	other, _ := json.Marshal(SeqSetOf(1, 2, 3, 4, 70000))
	var o seqSetJSON
	_ = json.Unmarshal(other, &o)
	withZero := NewSeqSet()
	withZero.page(0, true)[0] = 3 // bits 0 and 1
	withZero.count, withZero.highest = 2, 1
	zero, _ := json.Marshal(withZero)
	short, _ := json.Marshal(SeqSetOf(1, 2, 3, 69000))
	var sh seqSetJSON
	_ = json.Unmarshal(short, &sh)
	for _, tc := range []struct {
		name string
		in   seqSetJSON
		want string
	}{
		{"count", seqSetJSON{Count: 5, Highest: 70000, Bitmap: g.Bitmap}, "the set says"},
		{"highest too high", seqSetJSON{Count: 4, Highest: 70008, Bitmap: g.Bitmap}, "shorter"},
		{"highest not its highest member", seqSetJSON{Count: 4, Highest: 70001, Bitmap: g.Bitmap}, "the set says"},
		{"highest above the limit", seqSetJSON{Count: 4, Highest: MaxSeq + 1, Bitmap: g.Bitmap}, "above"},
		{"bitmap of another set", seqSetJSON{Count: 4, Highest: 70000, Bitmap: o.Bitmap}, "the set says"},
		{"bitmap too long", seqSetJSON{Count: 4, Highest: 69000, Bitmap: g.Bitmap}, "longer"},
		{"bitmap too short", seqSetJSON{Count: 4, Highest: 70000, Bitmap: sh.Bitmap}, "shorter"},
		{"not base64", seqSetJSON{Count: 1, Highest: 1, Bitmap: "%%"}, "illegal base64"},
		{"not zlib", seqSetJSON{Count: 1, Highest: 1, Bitmap: "AAAA"}, "zlib"},
		{"empty with a bitmap", seqSetJSON{Bitmap: g.Bitmap}, "empty set"},
		{"negative count", seqSetJSON{Count: -1, Highest: 5}, "count"},
	} {
		js, _ := json.Marshal(tc.in)
		var s SeqSet
		if err := json.Unmarshal(js, &s); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	var s SeqSet
	if err := json.Unmarshal(zero, &s); err == nil {
		t.Errorf("bit 0 accepted: %s", zero)
	}
}

// The JSON form is bounded: a few bytes for a run without holes or a shard's interleave,
// about a bit per message for random holes.
func TestSeqSetJSONSize(t *testing.T) {
	const n = 1 << 20
	all, shard, holes := NewSeqSet(), NewSeqSet(), NewSeqSet()
	rng := rand.New(rand.NewPCG(3, 4))
	for i := uint64(1); i <= n; i++ {
		all.Add(i)
		if i%3 == 1 {
			shard.Add(i)
		}
		if rng.IntN(100) != 0 {
			holes.Add(i)
		}
	}
	for _, tc := range []struct {
		name string
		s    *SeqSet
		max  int
	}{{"all", all, 1024}, {"one of three shards", shard, 2048}, {"1% holes", holes, n / 8 * 11 / 10}} {
		js, _ := json.Marshal(tc.s)
		t.Logf("%s: %d numbers in %d bytes", tc.name, tc.s.Len(), len(js))
		if len(js) > tc.max {
			t.Errorf("%s: %d bytes, more than %d", tc.name, len(js), tc.max)
		}
	}
}

// Goroutines recording at once lose no number.
func TestSeqRecorderConcurrent(t *testing.T) {
	const n = 300000
	r := NewSeqRecorder(n)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := uint64(g + 1); i <= n; i += 4 {
				if i%7 != 0 {
					r.Add(i)
				}
			}
		}()
	}
	wg.Wait()
	r.Add(0)
	r.Add(n + 1) // outside its range: ignored
	want := model{}
	for i := uint64(1); i <= n; i++ {
		if i%7 != 0 {
			want[i] = true
		}
	}
	checkSet(t, "recorded", r.Set(), want)
}

func FuzzSeqSetJSON(f *testing.F) {
	for _, s := range []*SeqSet{NewSeqSet(), SeqSetOf(1), SeqSetOf(1, 2, 3, 9, 70000, 131072)} {
		js, _ := json.Marshal(s)
		f.Add(js)
	}
	f.Add([]byte(`{"count":1,"highest":1,"bitmap":"eJxiAgQAAP//AAQAAw=="}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s SeqSet
		if json.Unmarshal(data, &s) != nil {
			return
		}
		members := s.Members(-1)
		if int64(len(members)) != s.Len() || len(members) > 0 && (members[0] == 0 || members[len(members)-1] != s.Highest()) {
			t.Fatalf("decoded %d members up to %d, Len %d Highest %d", len(members), s.Highest(), s.Len(), s.Highest())
		}
		js, err := json.Marshal(&s)
		if err != nil {
			t.Fatal(err)
		}
		var back SeqSet
		if err := json.Unmarshal(js, &back); err != nil {
			t.Fatalf("re-encoded %s: %v", js, err)
		}
		if !slices.Equal(back.Members(-1), members) {
			t.Fatal("the round trip changed the set")
		}
	})
}

func FuzzParseSeqRanges(f *testing.F) {
	for _, s := range []string{"", "1", "1-6,8-22,24-50", "429496", "1-3,4", "65535-65537,131072"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if len(text) > 64 || longNumber(text) {
			return // a run of billions is slow, not interesting
		}
		s, err := ParseSeqRanges(text)
		if err != nil {
			return
		}
		again, err := ParseSeqRanges(string(s.AppendRanges(nil)))
		if err != nil || !slices.Equal(again.Members(-1), s.Members(-1)) {
			t.Fatalf("%q: the canonical form %q does not give the set back (%v)", text, s.AppendRanges(nil), err)
		}
	})
}

// longNumber reports whether text has a number of more than 6 digits.
func longNumber(text string) bool {
	digits := 0
	for i := 0; i < len(text); i++ {
		if text[i] >= '0' && text[i] <= '9' {
			if digits++; digits > 6 {
				return true
			}
		} else {
			digits = 0
		}
	}
	return false
}

// Absent finds the few gaps of a dense set, at word and page edges, and the numbers
// beyond its last page.
func TestSeqSetAbsentInDenseSet(t *testing.T) {
	const hi = 3<<seqPageShift + 500
	gaps := []uint64{1, 63, 64, 65, 127, 128, seqPageBits - 1, seqPageBits, seqPageBits + 1, 2*seqPageBits + 7}
	s := NewSeqSet()
	for n := uint64(1); n <= 3<<seqPageShift-1; n++ {
		if !slices.Contains(gaps, n) {
			s.Add(n)
		}
	}
	want := append(slices.Clone(gaps), 3<<seqPageShift, 3<<seqPageShift+1)
	if got := s.Absent(1, hi, len(want)); !slices.Equal(got, want) {
		t.Errorf("Absent: %v, want %v", got, want)
	}
	if got := s.Absent(66, 127, 10); !slices.Equal(got, []uint64{127}) {
		t.Errorf("Absent(66, 127): %v", got)
	}
	if got := s.Absent(2, 62, 10); got != nil {
		t.Errorf("Absent over members only: %v", got)
	}
}

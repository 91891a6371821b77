package metrics

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// randomRun is a run's samples: phases and durations from a few shapes (narrow around
// 20 ms, exponential, heavy tail, zeros).
func randomRun(seed uint64, n int) (phases []Phase, nanos []int64) {
	rng := rand.New(rand.NewPCG(seed, seed^0xABCDEF))
	for i := 0; i < n; i++ {
		p := Phase(rng.IntN(int(NumPhases)))
		var ns int64
		switch rng.IntN(4) {
		case 0:
			ns = int64(20e6 + rng.NormFloat64()*1e6)
		case 1:
			ns = int64(rng.ExpFloat64() * 300e3)
		case 2:
			ns = int64(math.Exp(rng.Float64()*math.Log(1e12)) * 10) // up to ~3 h
		default:
			ns = int64(rng.IntN(3)) * 999
		}
		phases = append(phases, p)
		nanos = append(nanos, ns)
	}
	return phases, nanos
}

func sameSnapshots(t *testing.T, what string, got, want *Snapshot) {
	t.Helper()
	for p := Phase(0); p < NumPhases; p++ {
		if got.Count(p) != want.Count(p) || got.Sum(p) != want.Sum(p) || got.Min(p) != want.Min(p) || got.Max(p) != want.Max(p) {
			t.Fatalf("%s: %s: count/sum/min/max %d/%v/%v/%v, want %d/%v/%v/%v", what, p,
				got.Count(p), got.Sum(p), got.Min(p), got.Max(p), want.Count(p), want.Sum(p), want.Min(p), want.Max(p))
		}
		if want.Count(p) > 0 {
			sameBuckets(t, what+": "+p.String(), got.phases[p].hist, want.phases[p].hist)
		}
	}
	for c := Counter(0); c < NumCounters; c++ {
		if got.Counter(c) != want.Counter(c) {
			t.Fatalf("%s: counter %s = %d, want %d", what, c, got.Counter(c), want.Counter(c))
		}
	}
	ge, we := got.Errors(), want.Errors()
	if fmt.Sprint(ge) != fmt.Sprint(we) {
		t.Fatalf("%s: errors\n%v\nwant\n%v", what, ge, we)
	}
}

// Splitting a run's samples at random over N recorders (each swapped at random moments)
// and merging the pieces gives exactly what recording everything into one gives.
func TestSnapshotMergeIsExact(t *testing.T) {
	for _, n := range []int{1, 2, 7, 32} {
		phases, nanos := randomRun(uint64(n), 50_000)
		rng := rand.New(rand.NewPCG(uint64(n), 99))
		whole := NewRecorder()
		parts := make([]*Recorder, n)
		for i := range parts {
			parts[i] = NewRecorder()
		}
		var pieces []*Snapshot
		for i := range phases {
			whole.Record(phases[i], nanos[i])
			whole.Add(BytesSent, int64(i))
			r := parts[rng.IntN(n)]
			r.Record(phases[i], nanos[i])
			r.Add(BytesSent, int64(i))
			if i%1000 == 0 {
				key := ReplyErrorKey("rcpt", 550+i%3, "5.1.1")
				whole.Error(key, "550 user unknown")
				r.Error(key, "550 user unknown")
			}
			if rng.IntN(5000) == 0 {
				pieces = append(pieces, r.Swap())
			}
		}
		for _, r := range parts {
			pieces = append(pieces, r.Swap())
		}
		rng.Shuffle(len(pieces), func(i, j int) { pieces[i], pieces[j] = pieces[j], pieces[i] })
		merged := NewSnapshot()
		for _, p := range pieces {
			merged.Merge(p)
		}
		sameSnapshots(t, fmt.Sprintf("%d recorders", n), merged, whole.Swap())
	}
}

// Quantiles are hdrhistogram-go's (on µs), turned into ns and clamped to the exact
// extremes.
func TestSnapshotQuantileMatchesHdr(t *testing.T) {
	phases, nanos := randomRun(42, 20_000)
	s := NewSnapshot()
	dense := hdr.New(HistogramLowestUS, HistogramHighestUS, HistogramSigFigs)
	minNs, maxNs := int64(math.MaxInt64), int64(0)
	for i := range phases {
		s.Record(EOD, nanos[i])
		_ = dense.RecordValue(nanosToMicros(nanos[i]))
		minNs, maxNs = min(minNs, nanos[i]), max(maxNs, nanos[i])
	}
	_ = phases
	for _, q := range []float64{0.001, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999} {
		want := dense.ValueAtQuantile(q*100) * 1000
		want = max(min(want, maxNs), minNs)
		if got := s.Quantile(EOD, q); int64(got) != want {
			t.Errorf("q%v = %d ns, want %d", q, int64(got), want)
		}
	}
	if s.Quantile(EOD, 0) != time.Duration(minNs) || s.Quantile(EOD, 1) != time.Duration(maxNs) || s.Quantile(EOD, math.NaN()) != time.Duration(minNs) {
		t.Errorf("q0/q1 are not the exact min/max")
	}
	if s.Quantile(Rcpt, 0.5) != 0 || s.Mean(Rcpt) != 0 || s.Count(Rcpt) != 0 {
		t.Errorf("an empty phase has statistics")
	}
	// A single 20.512345 ms sample: every quantile is that exact value, not a bucket edge.
	one := NewSnapshot()
	one.Record(Mail, 20_512_345)
	for _, q := range []float64{0, 0.5, 0.99, 1} {
		if got := one.Quantile(Mail, q); got != 20_512_345 {
			t.Errorf("single sample: q%v = %v", q, got)
		}
	}
	if one.Mean(Mail) != 20_512_345 {
		t.Errorf("mean %v", one.Mean(Mail))
	}
}

func TestSnapshotErrorTexts(t *testing.T) {
	s := NewSnapshot()
	for i := 0; i < 10; i++ {
		s.Error("eod:temp:451", fmt.Sprintf("451 try later %d\r\n", i%5))
	}
	s.Error("eod:temp:451", "")
	long := strings.Repeat("é", MaxErrorTextLen) // 2 bytes each: cut on a rune boundary
	s.Error("rcpt:perm:550", long)
	errs := s.Errors()
	if len(errs) != 2 || errs[0].Key != "eod:temp:451" || errs[0].Count != 11 {
		t.Fatalf("errors %+v", errs)
	}
	if want := []string{"451 try later 0", "451 try later 1", "451 try later 2"}; fmt.Sprint(errs[0].Texts) != fmt.Sprint(want) {
		t.Fatalf("texts %q, want %q", errs[0].Texts, want)
	}
	if txt := errs[1].Texts[0]; len(txt) > MaxErrorTextLen || !strings.HasPrefix(long, txt) || !strings.HasSuffix(txt, "é") {
		t.Fatalf("long text cut badly: %d bytes", len(txt))
	}
	if s.ErrorTotal() != 12 {
		t.Fatalf("total %d", s.ErrorTotal())
	}

	capped := NewSnapshot()
	for i := 0; i < MaxErrorKeys+10; i++ {
		capped.Error(fmt.Sprintf("rcpt:perm:550:5.1.%d", i), "x")
	}
	if got := len(capped.Errors()); got != MaxErrorKeys+1 {
		t.Fatalf("%d keys, want %d (+ overflow)", got, MaxErrorKeys+1)
	}
	if capped.ErrorTotal() != MaxErrorKeys+10 {
		t.Fatalf("errors lost past the key cap: %d", capped.ErrorTotal())
	}
}

func TestSnapshotCloneIsIndependent(t *testing.T) {
	a := NewSnapshot()
	a.Record(EOD, 5e6)
	a.Add(MessagesAccepted, 1)
	a.Error("eod:perm:554", "554 no")
	b := a.Clone()
	b.Record(EOD, 7e6)
	b.Merge(a)
	b.Merge(nil)
	b.Merge(b) // merging itself is a no-op, not a doubling
	if a.Count(EOD) != 1 || a.Counter(MessagesAccepted) != 1 || a.ErrorTotal() != 1 {
		t.Fatalf("the original changed: %d samples", a.Count(EOD))
	}
	if b.Count(EOD) != 3 || b.Counter(MessagesAccepted) != 2 || b.ErrorTotal() != 2 {
		t.Fatalf("clone: %d samples, %d accepted, %d errors", b.Count(EOD), b.Counter(MessagesAccepted), b.ErrorTotal())
	}
}

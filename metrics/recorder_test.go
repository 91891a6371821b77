package metrics

import (
	"math/rand/v2"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// sampleAt is the i-th sample of a deterministic stream: a phase and a duration spread
// over microseconds to minutes (and the occasional zero).
func sampleAt(i int) (Phase, int64) {
	x := uint64(i)*0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019
	x ^= x >> 31
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 29
	p := Phase(x % uint64(NumPhases))
	ns := int64(x>>20) % (int64(1) << (10 + (x>>8)%26)) // up to ~34 s, log-spread
	if x%97 == 0 {
		ns = 0
	}
	return p, ns
}

// A writer records while a reader swaps every millisecond: the swaps together hold every
// sample exactly once (counts, sums, extremes and every histogram bucket).
func TestRecorderConcurrentSwapLosesNothing(t *testing.T) {
	const n = 1_000_000
	r := NewRecorder()
	var done atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the writer: one event loop
		defer wg.Done()
		for i := 0; i < n; i++ {
			p, ns := sampleAt(i)
			r.Record(p, ns)
			r.Add(MessagesAccepted, 1)
			if i%100_000 == 0 {
				r.Error("eod:temp:451:4.3.0", "451 4.3.0 try later")
			}
		}
		done.Store(true)
	}()
	began := time.Now()
	var swapped []*Snapshot // merged afterwards, so that swaps come every millisecond
	for !done.Load() {
		time.Sleep(time.Millisecond)
		swapped = append(swapped, r.Swap())
	}
	wg.Wait()
	swapped = append(swapped, r.Swap())
	writing := time.Since(began)
	union := mergeTree(swapped)
	swaps := len(swapped)

	want := NewSnapshot() // exact statistics, and dense histograms (faster to fill)
	var dense [NumPhases]*hdr.Histogram
	for i := 0; i < n; i++ {
		p, ns := sampleAt(i)
		want.phase(p).add(ns)
		if dense[p] == nil {
			dense[p] = hdr.New(HistogramLowestUS, HistogramHighestUS, HistogramSigFigs)
		}
		if err := dense[p].RecordValue(nanosToMicros(ns)); err != nil {
			t.Fatal(err)
		}
	}
	for p, d := range dense {
		if d != nil {
			want.phases[p].hist.MergeFrom(d)
		}
	}
	if got := union.Counter(MessagesAccepted); got != n {
		t.Fatalf("messages_accepted %d, want %d", got, n)
	}
	if errs := union.Errors(); len(errs) != 1 || errs[0].Count != 10 || errs[0].Texts[0] != "451 4.3.0 try later" {
		t.Fatalf("errors %+v, want one key counted 10 times", errs)
	}
	var total int64
	for p := Phase(0); p < NumPhases; p++ {
		total += union.Count(p)
		if union.Count(p) != want.Count(p) || union.Sum(p) != want.Sum(p) || union.Min(p) != want.Min(p) || union.Max(p) != want.Max(p) {
			t.Fatalf("%s: count/sum/min/max %d/%v/%v/%v, want %d/%v/%v/%v", p,
				union.Count(p), union.Sum(p), union.Min(p), union.Max(p), want.Count(p), want.Sum(p), want.Min(p), want.Max(p))
		}
		if want.Count(p) > 0 {
			sameBuckets(t, p.String(), union.phases[p].hist, want.phases[p].hist)
		}
	}
	if total != n {
		t.Fatalf("%d samples in the swaps, want %d", total, n)
	}
	t.Logf("%d swaps while writing for %v", swaps, writing.Round(time.Millisecond))
}

func TestRecorderRecordEdges(t *testing.T) {
	r := NewRecorder()
	r.Record(Rcpt, -5)                 // negative: counts as 0
	r.Record(Rcpt, 0)                  // zero
	r.Record(Rcpt, 1500)               // 1.5 µs
	r.Record(Rcpt, int64(2*time.Hour)) // beyond the histogram: bucketed at 1 h, exact max kept
	r.Record(NumPhases, 1000)          // not a phase: ignored
	r.Add(NumCounters, 1)              // not a counter: ignored
	s := r.Swap()
	if s.Count(Rcpt) != 4 {
		t.Fatalf("count %d, want 4", s.Count(Rcpt))
	}
	if s.Min(Rcpt) != 0 || s.Max(Rcpt) != 2*time.Hour {
		t.Fatalf("min %v max %v, want 0 and 2h", s.Min(Rcpt), s.Max(Rcpt))
	}
	if s.Quantile(Rcpt, 1) != 2*time.Hour || s.Quantile(Rcpt, 0) != 0 {
		t.Fatalf("q0 %v q1 %v", s.Quantile(Rcpt, 0), s.Quantile(Rcpt, 1))
	}
	if s.Sum(Rcpt) != 2*time.Hour+1500 {
		t.Fatalf("sum %v", s.Sum(Rcpt))
	}
	if got := s.Phases(); len(got) != 1 || got[0] != Rcpt {
		t.Fatalf("phases %v, want [rcpt]", got)
	}
	if empty := r.Swap(); len(empty.Phases()) != 0 || empty.Counter(MessagesAccepted) != 0 || len(empty.Errors()) != 0 {
		t.Fatal("second swap not empty")
	}
}

// Record must not allocate once the pages its values land in exist.
func TestRecorderRecordDoesNotAllocate(t *testing.T) {
	r := NewRecorder()
	rng := rand.New(rand.NewPCG(3, 4))
	values := make([]int64, 4096)
	for i := range values {
		values[i] = int64(rng.ExpFloat64() * 2e6) // mean 2 ms
	}
	warm := func() {
		for _, v := range values {
			r.Record(EOD, v)
			r.Record(Rcpt, v/10)
		}
	}
	warm()
	r.Swap()
	warm() // both buffers now have their pages
	r.Swap()
	i := 0
	allocs := testing.AllocsPerRun(10000, func() {
		r.Record(EOD, values[i%len(values)])
		r.Add(BytesSent, 1000)
		i++
	})
	if allocs != 0 {
		t.Fatalf("Record+Add allocate %.2f times per call, want 0", allocs)
	}
}

func BenchmarkRecorderRecord(b *testing.B) {
	r := NewRecorder()
	rng := rand.New(rand.NewPCG(5, 6))
	values := make([]int64, 1<<16)
	for i := range values {
		values[i] = int64(rng.ExpFloat64() * 5e6) // mean 5 ms, a wide spread of buckets
	}
	for _, v := range values { // touch the pages of both buffers, as a running loop has
		r.Record(EOD, v)
	}
	r.Swap()
	for _, v := range values {
		r.Record(EOD, v)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.Record(EOD, values[i&(len(values)-1)])
	}
}

// The same while a reader swaps once a millisecond (the writer never waits for it).
func BenchmarkRecorderRecordWithSwaps(b *testing.B) {
	r := NewRecorder()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				r.Swap()
			}
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.Record(EOD, int64(i&0xFFFFF)*1000)
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
}

// mergeTree merges snapshots pairwise (cheaper than folding many into one large one).
func mergeTree(snaps []*Snapshot) *Snapshot {
	if len(snaps) == 0 {
		return NewSnapshot()
	}
	for len(snaps) > 1 {
		var next []*Snapshot
		for i := 0; i < len(snaps); i += 2 {
			if i+1 < len(snaps) {
				snaps[i].Merge(snaps[i+1])
			}
			next = append(next, snaps[i])
		}
		snaps = next
	}
	return snaps[0]
}

// BenchmarkRecorderAfterSyscall is an event loop's pattern: a system call, then one
// message's samples (four phases, three whole-message ones, two counters). ns/op less a
// bare getppid's cost is the recording's; on a machine that flushes the TLB at every
// system call (page-table isolation without PCID) it is dominated by the memory pages
// the samples touch.
func BenchmarkRecorderAfterSyscall(b *testing.B) {
	r := NewRecorder()
	phases := []Phase{Mail, Rcpt, Data, EOD, DataXfer, Txn, ServiceTime}
	for _, p := range phases {
		r.Record(p, 100_000)
	}
	b.ReportAllocs()
	for b.Loop() {
		syscall.Getppid()
		for i, p := range phases {
			r.Record(p, int64(50_000+i*20_000))
		}
		r.Add(MessagesAccepted, 1)
		r.Add(BytesSent, 100)
	}
}

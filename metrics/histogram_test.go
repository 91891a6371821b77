package metrics

import (
	"math/rand/v2"
	"testing"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// bucketsOf lists a histogram's populated buckets as (lowest value, count) pairs.
func bucketsOf(h *hdr.PackedHistogram) [][2]int64 {
	var out [][2]int64
	h.ForEachBucket(func(v, c int64) bool {
		out = append(out, [2]int64{v, c})
		return true
	})
	return out
}

func sameBuckets(t *testing.T, what string, got, want *hdr.PackedHistogram) {
	t.Helper()
	g, w := bucketsOf(got), bucketsOf(want)
	if len(g) != len(w) {
		t.Fatalf("%s: %d populated buckets, want %d", what, len(g), len(w))
	}
	for i := range g {
		if g[i] != w[i] {
			t.Fatalf("%s: bucket %d is (value %d, count %d), want (value %d, count %d)", what, i, g[i][0], g[i][1], w[i][0], w[i][1])
		}
	}
	if got.TotalCount() != want.TotalCount() {
		t.Fatalf("%s: total %d, want %d", what, got.TotalCount(), want.TotalCount())
	}
}

// The hot path's own bucket math must be hdrhistogram-go's, value for value.
func TestCountsIndexMatchesHdrGeometry(t *testing.T) {
	dense := hdr.New(HistogramLowestUS, HistogramHighestUS, HistogramSigFigs)
	if got := dense.ByteSize(); got < countsLen*8 {
		t.Fatalf("dense histogram of %d bytes, fewer than our %d buckets", got, countsLen)
	}
	check := func(v int64) {
		t.Helper()
		idx := countsIndex(v)
		if idx < 0 || idx >= countsLen {
			t.Fatalf("countsIndex(%d) = %d, outside 0..%d", v, idx, countsLen-1)
		}
		lowest := valueAtIndex(idx)
		if countsIndex(lowest) != idx {
			t.Fatalf("valueAtIndex(%d) = %d maps back to %d", idx, lowest, countsIndex(lowest))
		}
		if !dense.ValuesAreEquivalent(v, lowest) || lowest > v {
			t.Fatalf("value %d: our bucket starts at %d, not equivalent in hdr", v, lowest)
		}
		if lowest > 0 && dense.ValuesAreEquivalent(v, lowest-1) {
			t.Fatalf("value %d: %d is equivalent too, so %d is not the bucket's lowest value", v, lowest-1, lowest)
		}
	}
	for v := int64(0); v < 5000; v++ {
		check(v)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200000; i++ {
		check(rng.Int64N(HistogramHighestUS + 1))
	}
	for shift := 0; shift < 32; shift++ {
		for _, d := range []int64{-1, 0, 1} {
			if v := int64(1)<<shift + d; v >= 0 && v <= HistogramHighestUS {
				check(v)
			}
		}
	}
	check(HistogramHighestUS)

	// And the buckets we drain into a sparse histogram are those hdr records.
	var pc pagedCounts
	want := newHistogram()
	for i := 0; i < 100000; i++ {
		v := int64(rng.ExpFloat64() * 3000)
		if v > HistogramHighestUS {
			v = HistogramHighestUS
		}
		pc.add(v)
		if err := want.RecordValue(v); err != nil {
			t.Fatal(err)
		}
	}
	got := newHistogram()
	pc.drainInto(got)
	sameBuckets(t, "drained", got, want)
	for _, page := range pc.pages {
		if page == nil {
			continue
		}
		for _, n := range page {
			if n != 0 {
				t.Fatal("drainInto left counts behind")
			}
		}
	}
}

func TestNanosToMicros(t *testing.T) {
	for _, c := range []struct{ ns, us int64 }{
		{-5, 0}, {0, 0}, {999, 0}, {1000, 1}, {1999, 1}, {20_512_345, 20512},
		{int64(HistogramHighestUS) * 1000, HistogramHighestUS}, {1 << 62, HistogramHighestUS},
	} {
		if got := nanosToMicros(c.ns); got != c.us {
			t.Errorf("nanosToMicros(%d) = %d, want %d", c.ns, got, c.us)
		}
	}
}

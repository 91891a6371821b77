package metrics

import (
	"math/bits"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Every histogram in this package has the same geometry, so that histograms from different
// event loops, intervals, files and cluster workers merge bucket by bucket, exactly.
const (
	// HistogramLowestUS is the lowest discernible value, in microseconds.
	HistogramLowestUS = 1
	// HistogramHighestUS is the highest trackable value, in microseconds (one hour). Larger
	// samples are recorded as this value; the exact maximum is kept separately in nanoseconds.
	HistogramHighestUS = int64(time.Hour / time.Microsecond)
	// HistogramSigFigs is the number of significant decimal digits kept per value.
	HistogramSigFigs = 3
)

// The bucket geometry of hdr.New(1, HistogramHighestUS, 3), spelled out so that the hot
// path can index its own counts without a dense hdr.Histogram (188 KB per phase).
const (
	subBucketHalfCountMagnitude = 10 // log2(2 * 10^3) rounded up, minus one
	subBucketHalfCount          = 1 << subBucketHalfCountMagnitude
	subBucketMask               = 2*subBucketHalfCount - 1
	// countsLen is the number of buckets: enough 2^k ranges to cover HistogramHighestUS.
	countsLen = (bucketsNeeded + 1) * subBucketHalfCount
	// bucketsNeeded: the smallest k with 2048 * 2^(k-1) > HistogramHighestUS.
	bucketsNeeded = 22

	pageShift = 7 // counts are paged in 128-slot (1 KB) pages, allocated on first touch
	pageSize  = 1 << pageShift
	numPages  = (countsLen + pageSize - 1) / pageSize
)

// countsIndex maps a value in microseconds (0 ≤ v ≤ HistogramHighestUS) to its bucket,
// as hdrhistogram-go's countsIndexFor does for this geometry.
func countsIndex(v int64) int {
	bucket := 64 - bits.LeadingZeros64(uint64(v|subBucketMask)) - (subBucketHalfCountMagnitude + 1)
	sub := int(v >> uint(bucket))
	return (bucket+1)<<subBucketHalfCountMagnitude + sub - subBucketHalfCount
}

// valueAtIndex is the lowest value (µs) of bucket idx; countsIndex(valueAtIndex(i)) == i.
func valueAtIndex(idx int) int64 {
	bucket := idx>>subBucketHalfCountMagnitude - 1
	sub := idx&(subBucketHalfCount-1) + subBucketHalfCount
	if bucket < 0 {
		sub -= subBucketHalfCount
		bucket = 0
	}
	return int64(sub) << uint(bucket)
}

// nanosToMicros converts one sample to the histogram's unit, clamped to its range.
func nanosToMicros(nanos int64) int64 {
	if nanos <= 0 {
		return 0
	}
	us := nanos / 1000
	if us > HistogramHighestUS {
		return HistogramHighestUS
	}
	return us
}

// newHistogram is an empty sparse histogram of the package's geometry.
func newHistogram() *hdr.PackedHistogram {
	return hdr.NewPacked(HistogramLowestUS, HistogramHighestUS, HistogramSigFigs)
}

// sameGeometry reports whether h was made with the package's geometry (a decoded
// histogram from a file may not have been).
func sameGeometry(h *hdr.PackedHistogram) bool {
	return h.LowestTrackableValue() == HistogramLowestUS &&
		h.HighestTrackableValue() == HistogramHighestUS &&
		h.SignificantFigures() == HistogramSigFigs
}

// countsPage is one page of bucket counts.
type countsPage [pageSize]int64

// pagedCounts is a dense counts array split into pages that exist only once a sample
// lands in them: O(1) recording without the memory of a dense histogram per phase. The
// page table is part of the value, next to the phase's other fields, so that a sample
// touches one memory page fewer: on a machine that flushes the TLB at every system call,
// each page the event loop touches between two calls costs a page walk.
type pagedCounts struct {
	pages [numPages]*countsPage
	dirty [(numPages + 63) / 64]uint64 // pages with counts since the last drain
}

// add counts one sample of v µs. It allocates only the first time a page is touched.
func (c *pagedCounts) add(v int64) {
	idx := countsIndex(v)
	page := c.pages[idx>>pageShift]
	if page == nil {
		page = new(countsPage)
		c.pages[idx>>pageShift] = page
	}
	page[idx&(pageSize-1)]++
	c.dirty[idx>>(pageShift+6)] |= 1 << (uint(idx>>pageShift) & 63)
}

// drainInto moves every count into h (in ascending bucket order, so the sparse histogram
// only appends) and leaves the pages zeroed for reuse.
func (c *pagedCounts) drainInto(h *hdr.PackedHistogram) {
	for w, bitsLeft := range c.dirty {
		for bitsLeft != 0 {
			p := w*64 + bits.TrailingZeros64(bitsLeft)
			bitsLeft &= bitsLeft - 1
			page := c.pages[p]
			for i, n := range page {
				if n == 0 {
					continue
				}
				// Cannot fail: the value is in range and the count positive.
				_ = h.RecordValues(valueAtIndex(p<<pageShift+i), n)
				page[i] = 0
			}
		}
		c.dirty[w] = 0
	}
}

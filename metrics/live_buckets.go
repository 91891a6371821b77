package metrics

import "time"

// ForEachBucket calls f with each bucket of phase p's histogram that holds samples, in
// ascending order: the bucket's range of values (at the histogram's precision, within
// the exact minimum and maximum) and its count. An exporter reads a snapshot so, off the
// recording path, to translate it to another histogram format.
func (s *Snapshot) ForEachBucket(p Phase, f func(low, high time.Duration, count int64)) {
	if s.Count(p) == 0 {
		return
	}
	ps := s.phases[p]
	ps.hist.ForEachBucket(func(us, count int64) bool {
		highUS := valueAtIndex(countsIndex(us)+1) - 1
		low := time.Duration(clampQuantile(us, ps.minNs, ps.maxNs))
		high := time.Duration(clampQuantile(highUS, ps.minNs, ps.maxNs))
		if highUS >= HistogramHighestUS {
			high = time.Duration(ps.maxNs) // the last bucket holds every larger sample
		}
		f(low, high, count)
		return true
	})
}

// AddErrors counts n more errors under key (no text): an exporter keeping its totals
// from going down.
func (s *Snapshot) AddErrors(key string, n int64) {
	if n > 0 {
		s.errorN(key, n, "")
	}
}

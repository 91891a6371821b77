package sink

import "sync/atomic"

// randomStream is a reproducible source of uniform numbers that the event loops share
// without a lock: draw n is SplitMix64's n-th output for the stream's key, n an atomic
// counter. Whatever the interleaving of the loops, the first K draws of a stream are the
// same K numbers for the same seed, so the number of commands a probability picks out of K
// is the same from run to run (which command gets which draw is up to the scheduler).
type randomStream struct {
	key uint64
	n   atomic.Uint64
}

// Streams of one server: each purpose (and each verb's --reject rules) draws from its own,
// so adding a rule for one command does not change the draws of another.
const (
	streamDelays  = 1
	streamRejects = 0x100 // + the verb
)

func newRandomStream(seed, stream uint64) *randomStream {
	return &randomStream{key: splitMix64(seed ^ splitMix64(stream))}
}

// float64 is the next draw, uniform in [0, 1).
func (r *randomStream) float64() float64 {
	const golden = 0x9e3779b97f4a7c15
	x := splitMix64(r.key + r.n.Add(1)*golden)
	return float64(x>>11) / (1 << 53)
}

// splitMix64 is SplitMix64's output function (Steele, Lea and Flood, 2014).
func splitMix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

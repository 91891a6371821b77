package metrics

import (
	"math"
	"runtime"
	"sync/atomic"
)

// writerReaderPhaser is HdrHistogram's WriterReaderPhaser (Gil Tene): writers enter and
// leave critical sections with one atomic add each and never wait; a reader that has
// swapped the buffer writers use calls flip, which returns once every writer that might
// still hold the old buffer has left its critical section.
type writerReaderPhaser struct {
	startEpoch   atomic.Int64
	evenEndEpoch atomic.Int64
	oddEndEpoch  atomic.Int64
}

// init readies a zero phaser.
func (p *writerReaderPhaser) init() { p.oddEndEpoch.Store(math.MinInt64) }

// enter starts a writer critical section; pass its result to exit.
func (p *writerReaderPhaser) enter() int64 {
	return p.startEpoch.Add(1) - 1
}

// exit ends the writer critical section that enter started.
func (p *writerReaderPhaser) exit(epochAtEnter int64) {
	if epochAtEnter < 0 {
		p.oddEndEpoch.Add(1)
	} else {
		p.evenEndEpoch.Add(1)
	}
}

// flip moves writers to the next phase and waits for the writers of the previous phase
// to leave. Readers must serialize their calls to flip.
func (p *writerReaderPhaser) flip() {
	nextPhaseIsEven := p.startEpoch.Load() < 0
	var initial int64
	if nextPhaseIsEven {
		initial = 0
		p.evenEndEpoch.Store(initial)
	} else {
		initial = math.MinInt64
		p.oddEndEpoch.Store(initial)
	}
	startAtFlip := p.startEpoch.Swap(initial)
	for spins := 0; ; spins++ {
		var end int64
		if nextPhaseIsEven {
			end = p.oddEndEpoch.Load()
		} else {
			end = p.evenEndEpoch.Load()
		}
		if end == startAtFlip {
			return
		}
		if spins > 64 {
			runtime.Gosched()
		}
	}
}

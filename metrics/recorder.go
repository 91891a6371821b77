package metrics

import (
	"math"
	"sync"
	"sync/atomic"
)

// Recorder is one event loop's measurements. Record, Add and Error are called by one
// writer goroutine (the loop); they take no locks and, once the pages a phase's values
// fall in have been touched, do not allocate (Error allocates for a new key or text: it is
// the error path). Swap is called by a reader goroutine, typically once a second, and
// hands over everything recorded since the last Swap; it never blocks the writer beyond
// the writer's current Record.
//
// Internally the writer records into one of two buffers; Swap exchanges them and uses a
// writer–reader phaser (as HdrHistogram's Recorder does) to wait until the writer has
// left the old one.
type Recorder struct {
	phaser   writerReaderPhaser        // by value: one memory page fewer per sample (pagedCounts)
	current  atomic.Pointer[recording] // the writer's buffer, loaded inside a phaser critical section
	inactive *recording                // the reader's buffer, empty between Swaps
	swapMu   sync.Mutex                // serializes readers; the writer never takes it
}

// recording is one buffer of a Recorder.
type recording struct {
	phases   [NumPhases]phaseRecording
	counters [NumCounters]int64
	errors   *Snapshot // errors only; nil until the first error
}

// phaseRecording is one phase's samples in one buffer.
type phaseRecording struct {
	count  int64
	sumNs  int64
	minNs  int64
	maxNs  int64
	counts pagedCounts
}

// NewRecorder is an empty recorder.
func NewRecorder() *Recorder {
	r := &Recorder{inactive: newRecording()}
	r.phaser.init()
	r.current.Store(newRecording())
	return r
}

func newRecording() *recording {
	b := &recording{}
	for i := range b.phases {
		b.phases[i].minNs = math.MaxInt64
	}
	return b
}

// Record adds one sample of phase p lasting nanos nanoseconds (negative counts as 0).
func (r *Recorder) Record(p Phase, nanos int64) {
	if p >= NumPhases {
		return
	}
	if nanos < 0 {
		nanos = 0
	}
	epoch := r.phaser.enter()
	pr := &r.current.Load().phases[p]
	pr.count++
	if nanos > 0 && pr.sumNs > math.MaxInt64-nanos {
		pr.sumNs = math.MaxInt64
	} else {
		pr.sumNs += nanos
	}
	if nanos < pr.minNs {
		pr.minNs = nanos
	}
	if nanos > pr.maxNs {
		pr.maxNs = nanos
	}
	pr.counts.add(nanosToMicros(nanos))
	r.phaser.exit(epoch)
}

// Add adds n to counter c.
func (r *Recorder) Add(c Counter, n int64) {
	if c >= NumCounters {
		return
	}
	epoch := r.phaser.enter()
	r.current.Load().counters[c] += n
	r.phaser.exit(epoch)
}

// Error counts one error under key (see ReplyErrorKey and NetErrorKey); text is the
// server's reply or the error's message, kept if it is one of the key's first
// MaxErrorTexts distinct texts.
func (r *Recorder) Error(key, text string) {
	epoch := r.phaser.enter()
	b := r.current.Load()
	if b.errors == nil {
		b.errors = NewSnapshot()
	}
	b.errors.Error(key, text)
	r.phaser.exit(epoch)
}

// Swap returns everything recorded since the previous Swap (or since NewRecorder) and
// starts a new period. Calls to Swap may come from any goroutine; they are serialized.
func (r *Recorder) Swap() *Snapshot {
	r.swapMu.Lock()
	defer r.swapMu.Unlock()
	old := r.current.Swap(r.inactive)
	r.phaser.flip()
	s := old.drain()
	r.inactive = old
	return s
}

// drain moves the buffer's contents into a new Snapshot and leaves it empty (keeping its
// pages for reuse).
func (b *recording) drain() *Snapshot {
	s := b.errors
	b.errors = nil
	if s == nil {
		s = NewSnapshot()
	}
	for p := range b.phases {
		pr := &b.phases[p]
		if pr.count == 0 {
			continue
		}
		ps := &phaseSnapshot{count: pr.count, sumNs: pr.sumNs, minNs: pr.minNs, maxNs: pr.maxNs, hist: newHistogram()}
		pr.counts.drainInto(ps.hist)
		s.phases[p] = ps
		pr.count, pr.sumNs, pr.minNs, pr.maxNs = 0, 0, math.MaxInt64, 0
	}
	s.counters = b.counters
	b.counters = [NumCounters]int64{}
	return s
}

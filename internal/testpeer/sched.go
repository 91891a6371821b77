package testpeer

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// probeStep is how long the scheduling probe asks to sleep each time.
const probeStep = time.Millisecond

// SchedulingProbe measures how late this machine wakes a sleeping goroutine up while a
// test runs: the delay every timer-driven reply, injected delay and rate in the test
// suffers on top of what it asked for. A goroutine sleeps probeStep at a time and keeps
// each oversleep. A timing assertion states its bound as what the behaviour allows plus
// what the probe measured over the same moments, so that a busy machine widens the bound
// instead of failing the test, and a quiet one keeps it tight.
type SchedulingProbe struct {
	t    testing.TB
	stop chan struct{}
	done chan struct{}
	once sync.Once
	late []time.Duration
}

// ProbeScheduling starts measuring; Stop ends the measurement (the test's end does, if
// the test does not).
func ProbeScheduling(t testing.TB) *SchedulingProbe {
	p := &SchedulingProbe{t: t, stop: make(chan struct{}), done: make(chan struct{})}
	go p.run()
	t.Cleanup(func() { p.Stop() })
	return p
}

func (p *SchedulingProbe) run() {
	defer close(p.done)
	for {
		select {
		case <-p.stop:
			return
		default:
		}
		start := time.Now()
		time.Sleep(probeStep)
		p.late = append(p.late, max(time.Since(start)-probeStep, 0))
	}
}

// Stop ends the measurement and returns it; it logs the figures once.
func (p *SchedulingProbe) Stop() SchedulingDelay {
	p.once.Do(func() {
		close(p.stop)
		<-p.done
		slices.Sort(p.late)
		p.t.Logf("scheduling delay over %d wake-ups: %v", len(p.late), SchedulingDelay{sorted: p.late})
	})
	<-p.done
	return SchedulingDelay{sorted: p.late}
}

// MeasureScheduling measures the scheduling delay over the next d: for a test whose
// timed work runs in another process, just before it (a probe beside it would compete
// with it for the CPU it measures).
func MeasureScheduling(t testing.TB, d time.Duration) SchedulingDelay {
	p := ProbeScheduling(t)
	time.Sleep(d)
	return p.Stop()
}

// SchedulingDelay is how late the probe's wake-ups were.
type SchedulingDelay struct {
	sorted []time.Duration
}

// Quantile is the q-quantile (0 ≤ q ≤ 1) of the wake-ups' lateness; 0 without samples.
func (d SchedulingDelay) Quantile(q float64) time.Duration {
	if len(d.sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(d.sorted)-1))
	return d.sorted[min(max(i, 0), len(d.sorted)-1)]
}

// P99 is the 99th percentile of the wake-ups' lateness.
func (d SchedulingDelay) P99() time.Duration { return d.Quantile(0.99) }

// Max is the latest wake-up's lateness.
func (d SchedulingDelay) Max() time.Duration { return d.Quantile(1) }

// Worst is how late any one wake-up of any thread may have been over the measurement:
// the probe's worst plus the sum of its other stalls (lateness beyond 1 ms). The probe
// sees its own thread only; another thread (a server's event loop) may have been kept
// off the CPU through several of the moments the probe was, so for a bound on the
// worst of several samples this is the measured figure to allow.
func (d SchedulingDelay) Worst() time.Duration { return d.Max() + d.Beyond(time.Millisecond) }

// Beyond sums each wake-up's lateness beyond bank: the stalls a process that can absorb
// bank of lateness at a time (a token bucket's burst, a schedule's catch-up) could not.
func (d SchedulingDelay) Beyond(bank time.Duration) time.Duration {
	var sum time.Duration
	for _, l := range d.sorted {
		if l > bank {
			sum += l - bank
		}
	}
	return sum
}

// Samples is the number of wake-ups measured.
func (d SchedulingDelay) Samples() int { return len(d.sorted) }

func (d SchedulingDelay) String() string {
	return "p50 " + d.Quantile(0.5).String() + ", p99 " + d.P99().String() + ", max " + d.Max().String() +
		", worst " + d.Worst().String()
}

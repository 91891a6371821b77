package engine

import "time"

// The backoff after a failure under OnErrorContinue: 10 ms, doubling with each failure
// in a row, at most 1 s; the server answering a message resets it. Short enough that a
// recovered server is back under load within a second, long enough that a dead one is
// not hammered by every session at the dial rate.
const (
	backoffMin = 10 * time.Millisecond
	backoffMax = time.Second
)

// backoffDelay is the wait after the streak-th failure in a row (from 0).
func backoffDelay(streak int) time.Duration {
	if streak >= 7 { // 10 ms << 7 is past the cap already
		return backoffMax
	}
	return min(backoffMin<<streak, backoffMax)
}

// backOff has the slot wait after a failure before it asks the load model for its next
// message (closed: the next message; open: the next due one). The slot owns itself
// here (its connection is gone); the timer goroutine owns it next. When no message may
// start any more, there is nothing to wait for.
func (s *slot) backOff() {
	d := backoffDelay(s.failStreak)
	s.failStreak++
	s.mu.Lock()
	if s.r.stopping.Load() { // under mu: cutWait, which runs after stop(), takes mu too
		s.mu.Unlock()
		s.r.model.closed(s)
		return
	}
	s.backoffTmr = time.AfterFunc(d, s.afterBackoff)
	s.mu.Unlock()
}

func (s *slot) afterBackoff() {
	s.mu.Lock()
	s.backoffTmr = nil
	s.mu.Unlock()
	s.r.model.closed(s)
}

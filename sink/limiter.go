package sink

import "sync"

// connLimiter is -m: at most max sessions are served; the rest wait, greeted in
// arrival order as slots free up.
type connLimiter struct {
	max     int
	mu      sync.Mutex
	active  int
	waiting []*connState
}

func (l *connLimiter) acquire(cs *connState) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.active < l.max {
		l.active++
		return true
	}
	l.waiting = append(l.waiting, cs)
	return false
}

// leave gives back the slot of a closing connection (to the next waiter), or takes a
// waiting connection off the queue.
func (l *connLimiter) leave(cs *connState) {
	l.mu.Lock()
	if cs.parked && !cs.granted.Load() {
		for i, w := range l.waiting {
			if w == cs {
				l.waiting = append(l.waiting[:i], l.waiting[i+1:]...)
				break
			}
		}
		l.mu.Unlock()
		return
	}
	var next *connState
	if len(l.waiting) > 0 {
		next = l.waiting[0]
		l.waiting[0] = nil
		l.waiting = l.waiting[1:]
		next.granted.Store(true)
	} else {
		l.active--
	}
	l.mu.Unlock()
	if next != nil {
		_ = next.c.Wake(nil)
	}
}

package engine

import "sync"

// dialQueue holds the slots waiting to connect, served by a fixed number of dialing
// goroutines (Config.MaxConnecting): thousands of sessions starting at once queue here
// instead of each parking a goroutine, whose stacks would add megabytes to peak memory,
// and the server gets a bounded number of SYNs at a time (smtp-source makes one).
type dialQueue struct {
	mu      sync.Mutex
	cond    sync.Cond
	waiting []*slot
	head    int
	closed  bool
}

func newDialQueue() *dialQueue {
	q := &dialQueue{}
	q.cond.L = &q.mu
	return q
}

// push queues a slot that has claimed its message; false when the run is shutting down.
func (q *dialQueue) push(s *slot) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	q.waiting = append(q.waiting, s)
	q.cond.Signal()
	return true
}

// pop waits for a slot; nil when the queue is closed.
func (q *dialQueue) pop() *slot {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.head == len(q.waiting) && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return nil
	}
	s := q.waiting[q.head]
	q.waiting[q.head] = nil
	q.head++
	if q.head == len(q.waiting) {
		q.waiting, q.head = q.waiting[:0], 0
	}
	return s
}

// close stops the dialers and returns the slots still waiting.
func (q *dialQueue) close() []*slot {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	left := append([]*slot(nil), q.waiting[q.head:]...)
	q.waiting, q.head = nil, 0
	q.cond.Broadcast()
	return left
}

// serve runs one dialing goroutine.
func (q *dialQueue) serve() {
	for s := q.pop(); s != nil; s = q.pop() {
		s.dial()
	}
}

package engine

import (
	"sync"
	"time"

	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// due is one message of the open model and when it was due (ns since the epoch).
type due struct {
	seq int64
	at  int64
}

// openModel releases messages on an arrival Schedule, whatever the server does, and
// hands each to a free session: an idle connection (-d), else a session slot without a
// connection, else a new slot while fewer than MaxSessions exist. A message that finds
// none waits in a queue, and is dropped (counted, never sent) once it has waited
// DropAfter.
type openModel struct {
	r     *runner
	sched *Schedule

	mu      sync.Mutex
	idle    []*slot // connected, between messages
	free    []*slot // not connected
	created int
	queue   []due // FIFO from head
	head    int
	done    bool // no more arrivals: idle sessions QUIT, free ones finish
}

// slotState is what an available slot is told to do.
type slotState uint8

const (
	slotGotMessage slotState = iota // take the message returned
	slotParked                      // wait: the dispatcher will hand one over
	slotFinished                    // nothing more will come
)

// start runs the dispatcher, which holds one of the runner's active tokens.
func (m *openModel) start() {
	m.r.active.Add(1)
	go m.run()
}

// take is the message the dispatcher handed s (setPending), if any.
func (m *openModel) take(s *slot, _ int64) (due, bool) {
	s.mu.Lock()
	d := s.pending
	s.pending = due{}
	s.mu.Unlock()
	return d, d.seq != 0
}

// exhausted: a session QUITs after its message only when the run stops; otherwise it
// waits, connected, for the next due message (pause).
func (m *openModel) exhausted(*slot) bool { return m.r.stopping.Load() }

// pause: the next message comes from the dispatcher, when it is due.
func (m *openModel) pause(s *slot) {
	d, state := m.available(s, true)
	if state != slotParked {
		s.handOver(d) // a queued message, or QUIT when none will come
	}
}

// closed: a slot without a connection asks for the next due message, or waits in the
// free list.
func (m *openModel) closed(s *slot) {
	if s.paused.Load() && !m.leave(s) {
		// The dispatcher handed this idle connection a message just as it closed.
		s.mu.Lock()
		has := s.pending.seq != 0
		s.mu.Unlock()
		if has && !m.r.stopping.Load() {
			go s.startNext()
			return
		}
	}
	s.paused.Store(false)
	if m.r.stopping.Load() {
		m.r.slotDone()
		return
	}
	d, state := m.available(s, false)
	switch state {
	case slotGotMessage:
		s.setPending(d)
		go s.startNext()
	case slotParked:
	case slotFinished:
		m.r.slotDone()
	}
}

// interrupt tells sessions idle between messages that none will come.
func (m *openModel) interrupt() {
	m.mu.Lock()
	idle := m.idle
	m.idle = nil
	m.mu.Unlock()
	for _, s := range idle {
		s.handOver(due{})
	}
}

func (*openModel) scheduled() bool { return true }

// run releases every message at its due time; it holds one of the runner's active
// tokens until it is done.
func (m *openModel) run() {
	r := m.r
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for n := int64(0); n < r.local; n++ {
		g := n
		if r.cfg.Shard != nil {
			g = r.cfg.Shard.Global(n)
		}
		d, _ := m.sched.Due(g)
		at := int64(d)
		if wait := time.Duration(at - r.now()); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-r.halt:
				m.finish()
				return
			}
		}
		if r.stopping.Load() || !r.admitted() {
			break
		}
		r.lastDue.Store(at)
		m.offer(due{seq: g + 1, at: at})
	}
	m.finish()
}

// offer hands a due message to a free session or queues it.
func (m *openModel) offer(d due) {
	m.mu.Lock()
	m.expireLocked()
	if m.head < len(m.queue) { // keep arrival order: others are waiting already
		m.queue = append(m.queue, d)
		m.mu.Unlock()
		return
	}
	if n := len(m.idle); n > 0 {
		s := m.idle[n-1]
		m.idle = m.idle[:n-1]
		m.mu.Unlock()
		s.handOver(d)
		return
	}
	if n := len(m.free); n > 0 {
		s := m.free[n-1]
		m.free = m.free[:n-1]
		m.mu.Unlock()
		s.setPending(d)
		go s.startNext()
		return
	}
	if m.created < m.r.cfg.MaxSessions {
		m.created++
		s := m.r.addSlot()
		m.mu.Unlock()
		s.setPending(d)
		go s.startNext()
		return
	}
	m.queue = append(m.queue, d)
	m.mu.Unlock()
}

// available is called by a slot that can take a message: connected (idle between
// messages with -d) or not.
func (m *openModel) available(s *slot, connected bool) (due, slotState) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expireLocked()
	if m.head < len(m.queue) {
		d := m.queue[m.head]
		m.head++
		if m.head == len(m.queue) {
			m.queue, m.head = m.queue[:0], 0
		}
		return d, slotGotMessage
	}
	if m.done || m.r.stopping.Load() {
		return due{}, slotFinished
	}
	if connected {
		m.idle = append(m.idle, s)
	} else {
		m.free = append(m.free, s)
	}
	return due{}, slotParked
}

// leave takes a slot off the idle list when its connection closes. It reports false
// when the dispatcher has already handed it a message.
func (m *openModel) leave(s *slot) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, x := range m.idle {
		if x == s {
			m.idle = append(m.idle[:i], m.idle[i+1:]...)
			return true
		}
	}
	return false
}

// expireLocked drops queued messages that have waited longer than DropAfter.
func (m *openModel) expireLocked() {
	limit := m.r.now() - int64(m.r.cfg.DropAfter)
	dropped := int64(0)
	for m.head < len(m.queue) && m.queue[m.head].at < limit {
		m.head++
		dropped++
	}
	if dropped > 0 {
		m.r.recs.withDial(func(rec *metrics.Recorder) { rec.Add(metrics.Dropped, dropped) })
	}
}

// finish ends the arrivals: idle sessions are told to QUIT, free slots finish, and the
// dispatcher's active token is returned.
func (m *openModel) finish() {
	m.mu.Lock()
	m.done = true
	if m.r.stopping.Load() { // interrupted: queued messages are not started
		m.queue, m.head = nil, 0
	}
	idle, free := m.idle, m.free
	m.idle, m.free = nil, nil
	m.mu.Unlock()
	for _, s := range idle {
		s.handOver(due{})
	}
	for range free {
		m.r.slotDone()
	}
	m.r.slotDone()
}

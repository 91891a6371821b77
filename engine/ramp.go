package engine

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// sessionRamp is the closed model with a moving session count (--stages-of sessions):
// the number of sessions working follows linear ramps between targets, as k6's
// ramping-VUs executor does. A session above the target retires at its next message
// boundary (after QUIT); one below it is started, or a retired one woken.
type sessionRamp struct {
	closedModel           // taking, pausing and the rest as in the closed model
	sched       *Schedule // RateAt gives the session target at t
	retire      atomic.Int64

	mu      sync.Mutex
	working int
	parked  []*slot
}

// start runs the controller, which holds one of the runner's active tokens.
func (m *sessionRamp) start() {
	m.r.active.Add(1)
	go m.run()
}

// exhausted: QUIT after this message when the run has none left, or when the target has
// fallen below the sessions working (this one retires at its next message boundary).
func (m *sessionRamp) exhausted(s *slot) bool {
	if m.r.exhausted() {
		return true
	}
	if m.retireOne() {
		s.next = nextRetire // QUIT now; park after the close
		return true
	}
	return false
}

// closed parks a retiring session, or starts its next connection like the closed model.
func (m *sessionRamp) closed(s *slot) {
	retiring := s.next == nextRetire
	s.next = nextNew
	if m.r.stopping.Load() || s.client.OutOfMessages() {
		m.r.slotDone()
		return
	}
	if retiring || m.retireOne() {
		m.park(s)
		return
	}
	s.startAnother()
}

// run follows the stages, then ends the run's message supply; it holds one of the
// runner's active tokens until then.
func (m *sessionRamp) run() {
	r := m.r
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	end := m.sched.Length()
	for {
		t := time.Since(r.epoch)
		if t >= end {
			break
		}
		m.setTarget(int(math.Round(m.sched.RateAt(t))))
		select {
		case <-tick.C:
		case <-r.halt:
			m.finish()
			return
		}
	}
	r.stop() // sessions finish the message in hand and QUIT
	m.finish()
}

func (m *sessionRamp) setTarget(target int) {
	if target > m.r.cfg.Sessions && m.r.cfg.Sessions > 0 {
		target = m.r.cfg.Sessions
	}
	m.mu.Lock()
	var wake []*slot
	for m.working < target {
		m.working++
		if n := len(m.parked); n > 0 {
			wake = append(wake, m.parked[n-1])
			m.parked = m.parked[:n-1]
		} else {
			wake = append(wake, m.r.addSlot())
		}
	}
	m.retire.Store(int64(m.working - target))
	m.mu.Unlock()
	for _, s := range wake {
		go s.startNext()
	}
}

// retireOne reports whether the calling session should stop working now.
func (m *sessionRamp) retireOne() bool {
	for {
		n := m.retire.Load()
		if n <= 0 {
			return false
		}
		if m.retire.CompareAndSwap(n, n-1) {
			m.mu.Lock()
			m.working--
			m.mu.Unlock()
			return true
		}
	}
}

// park keeps a retired session until the target rises again; after the end it finishes.
func (m *sessionRamp) park(s *slot) {
	m.mu.Lock()
	if m.r.stopping.Load() {
		m.mu.Unlock()
		m.r.slotDone()
		return
	}
	m.parked = append(m.parked, s)
	m.mu.Unlock()
}

func (m *sessionRamp) finish() {
	m.mu.Lock()
	parked := m.parked
	m.parked = nil
	m.mu.Unlock()
	for range parked {
		m.r.slotDone()
	}
	m.r.slotDone()
}

package engine

import "time"

// quitWait is how long a session waits, after the server's 221, for the server to close
// first. A server closes right after writing its 221, so its FIN follows at once and the
// TIME_WAIT lands on its side; one that keeps the connection open is not waited for
// longer than this: smtp-source closes as soon as it has read the 221, and a pause per
// connection would throttle the run.
const quitWait = 10 * time.Millisecond

// timeStep starts the clock on the step running from now: waiting for a whole reply,
// or sending a whole command, must end within Timeout, whatever trickles in meanwhile
// (a server sending one continuation line every few seconds does not hold a session).
// A TLS handshake is bounded by its own deadline (tlsconn); ours comes handshakeSlack
// later and closes a handshake stuck where that deadline does not reach (a goroutine
// blocked outside I/O), which handshakeCut files under the same key. A pause between
// messages is ours, not the server's silence (act).
func (s *slot) timeStep(now int64) {
	d := s.r.cfg.Timeout
	if s.handshaking() {
		d += handshakeSlack
	}
	s.deadline.Store(now + int64(d))
}

// handshakeSlack lets tlsconn's handshake deadline, which fires at the same Timeout, come
// first.
const handshakeSlack = 100 * time.Millisecond

// awaitFIN lets the server close first after its 221, so that TIME_WAIT lands on its
// side, not on our ports; the session closes itself if the server has not within
// quitWait.
func (s *slot) awaitFIN() {
	s.awaitingFIN.Store(true)
	s.deadline.Store(s.r.now() + int64(quitWait))
	s.timer.Reset(quitWait)
}

// onTimeout runs on a timer goroutine. The event loop moves the deadline without
// touching the timer; the timer, armed at most Timeout ahead, looks at the deadline when
// it fires and sleeps again until it, so that no step pays for a timer reset.
func (s *slot) onTimeout() {
	c := s.getLive()
	if c == nil {
		return // closed; the next connection arms the timer again
	}
	d, now := s.deadline.Load(), s.r.now()
	switch {
	case d == 0: // no step is timed now: look again later
		s.timer.Reset(s.r.cfg.Timeout)
	case now < d:
		s.timer.Reset(time.Duration(d - now))
	default:
		if !s.awaitingFIN.Load() {
			s.timedOut.Store(true)
		}
		_ = c.CloseWithCallback(nil)
	}
}

package sink

import (
	"strings"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"
)

// connState is one connection: its session plus the driver's timers and flow state.
// Fields without atomics are touched only on the connection's event loop.
type connState struct {
	srv  *Server
	c    gnet.Conn
	tr   transport
	sess *Session

	parked      bool  // waiting for a -m slot; no greeting sent yet
	pausedUntil int64 // an injected delay runs until then (server ns); 0 = none

	granted   atomic.Bool // a -m slot was handed over (guarded by the limiter's lock)
	waiting   atomic.Bool // paused or parked: the idle timer does not count
	closed    atomic.Bool
	timedOut  atomic.Bool
	lastInput atomic.Int64 // server ns of the last input
	idle      *time.Timer
	delay     *time.Timer
}

// process feeds the buffered input to the session and writes the replies, until the
// input is used up, a delay starts, or the connection must close.
func (cs *connState) process() gnet.Action {
	s, tr := cs.srv, cs.tr
	if cs.pausedUntil != 0 {
		if s.nowNS() < cs.pausedUntil {
			return cs.boundPending() // input arrived during the delay
		}
		cs.pausedUntil = 0
		cs.waiting.Store(false)
	}
	for {
		in := tr.input()
		avail := len(in)
		buf := bytebufferpool.Get()
		var res Result
		res, buf.B = cs.sess.Feed(in, buf.B[:0])
		tr.consume(res.Consumed)
		if len(buf.B) > 0 {
			tr.write(buf.B) // all replies of this input in one write
		}
		bytebufferpool.Put(buf)
		s.checkLimits()
		switch res.Action {
		case ActionClose:
			return gnet.Close
		case ActionDelay:
			cs.startDelay(res.Delay)
			return gnet.None
		}
		if tr.pendingOutput() > s.env.cfg.MaxPendingOutput {
			s.stats.floodDisconnects.Add(1) // commands keep coming, replies are not read
			return gnet.Close
		}
		if res.Consumed == 0 || res.Consumed == avail {
			return gnet.None
		}
	}
}

// boundPending closes a connection whose unprocessed input outgrows the limit while its
// session waits (a delay, or a parked connection that talks before its greeting).
func (cs *connState) boundPending() gnet.Action {
	if cs.tr.pendingInput() > cs.srv.env.cfg.MaxPendingInput {
		cs.srv.stats.floodDisconnects.Add(1)
		return gnet.Close
	}
	return gnet.None
}

func (cs *connState) startDelay(d time.Duration) {
	cs.pausedUntil = cs.srv.nowNS() + int64(d)
	cs.waiting.Store(true)
	if cs.delay == nil {
		cs.delay = time.AfterFunc(d, cs.wake)
		return
	}
	cs.delay.Reset(d)
}

// wake runs on a timer goroutine: it asks the loop to resume the session.
func (cs *connState) wake() {
	if !cs.closed.Load() {
		_ = cs.c.Wake(nil)
	}
}

// onIdleTimer runs on a timer goroutine: it closes a connection that sent nothing for
// the idle timeout, or re-arms itself for the time left.
func (cs *connState) onIdleTimer() {
	if cs.closed.Load() {
		return
	}
	timeout := cs.srv.env.cfg.IdleTimeout
	idle := time.Duration(cs.srv.nowNS() - cs.lastInput.Load())
	if cs.waiting.Load() || idle < timeout {
		left := timeout - idle
		if cs.waiting.Load() || left <= 0 {
			left = timeout
		}
		cs.idle.Reset(left)
		return
	}
	cs.timedOut.Store(true)
	_ = cs.c.Close() // asynchronous; OnClose follows on the loop
}

func familyName(c gnet.Conn) string {
	addr := clientAddrString(c.RemoteAddr())
	switch {
	case addr == "local":
		return "AF_UNIX"
	case strings.HasPrefix(addr, "ipv6:"):
		return "AF_INET6 " + strings.TrimPrefix(addr, "ipv6:")
	}
	return "AF_INET " + addr
}

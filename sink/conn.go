package sink

import (
	"strings"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"

	"github.com/go-smtp-source/go-smtp-source/tlsconn"
)

// connState is one connection: its session plus the driver's timers and flow state.
// Fields without atomics are touched only on the connection's event loop.
type connState struct {
	srv     *Server
	c       gnet.Conn
	tr      transport
	sess    *Session
	tc      *tlsconn.Conn // TLS, once STARTTLS was accepted or from the start (implicit)
	hsInput bool          // the client sent something during the handshake

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
		if res.Action == ActionStartTLS {
			act := cs.startTLS(buf.B)
			bytebufferpool.Put(buf)
			return act
		}
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
			if tr.failed() != nil {
				return gnet.Close // close_notify or a TLS error, after the input before it
			}
			return gnet.None
		}
	}
}

// startTLS writes the replies that end with STARTTLS's 220 and starts the server side of
// the handshake, unless the client sent more after STARTTLS: bytes a man in the middle
// may have injected ahead of the handshake (CVE-2011-0411) are refused with a 554 in
// place of the 220, and the connection is closed.
func (cs *connState) startTLS(out []byte) gnet.Action {
	s := cs.srv
	if err := tlsconn.CheckNothingBuffered(cs.c, "client"); err != nil {
		s.stats.tlsInjections.Add(1)
		out = append(out[:len(out)-len(replyStartTLS)], replyInjection...)
		cs.tr.write(out)
		if tr := s.env.cfg.Trace; tr != nil {
			tr(err.Error())
		}
		return gnet.Close
	}
	cs.tr.write(out) // the handshake's writes queue behind the 220
	cs.beginTLS()
	return gnet.None
}

// beginTLS starts the handshake on its goroutine; handshake calls end it on the loop.
func (cs *connState) beginTLS() {
	cfg := &cs.srv.env.cfg
	cs.tc = tlsconn.Server(cs.c, cfg.TLS)
	cs.tc.StartHandshake(cfg.TLSHandshakeTimeout)
}

// handshake advances a TLS handshake in progress with what arrived. It returns done once
// the handshake has succeeded (the TLS transport then carries the session), or an action
// to return from OnTraffic.
func (cs *connState) handshake() (done bool, act gnet.Action) {
	s := cs.srv
	if cs.c.InboundBuffered() > 0 {
		cs.hsInput = true
	}
	cs.tc.Feed()
	finished, err := cs.tc.HandshakeDone()
	if !finished {
		return false, gnet.None
	}
	if err != nil {
		s.stats.tlsFailed.Add(1)
		if tr := s.env.cfg.Trace; tr != nil {
			tr("TLS handshake failed: " + err.Error())
		}
		return false, gnet.Close
	}
	st := cs.tc.ConnectionState()
	s.stats.countHandshake(st)
	if tr := s.env.cfg.Trace; tr != nil {
		tr(tlsTraceLine(st))
	}
	cs.tr = &tlsTransport{c: cs.c, tc: cs.tc}
	return true, gnet.None
}

// closeTLS ends the connection's TLS, counting a handshake cut short (unless the client
// never sent a byte of it: a port probe, not a TLS failure), and frees the plaintext
// buffer.
func (cs *connState) closeTLS() {
	if cs.tc == nil {
		return
	}
	if cs.tc.Handshaking() && cs.hsInput {
		cs.srv.stats.tlsFailed.Add(1)
	}
	cs.tc.Close() // gives back the plaintext buffer too
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

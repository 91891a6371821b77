package engine

import (
	"github.com/panjf2000/gnet/v2"

	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/protocol"
	"github.com/go-smtp-source/go-smtp-source/tlsconn"
)

// traffic runs on the event loop with new bytes from the server, or after a Wake.
func (s *slot) traffic(c gnet.Conn) gnet.Action {
	if s.conn != connOpen {
		return gnet.None // ending: whatever else the server says does not matter
	}
	now := s.r.now()
	s.call = callTraffic
	if s.xferAt != 0 && c.OutboundBuffered() == 0 {
		s.rec.Record(metrics.DataXfer, now-s.xferAt)
		s.xferAt = 0
	}
	replies, handshaking := s.client.Replies(), s.handshaking()
	step, action := s.read(c, now)
	// Load before Swap: the flag is rarely set, and a plain load is no locked instruction.
	if action == gnet.None && step == protocol.StepRead && s.resumeDue.Load() && s.resumeDue.Swap(false) {
		s.paused.Store(false)
		step = s.client.Resume(now)
	}
	if action == gnet.None {
		sent, ok := s.flush(c, now)
		if ok {
			action = s.act(c, step)
		}
		progressed := sent || s.client.Replies() != replies || handshaking && !s.handshaking()
		if progressed && action == gnet.None && s.call == callTraffic &&
			(step == protocol.StepRead || step == protocol.StepStartTLS) {
			s.timeStep(now)
		}
	}
	if s.call == callClosedInTraffic {
		s.call = callNone
		s.afterClose()
		return action
	}
	s.call = callNone
	return action
}

// read feeds what has arrived to the machine: decrypted records on a TLS connection
// (tls.go), gnet's buffer otherwise. Replies that answer no command are the machine's to
// judge: a reply queued behind the one that made it write something cannot answer that.
func (s *slot) read(c gnet.Conn, now int64) (protocol.Step, gnet.Action) {
	if s.tls.conn != nil {
		step, closing := s.tlsTraffic(c, now, protocol.StepRead)
		if closing {
			return step, gnet.Close
		}
		return step, gnet.None
	}
	return s.readPlain(c, now), gnet.None
}

// readPlain takes everything gnet has read out of its buffer at once and feeds it to the
// machine. A reply split across reads is not consumed: its start waits in s.in and the
// next read is appended to it. gnet is never asked to keep part of its buffer, because
// Discard(0) — what "consume nothing" would be — empties all of it (gnet_test.go).
func (s *slot) readPlain(c gnet.Conn, now int64) protocol.Step {
	buf, _ := c.Peek(-1) // everything buffered: cannot fail
	if len(buf) == 0 {
		return protocol.StepRead
	}
	if len(s.in) == 0 {
		n, step := s.client.Feed(buf, now)
		s.in = append(s.in, buf[n:]...)
		_, _ = c.Discard(len(buf))
		return step
	}
	s.in = append(s.in, buf...)
	_, _ = c.Discard(len(buf))
	n, step := s.client.Feed(s.in, now)
	s.in = s.in[:copy(s.in, s.in[n:])]
	return step
}

// flush writes the machine's output; gnet copies what the socket does not take at once.
// sent reports that something went out; ok is false when the write failed (gnet has then
// closed the connection already).
func (s *slot) flush(c gnet.Conn, now int64) (sent, ok bool) {
	if s.stream != nil {
		return s.flushStream(c, now)
	}
	n := s.client.OutputLen()
	if n == 0 {
		return false, true
	}
	body := s.client.OutputHasBody()
	s.vec = s.client.Output(s.vec[:0])
	if n > streamWindow {
		s.startStream(s.vec, n, body, now)
		clear(s.vec)
		return s.flushStream(c, now)
	}
	var err error
	at := s.r.now()
	if s.tls.conn != nil {
		err = s.writeTLS(s.vec)
	} else {
		err = s.writePlain(c, s.vec)
	}
	clear(s.vec)
	if err != nil {
		return false, false
	}
	s.client.Flushed(at)
	s.rec.Add(metrics.BytesSent, int64(n))
	if body {
		s.bodySent(c, n, now)
	}
	return true, true
}

// bodySent records a message body handed over: its size, and data_xfer, from the 354 to
// the last byte handed to the kernel. When gnet had to buffer part of it, it ends at the
// first event that finds the buffer empty.
func (s *slot) bodySent(c gnet.Conn, n int, start int64) {
	if m := s.message(s.dotSeq); m != nil {
		m.bytes = int64(n)
	}
	if c.OutboundBuffered() == 0 {
		s.rec.Record(metrics.DataXfer, s.r.now()-start)
	} else {
		s.xferAt = start
	}
}

// act does what the machine's step asks once its output is written.
func (s *slot) act(c gnet.Conn, step protocol.Step) gnet.Action {
	switch step {
	case protocol.StepRead:
	case protocol.StepPause:
		s.paused.Store(true)
		s.deadline.Store(0) // our own pause is not the server's silence
		s.r.model.pause(s)
	case protocol.StepDone:
		s.endSession()
		if s.r.cfg.Linger0 {
			return gnet.Close // smtp-source's reset right after the 221
		}
		s.awaitFIN()
	case protocol.StepClose:
		s.endSession()
		s.endedBy(s.client.Err())
		if seq, ok := s.client.Unstarted(); ok {
			s.seq, s.next = seq, nextRedial // the server closed before seeing it
		}
		return gnet.Close
	case protocol.StepFatal:
		s.endSession()
		err := s.client.Err()
		s.endedBy(err)
		s.sessionFailed(err)
		return gnet.Close
	case protocol.StepStartTLS:
		if len(s.in) > 0 { // after the 220, before the handshake: refused
			return s.refuse(&tlsconn.InjectionError{Role: "server", Buffered: len(s.in) + c.InboundBuffered()})
		}
		return s.afterStartTLS(c)
	}
	return gnet.None
}

// refuse ends the session on a protocol error that is fatal even with -A (not with
// --on-error continue).
func (s *slot) refuse(err error) gnet.Action {
	s.endSession()
	s.client.Fail(err)
	s.endedBy(err)
	s.sessionFailed(err)
	return gnet.Close
}

// handshaking reports that a TLS handshake is running on the connection.
func (s *slot) handshaking() bool { return s.tls.conn != nil && s.tls.conn.Handshaking() }

package engine

import (
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// Output larger than streamWindow (a large -l or -F message) is written a window at a
// time: gnet copies whatever the socket does not take at once, so handing it a whole
// body would hold a copy of it per session. The next window goes out when gnet's buffer
// has drained below half a window; gnet says nothing when that happens, so the session
// looks again every streamPoll.
const (
	streamWindow = 256 << 10
	streamPoll   = time.Millisecond
)

// outStream is the rest of an output being written window by window. Its pieces point
// into the protocol.Client's output and the shared message body, which stay valid
// until the Client is told it has all gone (Flushed).
type outStream struct {
	rest  [][]byte
	total int   // bytes of the whole output
	body  bool  // it holds a message body
	start int64 // when its first window went out
	win   [][]byte
	timer *time.Timer
}

// startStream takes the Client's output over when it is too large for one write.
func (s *slot) startStream(vec [][]byte, total int, body bool, now int64) {
	s.stream = &outStream{rest: append([][]byte(nil), vec...), total: total, body: body, start: now}
}

// flushStream writes the stream's next window, if gnet's buffer has room for it, and
// finishes the output once the last one is out. ok is false when the write failed.
func (s *slot) flushStream(c gnet.Conn, now int64) (sent, ok bool) {
	st := s.stream
	if c.OutboundBuffered() > streamWindow/2 {
		s.pollStream()
		return false, true
	}
	st.win, st.rest = cutWindow(st.win[:0], st.rest, streamWindow)
	n := 0
	for _, p := range st.win {
		n += len(p)
	}
	var err error
	at := s.r.now()
	if s.tls.conn != nil {
		err = s.writeTLS(st.win)
	} else {
		_, err = c.Writev(st.win)
	}
	clear(st.win)
	if err != nil {
		return false, false
	}
	s.rec.Add(metrics.BytesSent, int64(n))
	if len(st.rest) > 0 {
		s.pollStream()
		return true, true
	}
	s.stream = nil
	s.client.Flushed(at) // the last window holds the final dot
	if st.body {
		s.bodySent(c, st.total, st.start)
	}
	return true, true
}

// pollStream wakes the connection after streamPoll to look at gnet's buffer again.
func (s *slot) pollStream() {
	st := s.stream
	if st.timer == nil {
		st.timer = time.AfterFunc(streamPoll, func() {
			if c := s.getLive(); c != nil {
				_ = c.Wake(nil)
			}
		})
		return
	}
	st.timer.Reset(streamPoll)
}

// stopStream drops an unfinished stream when its connection closes.
func (s *slot) stopStream() {
	if s.stream != nil && s.stream.timer != nil {
		s.stream.timer.Stop()
	}
	s.stream = nil
}

// cutWindow moves up to max bytes from the front of rest into win, splitting a piece if
// need be.
func cutWindow(win, rest [][]byte, max int) (window, remaining [][]byte) {
	for len(rest) > 0 && max > 0 {
		p := rest[0]
		if len(p) > max {
			win = append(win, p[:max])
			rest[0] = p[max:]
			return win, rest
		}
		win = append(win, p)
		max -= len(p)
		rest = rest[1:]
	}
	return win, rest
}

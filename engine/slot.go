package engine

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/protocol"
)

// quitWait is how long a session waits, after the server's 221, for the server to close.
const quitWait = 2 * time.Second

// errAborted is the outcome of messages cut off when the run stops.
var errAborted = errors.New("aborted: the run was stopped")

// slot is one of smtp-source's -s sessions: it claims a message, connects, lets its
// protocol.Client run the dialogue on an event loop, and starts over until no message is
// left. At any moment exactly one goroutine owns its plain fields: its dialing goroutine
// until Enroll, then its connection's event loop until OnClose, then the next dialing
// goroutine. Fields touched from timers are atomic or under mu.
type slot struct {
	r      *runner
	client *protocol.Client

	seq       int64 // the message claimed for the next connection
	triesLeft int   // -C: connect tries left; never reset, as in smtp-source
	dialStart int64
	connected int64
	ended     bool // the machine ended the session (QUIT done, 421, fatal)
	inTraffic bool // inside traffic(): a close that happens there is finished after it
	closedIn  bool // the connection closed during traffic()
	vec       [][]byte

	lastActive  atomic.Int64 // ns since epoch of the last byte from the server
	timedOut    atomic.Bool
	resumeDue   atomic.Bool // a pause between messages is over
	paused      atomic.Bool
	awaitingFIN atomic.Bool // QUIT answered; the server is expected to close
	timeout     *time.Timer

	mu        sync.Mutex
	live      gnet.Conn   // the open connection, for timer goroutines
	waitTimer *time.Timer // the pause before connecting again (-w/-R without -d)
	pauseTmr  *time.Timer // the pause before the next message on this connection (-d)

	pcfg     protocol.Config // the run's, with this slot as the message source
	pending  due             // open model: the message handed over for the next start (under mu)
	rec      recorder        // the current event loop's
	recLoop  gnet.EventLoop
	msgs     [2]message // messages in flight
	lastEnd  int64      // end of the last phase reported
	lagDue   bool       // a message was picked up off the loop: record its lag when connected
	xferAt   int64      // data_xfer start while the body is still in gnet's buffer; 0 if none
	dotSeq   int64      // the message whose dot went out last
	retiring bool       // session ramp: leave after this connection
	tls      tlsSession // TLS on the current connection (tls.go)

	// plainRetry: TLS setup failed at --tls may; the next connection does the same
	// message without STARTTLS (tls.go, fallBack).
	plainRetry bool

	accepted, rejected, failed, sessions int64
}

func newSlot(r *runner, i int) *slot {
	s := &slot{r: r, triesLeft: r.cfg.ConnectTries, pcfg: r.proto}
	s.pcfg.Source = s
	s.client = protocol.NewClient(&s.pcfg, s, i+1)
	s.timeout = time.AfterFunc(time.Hour, s.onTimeout)
	s.timeout.Stop()
	return s
}

// startNext claims a message and queues the slot to connect for it.
func (s *slot) startNext() {
	seq, ok := s.take()
	if !ok {
		s.r.slotDone()
		return
	}
	s.seq = seq
	s.lagDue = true
	if !s.r.dials.push(s) { // shutting down
		s.abandon(errAborted)
	}
}

// take picks up the next message: from the shared budget (closed model) or the one the
// dispatcher handed over (open model).
func (s *slot) take() (int64, bool) {
	now := s.r.now()
	if s.r.open == nil {
		seq, ok := s.r.Claim()
		if ok {
			s.begin(seq, now, now)
		}
		return seq, ok
	}
	s.mu.Lock()
	d := s.pending
	s.pending = due{}
	s.mu.Unlock()
	if d.seq == 0 {
		return 0, false
	}
	s.begin(d.seq, d.at, now)
	return d.seq, true
}

// Claim is the slot's protocol.MessageSource, called on the event loop for the next
// message on a kept connection.
func (s *slot) Claim() (int64, bool) {
	seq, ok := s.take()
	if ok {
		s.recordLag(s.message(seq))
	}
	return seq, ok
}

// Exhausted reports that no message will come for this slot's connection.
func (s *slot) Exhausted() bool {
	if s.r.open != nil {
		return s.r.stopping.Load()
	}
	if s.r.Exhausted() {
		return true
	}
	if s.r.ramp != nil && s.r.ramp.retireOne() {
		s.retiring = true // QUIT now; park after the close
		return true
	}
	return false
}

func (s *slot) setPending(d due) {
	s.mu.Lock()
	s.pending = d
	s.mu.Unlock()
}

// handOver gives an idle connection its next message (or, with none, the signal to QUIT).
func (s *slot) handOver(d due) {
	s.setPending(d)
	s.resumeDue.Store(true)
	if c := s.getLive(); c != nil {
		_ = c.Wake(nil)
	}
}

// startAnother follows a closed connection, after the -w/-R pause if there is one.
func (s *slot) startAnother() {
	d := s.r.delay()
	if d <= 0 {
		go s.startNext()
		return
	}
	s.mu.Lock()
	s.waitTimer = time.AfterFunc(d, s.startNext)
	s.mu.Unlock()
}

// cutWait ends a pending pause at once when the run stops.
func (s *slot) cutWait() {
	s.mu.Lock()
	t := s.waitTimer
	s.waitTimer = nil
	s.mu.Unlock()
	if t != nil && t.Stop() {
		go s.startNext() // finds nothing to claim and finishes the slot
	}
}

func (s *slot) dial() {
	r := s.r
	for {
		s.dialStart = r.now()
		nc, err := r.dialer().DialContext(r.dialCtx, r.addr.Network(), r.addr.String())
		if err != nil {
			if r.dialCtx.Err() != nil {
				s.abandon(errAborted)
				return
			}
			cerr := connectError(err)
			s.triesLeft--
			if s.triesLeft > 0 && !isFdExhaustion(err) {
				r.cfg.Events.Warning(cerr)
				time.Sleep(10 * time.Microsecond) // smtp-source's usleep(10)
				continue
			}
			r.fatal(cerr)
			s.abandon(cerr)
			return
		}
		s.connected = r.now()
		if r.cfg.Linger0 {
			if tc, ok := nc.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
		}
		r.enrollMu.RLock()
		if r.stopped {
			r.enrollMu.RUnlock()
			nc.Close()
			s.abandon(errAborted)
			return
		}
		// OnOpen, and maybe OnTraffic and OnClose, run before EnrollContext returns:
		// the slot must not be touched here afterwards.
		_, err = r.cli.EnrollContext(nc, s)
		r.enrollMu.RUnlock()
		if err != nil {
			nc.Close()
			eerr := fmt.Errorf("event loop: %w", err)
			if isFdExhaustion(err) {
				eerr = fmt.Errorf("event loop: %w (the open-files limit is reached: raise it with ulimit -n, or lower -s)", err)
			}
			r.fatal(eerr)
			s.abandon(eerr)
		}
		return
	}
}

// abandon counts the claimed message as failed and finishes the slot.
func (s *slot) abandon(err error) {
	s.plainRetry = false
	s.failed++
	s.msgs = [2]message{}
	s.r.recs.withDial(func(rec *metrics.Recorder) {
		rec.Add(metrics.MessagesFailed, 1)
		if err != errAborted {
			rec.Add(metrics.SessionsFailed, 1)
			rec.Error(metrics.NetErrorKey("connect", err), err.Error())
		}
	})
	s.r.slotDone()
}

// opened runs on the event loop when the connection is registered.
func (s *slot) opened(c gnet.Conn) {
	s.sessions++
	s.ended = false
	s.setLive(c)
	s.r.inFlight.Add(1)
	if el := c.EventLoop(); s.rec == nil || el != s.recLoop {
		s.rec, s.recLoop = s.r.recs.forLoop(el), el
	}
	s.rec.Add(metrics.SessionsOpened, 1)
	if s.lagDue {
		s.lagDue = false
		s.recordLag(s.message(s.seq))
	}
	s.Phase(protocol.PhaseConnect, s.seq, s.dialStart, s.connected, 0)
	s.client.Start(s.seq, s.connected)
	if s.plainRetry {
		s.plainRetry = false
		s.client.DeclineTLS() // this connection only: the next one tries TLS again
	}
	if s.pcfg.ImplicitTLS {
		s.startTLS(c, s.r.now())
	}
	s.timedOut.Store(false)
	s.awaitingFIN.Store(false)
	s.paused.Store(false)
	s.resumeDue.Store(false)
	s.lastActive.Store(s.r.now())
	s.timeout.Reset(s.r.cfg.Timeout)
}

// traffic runs on the event loop with new bytes from the server, or after a Wake.
func (s *slot) traffic(c gnet.Conn) gnet.Action {
	if s.ended {
		return gnet.None // closing: whatever else the server says does not matter
	}
	now := s.r.now()
	s.lastActive.Store(now)
	s.inTraffic = true
	if s.xferAt != 0 && c.OutboundBuffered() == 0 {
		s.rec.Record(metrics.DataXfer, now-s.xferAt)
		s.xferAt = 0
	}
	step := protocol.StepRead
	if s.resumeDue.Swap(false) {
		s.paused.Store(false)
		step = s.client.Resume(now)
	}
	action := gnet.None
	if s.tls.conn != nil {
		var closing bool
		if step, closing = s.tlsTraffic(c, now, step); closing {
			action = gnet.Close
		}
	} else if buf, _ := c.Peek(-1); len(buf) > 0 {
		var n int
		n, step = s.client.Feed(buf, now)
		_, _ = c.Discard(n)
	}
	if action == gnet.None && s.flush(c, now) {
		action = s.act(c, step)
	}
	s.inTraffic = false
	if s.closedIn {
		s.closedIn = false
		s.afterClose()
	}
	return action
}

// flush writes the machine's output; gnet copies what the socket does not take at once.
// It reports false when the write failed (gnet has then closed the connection already).
func (s *slot) flush(c gnet.Conn, now int64) bool {
	n := s.client.OutputLen()
	if n == 0 {
		return true
	}
	body := s.client.OutputHasBody()
	s.vec = s.client.Output(s.vec[:0])
	var err error
	if s.tls.conn != nil {
		err = s.writeTLS(s.vec)
	} else {
		_, err = c.Writev(s.vec)
	}
	clear(s.vec)
	if err != nil {
		return false
	}
	s.client.Flushed()
	s.rec.Add(metrics.BytesSent, int64(n))
	if body {
		// data_xfer: from the 354 to the last byte handed to the kernel. When gnet had to
		// buffer part of it, it ends at the first event that finds the buffer empty.
		if m := s.message(s.dotSeq); m != nil {
			m.bytes = int64(n)
		}
		if c.OutboundBuffered() == 0 {
			s.rec.Record(metrics.DataXfer, s.r.now()-now)
		} else {
			s.xferAt = now
		}
	}
	return true
}

func (s *slot) act(c gnet.Conn, step protocol.Step) gnet.Action {
	switch step {
	case protocol.StepPause:
		s.paused.Store(true)
		if s.r.open != nil {
			// Open model: the next message comes from the dispatcher, when it is due.
			d, state := s.r.open.available(s, true)
			if state != slotParked {
				s.handOver(d) // a queued message, or QUIT when none will come
			}
			return gnet.None
		}
		d := s.r.delay()
		s.mu.Lock()
		s.pauseTmr = time.AfterFunc(d, func() {
			s.resumeDue.Store(true)
			if lc := s.getLive(); lc != nil {
				_ = lc.Wake(nil)
			}
		})
		s.mu.Unlock()
	case protocol.StepDone:
		s.ended = true
		if s.r.cfg.Linger0 {
			return gnet.Close // smtp-source's reset right after the 221
		}
		// Let the server close first so TIME_WAIT lands on its side, not on our ports;
		// close ourselves only if it has not within quitWait.
		s.awaitingFIN.Store(true)
		s.timeout.Reset(quitWait)
	case protocol.StepClose:
		s.ended = true
		return gnet.Close
	case protocol.StepFatal:
		s.ended = true
		s.r.fatal(s.client.Err())
		return gnet.Close
	case protocol.StepStartTLS:
		return s.afterStartTLS(c)
	}
	return gnet.None
}

// closed runs on the event loop when the connection is gone, for whatever reason.
func (s *slot) closed(err error) {
	s.timeout.Stop()
	if s.closeTLS(err) {
		return // a handshake was cut short: handshakeCut calls closed again once it says why
	}
	s.setLive(nil)
	s.r.inFlight.Add(-1)
	s.rec.Record(metrics.Session, s.r.now()-s.dialStart)
	s.xferAt = 0
	s.mu.Lock()
	if s.pauseTmr != nil {
		s.pauseTmr.Stop()
		s.pauseTmr = nil
	}
	s.mu.Unlock()
	if !s.ended {
		var why error
		switch {
		case s.r.shut.Load():
			why = errAborted
		case s.timedOut.Load():
			why = fmt.Errorf("timeout while %s", s.client.Waiting())
		default:
			why = fmt.Errorf("lost connection while %s", s.client.Waiting())
		}
		if why != errAborted && s.canFallBack() {
			s.fallBack(why) // TLS setup timed out or was cut short at --tls may
		} else {
			s.client.Fail(why)
			if why != errAborted {
				s.r.fatal(why)
			}
		}
	}
	s.ended = true
	if s.inTraffic {
		s.closedIn = true // finish after traffic() has stopped using the client
		return
	}
	s.afterClose()
}

func (s *slot) afterClose() {
	s.client.Release()
	if s.plainRetry {
		s.retryPlain() // the same message, its record kept
		return
	}
	s.msgs = [2]message{}
	if s.r.open != nil {
		s.afterCloseOpen()
		return
	}
	if s.r.stopping.Load() || s.client.OutOfMessages() {
		s.r.slotDone()
		return
	}
	if s.r.ramp != nil && (s.retiring || s.r.ramp.retireOne()) {
		s.retiring = false
		s.r.ramp.park(s)
		return
	}
	s.startAnother()
}

// afterCloseOpen: in the open model a slot without a connection asks for the next due
// message, or waits in the free list.
func (s *slot) afterCloseOpen() {
	if s.paused.Load() && !s.r.open.leave(s) {
		// The dispatcher handed this idle connection a message just as it closed.
		s.mu.Lock()
		has := s.pending.seq != 0
		s.mu.Unlock()
		if has && !s.r.stopping.Load() {
			go s.startNext()
			return
		}
	}
	s.paused.Store(false)
	if s.r.stopping.Load() {
		s.r.slotDone()
		return
	}
	d, state := s.r.open.available(s, false)
	switch state {
	case slotGotMessage:
		s.setPending(d)
		go s.startNext()
	case slotFinished:
		s.r.slotDone()
	}
}

// recordLag records how long message m waited between its due time and its pick-up.
func (s *slot) recordLag(m *message) {
	if m == nil || s.r.open == nil {
		return
	}
	lag := m.started - m.intended
	s.rec.Record(metrics.ScheduleLag, lag)
	if lag > int64(s.r.cfg.LateAfter) {
		s.rec.Add(metrics.Late, 1)
	}
}

// onTimeout runs on a timer goroutine: the server has been silent for too long.
func (s *slot) onTimeout() {
	if s.awaitingFIN.Load() {
		if c := s.getLive(); c != nil {
			_ = c.CloseWithCallback(nil)
		}
		return
	}
	if s.paused.Load() {
		s.timeout.Reset(s.r.cfg.Timeout) // our own pause is not the server's silence
		return
	}
	idle := time.Duration(s.r.now() - s.lastActive.Load())
	if idle < s.r.cfg.Timeout {
		s.timeout.Reset(s.r.cfg.Timeout - idle)
		return
	}
	if c := s.getLive(); c != nil {
		s.timedOut.Store(true)
		_ = c.CloseWithCallback(nil)
	}
}

func (s *slot) setLive(c gnet.Conn) {
	s.mu.Lock()
	s.live = c
	s.mu.Unlock()
}

func (s *slot) getLive() gnet.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live
}

// connectError words a failed connect like smtp-source: "connect: Connection refused".
func connectError(err error) error {
	var errno syscall.Errno
	switch {
	case errors.As(err, &errno):
		return &ConnectError{Text: capitalize(errno.Error()), Err: err}
	case errors.Is(err, os.ErrDeadlineExceeded):
		return &ConnectError{Text: "Connection timed out", Err: err}
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Timeout() {
		return &ConnectError{Text: "Connection timed out", Err: err}
	}
	return &ConnectError{Text: err.Error(), Err: err}
}

// ConnectError is a failed connect.
type ConnectError struct {
	Text string
	Err  error
}

func (e *ConnectError) Error() string {
	if isFdExhaustion(e.Err) {
		return "connect: " + e.Text + " (the open-files limit is reached: raise it with ulimit -n, or lower -s)"
	}
	return "connect: " + e.Text
}

func (e *ConnectError) Unwrap() error { return e.Err }

func isFdExhaustion(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

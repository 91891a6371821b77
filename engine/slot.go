package engine

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/protocol"
)

// slot is one of smtp-source's -s sessions: it takes a message from the load model,
// connects, lets its protocol.Client run the dialogue on an event loop, and starts over
// until no message is left. At any moment exactly one goroutine owns its plain fields:
// its dialing goroutine until Enroll, then its connection's event loop until OnClose,
// then the next dialing goroutine. Fields touched from timers are atomic or under mu.
type slot struct {
	r      *runner
	client *protocol.Client

	seq       int64 // the message taken for the next connection
	triesLeft int   // -C: connect tries left; never reset, as in smtp-source
	dialStart int64
	connected int64
	conn      connState
	call      callState
	next      nextConn
	in        []byte // plain path: server bytes the machine has not consumed yet
	vec       [][]byte
	iov       []unix.Iovec // writePlain's scratch

	failure error // what failed the session on this connection (sessions_failed)
	filed   error // the last error filed under its key on this connection

	deadline    atomic.Int64 // ns since epoch by which the running step must end; 0: none is timed
	timedOut    atomic.Bool
	resumeDue   atomic.Bool // a pause between messages is over
	paused      atomic.Bool
	awaitingFIN atomic.Bool // QUIT answered; the server is expected to close
	timer       *time.Timer

	mu         sync.Mutex
	live       gnet.Conn   // the open connection, for timer goroutines
	waitTimer  *time.Timer // the pause before connecting again (-w/-R without -d)
	pauseTmr   *time.Timer // the pause before the next message on this connection (-d)
	backoffTmr *time.Timer // the backoff after a failure, before the next message (OnErrorContinue)

	pcfg    protocol.Config // the run's, with this slot as the message source
	pending due             // open model: the message handed over for the next start (under mu)
	rec     recorder        // the current event loop's
	recLoop gnet.EventLoop
	msgs    [2]message // messages in flight
	lastEnd int64      // end of the last phase reported
	xferAt  int64      // data_xfer start while the body is still in gnet's buffer; 0 if none
	dotSeq  int64      // the message whose dot went out last
	tls     tlsSession // TLS on the current connection (tls.go)
	stream  *outStream // an output too large for one write, going out window by window (stream.go)

	accepted, rejected, failed, sessions int64

	num        int    // the slot's number, from 1 (in Message-Ids)
	idBuf      []byte // --log-messages: the Message-Id being logged
	failStreak int    // failures since the server last answered a message (the backoff grows with it)
	connNo     int64  // the run's number of the current connection, from 1
	// The sending window's ends as this slot saw them (ns since the epoch), and the
	// messages it had answered within the window.
	lastStart, lastAnswer, answered int64
}

// connState is where the slot's connection stands.
type connState uint8

const (
	connNone   connState = iota // no connection: taking a message, dialing, waiting, or finished
	connOpen                    // the session runs on the event loop
	connEnding                  // the machine ended the session (221, 421, a fatal error); the close is pending
)

// callState tracks traffic(): gnet calls OnClose from inside OnTraffic when a write
// fails, and the close is finished once traffic() has stopped using the client.
type callState uint8

const (
	callNone            callState = iota
	callTraffic                   // inside traffic()
	callClosedInTraffic           // inside traffic(), and the connection has closed
)

// nextConn is what the slot's next connection is for.
type nextConn uint8

const (
	nextNew        nextConn = iota // the load model's next message; its schedule lag is recorded when connected
	nextRetire                     // session ramp: none, the session retires after this connection
	nextPlainRetry                 // the same message again, without STARTTLS: TLS failed at --tls may (tls.go)
	nextRedial                     // the same message again: the server closed the session before seeing it
)

func newSlot(r *runner, i int) *slot {
	s := &slot{r: r, triesLeft: r.cfg.ConnectTries, pcfg: r.proto, num: i + 1}
	s.pcfg.Source = s
	s.client = protocol.NewClient(&s.pcfg, s, s.num)
	s.timer = time.AfterFunc(time.Hour, s.onTimeout)
	s.timer.Stop()
	return s
}

// startNext takes a message and queues the slot to connect for it.
func (s *slot) startNext() {
	seq, ok := s.take()
	if !ok {
		s.r.slotDone()
		return
	}
	s.seq = seq
	s.next = nextNew
	if !s.r.dials.push(s) { // shutting down
		s.abandon(s.r.endErr())
	}
}

// take picks up the next message from the load model.
func (s *slot) take() (int64, bool) {
	now := s.r.now()
	d, ok := s.r.model.take(s, now)
	if ok && !s.r.admitted() {
		return 0, false
	}
	if ok {
		s.begin(d.seq, d.at, now)
	}
	return d.seq, ok
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
func (s *slot) Exhausted() bool { return s.r.model.exhausted(s) }

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

// resumeAfter resumes a connection paused between messages after d (-d with -w/-R).
func (s *slot) resumeAfter(d time.Duration) {
	s.mu.Lock()
	s.pauseTmr = time.AfterFunc(d, s.resume)
	s.mu.Unlock()
}

// resume wakes a connection paused between messages.
func (s *slot) resume() {
	s.resumeDue.Store(true)
	if lc := s.getLive(); lc != nil {
		_ = lc.Wake(nil)
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

// cutWait ends a pending pause or backoff at once when no message may start any more.
func (s *slot) cutWait() {
	s.mu.Lock()
	wait, backoff, pause := s.waitTimer, s.backoffTmr, s.pauseTmr
	s.waitTimer, s.backoffTmr = nil, nil
	s.mu.Unlock()
	if wait != nil && wait.Stop() {
		go s.startNext() // finds nothing to take and finishes the slot
	}
	if backoff != nil && backoff.Stop() {
		go s.r.model.closed(s) // the model finds the run stopping and finishes the slot
	}
	if pause != nil && pause.Stop() {
		s.resume() // the session finds no message and QUITs
	}
}

// redial queues the slot to connect again at once for the message it holds (its record
// kept); when the run is shutting down the message fails, aborted.
func (s *slot) redial() {
	if !s.r.dials.push(s) {
		s.abandon(s.r.endErr())
	}
}

func (s *slot) dial() {
	r := s.r
	for {
		s.dialStart = r.now()
		nc, err := r.dialer().DialContext(r.dialCtx, r.addr.Network(), r.addr.String())
		if err != nil {
			if r.dialCtx.Err() != nil {
				s.abandon(r.endErr())
				return
			}
			cerr := connectError(err)
			s.triesLeft--
			if s.triesLeft > 0 && !isFdExhaustion(err) {
				s.warn(cerr)
				time.Sleep(10 * time.Microsecond) // smtp-source's usleep(10)
				continue
			}
			if r.cfg.Continue && !isFdExhaustion(err) { // our own limit is no failure of the server's
				s.dialFailed(cerr)
				return
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
		s.enroll(nc)
		return
	}
}

// enroll hands the connection to an event loop; OnOpen, and maybe OnTraffic and OnClose,
// run before EnrollContext returns: the slot must not be touched here afterwards.
func (s *slot) enroll(nc net.Conn) {
	r := s.r
	r.enrollMu.RLock()
	if r.stopped {
		r.enrollMu.RUnlock()
		nc.Close()
		s.abandon(r.endErr())
		return
	}
	_, err := r.cli.EnrollContext(nc, s)
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
}

// abandon counts the message the slot holds as failed, never connected, and finishes the
// slot.
func (s *slot) abandon(err error) {
	s.failConnect(err)
	s.r.slotDone()
}

// dialFailed: under OnErrorContinue a failed connect fails the message the slot holds;
// the slot takes the next after a backoff.
func (s *slot) dialFailed(err error) {
	s.failConnect(err)
	s.warn(err)
	s.backOff()
}

// failConnect counts the message the slot holds as failed, never connected. A failed
// connect is a failed session; a dial the run's end cut off is aborted or cut off.
func (s *slot) failConnect(err error) {
	s.next = nextNew
	s.failed++
	s.logUnconnected(err)
	s.msgs = [2]message{}
	s.r.recs.withDial(func(rec *metrics.Recorder) {
		rec.Add(metrics.MessagesFailed, 1)
		switch err {
		case errAborted:
			rec.Add(metrics.MessagesCutOff, 1)
			rec.Error(metrics.AbortedKey(metrics.Connect.String()), err.Error())
			return
		case errCutOff:
			rec.Add(metrics.MessagesCutOff, 1)
			rec.Error(metrics.CutOffKey(metrics.Connect.String()), err.Error())
			return
		}
		rec.Add(metrics.SessionsFailed, 1)
		rec.Error(metrics.NetErrorKey(metrics.Connect.String(), err), err.Error())
	})
	s.r.outcome(!isEndOfRun(err))
}

// opened runs on the event loop when the connection is registered.
func (s *slot) opened(c gnet.Conn) {
	s.sessions++
	s.connNo = s.r.conns.Add(1)
	s.conn = connOpen
	s.failure, s.filed = nil, nil
	s.in = s.in[:0]
	s.setLive(c)
	s.r.inFlight.Add(1)
	if el := c.EventLoop(); s.rec == nil || el != s.recLoop {
		s.rec, s.recLoop = s.r.recs.forLoop(el), el
	}
	s.rec.Add(metrics.SessionsOpened, 1)
	s.Phase(protocol.PhaseConnect, s.seq, s.dialStart, s.connected, 0)
	s.client.Start(s.seq, s.connected)
	switch s.next {
	case nextNew:
		s.recordLag(s.message(s.seq))
	case nextPlainRetry:
		s.client.DeclineTLS() // this connection only: the next one tries TLS again
	case nextRedial, nextRetire:
	}
	s.next = nextNew
	s.sendProxyHeader(c)
	if s.pcfg.ImplicitTLS {
		s.startTLS(c, s.r.now())
	}
	s.timedOut.Store(false)
	s.awaitingFIN.Store(false)
	s.paused.Store(false)
	s.resumeDue.Store(false)
	s.timeStep(s.r.now())
	s.timer.Reset(s.r.cfg.Timeout)
}

// closed runs on the event loop when the connection is gone, for whatever reason.
func (s *slot) closed(err error) {
	s.timer.Stop()
	s.stopStream()
	s.deadline.Store(0)
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
	if s.conn == connOpen {
		s.cutShort(err)
	}
	if s.failure != nil {
		s.rec.Add(metrics.SessionsFailed, 1)
	}
	s.conn = connNone
	if s.call == callTraffic {
		s.call = callClosedInTraffic // finish after traffic() has stopped using the client
		return
	}
	s.afterClose()
}

// afterClose starts what follows the connection: the same message again, or whatever
// the load model says.
func (s *slot) afterClose() {
	s.client.Release()
	s.in = s.in[:0]
	switch s.next {
	case nextPlainRetry:
		s.retryPlain() // the same message, its record kept (tls.go)
	case nextRedial:
		if !s.r.stopping.Load() {
			s.redial()
			return
		}
		s.next = nextNew // the run is over: never offered, the message was not started
		s.msgs = [2]message{}
		s.r.model.closed(s)
	case nextNew, nextRetire:
		s.msgs = [2]message{}
		if s.r.cfg.Continue && s.failure != nil {
			s.backOff() // the server failed this session: give it a moment
			return
		}
		s.r.model.closed(s)
	}
}

// recordLag records how long message m waited between its due time and its pick-up.
func (s *slot) recordLag(m *message) {
	if m == nil || !s.r.model.scheduled() {
		return
	}
	lag := m.started - m.intended
	s.rec.Record(metrics.ScheduleLag, lag)
	if lag > int64(s.r.cfg.LateAfter) {
		s.rec.Add(metrics.Late, 1)
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

// endSession marks the session ended by the machine or a failure: the close that follows
// is expected, and whatever else the server says is ignored.
func (s *slot) endSession() { s.conn = connEnding }

// sessionEnded reports that the session on the current connection has ended.
func (s *slot) sessionEnded() bool { return s.conn != connOpen }

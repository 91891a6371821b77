package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"

	"github.com/panjf2000/gnet/v2"

	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/protocol"
	"github.com/go-smtp-source/go-smtp-source/tlsconn"
)

// tlsSession is a slot's TLS state on its current connection; the zero value is a
// plaintext connection.
type tlsSession struct {
	conn    *tlsconn.Conn
	started int64 // handshake start (ns since epoch)
	// awaitingCut: the connection closed during the handshake, and closed() waits for
	// handshakeCut to say why (closeErr is what it was called with).
	awaitingCut bool
	closeErr    error
}

// TLSError is a TLS handshake or record failure, with the one-word reason that also
// names its error key (unknown_authority, name_mismatch, expired, handshake_failure, …).
type TLSError struct {
	Phase  string // "tls_handshake", or the SMTP phase a record error interrupted
	Reason string
	Err    error
}

func (e *TLSError) Error() string {
	if e.Phase == metrics.TLSHandshake.String() {
		return "TLS handshake failed (" + e.Reason + "): " + e.Err.Error()
	}
	return "TLS error while in " + e.Phase + " (" + e.Reason + "): " + e.Err.Error()
}

func (e *TLSError) Unwrap() error { return e.Err }

// startTLS begins the handshake: after the STARTTLS 220, or on connect with implicit TLS.
func (s *slot) startTLS(c gnet.Conn, now int64) {
	s.tls = tlsSession{conn: tlsconn.Client(c, s.r.cfg.TLS), started: now}
	s.tls.conn.StartHandshake(s.r.cfg.Timeout)
}

// afterStartTLS runs when the machine has consumed the STARTTLS 220: any byte after it
// came before the handshake, from the server or from someone in between, and is refused.
func (s *slot) afterStartTLS(c gnet.Conn) gnet.Action {
	if err := tlsconn.CheckNothingBuffered(c, "server"); err != nil {
		s.endSession()
		s.client.Fail(err)
		s.sessionFailed(err) // a protocol error, fatal even with -A (not with --on-error continue)
		return gnet.Close
	}
	s.startTLS(c, s.r.now())
	return gnet.None
}

// tlsTraffic is traffic() on a TLS connection: it feeds the handshake while it runs,
// then the machine with the decrypted replies. It returns the machine's step, or
// handled when the connection must close (the action is then close).
func (s *slot) tlsTraffic(c gnet.Conn, now int64, step protocol.Step) (protocol.Step, bool) {
	tc := s.tls.conn
	if tc.Handshaking() {
		tc.Feed()
		done, err := tc.HandshakeDone()
		if !done {
			return protocol.StepRead, false
		}
		if err != nil {
			s.tlsFailed(metrics.TLSHandshake.String(), err)
			return step, true
		}
		s.handshakeDone(now)
	}
	step, err := s.readRecords(now, step)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return step, true // close_notify: closed() says "lost connection while …"
		}
		phase := "session"
		if p, ok := s.client.PendingPhase(); ok {
			phase = p.String()
		}
		s.tlsFailed(phase, err)
		return step, true
	}
	return step, false
}

// handshakeDone times and counts the handshake and lets the machine go on.
func (s *slot) handshakeDone(now int64) {
	st := s.tls.conn.ConnectionState()
	s.Phase(protocol.PhaseTLSHandshake, 0, s.tls.started, now, 0)
	tlsconn.CountHandshake(st, false, func(c tlsconn.Counter) {
		if mc, ok := tlsCounter(c); ok {
			s.rec.Add(mc, 1)
		}
	})
	s.rec.Add(metrics.TLSCipherCounter(st.CipherSuite), 1)
	if s.pcfg.Trace {
		line := "TLS established: " + tls.VersionName(st.Version) + ", " + tls.CipherSuiteName(st.CipherSuite)
		if st.DidResume {
			line += ", resumed"
		}
		s.r.cfg.Events.Trace([]byte(line), false)
	}
	s.client.TLSDone(now)
}

// tlsCounter is the engine's counter for one of tlsconn's.
func tlsCounter(c tlsconn.Counter) (metrics.Counter, bool) {
	switch c {
	case tlsconn.Handshakes:
		return metrics.TLSHandshakes, true
	case tlsconn.Resumed:
		return metrics.TLSResumed, true
	case tlsconn.Version10:
		return metrics.TLSVersion10, true
	case tlsconn.Version11:
		return metrics.TLSVersion11, true
	case tlsconn.Version12:
		return metrics.TLSVersion12, true
	case tlsconn.Version13:
		return metrics.TLSVersion13, true
	case tlsconn.ClientCertificates: // a server's counter
	}
	return 0, false
}

// readRecords feeds the machine the replies decrypted so far, as traffic() does gnet's
// buffer on a plaintext connection. A read error (close_notify, an alert) counts once the
// machine wants to read past what came before it.
func (s *slot) readRecords(now int64, step protocol.Step) (protocol.Step, error) {
	if step != protocol.StepRead {
		return step, nil
	}
	in, err := s.tls.conn.Input()
	if len(in) > 0 {
		var n int
		n, step = s.client.Feed(in, now)
		s.tls.conn.Consume(n)
	}
	if step != protocol.StepRead {
		return step, nil
	}
	return step, err
}

// tlsFailed ends the session on a TLS failure: its messages fail; the run stops unless -A.
// At --tls may a failure while TLS is being set up is instead retried in plaintext.
func (s *slot) tlsFailed(phase string, err error) {
	terr := &TLSError{Phase: phase, Reason: metrics.TLSReason(err), Err: err}
	if _, ok := metrics.CertificateFailure(err); ok {
		s.rec.Add(metrics.TLSCertificateFailed, 1)
	}
	s.endSession()
	if s.canFallBack() {
		s.fallBack(terr)
		return
	}
	s.client.Fail(terr)
	if s.pcfg.AllowReject { // -A, or --on-error continue
		s.warn(terr)
		return
	}
	s.r.fatal(terr)
}

// FallbackError is a TLS failure at --tls may that the session does not count against
// its message: it closes the connection and does the message again on a new one, in
// plaintext (Postfix's smtp_tls_security_level=may: "When TLS handshakes fail, the
// connection is retried with TLS disabled").
type FallbackError struct{ Err error }

func (e *FallbackError) Error() string { return e.Err.Error() + "; retrying in plaintext" }

func (e *FallbackError) Unwrap() error { return e.Err }

// canFallBack reports that a failure on this connection now is retried in plaintext:
// --tls may over STARTTLS (implicit TLS has no plaintext to fall back to), no AUTH
// (Postfix does not fall back when it has SASL credentials: the server may not offer
// AUTH in plaintext), and TLS is being set up: the handshake, or the EHLO after it (in
// TLS 1.3 a server refuses the client's certificate only after the client's handshake is
// over). The retry connection declines STARTTLS, so it never comes here: one retry per
// message at most.
func (s *slot) canFallBack() bool {
	if s.pcfg.TLS != protocol.TLSMay || s.pcfg.ImplicitTLS || s.pcfg.Auth != nil {
		return false
	}
	if s.client.TLSPending() {
		return true
	}
	p, ok := s.client.PendingPhase()
	return ok && p == protocol.PhaseEhloTLS && s.client.TLSActive()
}

// fallBack counts err under its key as usual, warns, and has the slot's next connection
// do the same message in plaintext (afterClose, opened). The message stays open: it is
// neither failed nor counted twice. The callers (tlsFailed, closed) end the connection.
func (s *slot) fallBack(err error) {
	s.next = nextPlainRetry
	s.recordError(err)
	s.warn(&FallbackError{Err: err})
}

// retryPlain queues the slot to connect again at once for the message whose TLS setup
// failed; when the run is shutting down the message fails, aborted.
func (s *slot) retryPlain() {
	if !s.r.dials.push(s) {
		s.abandon(s.r.endErr())
	}
}

// writeTLS encrypts the machine's output and writes it in one gnet write.
func (s *slot) writeTLS(vec [][]byte) error {
	_, err := s.tls.conn.Writev(vec)
	return err
}

// closeTLS releases the connection's TLS state in OnClose, never waiting. When the close
// cut a handshake short, it returns true: closed() is then finished by handshakeCut, on
// the loop, once the handshake's goroutine has said why it ended.
func (s *slot) closeTLS(closeErr error) bool {
	tc := s.tls.conn
	if tc == nil {
		return false
	}
	s.tls = tlsSession{}
	if s.sessionEnded() || s.r.shut.Load() {
		tc.Close() // the session is over either way: no handshake error would count
		return false
	}
	if !tc.CloseDuringHandshake(s.handshakeCut) {
		return false
	}
	s.tls = tlsSession{awaitingCut: true, closeErr: closeErr}
	s.setLive(nil)
	return true
}

// handshakeCut finishes closed() for a connection that closed during its handshake. A
// handshake that ended on something else than the close itself (an alert the server sent
// before hanging up, a certificate it refused, the handshake's timeout) is a TLS failure.
func (s *slot) handshakeCut(err error) {
	if !s.tls.awaitingCut {
		return
	}
	closeErr := s.tls.closeErr
	s.tls = tlsSession{}
	if s.timedOut.Load() && (errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF)) {
		err = context.DeadlineExceeded // our deadline ended it, not tlsconn's: the same timeout
	}
	if err != nil && !s.sessionEnded() && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) && !s.r.shut.Load() {
		s.tlsFailed(metrics.TLSHandshake.String(), err)
	}
	s.closed(closeErr)
}

// finishCut finishes closed() for a connection whose handshake's report the event loops,
// stopped, will never run (shutdown): its message was cut off.
func (s *slot) finishCut() { s.handshakeCut(nil) }

// tlsErrorKey is the error key of a TLS failure or a STARTTLS injection.
func tlsErrorKey(err error) (string, bool) {
	var terr *TLSError
	if errors.As(err, &terr) {
		return terr.Phase + ":" + metrics.ClassTLS + ":" + terr.Reason, true
	}
	var inj *tlsconn.InjectionError
	if errors.As(err, &inj) {
		return protocol.PhaseStartTLS.String() + ":" + metrics.ClassTLS + ":injection", true
	}
	if errors.Is(err, protocol.ErrNoStartTLS) {
		return protocol.PhaseHelo.String() + ":" + metrics.ClassTLS + ":starttls_not_offered", true
	}
	return "", false
}

// checkTLS refuses a run that asks for TLS without saying how.
func checkTLS(cfg *Config) error {
	if (cfg.Protocol.TLS != protocol.TLSNone || cfg.Protocol.ImplicitTLS) && cfg.TLS == nil {
		return errors.New("engine: TLS requested without a TLS configuration")
	}
	return nil
}

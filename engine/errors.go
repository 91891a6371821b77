package engine

import (
	"errors"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/protocol"
)

// errAborted is the outcome of messages cut off when the run stops: by an interrupt, by
// another session's fatal error, or when the grace period ends. They fail, under the key
// PHASE:aborted, not as failures of the phase they were in.
var errAborted = errors.New("aborted: the run was stopped")

// SessionError is a session its connection cut short, in smtp-source's words ("lost
// connection while sending recipient", "timeout while reading server greeting"), with
// what happened underneath: the close's error (ECONNRESET, io.EOF, a failed write), or
// os.ErrDeadlineExceeded for a timeout.
type SessionError struct {
	Text  string
	Cause error
}

func (e *SessionError) Error() string { return e.Text }

func (e *SessionError) Unwrap() error { return e.Cause }

// cutShort ends a session whose connection closed before the machine ended it: the
// run's end (aborted), our timeout, or the server or network (lost connection).
func (s *slot) cutShort(cause error) {
	var why error
	switch {
	case s.r.shut.Load():
		why = errAborted
	case s.timedOut.Load():
		why = &SessionError{Text: "timeout while " + s.client.Waiting(), Cause: os.ErrDeadlineExceeded}
	default:
		why = &SessionError{Text: "lost connection while " + s.client.Waiting(), Cause: cause}
	}
	if why != errAborted && s.canFallBack() {
		s.fallBack(why) // TLS setup timed out or was cut short at --tls may
		return
	}
	s.client.Fail(why)
	if why != errAborted {
		s.endedBy(why)
		s.r.fatal(why)
	}
}

// endedBy notes the error that ended the session: filed under its key unless a message
// it ended has filed it already (one with no message open is counted too), and, unless
// it is the server's rejection, what failed the session.
func (s *slot) endedBy(err error) {
	if err == nil || err == errAborted {
		return
	}
	if err != s.filed {
		s.recordError(err)
	}
	var re *protocol.ReplyError
	if s.failure == nil && !errors.As(err, &re) {
		s.failure = err
	}
}

// recordError files an error under its class key with its text.
func (s *slot) recordError(err error) {
	s.filed = err
	if key, ok := tlsErrorKey(err); ok {
		s.rec.Error(key, err.Error())
		return
	}
	var re *protocol.ReplyError
	if errors.As(err, &re) {
		s.rec.Error(metrics.ReplyErrorKey(re.Where(), re.Code, re.Enhanced), err.Error())
		return
	}
	var pe *protocol.ProtocolError
	if errors.As(err, &pe) {
		s.rec.Error(metrics.ProtocolErrorKey(pe.Where(), pe.Reason), err.Error())
		return
	}
	if err == errAborted {
		s.rec.Error(metrics.AbortedKey(s.phase()), err.Error())
		return
	}
	s.rec.Error(metrics.NetErrorKey(s.phase(), err), err.Error())
}

// phase names where the session stands for an error key: the step whose reply it
// awaits, the TLS handshake, or the session between commands.
func (s *slot) phase() string {
	if s.client.TLSPending() {
		return metrics.TLSHandshake.String()
	}
	if p, ok := s.client.PendingPhase(); ok {
		return p.String()
	}
	return protocol.SessionLevel
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

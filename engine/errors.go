package engine

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/protocol"
)

// errAborted is the outcome of messages cut off when the run stops before its planned
// end: by an interrupt, by another session's fatal error, by a threshold or the error
// budget. They fail, under the key PHASE:aborted, not as failures of the phase they were
// in.
var errAborted = errors.New("aborted: the run was stopped")

// errCutOff is the outcome of messages still in flight at the run's planned end
// (MaxDuration) once the grace period is over: PHASE:cut_off.
var errCutOff = errors.New("cut off: the run reached its planned end")

// isEndOfRun reports that err is the run's end cutting a message off, not a failure.
func isEndOfRun(err error) bool { return err == errAborted || err == errCutOff }

// endErr is what the run's end does to what it cuts off now.
func (r *runner) endErr() error {
	if r.cutOff.Load() {
		return errCutOff
	}
	return errAborted
}

// ErrorBudgetError ends a run whose errors (messages rejected or failed, not those the
// run's end cut off) went over its budget.
type ErrorBudgetError struct {
	Errors   int64  // so far
	Outcomes int64  // messages with an outcome so far
	Budget   string // "10" or "2.5%"
}

func (e *ErrorBudgetError) Error() string {
	return fmt.Sprintf("error budget exceeded: %d of %d messages rejected or failed, more than %s", e.Errors, e.Outcomes, e.Budget)
}

// ThresholdError ends a run whose thresholds were lost while it ran (ThresholdAbort).
type ThresholdError struct {
	After    time.Duration
	Breached []metrics.Verdict
}

func (e *ThresholdError) Error() string {
	return fmt.Sprintf("threshold lost after %v, run stopped: %s", e.After.Round(time.Millisecond), metrics.DescribeBreaches(e.Breached))
}

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
		why = s.r.endErr()
	case s.timedOut.Load():
		why = &SessionError{Text: "timeout while " + s.client.Waiting(), Cause: os.ErrDeadlineExceeded}
	default:
		why = &SessionError{Text: "lost connection while " + s.client.Waiting(), Cause: cause}
	}
	if !isEndOfRun(why) && s.canFallBack() {
		s.fallBack(why) // TLS setup timed out or was cut short at --tls may
		return
	}
	s.client.Fail(why)
	if !isEndOfRun(why) {
		s.endedBy(why)
		s.sessionFailed(why)
	}
}

// sessionFailed is what a session's failure does to the run: under OnErrorAbort it ends
// it, as smtp-source's msg_fatal; under OnErrorContinue it is a warning (its messages
// have failed and are counted), and the slot reconnects after a backoff (afterClose).
func (s *slot) sessionFailed(err error) {
	if !s.r.cfg.Continue {
		s.r.fatal(err)
		return
	}
	s.warn(err)
}

// endedBy notes the error that ended the session: filed under its key unless a message
// it ended has filed it already (one with no message open is counted too), and, unless
// it is the server's rejection, what failed the session.
func (s *slot) endedBy(err error) {
	if err == nil || isEndOfRun(err) {
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

// recordError files an error under its class key with its text, and returns the key.
func (s *slot) recordError(err error) string {
	s.filed = err
	key := s.errorKey(err)
	s.rec.Error(key, err.Error())
	return key
}

// errorKey is the key an error is filed under (metrics/SCHEMA.md).
func (s *slot) errorKey(err error) string {
	if key, ok := tlsErrorKey(err); ok {
		return key
	}
	var fe *FallbackError
	if errors.As(err, &fe) {
		return s.errorKey(fe.Err)
	}
	var re *protocol.ReplyError
	if errors.As(err, &re) {
		return metrics.ReplyErrorKey(re.Where(), re.Code, re.Enhanced)
	}
	var pe *protocol.ProtocolError
	if errors.As(err, &pe) {
		return metrics.ProtocolErrorKey(pe.Where(), pe.Reason)
	}
	var ce *ConnectError
	switch {
	case err == errAborted:
		return metrics.AbortedKey(s.phase())
	case err == errCutOff:
		return metrics.CutOffKey(s.phase())
	case errors.As(err, &ce):
		return metrics.NetErrorKey(metrics.Connect.String(), err)
	}
	return metrics.NetErrorKey(s.phase(), err)
}

// warn reports a warning, at most a few a second per error key (warnings.go).
func (s *slot) warn(err error) {
	s.r.warns.warn(s.errorKey(err), err)
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

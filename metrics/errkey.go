package metrics

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Error classes, the second field of an error key.
const (
	ClassTemp  = "temp"  // 4xx reply
	ClassPerm  = "perm"  // 5xx reply
	ClassOther = "other" // any other reply code
	ClassNet   = "net"   // connection error: refused, reset, timeout, eof, …
	ClassTLS   = "tls"   // TLS handshake or record error (reserved for the TLS work)
)

// ReplyErrorKey is the error key of an SMTP reply that ended a phase: phase:class:code, or
// phase:class:code:enhanced with an enhanced status code (e.g. "rcpt:perm:550:5.1.1",
// "banner:temp:421"). The class is "temp" for 4xx, "perm" for 5xx, "other" otherwise. An
// enhanced code that is not digits and dots is left out.
func ReplyErrorKey(phase string, code int, enhanced string) string {
	class := ClassOther
	switch {
	case code >= 400 && code <= 499:
		class = ClassTemp
	case code >= 500 && code <= 599:
		class = ClassPerm
	}
	key := phase + ":" + class + ":" + strconv.Itoa(code)
	if validEnhancedCode(enhanced) {
		key += ":" + enhanced
	}
	return key
}

// validEnhancedCode accepts RFC 3463 shapes (class.subject.detail, digits) loosely.
func validEnhancedCode(s string) bool {
	if s == "" || len(s) > 11 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != '.' {
			return false
		}
	}
	return true
}

// NetErrorKey is the error key of a connection-level error in a phase:
// phase:net:WORD, where WORD names the cause: refused, reset, timeout, eof, broken_pipe,
// aborted, unreachable, host_unreachable, addr_not_available, addr_in_use, no_such_file,
// permission, too_many_files, no_buffers, dns, closed, canceled, or the errno's text
// (lower case, underscores); "other" when nothing more is known. TLS errors get the class
// "tls" (phase:tls:WORD) — alert names are the TLS work's to add.
func NetErrorKey(phase string, err error) string {
	return phase + ":" + netErrorClassWord(err)
}

func netErrorClassWord(err error) string {
	if err == nil {
		return ClassNet + ":other"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return ClassNet + ":" + errnoWord(errno)
	}
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return ClassNet + ":eof"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return ClassNet + ":timeout"
	case errors.Is(err, context.Canceled):
		return ClassNet + ":canceled"
	case errors.Is(err, net.ErrClosed):
		return ClassNet + ":closed"
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		if dnsErr.IsTimeout {
			return ClassNet + ":timeout"
		}
		return ClassNet + ":dns"
	}
	var timeout interface{ Timeout() bool }
	if errors.As(err, &timeout) && timeout.Timeout() {
		return ClassNet + ":timeout"
	}
	var alert tls.AlertError
	var recordHeader tls.RecordHeaderError
	var certVerify *tls.CertificateVerificationError
	if errors.As(err, &alert) || errors.As(err, &recordHeader) || errors.As(err, &certVerify) {
		return ClassTLS + ":error"
	}
	return ClassNet + ":other"
}

func errnoWord(errno syscall.Errno) string {
	switch errno {
	case syscall.ECONNREFUSED:
		return "refused"
	case syscall.ECONNRESET:
		return "reset"
	case syscall.ETIMEDOUT:
		return "timeout"
	case syscall.EPIPE:
		return "broken_pipe"
	case syscall.ECONNABORTED:
		return "aborted"
	case syscall.ENETUNREACH:
		return "unreachable"
	case syscall.EHOSTUNREACH:
		return "host_unreachable"
	case syscall.EADDRNOTAVAIL:
		return "addr_not_available"
	case syscall.EADDRINUSE:
		return "addr_in_use"
	case syscall.ENOENT:
		return "no_such_file"
	case syscall.EACCES, syscall.EPERM:
		return "permission"
	case syscall.EMFILE, syscall.ENFILE:
		return "too_many_files"
	case syscall.ENOBUFS:
		return "no_buffers"
	}
	word := strings.ToLower(errno.Error())
	word = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, word)
	if word == "" {
		return "errno_" + strconv.Itoa(int(errno))
	}
	return word
}

// ClassProtocol, ClassAborted and ClassCutOff are the classes of error keys that are
// neither replies nor connection errors.
const (
	ClassProtocol = "protocol" // the server broke the protocol: phase:protocol:REASON
	ClassAborted  = "aborted"  // a message a stop before the run's planned end cut off: phase:aborted
	ClassCutOff   = "cut_off"  // a message the planned end (--duration, --max-duration) cut off: phase:cut_off
)

// ProtocolErrorKey is the error key of a protocol violation by the server in a phase:
// phase:protocol:REASON, where REASON is malformed (not a reply), too_long (a line over
// 4 KiB or a reply over 64 KiB), unexpected_reply (a reply to no command) or
// bad_challenge (an AUTH challenge the mechanism has no answer for).
func ProtocolErrorKey(phase, reason string) string {
	return phase + ":" + ClassProtocol + ":" + reason
}

// AbortedKey is the error key of a message cut off in a phase because the run stopped —
// interrupted, or ended by another session's fatal error — rather than by anything that
// happened to it: phase:aborted.
func AbortedKey(phase string) string { return phase + ":" + ClassAborted }

// CutOffKey is the error key of a message still in flight when the run reached its
// planned end (--duration, --max-duration) and its grace period was over: phase:cut_off.
// Like an aborted message it failed, but not because of the server.
func CutOffKey(phase string) string { return phase + ":" + ClassCutOff }

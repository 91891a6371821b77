package metrics

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
)

func TestReplyErrorKey(t *testing.T) {
	for _, c := range []struct {
		phase    string
		code     int
		enhanced string
		want     string
	}{
		{"rcpt", 550, "5.1.1", "rcpt:perm:550:5.1.1"},
		{"eod", 451, "4.3.0", "eod:temp:451:4.3.0"},
		{"banner", 421, "", "banner:temp:421"},
		{"mail", 250, "", "mail:other:250"},
		{"data", 354, "garbage here", "data:other:354"},
		{"rcpt", 552, "5.2.2.2.2.2.2", "rcpt:perm:552"},
	} {
		if got := ReplyErrorKey(c.phase, c.code, c.enhanced); got != c.want {
			t.Errorf("ReplyErrorKey(%q, %d, %q) = %q, want %q", c.phase, c.code, c.enhanced, got, c.want)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestNetErrorKey(t *testing.T) {
	opErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", err)}
	}
	for _, c := range []struct {
		err  error
		want string
	}{
		{opErr(syscall.ECONNREFUSED), "connect:net:refused"},
		{opErr(syscall.ECONNRESET), "connect:net:reset"},
		{opErr(syscall.ETIMEDOUT), "connect:net:timeout"},
		{opErr(syscall.EADDRNOTAVAIL), "connect:net:addr_not_available"},
		{opErr(syscall.EPIPE), "connect:net:broken_pipe"},
		{opErr(syscall.EHOSTUNREACH), "connect:net:host_unreachable"},
		{opErr(syscall.ENOENT), "connect:net:no_such_file"},
		{opErr(syscall.EMFILE), "connect:net:too_many_files"},
		{opErr(syscall.EXDEV), "connect:net:invalid_cross_device_link"},
		{io.EOF, "connect:net:eof"},
		{fmt.Errorf("read: %w", io.ErrUnexpectedEOF), "connect:net:eof"},
		{os.ErrDeadlineExceeded, "connect:net:timeout"},
		{context.DeadlineExceeded, "connect:net:timeout"},
		{timeoutErr{}, "connect:net:timeout"},
		{context.Canceled, "connect:net:canceled"},
		{net.ErrClosed, "connect:net:closed"},
		{&net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}, "connect:net:dns"},
		{errors.New("something else"), "connect:net:other"},
		{fmt.Errorf("handshake: %w", tls.AlertError(42)), "connect:tls:error"},
		{nil, "connect:net:other"},
	} {
		if got := NetErrorKey("connect", c.err); got != c.want {
			t.Errorf("NetErrorKey(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

var errRefused = &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}

func TestProtocolAndAbortedKeys(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{ProtocolErrorKey("banner", "malformed"), "banner:protocol:malformed"},
		{ProtocolErrorKey("session", "unexpected_reply"), "session:protocol:unexpected_reply"},
		{AbortedKey("rcpt"), "rcpt:aborted"},
		{AbortedKey("connect"), "connect:aborted"},
	} {
		if c.got != c.want {
			t.Errorf("%q, want %q", c.got, c.want)
		}
	}
}

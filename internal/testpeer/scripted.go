package testpeer

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Faults a ScriptedServer acts out when a reply in its SMTPScript is one of these, or
// ends in one (what comes before is sent first).
const (
	FaultReset  = "<reset>"  // close with a TCP reset (SO_LINGER 0) instead of replying
	FaultClose  = "<close>"  // close (FIN) instead of replying
	FaultSilent = "<silent>" // never reply again; the connection stays open
)

// ScriptedOptions configures a ScriptedServer: an SMTPScript plus ways to misbehave on
// the wire.
type ScriptedOptions struct {
	Script SMTPScript
	// Scripts, when set, gives each connection its own script, in the order accepted;
	// the last one serves the connections after it.
	Scripts []SMTPScript
	// AfterStartTLS is the fault acted out when the client starts its TLS handshake
	// after the STARTTLS 220 (the server speaks no TLS itself): FaultReset, FaultClose
	// or FaultSilent.
	AfterStartTLS string
	// TLS, when set, is the server's TLS configuration: after the STARTTLS 220 (or from
	// the start with ImplicitTLS) the session goes on over TLS, and Received holds what
	// the client sent in plaintext.
	TLS         *tls.Config
	ImplicitTLS bool
	// Unix listens on a unix socket instead of TCP on loopback (SplitEveryByte needs it).
	Unix bool
	// SplitEveryByte writes the replies one byte at a time, each one taken by the client
	// (read out of its socket) before the next is sent: every reply reaches the client
	// split at every byte, one read per byte.
	SplitEveryByte bool
	// LineDelay pauses between the lines of every reply: a server trickling its lines.
	LineDelay time.Duration
	// IdleAfter closes a connection whose client has sent nothing for this long, after
	// IdleReply, as Postfix's smtpd does at its idle timeout.
	IdleAfter time.Duration
	IdleReply string // default "421 4.4.2 sim Error: timeout exceeded\r\n"
}

// ScriptedServer is a scripted SMTP server for engine tests: one goroutine per
// connection (it is the test's peer, not what is measured) running an SMTPScript, and
// recording every byte each client sent.
type ScriptedServer struct {
	Addr string // the engine's target operand: "127.0.0.1:PORT" or "unix:PATH"

	t    testing.TB
	opts ScriptedOptions
	ln   net.Listener
	done chan struct{}
	wg   sync.WaitGroup

	mu    sync.Mutex
	conns []*scriptedConn
}

type scriptedConn struct {
	nc       net.Conn
	conn     net.Conn      // nc, or the TLS connection over it once TLS has started
	received bytes.Buffer  // under ScriptedServer.mu
	ended    chan struct{} // closed when the server is done with the connection
}

// StartScripted starts a ScriptedServer; it is closed when the test ends.
func StartScripted(t testing.TB, opts ScriptedOptions) *ScriptedServer {
	t.Helper()
	if opts.IdleReply == "" {
		opts.IdleReply = "421 4.4.2 sim Error: timeout exceeded\r\n"
	}
	s := &ScriptedServer{t: t, opts: opts, done: make(chan struct{})}
	var err error
	if opts.Unix {
		path := filepath.Join(t.TempDir(), "smtp.sock")
		s.ln, err = net.Listen("unix", path)
		s.Addr = "unix:" + path
	} else {
		s.ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatalf("scripted server: %v", err)
	}
	if !opts.Unix {
		s.Addr = s.ln.Addr().String()
	}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.close)
	return s
}

func (s *ScriptedServer) close() {
	close(s.done)
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *ScriptedServer) accept() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		c := &scriptedConn{nc: nc, ended: make(chan struct{})}
		s.mu.Lock()
		i := len(s.conns)
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer close(c.ended)
			defer nc.Close()
			s.serve(c, i)
		}()
	}
}

// WaitEnded waits until the server is done with every connection accepted so far (the
// client closed, or the script closed it), at most within d.
func (s *ScriptedServer) WaitEnded(within time.Duration) error {
	s.mu.Lock()
	conns := append([]*scriptedConn(nil), s.conns...)
	s.mu.Unlock()
	timeout := time.After(within)
	for i, c := range conns {
		select {
		case <-c.ended:
		case <-timeout:
			return fmt.Errorf("scripted server: connection %d still open after %v", i+1, within)
		}
	}
	return nil
}

// Received is what the clients sent, one string per connection in the order accepted.
func (s *ScriptedServer) Received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.conns))
	for i, c := range s.conns {
		out[i] = c.received.String()
	}
	return out
}

func (s *ScriptedServer) serve(c *scriptedConn, i int) {
	script := &s.opts.Script
	if n := len(s.opts.Scripts); n > 0 {
		script = &s.opts.Scripts[min(i, n-1)]
	}
	sess := script.Session()
	c.conn = c.nc
	if s.opts.ImplicitTLS && !s.startTLS(c, sess) {
		return
	}
	if !s.send(c, sess.Banner()) {
		return
	}
	buf := make([]byte, 64<<10)
	for !sess.Closed {
		if s.opts.IdleAfter > 0 {
			_ = c.nc.SetReadDeadline(time.Now().Add(s.opts.IdleAfter))
		}
		n, err := c.conn.Read(buf)
		if n > 0 {
			s.mu.Lock()
			c.received.Write(buf[:n])
			s.mu.Unlock()
			if sess.StartedTLS && s.opts.AfterStartTLS != "" {
				s.send(c, s.opts.AfterStartTLS)
				return
			}
			if !s.send(c, sess.Input(buf[:n])) {
				return
			}
			if sess.StartedTLS && s.opts.TLS != nil && !sess.TLS && !s.startTLS(c, sess) {
				return
			}
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				s.send(c, s.opts.IdleReply)
			}
			return
		}
	}
}

// startTLS runs the server's side of the TLS handshake; the session goes on over TLS.
func (s *ScriptedServer) startTLS(c *scriptedConn, sess *ScriptSession) bool {
	tc := tls.Server(c.nc, s.opts.TLS)
	_ = c.nc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		return false
	}
	_ = c.nc.SetDeadline(time.Time{})
	c.conn, sess.TLS = tc, true
	return true
}

// send writes a reply, or acts out the fault it ends in; false when the connection is
// to be closed.
func (s *ScriptedServer) send(c *scriptedConn, out string) bool {
	for _, f := range []string{FaultReset, FaultClose, FaultSilent} {
		if before, ok := strings.CutSuffix(out, f); ok {
			s.write(c, before)
			switch f {
			case FaultReset:
				if tc, ok := c.nc.(*net.TCPConn); ok {
					_ = tc.SetLinger(0)
				}
			case FaultSilent:
				<-s.done
			}
			return false
		}
	}
	return s.write(c, out)
}

// write sends out: at once, line by line (LineDelay), or a byte at a time, each taken
// by the client before the next (SplitEveryByte; over TLS, a record per byte).
func (s *ScriptedServer) write(c *scriptedConn, out string) bool {
	switch {
	case out == "":
		return true
	case s.opts.SplitEveryByte:
		for i := 0; i < len(out); i++ {
			if _, err := c.conn.Write([]byte{out[i]}); err != nil {
				return false
			}
			if err := waitTaken(c.nc, 10*time.Second); err != nil {
				s.t.Errorf("scripted server: %v", err)
				return false
			}
		}
	case s.opts.LineDelay > 0:
		for rest := out; rest != ""; {
			line := rest
			if i := strings.IndexByte(rest, '\n'); i >= 0 {
				line = rest[:i+1]
			}
			rest = rest[len(line):]
			if _, err := c.conn.Write([]byte(line)); err != nil {
				return false
			}
			select {
			case <-time.After(s.opts.LineDelay):
			case <-s.done:
				return false
			}
		}
	default:
		if _, err := c.conn.Write([]byte(out)); err != nil {
			return false
		}
	}
	return true
}

// waitTaken waits until the peer has read everything written on a unix stream socket:
// the kernel charges a sent buffer to the sender until the receiver has consumed it, so
// SIOCOUTQ falls to 0 only then.
func waitTaken(nc net.Conn, within time.Duration) error {
	uc, ok := nc.(*net.UnixConn)
	if !ok {
		return fmt.Errorf("SplitEveryByte needs a unix socket (Unix: true)")
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return err
	}
	if Poll(within, 20*time.Microsecond, func() bool {
		var queued int
		var ierr error
		if err = rc.Control(func(fd uintptr) { queued, ierr = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ) }); err == nil && ierr != nil {
			err = os.NewSyscallError("ioctl SIOCOUTQ", ierr)
		}
		return err != nil || queued == 0
	}) {
		return err
	}
	return fmt.Errorf("the client did not read a byte within %v", within)
}

// ListenBlackhole returns a loopback TCP address that never completes a connect: a
// listener whose accept queue is full (backlog 0, one connection waiting, never
// accepted), so the kernel drops every further SYN, as a firewalled host would.
func ListenBlackhole(t testing.TB) string {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("blackhole: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("blackhole: bind: %v", err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatalf("blackhole: listen: %v", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatalf("blackhole: %v", err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port)
	// Fill the queue: connects that complete stay queued until the test ends.
	for i := 0; i < 2; i++ {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			break // full already
		}
		if err != nil {
			t.Fatalf("blackhole: filling the queue: %v", err)
		}
		t.Cleanup(func() { c.Close() })
	}
	return addr
}

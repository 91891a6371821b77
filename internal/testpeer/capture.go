package testpeer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// CaptureOptions configures a CaptureServer.
type CaptureOptions struct {
	// LMTP makes the server answer the end of data with one reply per RCPT, as
	// smtp-sink -L does. HELO and EHLO are still answered (the server is lenient).
	LMTP bool
	// Hostname is the name in the banner and in the HELO/EHLO/LHLO reply
	// (default "capture").
	Hostname string
	// IdleTimeout closes a connection that sends nothing for this long (default 30 s),
	// so a stuck client can never keep the test's goroutines alive.
	IdleTimeout time.Duration
	// Banner replaces the greeting line (default "220 NAME ESMTP"), without CRLF.
	Banner string
	// Reject lists commands answered with a given reply instead of the normal one; the
	// first matching entry wins.
	Reject []CaptureReject
	// Listen is the address to listen on (default "127.0.0.1:0"); "[::]:0" takes IPv4
	// and IPv6 on every local address.
	Listen string
}

// CaptureReject makes a CaptureServer answer some commands with another reply.
type CaptureReject struct {
	// Prefix is matched case-insensitively against the start of the command line, e.g.
	// "MAIL", "RCPT TO:<2" or "DATA"; "." stands for the end of message data.
	Prefix string
	// Reply is the reply without the final CRLF; a multi-line reply separates its lines
	// with CRLF ("550-one\r\n550 two").
	Reply string
	// Close closes the connection after the reply, as a server does after a 421.
	Close bool
}

func (o CaptureOptions) reject(line string) (CaptureReject, bool) {
	for _, r := range o.Reject {
		if len(line) >= len(r.Prefix) && strings.EqualFold(line[:len(r.Prefix)], r.Prefix) {
			return r, true
		}
	}
	return CaptureReject{}, false
}

// CaptureServer is a minimal SMTP/LMTP server that speaks smtp-sink's dialogue and
// records every byte each client sends, per connection. Unlike smtp-sink's dump, the
// record is the raw byte stream: CRs, dot-stuffing and pipelining are kept as sent.
//
// Replies: "220 NAME ESMTP" on connect; "250 NAME" to HELO; a multi-line 250 announcing
// PIPELINING, 8BITMIME, ENHANCEDSTATUSCODES and DSN to EHLO and LHLO; "250 2.1.0 Ok" to
// MAIL and RSET; "250 2.1.5 Ok" to RCPT; "354 End data with <CR><LF>.<CR><LF>" to DATA;
// after the lone "." line "250 2.0.0 Ok" (LMTP: "250 2.2.0 Ok" once per RCPT of the
// transaction); "250 2.0.0 Ok" to NOOP; "221 Bye" to QUIT, after which the server closes
// the connection; "500 5.5.1 Error: unknown command" to anything else. Lines are
// terminated by LF (the CR, if any, is part of the recorded bytes); replies to pipelined
// commands are sent in order.
type CaptureServer struct {
	Addr string // "127.0.0.1:PORT" (or the Listen address with its port)

	opts CaptureOptions
	ln   net.Listener

	mu    sync.Mutex
	conns []*CapturedConn
	wg    sync.WaitGroup
}

// CapturedConn is one client connection seen by a CaptureServer.
type CapturedConn struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	end    string // how the connection ended
	done   chan struct{}
	nc     net.Conn
	server *CaptureServer
}

// StartCapture starts a CaptureServer on a free loopback port; it is closed when the
// test ends.
func StartCapture(t testing.TB, opts CaptureOptions) *CaptureServer {
	t.Helper()
	if opts.Hostname == "" {
		opts.Hostname = "capture"
	}
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = 30 * time.Second
	}
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		t.Fatalf("capture server: %v", err)
	}
	s := &CaptureServer{Addr: ln.Addr().String(), opts: opts, ln: ln}
	s.wg.Add(1)
	go s.acceptLoop()
	t.Cleanup(s.Close)
	return s
}

// Close stops accepting, closes every open connection and waits for the handlers.
func (s *CaptureServer) Close() {
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *CaptureServer) acceptLoop() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		c := &CapturedConn{done: make(chan struct{}), nc: nc, server: s}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			c.serve()
		}()
	}
}

// Conns returns the connections accepted so far, in the order they were accepted.
func (s *CaptureServer) Conns() []*CapturedConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*CapturedConn(nil), s.conns...)
}

// WaitConns waits until at least n connections have been accepted and every accepted
// connection has ended, at most within d.
func (s *CaptureServer) WaitConns(n int, within time.Duration) error {
	var accepted, open int
	if Poll(within, 5*time.Millisecond, func() bool {
		conns := s.Conns()
		accepted, open = len(conns), 0
		for _, c := range conns {
			select {
			case <-c.done:
			default:
				open++
			}
		}
		return accepted >= n && open == 0
	}) {
		return nil
	}
	return fmt.Errorf("capture server: %d connection(s) accepted (want %d), %d still open after %v",
		accepted, n, open, within)
}

// ConnsSoFar returns the connections that clients made before the call, every one of
// them accepted: it connects itself and waits (at most within) until the server has
// accepted that probe, which the kernel queued behind every earlier connection. A test
// that checks that a client which has exited never connected waits for this event, not
// for a moment.
func (s *CaptureServer) ConnsSoFar(within time.Duration) ([]*CapturedConn, error) {
	probe, err := net.DialTimeout("tcp", s.Addr, within)
	if err != nil {
		return nil, fmt.Errorf("capture server: probe: %w", err)
	}
	defer probe.Close()
	self := probe.LocalAddr().String()
	var before []*CapturedConn
	if !Poll(within, time.Millisecond, func() bool {
		conns := s.Conns()
		for i, c := range conns {
			if c.nc.RemoteAddr().String() == self {
				before = conns[:i]
				return true
			}
		}
		return false
	}) {
		return nil, fmt.Errorf("capture server: its own probe not accepted within %v", within)
	}
	return before, nil
}

// Bytes returns a copy of every byte the client sent on this connection so far.
func (c *CapturedConn) Bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.buf.Bytes()...)
}

// End describes how the connection ended ("" while it is open): "server closed after
// 221" (or after the code of a CaptureReject with Close), "client closed" (FIN),
// "client reset" (RST), or another read or write error.
func (c *CapturedConn) End() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.end
}

func (c *CapturedConn) finish(how string) {
	c.mu.Lock()
	c.end = how
	c.mu.Unlock()
	c.nc.Close()
	close(c.done)
}

func (c *CapturedConn) serve() {
	opts := c.server.opts
	w := func(s string) bool {
		_, err := c.nc.Write([]byte(s))
		return err == nil
	}
	banner := opts.Banner
	if banner == "" {
		banner = "220 " + opts.Hostname + " ESMTP"
	}
	if !w(banner + "\r\n") {
		c.finish("write error on banner")
		return
	}
	var (
		pending []byte // bytes of an incomplete line
		inData  bool
		rcpts   int
		chunk   = make([]byte, 64*1024)
		out     bytes.Buffer
	)
	for {
		_ = c.nc.SetReadDeadline(time.Now().Add(opts.IdleTimeout))
		n, err := c.nc.Read(chunk)
		if n > 0 {
			c.mu.Lock()
			c.buf.Write(chunk[:n])
			c.mu.Unlock()
			pending = append(pending, chunk[:n]...)
			out.Reset()
			quit, closeAfter := false, ""
			for !quit && closeAfter == "" {
				i := bytes.IndexByte(pending, '\n')
				if i < 0 {
					break
				}
				line := string(pending[:i+1])
				pending = pending[i+1:]
				if inData {
					if line == ".\r\n" {
						inData = false
						if r, ok := opts.reject("."); ok {
							out.WriteString(r.Reply + "\r\n")
							if r.Close {
								closeAfter = r.Reply[:min(3, len(r.Reply))]
							}
						} else if opts.LMTP {
							for k := 0; k < rcpts; k++ {
								out.WriteString("250 2.2.0 Ok\r\n")
							}
						} else {
							out.WriteString("250 2.0.0 Ok\r\n")
						}
						rcpts = 0
					}
					continue
				}
				cmd := strings.TrimRight(line, "\r\n")
				if r, ok := opts.reject(cmd); ok && cmd != "." {
					out.WriteString(r.Reply + "\r\n")
					if r.Close {
						closeAfter = r.Reply[:min(3, len(r.Reply))]
					}
					continue
				}
				verb := strings.ToUpper(cmd)
				if sp := strings.IndexAny(verb, " :"); sp >= 0 {
					verb = verb[:sp]
				}
				switch verb {
				case "HELO":
					rcpts = 0
					out.WriteString("250 " + opts.Hostname + "\r\n")
				case "EHLO", "LHLO":
					rcpts = 0
					out.WriteString("250-" + opts.Hostname + "\r\n250-PIPELINING\r\n250-8BITMIME\r\n" +
						"250-ENHANCEDSTATUSCODES\r\n250 DSN\r\n")
				case "MAIL":
					rcpts = 0
					out.WriteString("250 2.1.0 Ok\r\n")
				case "RCPT":
					rcpts++
					out.WriteString("250 2.1.5 Ok\r\n")
				case "DATA":
					inData = true
					out.WriteString("354 End data with <CR><LF>.<CR><LF>\r\n")
				case "RSET":
					rcpts = 0
					out.WriteString("250 2.1.0 Ok\r\n")
				case "NOOP":
					out.WriteString("250 2.0.0 Ok\r\n")
				case "QUIT":
					out.WriteString("221 Bye\r\n")
					quit = true
				default:
					out.WriteString("500 5.5.1 Error: unknown command\r\n")
				}
			}
			if out.Len() > 0 {
				if _, werr := c.nc.Write(out.Bytes()); werr != nil {
					c.finish("write error: " + werr.Error())
					return
				}
			}
			if quit {
				c.finish("server closed after 221")
				return
			}
			if closeAfter != "" {
				c.finish("server closed after " + closeAfter)
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				c.finish("client closed")
			} else if errors.Is(err, syscall.ECONNRESET) {
				c.finish("client reset")
			} else {
				c.finish(err.Error())
			}
			return
		}
	}
}

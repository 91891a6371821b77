// Command floor is the least an SMTP client can do per message, to measure what the
// machine itself costs: one thread, one epoll set, raw read/write/epoll_wait system calls
// (none of the Go runtime's netpoller or syscall bookkeeping), single-line replies only,
// a fixed message, nothing recorded but each phase's time when --log-messages asks. It
// takes smtp-source's spelling of the options the comparisons use, so benchmarks/compare
// (-theirs) and benchmarks/wire (-source) can run it in a tool's place:
//
//	floor [--gnet] [-d] -s SESSIONS -m MESSAGES [--log-messages FILE] host:port
//
// With --gnet the same sessions run on gnet v2's event loops (one per CPU, as the
// engine's), through its reads and writes: the least a client built the engine's way
// can do, the floor of the design rather than of the machine.
//
// Not a load generator: no timeouts, no error recovery, loopback measurements only.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

const (
	stBanner = iota
	stHelo
	stMail
	stRcpt
	stData
	stEOD
	stQuit
	stDone
)

var commands = [...][]byte{
	stHelo: []byte("HELO floor\r\n"),
	stMail: []byte("MAIL FROM:<a@x>\r\n"),
	stRcpt: []byte("RCPT TO:<b@y>\r\n"),
	stData: []byte("DATA\r\n"),
	stEOD:  []byte("From: <a@x>\r\nTo: <b@y>\r\nSubject: test\r\nMessage-Id: <1@x>\r\n\r\nLa la la\r\n.\r\n"),
	stQuit: []byte("QUIT\r\n"),
}

type session struct {
	fd      int
	conn    gnet.Conn // --gnet: the session's connection (fd is unused)
	state   int
	in      []byte
	sentAt  time.Duration
	phaseNs [4]time.Duration // MAIL, RCPT, DATA, end of data
}

type client struct {
	epoch   time.Time
	started atomic.Int64 // --gnet: taken from every event loop
	planned int64
	logMu   sync.Mutex
	log     *bufio.Writer
}

func main() {
	withGnet := len(os.Args) > 1 && os.Args[1] == "--gnet"
	args := os.Args[1:]
	if withGnet {
		args = args[1:]
	}
	sessions, planned, logFile, addr, err := parseArgs(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(2)
	}
	c := &client{epoch: time.Now(), planned: int64(planned)}
	if logFile != "" {
		f, err := os.Create(logFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "floor:", err)
			os.Exit(1)
		}
		defer f.Close()
		c.log = bufio.NewWriter(f)
		defer c.log.Flush()
		c.log.WriteString("mail_us,rcpt_us,data_us,eod_us\n")
	}
	run := c.run
	if withGnet {
		run = c.runGnet
	} else {
		runtime.LockOSThread()
	}
	if err := run(sessions, addr); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func parseArgs(args []string) (sessions, messages int, logFile string, addr netip.AddrPort, err error) {
	sessions, messages = 1, 1
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-d":
		case (a == "-s" || a == "-m" || a == "--log-messages") && i+1 < len(args):
			i++
			if a == "--log-messages" {
				logFile = args[i]
				continue
			}
			n, perr := strconv.Atoi(args[i])
			if perr != nil || n < 1 {
				return 0, 0, "", addr, fmt.Errorf("%s %q: want a positive number", a, args[i])
			}
			if a == "-s" {
				sessions = n
			} else {
				messages = n
			}
		default:
			addr, err = netip.ParseAddrPort(a)
			if err != nil || !addr.Addr().Is4() {
				return 0, 0, "", addr, fmt.Errorf("%q: want IPv4 host:port", a)
			}
		}
	}
	if !addr.IsValid() {
		err = errors.New("usage: floor [-d] -s SESSIONS -m MESSAGES [--log-messages FILE] host:port")
	}
	return sessions, messages, logFile, addr, err
}

func (c *client) run(n int, addr netip.AddrPort) error {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	ss := make([]session, n)
	sa := &unix.SockaddrInet4{Port: int(addr.Port()), Addr: addr.Addr().As4()}
	for i := range ss {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		if err := unix.Connect(fd, sa); err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		ss[i] = session{fd: fd, in: make([]byte, 0, 512)}
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(i)}
		if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			return err
		}
	}
	events := make([]unix.EpollEvent, 256)
	for live := n; live > 0; {
		k, errno := rawEpollWait(ep, events)
		if errno == unix.EINTR {
			continue
		} else if errno != 0 {
			return fmt.Errorf("epoll_wait: %w", errno)
		}
		for _, ev := range events[:k] {
			s := &ss[ev.Fd]
			closed, err := c.readable(s)
			if err != nil {
				return err
			}
			if closed {
				unix.Close(s.fd)
				live--
			}
		}
	}
	return nil
}

// readable reads what the server sent and answers each complete reply.
func (c *client) readable(s *session) (closed bool, err error) {
	buf := s.in[len(s.in):cap(s.in)]
	r, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(s.fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	if errno == unix.EAGAIN {
		return false, nil
	}
	if errno != 0 || r == 0 {
		if s.state == stDone {
			return true, nil
		}
		return true, fmt.Errorf("read in state %d: %v", s.state, syscall.Errno(errno))
	}
	s.in = s.in[:len(s.in)+int(r)]
	return c.consume(s, time.Since(c.epoch))
}

// consume answers each complete reply in s.in, received at now.
func (c *client) consume(s *session, now time.Duration) (closed bool, err error) {
	for {
		i := bytes.IndexByte(s.in, '\n')
		if i < 0 {
			return false, nil
		}
		line := s.in[:i+1]
		final := len(line) < 4 || line[3] != '-'
		if final && line[0] != '2' && line[0] != '3' {
			return true, fmt.Errorf("server: %q", line)
		}
		s.in = s.in[:copy(s.in, s.in[i+1:])]
		if final {
			if err := c.reply(s, now); err != nil {
				return true, err
			}
		}
	}
}

// reply moves the session on after a reply received at now.
func (c *client) reply(s *session, now time.Duration) error {
	if s.state >= stMail && s.state <= stEOD {
		s.phaseNs[s.state-stMail] = now - s.sentAt
	}
	switch s.state {
	case stBanner, stMail, stRcpt, stData:
		s.state++
	case stHelo:
		s.state = c.next()
	case stEOD:
		if c.log != nil {
			c.logMu.Lock() // --gnet: sessions end on every event loop; not held across the next write
			fmt.Fprintf(c.log, "%.3f,%.3f,%.3f,%.3f\n", us(s.phaseNs[0]), us(s.phaseNs[1]), us(s.phaseNs[2]), us(s.phaseNs[3]))
			c.logMu.Unlock()
		}
		s.state = c.next()
	case stQuit:
		s.state = stDone
		return nil
	}
	return c.send(s, commands[s.state])
}

// next is MAIL while messages are left, QUIT after.
func (c *client) next() int {
	if c.started.Add(1) > c.planned {
		return stQuit
	}
	return stMail
}

func (c *client) send(s *session, p []byte) error {
	s.sentAt = time.Since(c.epoch)
	fd := s.fd
	if s.conn != nil {
		if s.conn.OutboundBuffered() > 0 {
			_, err := s.conn.Write(p)
			return err
		}
		fd = s.conn.Fd() // nothing queued: straight to the socket, as the engine writes
	}
	r, _, errno := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if errno != 0 || int(r) != len(p) {
		return fmt.Errorf("write: %d of %d bytes: %v", r, len(p), syscall.Errno(errno))
	}
	return nil
}

// rawEpollWait blocks in epoll_wait without the runtime's knowledge: this thread does
// nothing else.
func rawEpollWait(ep int, events []unix.EpollEvent) (int, unix.Errno) {
	r, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(ep), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), ^uintptr(0), 0, 0)
	return int(r), errno
}

func us(d time.Duration) float64 { return float64(d) / 1e3 }

package sink

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/go-smtp-source/go-smtp-source/internal/gnetlog"
)

// Server runs sessions on gnet event loops.
type Server struct {
	gnet.BuiltinEventEngine

	env     *env
	stats   *Stats
	limiter *connLimiter
	epoch   time.Time

	engine    gnet.Engine
	addr      net.Addr
	ready     chan struct{}
	done      chan struct{}
	doneOnce  sync.Once
	bootErr   error
	stopOnce  sync.Once
	stopErr   error
	serveDone chan struct{}

	// loopSockets is the number of SO_REUSEPORT listening sockets (one per event loop)
	// that need the backlog once gnet has bound them after OnBoot; 0 when OnBoot's one
	// listener is all there is, no backlog is set, or OnTick has applied it. listenAddr
	// is their bound address.
	loopSockets int
	listenAddr  unix.Sockaddr
}

// NewServer checks the configuration and prepares a server; Serve starts it.
func NewServer(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	stats := newStats(cfg.UniqueHeader)
	s := &Server{
		env:       newEnv(cfg, stats),
		stats:     stats,
		epoch:     time.Now(),
		ready:     make(chan struct{}),
		done:      make(chan struct{}),
		serveDone: make(chan struct{}),
	}
	if cfg.MaxConnections > 0 {
		s.limiter = &connLimiter{max: cfg.MaxConnections}
	}
	return s, nil
}

// Stats returns the live counters.
func (s *Server) Stats() *Stats { return s.stats }

// Ready is closed once the listeners are bound, the backlog is applied and AfterListen
// has run.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Done is closed when -M or -n is reached.
func (s *Server) Done() <-chan struct{} { return s.done }

// Serve binds the listener and serves until Shutdown. It returns the bind error, if any.
func (s *Server) Serve() error {
	defer close(s.serveDone)
	cfg := &s.env.cfg
	loops := cfg.EventLoops
	if loops <= 0 {
		loops = runtime.NumCPU()
	}
	// One SO_REUSEPORT socket per loop, each accepting on its own. gnet binds the extra
	// sockets after OnBoot, so with an AfterListen hook (which may drop privileges, and
	// the kernel refuses to share a port across users) one socket is used and gnet's main
	// reactor hands connections to the loops.
	// Port 0 also gets one socket: each SO_REUSEPORT socket would draw its own port.
	// Where the loops' sockets cannot be found to apply the backlog to, a backlog also
	// means one socket.
	reusePort := !strings.HasPrefix(cfg.Listen, "unix:") && cfg.AfterListen == nil &&
		!strings.HasSuffix(cfg.Listen, ":0") && (cfg.Backlog == 0 || canFindLoopSockets)
	opts := []gnet.Option{
		gnet.WithNumEventLoop(loops),
		gnet.WithReuseAddr(true),
		gnet.WithReusePort(reusePort),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithReadBufferCap(64 << 10),
		gnet.WithWriteBufferCap(16 << 10),
		gnet.WithLogger(gnetlog.Silent{}),
	}
	if cfg.SocketBuffer > 0 {
		opts = append(opts, gnet.WithSocketRecvBuffer(cfg.SocketBuffer), gnet.WithSocketSendBuffer(cfg.SocketBuffer))
	}
	if reusePort && cfg.Backlog > 0 && loops > 1 {
		// gnet has no backlog option and binds loops 1..n-1's sockets after OnBoot; its
		// ticker starts after they are bound, so the first OnTick applies the backlog.
		s.loopSockets = min(loops, maxEventLoops)
		opts = append(opts, gnet.WithTicker(true))
	}
	if tr := s.env.trace; tr != nil {
		stop := tr.rollEverySecond() // the per-second series; stopped before Serve returns
		defer stop()
	}
	err := gnet.Run(s, cfg.Listen, opts...)
	if s.bootErr != nil {
		err = s.bootErr
	}
	if cerr := s.env.dump.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("serve %s: %w", cfg.Listen, err)
	}
	return nil
}

// Shutdown stops the event loops (open connections are closed) and waits for Serve to
// return, at most until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	select {
	case <-s.ready:
	case <-s.serveDone:
		return nil // never came up
	case <-ctx.Done():
		return ctx.Err()
	}
	s.stopOnce.Do(func() { s.stopErr = s.engine.Stop(ctx) })
	select {
	case <-s.serveDone:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.stopErr
}

// Addr is the bound listening address (useful with port 0); nil before Ready.
func (s *Server) Addr() net.Addr { return s.addr }

// OnBoot runs once the listeners are bound.
func (s *Server) OnBoot(eng gnet.Engine) gnet.Action {
	s.engine = eng
	s.addr = boundAddr(eng)
	if backlog := s.env.cfg.Backlog; backlog > 0 {
		sa, err := relisten(eng, backlog)
		if err != nil {
			s.bootErr = fmt.Errorf("listen backlog %d: %w", backlog, err)
			return gnet.Shutdown
		}
		s.listenAddr = sa
	}
	if hook := s.env.cfg.AfterListen; hook != nil {
		if err := hook(); err != nil {
			s.bootErr = fmt.Errorf("after listen: %w", err)
			return gnet.Shutdown
		}
	}
	// With per-loop sockets still to bind, OnTick closes ready once they have the backlog.
	if s.loopSockets == 0 {
		close(s.ready)
	}
	return gnet.None
}

// OnTick runs only with per-loop listening sockets and a backlog (see Serve): the first
// tick comes after gnet has bound every loop's socket, and gives them the backlog.
func (s *Server) OnTick() (time.Duration, gnet.Action) {
	const never = 24 * time.Hour // gnet's ticker has no off switch; wake up once a day
	if s.loopSockets == 0 {
		return never, gnet.None
	}
	backlog, want := s.env.cfg.Backlog, s.loopSockets
	s.loopSockets = 0 // once: later ticks do nothing
	n, err := relistenLoopSockets(s.listenAddr, backlog)
	if err == nil && n < want {
		err = fmt.Errorf("found %d of the %d event loops' listening sockets", n, want)
	}
	if err != nil {
		s.bootErr = fmt.Errorf("listen backlog %d: %w", backlog, err)
		return never, gnet.Shutdown
	}
	close(s.ready)
	return never, gnet.None
}

func (s *Server) nowNS() int64 { return int64(time.Since(s.epoch)) }

func (s *Server) signalDone() { s.doneOnce.Do(func() { close(s.done) }) }

func (s *Server) checkLimits() {
	cfg := &s.env.cfg
	if cfg.MaxMessages > 0 && s.stats.accepted.Load() >= cfg.MaxMessages {
		s.signalDone()
	}
	if cfg.MaxSessions > 0 && s.stats.sessionsDone.Load() >= cfg.MaxSessions {
		s.signalDone()
	}
}

// OnOpen greets a new connection, or parks it when -m sessions are already served.
func (s *Server) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	cs := &connState{srv: s, c: c, tr: plainTransport{c}, sess: newSession(s.env, clientAddrString(c.RemoteAddr()))}
	c.SetContext(cs)
	s.stats.sessionOpened()
	if tr := s.env.cfg.Trace; tr != nil {
		tr("connect (" + familyName(c) + ")")
	}
	cs.lastInput.Store(s.nowNS())
	// Assign the timer before it can fire: onIdleTimer re-arms it through cs.idle.
	cs.idle = time.AfterFunc(time.Hour, cs.onIdleTimer)
	cs.idle.Reset(s.env.cfg.IdleTimeout)
	if s.env.cfg.ImplicitTLS {
		cs.beginTLS() // the greeting follows the handshake
	}
	if s.limiter != nil && !s.limiter.acquire(cs) {
		cs.parked = true
		cs.waiting.Store(true)
		s.stats.parked.Add(1)
		return nil, gnet.None
	}
	if cs.tc != nil {
		return nil, gnet.None
	}
	return nil, cs.process()
}

// OnTraffic runs on input, and on the Wake that ends a delay or grants a parked slot.
func (s *Server) OnTraffic(c gnet.Conn) gnet.Action {
	cs, ok := c.Context().(*connState)
	if !ok {
		return gnet.Close
	}
	cs.lastInput.Store(s.nowNS())
	if cs.tc != nil && cs.tc.Handshaking() {
		if done, act := cs.handshake(); !done {
			return act
		}
	}
	if cs.parked {
		if !cs.granted.Load() {
			return cs.boundPending()
		}
		cs.parked = false
		cs.waiting.Store(false)
	}
	return cs.process()
}

// OnClose accounts for the connection and frees what it held.
func (s *Server) OnClose(c gnet.Conn, _ error) gnet.Action {
	cs, ok := c.Context().(*connState)
	if !ok {
		return gnet.None
	}
	c.SetContext(nil)
	cs.closed.Store(true)
	cs.idle.Stop()
	if cs.delay != nil {
		cs.delay.Stop()
	}
	cs.closeTLS()
	if cs.timedOut.Load() {
		s.stats.timeouts.Add(1)
	}
	cs.sess.Close()
	if s.limiter != nil {
		s.limiter.leave(cs)
	}
	s.stats.sessionsActive.Add(-1)
	s.stats.sessionsDone.Add(1)
	if tr := s.env.cfg.Trace; tr != nil {
		tr("disconnect")
	}
	s.checkLimits()
	return gnet.None
}

// boundAddr asks the kernel which address the (first) listening socket is bound to.
func boundAddr(eng gnet.Engine) net.Addr {
	fd, err := eng.Dup()
	if err != nil {
		return nil
	}
	defer syscall.Close(fd)
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		return nil
	}
	switch sa := sa.(type) {
	case *syscall.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(sa.Addr[:]), Port: sa.Port}
	case *syscall.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(sa.Addr[:]), Port: sa.Port}
	case *syscall.SockaddrUnix:
		return &net.UnixAddr{Name: sa.Name, Net: "unix"}
	}
	return nil
}

package tlsconn

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// lineServer is a gnet server that speaks a tiny STARTTLS protocol: it greets with
// "220 hi\n"; "STARTTLS\n" is answered with "220 go\n" and a TLS handshake (implicit:
// the handshake first); after it every line is echoed back prefixed with "ok ".
type lineServer struct {
	gnet.BuiltinEventEngine
	cfg      *tls.Config
	implicit bool
	addr     string // bound in OnBoot (the server listens on port 0)
	eng      gnet.Engine
	ready    chan struct{}
	mu       sync.Mutex
	errs     []error
}

type serverSession struct {
	tc *Conn
}

func (s *lineServer) OnBoot(eng gnet.Engine) gnet.Action {
	s.eng = eng
	addr, err := testpeer.BoundAddr(eng)
	if err != nil {
		s.fail(err)
		return gnet.Shutdown
	}
	s.addr = addr
	close(s.ready)
	return gnet.None
}

func (s *lineServer) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	ss := &serverSession{}
	c.SetContext(ss)
	if s.implicit {
		ss.tc = Server(c, s.cfg)
		ss.tc.StartHandshake(5 * time.Second)
		return nil, gnet.None
	}
	return []byte("220 hi\n"), gnet.None
}

func (s *lineServer) fail(err error) gnet.Action {
	s.mu.Lock()
	s.errs = append(s.errs, err)
	s.mu.Unlock()
	return gnet.Close
}

func (s *lineServer) OnTraffic(c gnet.Conn) gnet.Action {
	ss := c.Context().(*serverSession)
	if ss.tc == nil {
		buf, _ := c.Peek(-1)
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			return gnet.None
		}
		if string(buf[:i]) != "STARTTLS" {
			return s.fail(fmt.Errorf("server: want STARTTLS, got %q", buf[:i]))
		}
		_, _ = c.Discard(i + 1)
		if err := CheckNothingBuffered(c, "client"); err != nil {
			_, _ = c.Write([]byte("554 injection\n"))
			return gnet.Close // not an error of the test: the injection test expects it
		}
		_, _ = c.Write([]byte("220 go\n"))
		ss.tc = Server(c, s.cfg)
		ss.tc.StartHandshake(5 * time.Second)
		return gnet.None
	}
	if ss.tc.Handshaking() {
		ss.tc.Feed()
		done, err := ss.tc.HandshakeDone()
		if !done {
			return gnet.None
		}
		if err != nil {
			return gnet.Close // the client's failure cases end here
		}
	}
	// Each whole line is answered; a partial one stays in tlsconn's buffer (Consume).
	in, err := ss.tc.Input()
	used := 0
	for {
		i := bytes.IndexByte(in[used:], '\n')
		if i < 0 {
			break
		}
		reply := append([]byte("ok "), in[used:used+i+1]...)
		if _, werr := ss.tc.Write(reply); werr != nil {
			return s.fail(werr)
		}
		used += i + 1
	}
	ss.tc.Consume(used)
	// A session holds a plaintext buffer exactly while it has unconsumed bytes.
	if left := len(in) - used; ss.tc.Buffered() != left || (ss.tc.input.buf != nil) != (left > 0) {
		return s.fail(fmt.Errorf("server: %d bytes left, Buffered %d, holding a buffer: %v",
			left, ss.tc.Buffered(), ss.tc.input.buf != nil))
	}
	if err != nil {
		return gnet.Close
	}
	return gnet.None
}

func (s *lineServer) OnClose(c gnet.Conn, _ error) gnet.Action {
	if ss, ok := c.Context().(*serverSession); ok && ss.tc != nil {
		ss.tc.Close()
	}
	return gnet.None
}

func startLineServer(t testing.TB, cfg *tls.Config, implicit bool) string {
	t.Helper()
	return startLineServerOf(t, cfg, implicit).addr
}

// startLineServerOf starts a lineServer and returns it.
func startLineServerOf(t testing.TB, cfg *tls.Config, implicit bool) *lineServer {
	t.Helper()
	s := &lineServer{cfg: cfg, implicit: implicit, ready: make(chan struct{})}
	runErr := make(chan error, 1)
	go func() {
		runErr <- gnet.Run(s, "tcp://127.0.0.1:0", gnet.WithNumEventLoop(2), gnet.WithLogger(silent{}))
	}()
	select {
	case <-s.ready:
	case err := <-runErr:
		t.Fatalf("gnet.Run: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("server did not start")
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.eng.Stop(ctx)
		<-runErr
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, err := range s.errs {
			t.Errorf("%v", err)
		}
	})
	return s
}

// clientSession is one connection of lineClient: greeting, STARTTLS (unless implicit),
// the handshake, then lines sent one at a time until each came back.
type clientSession struct {
	cfg      *tls.Config
	implicit bool
	inject   bool // send a second command in the same write as STARTTLS
	lines    int
	long     int // bytes of the first line's payload (Writev over more than one record)
	tc       *Conn
	got      []byte
	sent     int
	state    tls.ConnectionState
	result   chan error
	finished bool

	// park: when done, leave the connection open (the memory benchmark); plaintext: be
	// done after the greeting, without TLS.
	park, plaintext bool
}

type lineClient struct {
	gnet.BuiltinEventEngine
}

func (*lineClient) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	cs := c.Context().(*clientSession)
	if cs.implicit {
		cs.tc = Client(c, cs.cfg)
		cs.tc.StartHandshake(5 * time.Second)
	}
	return nil, gnet.None
}

func (cs *clientSession) finish(err error) gnet.Action {
	if !cs.finished {
		cs.finished = true
		cs.result <- err
		if cs.park && err == nil {
			return gnet.None
		}
	}
	return gnet.Close
}

func (*lineClient) OnTraffic(c gnet.Conn) gnet.Action {
	cs := c.Context().(*clientSession)
	if cs.tc == nil {
		buf, _ := c.Peek(-1)
		switch {
		case bytes.HasPrefix(buf, []byte("220 hi\n")):
			_, _ = c.Discard(7)
			if cs.plaintext {
				return cs.finish(nil)
			}
			cmd := "STARTTLS\n"
			if cs.inject {
				cmd += "INJECTED\n"
			}
			_, _ = c.Write([]byte(cmd))
			return gnet.None
		case bytes.HasPrefix(buf, []byte("554 injection\n")):
			return cs.finish(errInjectionRefused)
		case len(buf) < 7:
			return gnet.None
		case !bytes.HasPrefix(buf, []byte("220 go\n")):
			return cs.finish(fmt.Errorf("client: unexpected %q", buf))
		}
		_, _ = c.Discard(7)
		if err := CheckNothingBuffered(c, "server"); err != nil {
			return cs.finish(err)
		}
		cs.tc = Client(c, cs.cfg)
		cs.tc.StartHandshake(5 * time.Second)
		return gnet.None
	}
	if cs.tc.Handshaking() {
		cs.tc.Feed()
		done, err := cs.tc.HandshakeDone()
		if !done {
			return gnet.None
		}
		if err != nil {
			return cs.finish(err)
		}
		cs.state = cs.tc.ConnectionState()
		if _, err := cs.tc.Writev([][]byte{[]byte("line 0"), bytes.Repeat([]byte("x"), cs.long), []byte("\n")}); err != nil {
			return cs.finish(err)
		}
		cs.sent = 1
	}
	in, err := cs.tc.Input()
	cs.got = append(cs.got, in...)
	cs.tc.Consume(len(in))
	if err != nil {
		return cs.finish(err)
	}
	for bytes.Count(cs.got, []byte("\n")) == cs.sent {
		if cs.sent == cs.lines {
			return cs.finish(cs.check())
		}
		if _, err := cs.tc.Writev([][]byte{[]byte("line "), []byte(fmt.Sprint(cs.sent)), []byte("\n")}); err != nil {
			return cs.finish(err)
		}
		cs.sent++
	}
	return gnet.None
}

func (cs *clientSession) check() error {
	var want bytes.Buffer
	for i := 0; i < cs.lines; i++ {
		fmt.Fprintf(&want, "ok line %d", i)
		if i == 0 {
			want.Write(bytes.Repeat([]byte("x"), cs.long))
		}
		want.WriteByte('\n')
	}
	if !bytes.Equal(cs.got, want.Bytes()) {
		return fmt.Errorf("echo: got %q", cs.got)
	}
	return nil
}

func (*lineClient) OnClose(c gnet.Conn, err error) gnet.Action {
	cs := c.Context().(*clientSession)
	// The server may hang up on the client's alert before the loop hears that the
	// handshake failed: the handshake's own error says why, as the engine reports it.
	if cs.tc != nil && cs.tc.CloseDuringHandshake(func(herr error) { cs.closed(herr) }) {
		return gnet.None
	}
	cs.closed(err)
	return gnet.None
}

// closed ends the session with why the connection closed.
func (cs *clientSession) closed(err error) {
	if err == nil {
		err = errors.New("closed by the server")
	}
	cs.finish(err)
}

var errInjectionRefused = errors.New("server refused the injected command")

type silent struct{}

func (silent) Debugf(string, ...any) {}
func (silent) Infof(string, ...any)  {}
func (silent) Warnf(string, ...any)  {}
func (silent) Errorf(string, ...any) {}
func (silent) Fatalf(string, ...any) {}

func newGnetClient(t testing.TB) *gnet.Client {
	t.Helper()
	cli, err := gnet.NewClient(&lineClient{}, gnet.WithNumEventLoop(2), gnet.WithLogger(silent{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Stop() })
	return cli
}

// runSessions opens n sessions at once and returns each one's result.
func runSessions(t testing.TB, cli *gnet.Client, addr string, n int, mk func() *clientSession) []*clientSession {
	t.Helper()
	sessions := make([]*clientSession, n)
	for i := range sessions {
		cs := mk()
		cs.result = make(chan error, 1)
		sessions[i] = cs
		if _, err := cli.DialContext("tcp", addr, cs); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.After(20 * time.Second)
	for i, cs := range sessions {
		select {
		case err := <-cs.result:
			cs.result <- err // keep it for the caller
		case <-deadline:
			t.Fatalf("session %d of %d: no result within 20s", i, n)
		}
	}
	return sessions
}

func resultOf(cs *clientSession) error {
	err := <-cs.result
	cs.result <- err
	return err
}

func serverConfig(t testing.TB, ca *testpeer.CA) *tls.Config {
	leaf := ca.Issue(t, testpeer.LocalhostSpec())
	return &tls.Config{Certificates: []tls.Certificate{leaf.TLS}}
}

// TestManyConcurrentHandshakes runs client and server sides of tlsconn against each
// other on gnet, STARTTLS and implicit, TLS 1.2 and 1.3, many handshakes at once (run it
// with -race).
func TestManyConcurrentHandshakes(t *testing.T) {
	ca := testpeer.NewCA(t, "tlsconn CA")
	scfg := serverConfig(t, ca)
	cli := newGnetClient(t)
	sessions := 200
	if testing.Short() {
		sessions = 50
	}
	for _, implicit := range []bool{false, true} {
		addr := startLineServer(t, scfg, implicit)
		for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			name := fmt.Sprintf("implicit=%v/%s", implicit, tls.VersionName(version))
			t.Run(name, func(t *testing.T) {
				ccfg := &tls.Config{RootCAs: ca.Pool, ServerName: "localhost", MinVersion: version, MaxVersion: version}
				made := 0
				got := runSessions(t, cli, addr, sessions, func() *clientSession {
					made++
					long := 0
					if made%10 == 0 { // a first line over three records, gnet buffering part of it
						long = 40000
					}
					return &clientSession{cfg: ccfg, implicit: implicit, lines: 5, long: long}
				})
				for i, cs := range got {
					if err := resultOf(cs); err != nil {
						t.Fatalf("session %d: %v", i, err)
					}
					if cs.state.Version != version {
						t.Fatalf("session %d: version %x", i, cs.state.Version)
					}
				}
			})
		}
	}
}

// TestResumption: a shared session cache makes later handshakes resume.
func TestResumption(t *testing.T) {
	ca := testpeer.NewCA(t, "resume CA")
	addr := startLineServer(t, serverConfig(t, ca), false)
	cli := newGnetClient(t)
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			ccfg := &tls.Config{RootCAs: ca.Pool, ServerName: "localhost", MinVersion: version, MaxVersion: version,
				ClientSessionCache: tls.NewLRUClientSessionCache(16)}
			mk := func() *clientSession { return &clientSession{cfg: ccfg, lines: 2} }
			first := runSessions(t, cli, addr, 1, mk)[0]
			if err := resultOf(first); err != nil || first.state.DidResume {
				t.Fatalf("first session: err %v, resumed %v", err, first.state.DidResume)
			}
			for i, cs := range runSessions(t, cli, addr, 5, mk) {
				if err := resultOf(cs); err != nil || !cs.state.DidResume {
					t.Fatalf("later session %d: err %v, resumed %v", i, err, cs.state.DidResume)
				}
			}
		})
	}
}

// TestInteroperatesWithStandardTLS: tlsconn's server answers crypto/tls's own client over
// a plain net.Conn, and tlsconn's client talks to a crypto/tls server.
func TestInteroperatesWithStandardTLS(t *testing.T) {
	ca := testpeer.NewCA(t, "interop CA")
	scfg := serverConfig(t, ca)
	ccfg := &tls.Config{RootCAs: ca.Pool, ServerName: "localhost"}

	addr := startLineServer(t, scfg, true)
	nc, err := tls.Dial("tcp", addr, ccfg)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Write([]byte("one\ntwo\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	var got []byte
	for len(got) < len("ok one\nok two\n") {
		n, err := nc.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != "ok one\nok two\n" {
		t.Fatalf("got %q", got)
	}

	addr = startStandardEchoServer(t, scfg)
	cli := newGnetClient(t)
	for i, cs := range runSessions(t, cli, addr, 20, func() *clientSession {
		return &clientSession{cfg: ccfg, implicit: true, lines: 3}
	}) {
		if err := resultOf(cs); err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
	}
}

// startStandardEchoServer is lineServer's echo, implicit TLS, on crypto/tls's own server.
func startStandardEchoServer(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				line := make([]byte, 0, 64)
				b := make([]byte, 1)
				for {
					if _, err := c.Read(b); err != nil {
						return
					}
					line = append(line, b[0])
					if b[0] == '\n' {
						_, _ = c.Write(append([]byte("ok "), line...))
						line = line[:0]
					}
				}
			}(c)
		}
	}()
	return l.Addr().String()
}

// TestHandshakeFailures: a certificate the client does not trust ends the handshake with
// a verification error on the event loop; a silent server with a timeout.
func TestHandshakeFailures(t *testing.T) {
	ca := testpeer.NewCA(t, "trusted CA")
	other := testpeer.NewCA(t, "unknown CA")
	addr := startLineServer(t, serverConfig(t, other), false)
	cli := newGnetClient(t)
	ccfg := &tls.Config{RootCAs: ca.Pool, ServerName: "localhost"}
	cs := runSessions(t, cli, addr, 1, func() *clientSession { return &clientSession{cfg: ccfg, lines: 1} })[0]
	var verr *tls.CertificateVerificationError
	if err := resultOf(cs); !errors.As(err, &verr) {
		t.Fatalf("untrusted server: %v, want a certificate verification error", err)
	}

	// A server that accepts and says nothing: the handshake's timeout ends it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var held []net.Conn
	var heldMu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			heldMu.Lock()
			held = append(held, c)
			heldMu.Unlock()
		}
	}()
	defer func() {
		heldMu.Lock()
		for _, c := range held {
			c.Close()
		}
		heldMu.Unlock()
	}()
	timeoutClient, err := gnet.NewClient(&timeoutHandler{}, gnet.WithLogger(silent{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := timeoutClient.Start(); err != nil {
		t.Fatal(err)
	}
	defer timeoutClient.Stop()
	res := make(chan error, 1)
	start := time.Now()
	if _, err := timeoutClient.DialContext("tcp", l.Addr().String(), &timeoutSession{cfg: ccfg, result: res}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-res:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("silent server: %v, want a deadline error", err)
		}
		if el := time.Since(start); el < 150*time.Millisecond || el > 3*time.Second {
			t.Fatalf("timeout after %v, want about 200ms", el)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("handshake against a silent server did not time out")
	}
}

type timeoutSession struct {
	cfg    *tls.Config
	tc     *Conn
	result chan error
}

type timeoutHandler struct{ gnet.BuiltinEventEngine }

func (*timeoutHandler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	ts := c.Context().(*timeoutSession)
	ts.tc = Client(c, ts.cfg)
	ts.tc.StartHandshake(200 * time.Millisecond)
	return nil, gnet.None
}

func (*timeoutHandler) OnTraffic(c gnet.Conn) gnet.Action {
	ts := c.Context().(*timeoutSession)
	ts.tc.Feed()
	if done, err := ts.tc.HandshakeDone(); done {
		ts.result <- err
		return gnet.Close
	}
	return gnet.None
}

// TestInjectionRefused: plaintext that follows STARTTLS in the same write is refused by
// the server side, before any handshake.
func TestInjectionRefused(t *testing.T) {
	ca := testpeer.NewCA(t, "inject CA")
	addr := startLineServer(t, serverConfig(t, ca), false)
	cli := newGnetClient(t)
	cs := runSessions(t, cli, addr, 1, func() *clientSession {
		return &clientSession{cfg: &tls.Config{RootCAs: ca.Pool, ServerName: "localhost"}, inject: true, lines: 1}
	})[0]
	if err := resultOf(cs); !errors.Is(err, errInjectionRefused) {
		t.Fatalf("got %v, want the server to refuse the injected command", err)
	}
}

// stuckRand is a tls.Config.Rand whose first read stands still until release: a
// handshake stuck before its ClientHello (as one starved of CPU, or in a slow callback)
// while its peer, with nothing to answer, is silent. Released, the read fails.
type stuckRand struct {
	calls   atomic.Int32
	stuck   chan struct{} // closed when the first read blocks
	release chan struct{}
}

var errRandReleased = errors.New("stuckRand released")

func (r *stuckRand) Read(p []byte) (int, error) {
	if r.calls.Add(1) == 1 {
		close(r.stuck)
		<-r.release
		return 0, errRandReleased
	}
	return rand.Read(p)
}

// TestCloseDuringStuckHandshake: a session closed while its handshake stands still does
// not hold up its event loop — another session on the same loop is served from start to
// end meanwhile — and its handshake's own end, not a timeout, is reported once it comes,
// on the loop.
func TestCloseDuringStuckHandshake(t *testing.T) {
	ca := testpeer.NewCA(t, "stuck CA")
	addr := startLineServer(t, serverConfig(t, ca), true)
	cli, err := gnet.NewClient(&lineClient{}, gnet.WithNumEventLoop(1), gnet.WithLogger(silent{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Stop() })
	r := &stuckRand{stuck: make(chan struct{}), release: make(chan struct{})}
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(r.release) }) }
	t.Cleanup(release)

	stuck := &clientSession{cfg: &tls.Config{RootCAs: ca.Pool, ServerName: "localhost", Rand: r},
		implicit: true, lines: 1, result: make(chan error, 1)}
	gc, err := cli.DialContext("tcp", addr, stuck)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.stuck:
	case <-time.After(10 * time.Second):
		t.Fatal("the handshake never asked for randomness")
	}
	if err := gc.Close(); err != nil {
		t.Fatal(err)
	}
	other := runSessions(t, cli, addr, 1, func() *clientSession {
		return &clientSession{cfg: &tls.Config{RootCAs: ca.Pool, ServerName: "localhost"}, implicit: true, lines: 3}
	})[0]
	if err := resultOf(other); err != nil {
		t.Fatalf("the other session on the loop: %v", err)
	}
	select {
	case err := <-stuck.result:
		t.Fatalf("the closed session reported %v while its handshake still stood still", err)
	default:
	}
	release()
	select {
	case err := <-stuck.result:
		if err == nil || !strings.Contains(err.Error(), errRandReleased.Error()) {
			t.Fatalf("the closed session reported %v, want its handshake's own error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the closed session's handshake was never reported")
	}
}

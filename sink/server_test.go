package sink

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// startServer runs a Server on a loopback port of its own (port 0, unless mod says
// otherwise); it is shut down when the test ends.
func startServer(t *testing.T, mod func(*Config)) (*Server, string) {
	t.Helper()
	cfg := Config{Listen: "tcp4://127.0.0.1:0", EventLoops: 2}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	select {
	case <-srv.Ready():
	case err := <-served:
		t.Fatalf("serve: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server not ready after 10s")
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	if path, ok := strings.CutPrefix(cfg.Listen, "unix://"); ok {
		return srv, "unix:" + path
	}
	return srv, srv.Addr().String()
}

// smtpClient is a raw test client: it writes exactly what it is told.
type smtpClient struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dialSMTP(t *testing.T, addr string) *smtpClient {
	t.Helper()
	network := "tcp"
	if strings.HasPrefix(addr, "unix:") {
		network, addr = "unix", strings.TrimPrefix(addr, "unix:")
	}
	conn, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { conn.Close() })
	return &smtpClient{t: t, conn: conn, r: bufio.NewReader(conn)}
}

func (c *smtpClient) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatalf("send %q: %v", s, err)
	}
}

// reply reads one complete (possibly multi-line) reply.
func (c *smtpClient) reply() string {
	c.t.Helper()
	var all string
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("reading reply (so far %q): %v", all+line, err)
		}
		all += line
		if len(line) < 4 || line[3] != '-' {
			return all
		}
	}
}

func (c *smtpClient) expect(prefix string) {
	c.t.Helper()
	if got := c.reply(); !strings.HasPrefix(got, prefix) {
		c.t.Fatalf("reply %q, want prefix %q", got, prefix)
	}
}

// expectEOF waits for the server to close the connection.
func (c *smtpClient) expectEOF(within time.Duration) {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(within))
	rest, err := io.ReadAll(c.r)
	if err != nil && !isConnReset(err) {
		c.t.Fatalf("want close within %v, got %v after %q", within, err, rest)
	}
}

func isConnReset(err error) bool { return strings.Contains(err.Error(), "connection reset") }

// oneMessage runs a whole dialogue and checks every reply.
func oneMessage(t *testing.T, addr string) {
	t.Helper()
	c := dialSMTP(t, addr)
	c.expect("220 ")
	c.send("EHLO test\r\n")
	c.expect("250-")
	c.send("MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n") // pipelined
	c.expect("250 2.1.0")
	c.expect("250 2.1.5")
	c.expect("354 ")
	c.send("Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n")
	c.expect("250 2.0.0 Ok: queued as ")
	c.expect("221 ")
}

// eventually polls cond for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testpeer.Eventually(t, 10*time.Second, 5*time.Millisecond, what, cond)
}

func TestServerDialogueAndCounters(t *testing.T) {
	t.Parallel()
	srv, addr := startServer(t, nil)
	for i := 0; i < 3; i++ {
		oneMessage(t, addr)
	}
	eventually(t, "3 closed sessions", func() bool { return srv.Stats().Snapshot().SessionsClosed == 3 })
	st := srv.Stats().Snapshot()
	if st.Sessions != 3 || st.MessagesAccepted != 3 || st.Quits != 3 || st.Recipients != 3 || st.Transactions != 3 || st.Bytes != 3*20 {
		t.Errorf("stats %+v", st)
	}
}

func TestServerPortZeroReportsItsAddress(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, func(c *Config) { c.Listen = "tcp4://127.0.0.1:0" })
	addr, ok := srv.Addr().(*net.TCPAddr)
	if !ok || addr.Port == 0 {
		t.Fatalf("Addr() = %v", srv.Addr())
	}
	for i := 0; i < 4; i++ { // every loop accepts on that one port
		oneMessage(t, addr.String())
	}
}

func TestServerUnixSocket(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sink.sock")
	_, addr := startServer(t, func(c *Config) { c.Listen = "unix://" + path })
	oneMessage(t, addr)
}

// TestServerBadInput sends each kind of bad input and then checks that the same
// connection (where it survives) and a fresh one are still served.
func TestServerBadInput(t *testing.T) {
	t.Parallel()
	srv, addr := startServer(t, nil)
	tests := []struct {
		name  string
		input string
		want  []string // reply prefixes, in order
	}{
		{"over-long command line", "NOOP " + strings.Repeat("x", 3000) + "\r\n", []string{"500 5.5.2 Error: command line too long"}},
		{"endless line without CRLF", strings.Repeat("z", 200000) + "\r\n", []string{"500 5.5.2 Error: command line too long"}},
		{"unknown command", "EXPN list\r\nFOO\r\n", []string{"500 5.5.1", "500 5.5.1"}},
		{"out of sequence", "RCPT TO:<x>\r\nDATA\r\nMAIL FROM:<a>\r\nMAIL FROM:<b>\r\n", []string{"503 5.5.1 Error: need MAIL", "503 5.5.1 Error: need RCPT", "250 2.1.0", "503 5.5.1 Error: nested MAIL"}},
		{"bare LF is not a line end", "NOOP\nNOOP\nNOOP\r\nHELO x\nNOOP\r\n", []string{"500 5.5.1", "250 smtp-sink"}},
		{"NUL bytes", "NO\x00OP\r\n\x00\x00\r\n", []string{"500 5.5.2 Error: NUL", "500 5.5.2 Error: NUL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialSMTP(t, addr)
			c.expect("220 ")
			c.send(tt.input)
			for _, w := range tt.want {
				c.expect(w)
			}
			c.send("NOOP\r\n")
			c.expect("250 2.0.0 Ok")
			oneMessage(t, addr)
		})
	}
	st := srv.Stats().Snapshot()
	if st.LongLines != 2 || st.UnknownCommands != 3 || st.NULCommands != 2 || st.BadSequence != 3 {
		t.Errorf("stats %+v", st)
	}
}

func TestServerSilentClientTimesOut(t *testing.T) {
	t.Parallel()
	srv, addr := startServer(t, func(c *Config) { c.IdleTimeout = 300 * time.Millisecond })
	c := dialSMTP(t, addr)
	c.expect("220 ")
	start := time.Now()
	c.expectEOF(5 * time.Second)
	if took := time.Since(start); took < 250*time.Millisecond || took > 3*time.Second {
		t.Errorf("silent client closed after %v, want about 300ms", took)
	}
	eventually(t, "timeout counted", func() bool { return srv.Stats().Snapshot().Timeouts == 1 })
	oneMessage(t, addr) // others are still served
}

func TestServerSlowButActiveClientDoesNotTimeOut(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, func(c *Config) { c.IdleTimeout = 400 * time.Millisecond })
	c := dialSMTP(t, addr)
	c.expect("220 ")
	for i := 0; i < 4; i++ {
		time.Sleep(200 * time.Millisecond)
		c.send("NOOP\r\n")
		c.expect("250 ")
	}
}

func TestServerFloodWithoutReadingIsDisconnected(t *testing.T) {
	t.Parallel()
	srv, addr := startServer(t, func(c *Config) { c.SocketBuffer = 32 << 10 })
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(16 << 10)
	_ = conn.SetWriteDeadline(time.Now().Add(20 * time.Second))
	chunk := []byte(strings.Repeat("EHLO flood\r\n", 4096)) // 48 KiB of commands, ~1 MiB of replies
	sent := 0
	for i := 0; i < 2000; i++ { // at most ~100 MB; the sink must give up long before
		n, err := conn.Write(chunk)
		sent += n
		if err != nil {
			break
		}
	}
	eventually(t, "flood disconnect", func() bool { return srv.Stats().Snapshot().FloodDisconnects == 1 })
	if sent > 50<<20 {
		t.Errorf("the sink read %d MB from a client that never reads", sent>>20)
	}
	oneMessage(t, addr)
}

func TestServerMidDataDisconnect(t *testing.T) {
	t.Parallel()
	srv, addr := startServer(t, nil)
	c := dialSMTP(t, addr)
	c.expect("220 ")
	c.send("HELO x\r\nMAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\n")
	c.expect("250 ")
	c.expect("250 ")
	c.expect("250 ")
	c.expect("354 ")
	c.send("Subject: cut\r\n\r\nhalf a mess")
	c.conn.Close()
	eventually(t, "mid-data disconnect counted", func() bool { return srv.Stats().Snapshot().MidDataDisconnects == 1 })
	oneMessage(t, addr)
	if st := srv.Stats().Snapshot(); st.MessagesAccepted != 1 {
		t.Errorf("accepted %d, want 1 (the cut message must not count)", st.MessagesAccepted)
	}
}

func TestServerInputDuringDelayIsBounded(t *testing.T) {
	t.Parallel()
	srv, addr := startServer(t, func(c *Config) {
		c.Delays[VerbRCPT] = Delay{Duration: 5 * time.Second}
		c.MaxPendingInput = 64 << 10
	})
	c := dialSMTP(t, addr)
	c.expect("220 ")
	c.send("MAIL FROM:<a>\r\nRCPT TO:<b>\r\n")
	c.expect("250 2.1.0")
	junk := []byte(strings.Repeat("x", 32<<10))
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	for i := 0; i < 64; i++ {
		if _, err := c.conn.Write(junk); err != nil {
			break
		}
	}
	eventually(t, "disconnect for pending input", func() bool { return srv.Stats().Snapshot().FloodDisconnects == 1 })
	other := dialSMTP(t, addr) // RCPT is delayed for everyone: check the others with NOOP
	other.expect("220 ")
	other.send("NOOP\r\n")
	other.expect("250 ")
}

func TestServerMaxConnectionsParksExtraClients(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, func(c *Config) { c.MaxConnections = 1 })
	first := dialSMTP(t, addr)
	first.expect("220 ")
	second := dialSMTP(t, addr)
	_ = second.conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if line, err := second.r.ReadString('\n'); err == nil {
		t.Fatalf("second client greeted while the first holds the only slot: %q", line)
	}
	_ = second.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	first.send("QUIT\r\n")
	first.expect("221 ")
	second.r = bufio.NewReader(second.conn)
	second.expect("220 ")
	second.send("QUIT\r\n")
	second.expect("221 ")
}

func TestServerMaxMessagesSignalsDone(t *testing.T) {
	t.Parallel()
	srv, addr := startServer(t, func(c *Config) { c.MaxMessages = 2 })
	oneMessage(t, addr)
	select {
	case <-srv.Done():
		t.Fatal("done after 1 of 2 messages")
	default:
	}
	oneMessage(t, addr) // the second message still gets its reply
	select {
	case <-srv.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("not done after 2 messages")
	}
}

func TestServerDelayFromClientSide(t *testing.T) {
	if raceEnabled {
		t.Skip("timing test; run without -race")
	}
	_, addr := startServer(t, func(c *Config) {
		c.Delays[VerbRCPT] = Delay{Duration: 30 * time.Millisecond}
		c.Delays[VerbDot] = Delay{Duration: 60 * time.Millisecond}
	})
	c := dialSMTP(t, addr)
	c.expect("220 ")
	var rcpts, dots []time.Duration
	probe := testpeer.ProbeScheduling(t)
	for i := 0; i < 5; i++ {
		c.send("MAIL FROM:<a>\r\n")
		c.expect("250 ")
		start := time.Now()
		c.send("RCPT TO:<b>\r\n")
		c.expect("250 2.1.5")
		rcpts = append(rcpts, time.Since(start))
		c.send("DATA\r\n")
		c.expect("354 ")
		start = time.Now()
		c.send("x\r\n.\r\n")
		c.expect("250 2.0.0")
		dots = append(dots, time.Since(start))
	}
	// Each reply waits for two wake-ups (the server's timer, the client's read): the
	// median may be late by 5 ms plus twice the machine's scheduling delay p99 measured
	// meanwhile, the worst by 25 ms plus twice its
	// SchedulingDelay.Worst.
	sched := probe.Stop()
	medianSlack, worstSlack := 5*time.Millisecond+2*sched.P99(), 25*time.Millisecond+2*sched.Worst()
	for _, m := range []struct {
		what    string
		samples []time.Duration
		want    time.Duration
	}{{"RCPT", rcpts, 30 * time.Millisecond}, {"end of data", dots, 60 * time.Millisecond}} {
		slices.Sort(m.samples)
		if m.samples[0] < m.want || m.samples[2] > m.want+medianSlack || m.samples[4] > m.want+worstSlack {
			t.Errorf("%s delay %v: replies after %v (median at most +%v, worst +%v)", m.what, m.want, m.samples, medianSlack, worstSlack)
		}
	}
}

// TestServerManyClientsWithParking runs many concurrent clients through a small -m limit,
// so parking, slot hand-over and the counters are exercised together (also under -race).
func TestServerManyClientsWithParking(t *testing.T) {
	t.Parallel()
	clients, perClient := 200, 3
	if raceEnabled {
		clients = 60
	}
	srv, addr := startServer(t, func(c *Config) { c.MaxConnections = 16; c.UniqueHeader = "Message-Id" })
	errs := make(chan error, clients)
	for i := 0; i < clients; i++ {
		go func(i int) {
			errs <- func() error {
				conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					return err
				}
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
				r := bufio.NewReader(conn)
				expect := func(prefix string) error {
					line, err := r.ReadString('\n')
					if err != nil {
						return fmt.Errorf("client %d: %w", i, err)
					}
					if !strings.HasPrefix(line, prefix) {
						return fmt.Errorf("client %d: got %q, want %q", i, line, prefix)
					}
					return nil
				}
				if err := expect("220 "); err != nil {
					return err
				}
				for m := 0; m < perClient; m++ {
					fmt.Fprintf(conn, "MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\nMessage-Id: <%d.%d@x>\r\n\r\nx\r\n.\r\n", i, m)
					for _, p := range []string{"250 2.1.0", "250 2.1.5", "354 ", "250 2.0.0 Ok: queued as "} {
						if err := expect(p); err != nil {
							return err
						}
					}
				}
				fmt.Fprintf(conn, "QUIT\r\n")
				return expect("221 ")
			}()
		}(i)
	}
	for i := 0; i < clients; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	eventually(t, "all sessions closed", func() bool { return srv.Stats().Snapshot().SessionsClosed == int64(clients) })
	st := srv.Stats().Snapshot()
	want := int64(clients * perClient)
	if st.MessagesAccepted != want || st.Unique.Distinct != want || st.Unique.Duplicates != 0 || st.SessionsParked == 0 {
		t.Errorf("stats %+v unique %+v (want %d messages, some parked)", st, st.Unique, want)
	}
	srv.limiter.mu.Lock()
	active, waiting := srv.limiter.active, len(srv.limiter.waiting)
	srv.limiter.mu.Unlock()
	if active != 0 || waiting != 0 {
		t.Errorf("after all clients left: %d slots held, %d waiting", active, waiting)
	}
}

package sink

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// tlsSMTPClient runs one session over TLS with crypto/tls: STARTTLS (or implicit), EHLO,
// msgs messages of size bytes each with PIPELINING (MAIL, RCPT, DATA and the content in
// one write), QUIT. It returns the first error.
func tlsSMTPClient(addr string, implicit bool, cfg *tls.Config, msgs, size int) error {
	raw, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(30 * time.Second))
	var conn net.Conn = raw
	if implicit {
		conn = tls.Client(raw, cfg)
	}
	r := bufio.NewReader(conn)
	expect := func(prefix string) error {
		for i := 0; i < 100; i++ {
			line, err := r.ReadString('\n')
			if err != nil {
				return fmt.Errorf("want %q: %w", prefix, err)
			}
			if !strings.HasPrefix(line, prefix[:3]) {
				return fmt.Errorf("want %q, got %q", prefix, line)
			}
			if line[3] == ' ' {
				if !strings.HasPrefix(line, prefix) {
					return fmt.Errorf("want %q, got %q", prefix, line)
				}
				return nil
			}
		}
		return fmt.Errorf("want %q: endless reply", prefix)
	}
	send := func(s string) error { _, err := io.WriteString(conn, s); return err }
	if err := expect("220 "); err != nil {
		return err
	}
	if !implicit {
		if err := send("EHLO c\r\nSTARTTLS\r\n"); err != nil {
			return err
		}
		if err := expect("250 "); err != nil {
			return err
		}
		if err := expect("220 2.0.0"); err != nil {
			return err
		}
		if r.Buffered() != 0 {
			return fmt.Errorf("%d bytes after the 220", r.Buffered())
		}
		conn = tls.Client(raw, cfg)
		r = bufio.NewReader(conn)
	}
	body := strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n", size/74+1)
	if err := send("EHLO c\r\n"); err != nil {
		return err
	}
	if err := expect("250 "); err != nil {
		return err
	}
	for i := 0; i < msgs; i++ {
		if err := send("MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n" + body + ".\r\n"); err != nil {
			return err
		}
		for _, want := range []string{"250 2.1.0", "250 2.1.5", "354 ", "250 2.0.0 Ok: queued"} {
			if err := expect(want); err != nil {
				return err
			}
		}
	}
	if err := send("QUIT\r\n"); err != nil {
		return err
	}
	return expect("221 ")
}

// TestServerConcurrentTLSSessions runs many TLS sessions at once, STARTTLS and implicit,
// with resumption, messages larger than a TLS record, -m parking and a delay: under
// -race this checks the handshake goroutines against the event loops.
func TestServerConcurrentTLSSessions(t *testing.T) {
	n, msgs := 40, 3
	if raceEnabled {
		n, msgs = 12, 2
	}
	serverTLS := tlsTestConfig(t)
	for _, implicit := range []bool{false, true} {
		t.Run(fmt.Sprintf("implicit=%v", implicit), func(t *testing.T) {
			srv, addr := startServer(t, func(c *Config) {
				c.TLS, c.ImplicitTLS = serverTLS, implicit
				c.MaxConnections = n / 2 // half of them park first
				c.Delays[VerbRCPT] = Delay{Duration: time.Millisecond, Probability: 0.5}
			})
			// One cache per version: a cache holds one session per server.
			caches := []tls.ClientSessionCache{tls.NewLRUClientSessionCache(8), tls.NewLRUClientSessionCache(8)}
			var wg sync.WaitGroup
			errs := make(chan error, n)
			client := func(i int) {
				cfg := &tls.Config{InsecureSkipVerify: true, ClientSessionCache: caches[i%2]}
				if i%2 == 1 {
					cfg.MaxVersion = tls.VersionTLS12
				}
				errs <- tlsSMTPClient(addr, implicit, cfg, msgs, 20000+i*1000)
			}
			client(0) // one full handshake per version first: the others can resume
			client(1)
			for i := 2; i < n; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					client(i)
				}(i)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			eventually(t, "all sessions closed", func() bool { return srv.Stats().Snapshot().SessionsActive == 0 })
			st := srv.Stats().Snapshot()
			if st.TLSHandshakes != int64(n) || st.TLSHandshakeFailures != 0 || st.MessagesAccepted != int64(n*msgs) || st.TLS12 != int64(n/2) || st.TLS13 != int64(n/2) {
				t.Errorf("counters %+v", st)
			}
			if st.TLSResumed < int64(n/2) { // n-2 in practice
				t.Errorf("too few handshakes resumed: %+v", st)
			}
		})
	}
}

// TestServerTLSHandshakeFailureCounted: garbage after STARTTLS fails the handshake and
// closes the connection; a probe that sends nothing is not counted as a failure.
func TestServerTLSHandshakeFailureCounted(t *testing.T) {
	srv, addr := startServer(t, func(c *Config) { c.TLS = tlsTestConfig(t) })
	c := dialSMTP(t, addr)
	c.expect("220 ")
	c.send("STARTTLS\r\n")
	c.expect("220 2.0.0 Ready to start TLS")
	c.send("this is not a TLS client hello\r\n")
	c.expectEOF(5 * time.Second)
	eventually(t, "failure counted", func() bool { return srv.Stats().Snapshot().TLSHandshakeFailures == 1 })

	c = dialSMTP(t, addr)
	c.expect("220 ")
	c.send("STARTTLS\r\n")
	c.expect("220 2.0.0 Ready to start TLS")
	c.conn.Close()
	eventually(t, "sessions closed", func() bool { return srv.Stats().Snapshot().SessionsActive == 0 })
	if st := srv.Stats().Snapshot(); st.TLSHandshakeFailures != 1 || st.StartTLS != 2 {
		t.Errorf("counters %+v", st)
	}
}

package engine

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/plan"
	"github.com/go-smtp-source/go-smtp-source/protocol"
)

// At --tls may a failed TLS handshake is retried in plaintext on a new connection, as
// Postfix does (smtp_tls_security_level=may: "When TLS handshakes fail, the connection is
// retried with TLS disabled"): the message is not lost, the failure is a warning and is
// counted under its usual key. With -d the plaintext connection carries the session's
// following messages.
func TestTLSMayFallsBackToPlaintext(t *testing.T) {
	f := newTLSFixture(t)
	// The server speaks TLS 1.3 only, the client 1.2 at most: every handshake fails.
	srv := testpeer.StartTLSServer(t, testpeer.TLSServerConfig{TLS: &tls.Config{
		Certificates: []tls.Certificate{f.good.TLS}, MinVersion: tls.VersionTLS13}})
	ccfg := &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12}
	for _, tc := range []struct {
		name     string
		reuse    bool
		open     bool
		failures int // handshakes that fail, one per connection that tries TLS
	}{
		{"a connection per message", false, false, 8},
		{"-d", true, false, 2},
		{"open model", false, true, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := srv.Messages.Load()
			cfg := tlsConfig(t, srv.Addr, 2, 8, protocol.TLSMay, ccfg)
			cfg.Session.Reuse = tc.reuse
			if tc.open {
				cfg.Load.Model, cfg.Load.Rate, cfg.Load.MaxSessions = plan.ModelOpen, 200, 2
			}
			ev := &events{}
			cfg.Events = ev
			res, err := runTest(context.Background(), cfg)
			checkAccounting(t, res)
			if err != nil || res.Accepted != 8 || srv.Messages.Load()-before != 8 {
				t.Fatalf("err %v, %+v, server got %d", err, res, srv.Messages.Load()-before)
			}
			// The limiter's window is the sampler's wall-clock second: a run spans one more
			// window than the whole seconds it lasts.
			maxShown := warningsPerKey * (int(res.Elapsed/time.Second) + 2)
			if ev.count() != tc.failures || len(ev.warnings) > maxShown {
				t.Fatalf("%d warnings (%d shown), want %d, at most %d shown: %q", ev.count(), len(ev.warnings), tc.failures, maxShown, ev.warnings)
			}
			want := "TLS handshake failed (protocol_version): remote error: tls: protocol version not supported; retrying in plaintext"
			for _, w := range ev.warnings {
				if w != want {
					t.Fatalf("warning %q, want %q", w, want)
				}
			}
			if got := errorCount(res.Metrics, "tls_handshake:tls:protocol_version"); got != int64(tc.failures) {
				t.Fatalf("tls_handshake:tls:protocol_version counted %d, want %d: %+v", got, tc.failures, res.Metrics.Errors())
			}
			// One plaintext connection follows each failed one.
			if res.Sessions != int64(2*tc.failures) && !tc.reuse || tc.reuse && res.Sessions != 4 {
				t.Fatalf("%d connections", res.Sessions)
			}
			if res.Metrics.Counter(metrics.TLSHandshakes) != 0 || res.Metrics.Count(metrics.StartTLS) != int64(tc.failures) {
				t.Fatalf("handshakes %d, starttls %d", res.Metrics.Counter(metrics.TLSHandshakes), res.Metrics.Count(metrics.StartTLS))
			}
		})
	}
}

// The fallback is for --tls may over STARTTLS only: required TLS stays fatal (TestTLSFailures),
// and with AUTH credentials the session fails as before, as Postfix does not fall back when
// it has SASL credentials.
func TestTLSMayNoFallbackWithAuth(t *testing.T) {
	f := newTLSFixture(t)
	srv := testpeer.StartTLSServer(t, testpeer.TLSServerConfig{TLS: &tls.Config{
		Certificates: []tls.Certificate{f.good.TLS}, MinVersion: tls.VersionTLS13}, Users: map[string]string{"alice": "wonder"}})
	cfg := tlsConfig(t, srv.Addr, 1, 2, protocol.TLSMay, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12})
	cfg.Auth = &plan.Auth{User: "alice"}
	cfg.Credentials = []protocol.Credential{{User: "alice", Password: "wonder"}}
	res, err := runTest(context.Background(), cfg)
	checkAccounting(t, res)
	if err == nil || !strings.Contains(err.Error(), "TLS handshake failed (protocol_version)") || res.Failed != 1 || srv.Messages.Load() != 0 {
		t.Fatalf("err %v, %+v", err, res)
	}
}

// A handshake that times out, or that the server cuts short by closing, is a failed
// handshake too: at --tls may the message goes over a plaintext connection.
func TestTLSMayFallbackOnTimeoutAndClose(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after string // what the server does after its STARTTLS 220
		want  string
	}{
		{"timeout", "stall", "timeout"},
		{"closed", "close", "lost connection while performing the TLS handshake"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startSTARTTLSBreaker(t, tc.after)
			cfg := tlsConfig(t, srv.addr, 1, 3, protocol.TLSMay, &tls.Config{InsecureSkipVerify: true})
			cfg.Session.Timeout, cfg.Connect.Timeout = 300*time.Millisecond, 300*time.Millisecond
			cfg.Session.Reuse = true
			ev := &events{}
			cfg.Events = ev
			res, err := runTest(context.Background(), cfg)
			checkAccounting(t, res)
			if err != nil || res.Accepted != 3 || srv.messages.Load() != 3 {
				t.Fatalf("err %v, %+v, server got %d", err, res, srv.messages.Load())
			}
			if len(ev.warnings) != 1 || !strings.Contains(ev.warnings[0], tc.want) || !strings.HasSuffix(ev.warnings[0], "; retrying in plaintext") {
				t.Fatalf("warnings %q", ev.warnings)
			}
			t.Logf("warning: %s", ev.warnings[0])
			if srv.starttls.Load() != 1 || res.Sessions != 2 {
				t.Fatalf("STARTTLS %d times, %d connections", srv.starttls.Load(), res.Sessions)
			}
			if n := len(res.Metrics.Errors()); n != 1 {
				t.Fatalf("errors %+v", res.Metrics.Errors())
			}
		})
	}
}

func errorCount(m *metrics.Snapshot, key string) int64 {
	for _, e := range m.Errors() {
		if e.Key == key {
			return e.Count
		}
	}
	return 0
}

// breaker is a plaintext SMTP server that offers STARTTLS and, when asked, answers 220
// and then stalls or closes: a handshake that never completes.
type breaker struct {
	addr               string
	starttls, messages atomic.Int64
}

func startSTARTTLSBreaker(t *testing.T, after string) *breaker {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &breaker{addr: l.Addr().String()}
	var wg sync.WaitGroup
	done := make(chan struct{})
	t.Cleanup(func() { close(done); l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				go func() { <-done; c.Close() }()
				b.serve(c, after)
			}()
		}
	}()
	return b
}

func (b *breaker) serve(c net.Conn, after string) {
	r := bufio.NewReader(c)
	say := func(s string) bool { _, err := c.Write([]byte(s)); return err == nil }
	if !say("220 breaker ESMTP\r\n") {
		return
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250-breaker\r\n250 STARTTLS\r\n")
		case cmd == "STARTTLS":
			b.starttls.Add(1)
			say("220 2.0.0 Ready to start TLS\r\n")
			if after == "close" {
				return
			}
			_, _ = io.Copy(io.Discard, r) // the ClientHello, unanswered, until the client gives up
			return
		case cmd == "DATA":
			say("354 go ahead\r\n")
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
			}
			b.messages.Add(1)
			say("250 2.0.0 Ok: queued\r\n")
		case cmd == "QUIT":
			say("221 2.0.0 Bye\r\n")
			return
		default:
			say("250 2.0.0 Ok\r\n")
		}
	}
}

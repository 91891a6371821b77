package engine

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
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

// tlsFixture is a CA and the certificates the TLS tests use.
type tlsFixture struct {
	ca, otherCA              *testpeer.CA
	good, expired, wrongName *testpeer.Leaf
	client                   *testpeer.Leaf
}

func newTLSFixture(t *testing.T) *tlsFixture {
	ca := testpeer.NewCA(t, "engine test CA")
	f := &tlsFixture{ca: ca, otherCA: testpeer.NewCA(t, "unknown CA")}
	f.good = ca.Issue(t, testpeer.LocalhostSpec())
	exp := testpeer.LocalhostSpec()
	exp.NotBefore, exp.NotAfter = time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour)
	f.expired = ca.Issue(t, exp)
	f.wrongName = ca.Issue(t, testpeer.LeafSpec{CommonName: "mx.example.net", DNSNames: []string{"mx.example.net"}})
	f.client = ca.Issue(t, testpeer.LeafSpec{CommonName: "client", Client: true})
	return f
}

func tlsConfig(t *testing.T, addr string, sessions int, messages int64, policy protocol.TLSPolicy, ccfg *tls.Config) *testRun {
	cfg := config(t, addr, sessions, messages)
	cfg.Session.Greeting = plan.GreetEHLO
	cfg.Plan.TLS.Level = map[protocol.TLSPolicy]plan.TLSLevel{protocol.TLSRequired: plan.TLSEncrypt, protocol.TLSMay: plan.TLSMay}[policy]
	cfg.Hooks.TLS = ccfg
	return cfg
}

func TestTLSLevelsAndModes(t *testing.T) {
	f := newTLSFixture(t)
	verify := &tls.Config{RootCAs: f.ca.Pool, ServerName: "127.0.0.1"}
	insecure := &tls.Config{InsecureSkipVerify: true}
	for _, tc := range []struct {
		name       string
		srv        testpeer.TLSServerConfig
		policy     protocol.TLSPolicy
		implicit   bool
		ccfg       *tls.Config
		reuse      bool
		handshakes int64 // per run of 20 messages
	}{
		{"encrypt TLS 1.3", testpeer.TLSServerConfig{RequireTLS: true}, protocol.TLSRequired, false, insecure, false, 20},
		{"encrypt TLS 1.2", testpeer.TLSServerConfig{RequireTLS: true}, protocol.TLSRequired, false,
			&tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12}, false, 20},
		{"verify", testpeer.TLSServerConfig{RequireTLS: true}, protocol.TLSRequired, false, verify, false, 20},
		{"verify -d pipelining", testpeer.TLSServerConfig{RequireTLS: true, Pipelining: true}, protocol.TLSRequired, false, verify, true, 4},
		{"may, offered", testpeer.TLSServerConfig{}, protocol.TLSMay, false, insecure, false, 20},
		{"may, not offered", testpeer.TLSServerConfig{NoStartTLS: true}, protocol.TLSMay, false, insecure, false, 0},
		{"implicit", testpeer.TLSServerConfig{Implicit: true}, protocol.TLSRequired, true, verify, false, 20},
		{"implicit TLS 1.2 -d", testpeer.TLSServerConfig{Implicit: true}, protocol.TLSRequired, true,
			&tls.Config{RootCAs: f.ca.Pool, ServerName: "localhost", MaxVersion: tls.VersionTLS12}, true, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.srv.TLS = &tls.Config{Certificates: []tls.Certificate{f.good.TLS}}
			srv := testpeer.StartTLSServer(t, tc.srv)
			cfg := tlsConfig(t, srv.Addr, 4, 20, tc.policy, tc.ccfg)
			cfg.Plan.TLS.Wrapper = tc.implicit
			cfg.Session.Reuse = tc.reuse
			cfg.Session.Pipelining = tc.reuse
			res, err := runTest(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			checkAccounting(t, res)
			if res.Accepted != 20 || srv.Messages.Load() != 20 {
				t.Fatalf("accepted %d, server got %d", res.Accepted, srv.Messages.Load())
			}
			m := res.Metrics
			if got := m.Counter(metrics.TLSHandshakes); got != tc.handshakes || srv.Handshakes.Load() != tc.handshakes {
				t.Fatalf("handshakes: counted %d, server %d, want %d", got, srv.Handshakes.Load(), tc.handshakes)
			}
			if tc.handshakes == 0 {
				return
			}
			if m.Count(metrics.TLSHandshake) != tc.handshakes {
				t.Fatalf("tls_handshake phase count %d", m.Count(metrics.TLSHandshake))
			}
			version := metrics.TLSVersion13
			if tc.ccfg.MaxVersion == tls.VersionTLS12 {
				version = metrics.TLSVersion12
			}
			if m.Counter(version) != tc.handshakes {
				t.Fatalf("%v: %d", version, m.Counter(version))
			}
			if !tc.implicit && (m.Count(metrics.StartTLS) != tc.handshakes || m.Count(metrics.EhloTLS) != tc.handshakes) {
				t.Fatalf("starttls %d ehlo_tls %d", m.Count(metrics.StartTLS), m.Count(metrics.EhloTLS))
			}
		})
	}
}

func TestTLSResumption(t *testing.T) {
	f := newTLSFixture(t)
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			srv := testpeer.StartTLSServer(t, testpeer.TLSServerConfig{TLS: &tls.Config{Certificates: []tls.Certificate{f.good.TLS}}})
			ccfg := &tls.Config{RootCAs: f.ca.Pool, ServerName: "localhost", MaxVersion: version,
				ClientSessionCache: tls.NewLRUClientSessionCache(64)}
			// One session first, so that the others find a ticket.
			for _, n := range []int64{1, 20} {
				cfg := tlsConfig(t, srv.Addr, 2, n, protocol.TLSRequired, ccfg)
				res, err := runTest(context.Background(), cfg)
				if err != nil || res.Accepted != n {
					t.Fatalf("err %v accepted %d", err, res.Accepted)
				}
				resumed := res.Metrics.Counter(metrics.TLSResumed)
				if n == 1 && resumed != 0 || n == 20 && resumed != 20 {
					t.Fatalf("%d messages: %d resumed", n, resumed)
				}
			}
			if srv.Resumed.Load() != 20 {
				t.Fatalf("server saw %d resumed", srv.Resumed.Load())
			}
		})
	}
}

func TestTLSClientCertificate(t *testing.T) {
	f := newTLSFixture(t)
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			srv := testpeer.StartTLSServer(t, testpeer.TLSServerConfig{TLS: &tls.Config{
				Certificates: []tls.Certificate{f.good.TLS}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: f.ca.Pool}})
			ccfg := &tls.Config{RootCAs: f.ca.Pool, ServerName: "localhost", MaxVersion: version,
				Certificates: []tls.Certificate{f.client.TLS}}
			res, err := runTest(context.Background(), tlsConfig(t, srv.Addr, 2, 4, protocol.TLSRequired, ccfg))
			if err != nil || res.Accepted != 4 || srv.ClientCerts.Load() != 4 {
				t.Fatalf("err %v accepted %d client certs %d", err, res.Accepted, srv.ClientCerts.Load())
			}
			// Without a certificate the server refuses the session.
			ccfg = &tls.Config{RootCAs: f.ca.Pool, ServerName: "localhost", MaxVersion: version}
			res, err = runTest(context.Background(), tlsConfig(t, srv.Addr, 1, 1, protocol.TLSRequired, ccfg))
			if err == nil || !strings.Contains(err.Error(), "TLS") || res.Failed != 1 {
				t.Fatalf("without a client certificate: err %v, %+v", err, res)
			}
			t.Logf("without a client certificate: %v", err)
		})
	}
}

func TestTLSFailures(t *testing.T) {
	f := newTLSFixture(t)
	for _, tc := range []struct {
		name    string
		leaf    *testpeer.Leaf
		srv     testpeer.TLSServerConfig
		ccfg    *tls.Config
		want    string // in the run's error
		key     string // error key
		certErr bool
	}{
		{"unknown authority", nil, testpeer.TLSServerConfig{}, &tls.Config{RootCAs: f.otherCA.Pool, ServerName: "localhost"},
			"TLS handshake failed (unknown_authority)", "tls_handshake:tls:unknown_authority", true},
		{"name mismatch", f.wrongName, testpeer.TLSServerConfig{}, &tls.Config{RootCAs: f.ca.Pool, ServerName: "localhost"},
			"TLS handshake failed (name_mismatch)", "tls_handshake:tls:name_mismatch", true},
		{"expired", f.expired, testpeer.TLSServerConfig{}, &tls.Config{RootCAs: f.ca.Pool, ServerName: "localhost"},
			"TLS handshake failed (expired)", "tls_handshake:tls:expired", true},
		{"protocol version", nil, testpeer.TLSServerConfig{}, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12},
			"TLS handshake failed (protocol_version)", "tls_handshake:tls:protocol_version", false},
		{"no STARTTLS", nil, testpeer.TLSServerConfig{NoStartTLS: true}, &tls.Config{InsecureSkipVerify: true},
			protocol.ErrNoStartTLS.Error(), "helo:tls:starttls_not_offered", false},
		{"injection", nil, testpeer.TLSServerConfig{Inject: "250 injected\r\n"}, &tls.Config{InsecureSkipVerify: true},
			"STARTTLS injection", "starttls:tls:injection", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaf := tc.leaf
			if leaf == nil {
				leaf = f.good
			}
			tc.srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf.TLS}}
			if tc.name == "protocol version" {
				tc.srv.TLS.MinVersion = tls.VersionTLS13
			}
			srv := testpeer.StartTLSServer(t, tc.srv)
			for _, allow := range []bool{false, true} {
				cfg := tlsConfig(t, srv.Addr, 1, 2, protocol.TLSRequired, tc.ccfg)
				cfg.Session.AllowReject = allow
				ev := &events{}
				cfg.Events = ev
				res, err := runTest(context.Background(), cfg)
				checkAccounting(t, res)
				if allow && tc.name == "injection" {
					continue // a protocol error: fatal even with -A
				}
				if allow {
					if err != nil || res.Failed != 2 || len(ev.warnings) != 2 || !strings.Contains(ev.warnings[0], tc.want) {
						t.Fatalf("-A: err %v failed %d warnings %q", err, res.Failed, ev.warnings)
					}
				} else if err == nil || !strings.Contains(err.Error(), tc.want) || res.Failed != 1 {
					t.Fatalf("err %v (want %q), %+v", err, tc.want, res)
				}
				found := false
				for _, e := range res.Metrics.Errors() {
					found = found || e.Key == tc.key
				}
				if !found {
					t.Fatalf("error key %s not among %+v", tc.key, res.Metrics.Errors())
				}
				if got := res.Metrics.Counter(metrics.TLSCertificateFailed); tc.certErr != (got > 0) {
					t.Fatalf("certificate failures counted: %d", got)
				}
			}
		})
	}
}

// TestTLSHandshakeTimeout: a server that answers STARTTLS and then says nothing; the
// handshake ends within --timeout.
func TestTLSHandshakeTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 512)
				_, _ = c.Write([]byte("220 silent\r\n"))
				for _, reply := range []string{"250-x\r\n250 STARTTLS\r\n", "220 go ahead\r\n"} {
					if _, err := c.Read(buf); err != nil {
						return
					}
					_, _ = c.Write([]byte(reply))
				}
				<-done
			}()
		}
	}()
	cfg := tlsConfig(t, l.Addr().String(), 1, 1, protocol.TLSRequired, &tls.Config{InsecureSkipVerify: true})
	cfg.Session.Timeout, cfg.Connect.Timeout = 300*time.Millisecond, 300*time.Millisecond
	start := time.Now()
	res, err := runTest(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "timeout") || res.Failed != 1 {
		t.Fatalf("err %v, %+v", err, res)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("took %v", el)
	}
}

func TestAuthOverTLS(t *testing.T) {
	f := newTLSFixture(t)
	users := map[string]string{"alice": "wonder", "bob": "builder"}
	for _, mech := range []string{"", "PLAIN", "LOGIN", "CRAM-MD5"} {
		t.Run("mech="+mech, func(t *testing.T) {
			srv := testpeer.StartTLSServer(t, testpeer.TLSServerConfig{TLS: &tls.Config{Certificates: []tls.Certificate{f.good.TLS}},
				Users: users})
			cfg := tlsConfig(t, srv.Addr, 3, 12, protocol.TLSRequired, &tls.Config{InsecureSkipVerify: true})
			cfg.Auth = &plan.Auth{Mechanism: mech, File: "users"} // the file the secrets would be read from
			cfg.Credentials = []protocol.Credential{{User: "alice", Password: "wonder"}, {User: "bob", Password: "builder"}}
			res, err := runTest(context.Background(), cfg)
			if err != nil || res.Accepted != 12 || srv.AuthOK.Load() != 12 {
				t.Fatalf("err %v accepted %d auth ok %d", err, res.Accepted, srv.AuthOK.Load())
			}
			if res.Metrics.Count(metrics.Auth) != 12 {
				t.Fatalf("auth phases %d", res.Metrics.Count(metrics.Auth))
			}
		})
	}
	t.Run("rejected", func(t *testing.T) {
		srv := testpeer.StartTLSServer(t, testpeer.TLSServerConfig{TLS: &tls.Config{Certificates: []tls.Certificate{f.good.TLS}},
			Users: users})
		cfg := tlsConfig(t, srv.Addr, 1, 1, protocol.TLSRequired, &tls.Config{InsecureSkipVerify: true})
		cfg.Auth = &plan.Auth{Mechanism: "PLAIN", User: "alice"}
		cfg.Credentials = []protocol.Credential{{User: "alice", Password: "wrong"}}
		res, err := runTest(context.Background(), cfg)
		if err == nil || err.Error() != "AUTH PLAIN rejected: 535 5.7.8 Error: authentication failed: plain" || res.Rejected != 1 {
			t.Fatalf("err %v, %+v", err, res)
		}
	})
}

// stuckRand is a tls.Config.Rand whose first read stands still until release: a handshake
// stuck before its ClientHello (as one starved of CPU, or in a slow callback), its peer
// silent for want of anything to answer.
type stuckRand struct {
	calls       atomic.Int32
	stuck       chan struct{} // closed when the first read blocks
	release     chan struct{}
	releaseOnce sync.Once
}

func newStuckRand(t *testing.T) *stuckRand {
	r := &stuckRand{stuck: make(chan struct{}), release: make(chan struct{})}
	t.Cleanup(r.unblock)
	return r
}

func (r *stuckRand) unblock() { r.releaseOnce.Do(func() { close(r.release) }) }

func (r *stuckRand) Read(p []byte) (int, error) {
	if r.calls.Add(1) == 1 {
		close(r.stuck)
		<-r.release
	}
	return rand.Read(p)
}

// silentProbeProxy forwards connections to backend, and signals closed when a client
// hangs up without having sent a byte (the session whose handshake is stuck).
func silentProbeProxy(t *testing.T, backend string, closed chan<- struct{}) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
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
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				n, err := c.Read(buf)
				if n == 0 && err != nil {
					closed <- struct{}{}
					return
				}
				b, err := net.Dial("tcp", backend)
				if err != nil {
					return
				}
				defer b.Close()
				_, _ = b.Write(buf[:n])
				go func() { _, _ = io.Copy(c, b); c.Close() }()
				_, _ = io.Copy(b, c)
			}()
		}
	}()
	return l.Addr().String()
}

// TestTLSCloseDuringStuckHandshake: a session whose handshake stands still, its server
// silent, is closed by --timeout; the close does not wait for the handshake, and the
// event loop's other session goes on sending messages meanwhile. Once the handshake ends
// its failure is reported and counted under the key a silent server's handshake has
// always had (tls_handshake:tls:timeout). Interrupted while the handshake still stands
// still, the run ends all the same.
func TestTLSCloseDuringStuckHandshake(t *testing.T) {
	f := newTLSFixture(t)
	for _, interrupt := range []bool{false, true} {
		t.Run(fmt.Sprintf("interrupted=%v", interrupt), func(t *testing.T) {
			srv := testpeer.StartTLSServer(t, testpeer.TLSServerConfig{Implicit: true,
				TLS: &tls.Config{Certificates: []tls.Certificate{f.good.TLS}}})
			silentClosed := make(chan struct{}, 1)
			addr := silentProbeProxy(t, srv.Addr, silentClosed)
			r := newStuckRand(t)
			cfg := tlsConfig(t, addr, 2, 1<<30, protocol.TLSRequired, &tls.Config{InsecureSkipVerify: true, Rand: r})
			cfg.Plan.TLS.Wrapper = true
			cfg.Plan.Session.Reuse = true
			cfg.Plan.Session.AllowReject = true
			cfg.Plan.Local.EventLoops = 1
			cfg.Plan.Session.Timeout = 300 * time.Millisecond
			cfg.Plan.Grace = 100 * time.Millisecond
			ev := &events{}
			cfg.Hooks.Events = ev
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			type outcome struct {
				res Result
				err error
			}
			done := make(chan outcome, 1)
			go func() {
				res, err := runTest(ctx, cfg)
				done <- outcome{res, err}
			}()
			waitFor := func(what string, ch <-chan struct{}) {
				t.Helper()
				select {
				case <-ch:
				case <-time.After(10 * time.Second):
					t.Fatalf("no %s within 10 s", what)
				}
			}
			waitFor("stuck handshake", r.stuck)
			waitFor("close of the stuck session", silentClosed)
			// The other session on the loop is served while the handshake stands still.
			since := srv.Messages.Load()
			if !testpeer.Poll(10*time.Second, time.Millisecond, func() bool { return srv.Messages.Load() >= since+20 }) {
				t.Fatalf("the other session sent %d messages in 10 s after the close", srv.Messages.Load()-since)
			}
			ev.mu.Lock()
			early := ev.warnings
			ev.mu.Unlock()
			if len(early) > 0 {
				t.Fatalf("reported before the stuck handshake ended: %q", early)
			}
			if !interrupt {
				r.unblock()
				testpeer.Eventually(t, 10*time.Second, time.Millisecond, "the stuck session's failure reported after its release", func() bool {
					ev.mu.Lock()
					defer ev.mu.Unlock()
					return len(ev.warnings) > 0
				})
			}
			cancel()
			var out outcome
			select {
			case out = <-done:
			case <-time.After(15 * time.Second):
				t.Fatal("the run did not end")
			}
			if !errors.Is(out.err, ErrInterrupted) {
				t.Fatalf("run: %v", out.err)
			}
			checkAccounting(t, out.res)
			if interrupt {
				return
			}
			found := false
			for _, e := range out.res.Metrics.Errors() {
				found = found || e.Key == "tls_handshake:tls:timeout"
			}
			if !found || out.res.Failed < 1 {
				t.Fatalf("failed %d, errors %+v: want the stuck handshake under tls_handshake:tls:timeout",
					out.res.Failed, out.res.Metrics.Errors())
			}
		})
	}
}

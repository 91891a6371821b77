package main

import (
	"bytes"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// tlsCLIFixture is a CA, a server certificate for 127.0.0.1/localhost, bad ones, and a
// client certificate, written as files for the command line.
type tlsCLIFixture struct {
	dir                            string
	ca                             *testpeer.CA
	caFile                         string
	good, expired, wrongName, cert *testpeer.Leaf
	clientCert, clientKey          string
}

func newTLSCLIFixture(t *testing.T) *tlsCLIFixture {
	f := &tlsCLIFixture{dir: t.TempDir(), ca: testpeer.NewCA(t, "cli CA")}
	f.caFile = f.ca.WriteFile(t, f.dir, "ca.pem")
	f.good = f.ca.Issue(t, testpeer.LocalhostSpec())
	exp := testpeer.LocalhostSpec()
	exp.NotBefore, exp.NotAfter = time.Now().Add(-72*time.Hour), time.Now().Add(-time.Hour)
	f.expired = f.ca.Issue(t, exp)
	f.wrongName = f.ca.Issue(t, testpeer.LeafSpec{CommonName: "mx.example.net", DNSNames: []string{"mx.example.net"}})
	f.cert = f.ca.Issue(t, testpeer.LeafSpec{CommonName: "client", Client: true})
	f.clientCert, f.clientKey = f.cert.WriteFiles(t, f.dir, "client-")
	return f
}

func (f *tlsCLIFixture) server(t *testing.T, leaf *testpeer.Leaf, cfg testpeer.TLSServerConfig) *testpeer.TLSServer {
	if cfg.TLS == nil {
		cfg.TLS = &tls.Config{}
	}
	cfg.TLS.Certificates = []tls.Certificate{leaf.TLS}
	return testpeer.StartTLSServer(t, cfg)
}

// runCLI runs go-smtp-source in-process and returns its exit code and stderr.
func runCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run("go-smtp-source", args, &stdout, &stderr)
	return code, stderr.String()
}

func TestTLSLevels(t *testing.T) {
	f := newTLSCLIFixture(t)
	for _, tc := range []struct {
		name       string
		srv        testpeer.TLSServerConfig
		args       []string
		handshakes int64
	}{
		{"none", testpeer.TLSServerConfig{}, []string{"--tls", "none"}, 0},
		{"may, offered", testpeer.TLSServerConfig{}, []string{"--tls", "may"}, 10},
		{"may, not offered", testpeer.TLSServerConfig{NoStartTLS: true}, []string{"--tls", "may"}, 0},
		{"encrypt", testpeer.TLSServerConfig{RequireTLS: true}, []string{"--tls", "encrypt"}, 10},
		{"-tls is encrypt", testpeer.TLSServerConfig{RequireTLS: true}, []string{"-tls"}, 10},
		{"verify", testpeer.TLSServerConfig{RequireTLS: true}, []string{"--tls", "verify", "--tls-ca-file", f.caFile}, 10},
		{"secure, servername", testpeer.TLSServerConfig{RequireTLS: true}, []string{"--tls", "secure", "--tls-ca-file", f.caFile, "--tls-servername", "localhost"}, 10},
		{"encrypt TLS 1.2 cipher", testpeer.TLSServerConfig{RequireTLS: true}, []string{"--tls", "encrypt", "--tls-max-version", "1.2",
			"--tls-ciphers", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"}, 10},
		{"TLS 1.3 only", testpeer.TLSServerConfig{RequireTLS: true}, []string{"--tls", "encrypt", "--tls-min-version", "1.3"}, 10},
		{"wrapper", testpeer.TLSServerConfig{Implicit: true}, []string{"--tls-wrapper", "--tls", "verify", "--tls-ca-file", f.caFile}, 10},
		{"-d pipelining", testpeer.TLSServerConfig{RequireTLS: true, Pipelining: true}, []string{"--tls", "encrypt", "-d", "--pipelining"}, 2},
		{"client certificate", testpeer.TLSServerConfig{RequireTLS: true, TLS: &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: f.ca.Pool}},
			[]string{"--tls", "verify", "--tls-ca-file", f.caFile, "--tls-cert", f.clientCert, "--tls-key", f.clientKey}, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := f.server(t, f.good, tc.srv)
			args := append(append([]string{"-s", "2", "-m", "10", "--timeout", "10s"}, tc.args...), srv.Addr)
			code, stderr := runCLI(t, args...)
			if code != 0 || srv.Messages.Load() != 10 || srv.Handshakes.Load() != tc.handshakes {
				t.Fatalf("exit %d, server: %d messages, %d handshakes (want %d)\n%s", code, srv.Messages.Load(), srv.Handshakes.Load(), tc.handshakes, stderr)
			}
			if got := summary(t, stderr); got[1] != 10 {
				t.Fatalf("summary %v", got)
			}
			row := "[handshakes, resumed, TLS 1.2, TLS 1.3, certificate failures]"
			if strings.Contains(stderr, row) != (tc.handshakes > 0) || tc.handshakes > 0 && !strings.Contains(stderr, "tls_handshake ") {
				t.Fatalf("report's TLS row and phase (want them iff handshakes):\n%s", stderr)
			}
		})
	}
}

func TestTLSResumeCounted(t *testing.T) {
	f := newTLSCLIFixture(t)
	for _, version := range []string{"1.2", "1.3"} {
		t.Run(version, func(t *testing.T) {
			srv := f.server(t, f.good, testpeer.TLSServerConfig{})
			jsonFile := filepath.Join(t.TempDir(), "r.json")
			code, stderr := runCLI(t, "-s", "1", "-m", "20", "--tls", "encrypt", "--tls-max-version", version, "--tls-resume", "--json", jsonFile, srv.Addr)
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			counters := reportCounters(t, jsonFile)
			// The first handshake is full; every later one resumes.
			if counters["tls_handshakes"] != 20 || counters["tls_resumed"] != 19 || srv.Resumed.Load() != 19 {
				t.Fatalf("counters %v, server resumed %d", counters, srv.Resumed.Load())
			}
			want := "tls_version_" + strings.ReplaceAll(version, ".", "_")
			if counters[want] != 20 {
				t.Fatalf("%s: %d", want, counters[want])
			}
		})
	}
}

func TestTLSFailureMessages(t *testing.T) {
	f := newTLSCLIFixture(t)
	for _, tc := range []struct {
		name string
		leaf *testpeer.Leaf
		srv  testpeer.TLSServerConfig
		args []string
		want string
	}{
		{"unknown authority", f.good, testpeer.TLSServerConfig{}, []string{"--tls", "verify"},
			"fatal: TLS handshake failed (unknown_authority): tls: failed to verify certificate: x509: certificate signed by unknown authority"},
		{"name mismatch", f.wrongName, testpeer.TLSServerConfig{}, []string{"--tls", "verify", "--tls-ca-file", f.caFile},
			"fatal: TLS handshake failed (name_mismatch): tls: failed to verify certificate: x509: cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs"},
		{"expired", f.expired, testpeer.TLSServerConfig{}, []string{"--tls", "secure", "--tls-ca-file", f.caFile},
			"fatal: TLS handshake failed (expired): tls: failed to verify certificate: x509: certificate has expired"},
		{"no STARTTLS", f.good, testpeer.TLSServerConfig{NoStartTLS: true}, []string{"--tls", "encrypt"},
			"fatal: TLS is required, but the server does not offer STARTTLS"},
		{"handshake failure", f.good, testpeer.TLSServerConfig{TLS: &tls.Config{MinVersion: tls.VersionTLS13}}, []string{"--tls", "encrypt", "--tls-max-version", "1.2"},
			"fatal: TLS handshake failed (protocol_version): remote error: tls: protocol version not supported"},
		{"injection", f.good, testpeer.TLSServerConfig{Inject: "250 2.0.0 injected\r\n"}, []string{"--tls", "encrypt"},
			"fatal: STARTTLS: 20 bytes of plaintext from the server followed the STARTTLS exchange before the TLS handshake (refused: STARTTLS injection)"},
		{"AUTH rejected", f.good, testpeer.TLSServerConfig{Users: map[string]string{"alice": "right"}}, []string{"--tls", "encrypt", "--auth", "LOGIN", "--auth-user", "alice", "--auth-password-file", writeTestFile(t, "wrong\n")},
			"fatal: AUTH LOGIN rejected: 535 5.7.8 Error: authentication failed: login"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := f.server(t, tc.leaf, tc.srv)
			code, stderr := runCLI(t, append(append([]string{"-s", "1", "-m", "2"}, tc.args...), srv.Addr)...)
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if code != 1 || !strings.HasPrefix(lines[0], "go-smtp-source: "+tc.want) {
				t.Fatalf("exit %d, stderr:\n%s\nwant first line to start %q", code, stderr, tc.want)
			}
			if tc.name == "injection" {
				return // a protocol error: -A does not apply
			}
			// -A: the same error once per session, as a warning; the run completes.
			code, stderr = runCLI(t, append(append([]string{"-A", "-s", "1", "-m", "2"}, tc.args...), srv.Addr)...)
			if code != 0 || strings.Count(stderr, "warning: "+strings.TrimPrefix(tc.want, "fatal: ")) != 2 {
				t.Fatalf("-A: exit %d, stderr:\n%s", code, stderr)
			}
		})
	}
}

func writeTestFile(t *testing.T, content string) string {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAuthCLI(t *testing.T) {
	f := newTLSCLIFixture(t)
	users := map[string]string{"alice": "a-secret-1", "bob": "b-secret-2"}
	authFile := writeTestFile(t, "# users\nalice:a-secret-1\n\nbob:b-secret-2\n")
	for _, tc := range []struct {
		name string
		args []string
		env  string
	}{
		{"env password, best mechanism", []string{"--auth-user", "alice"}, "a-secret-1"},
		{"password file, PLAIN", []string{"--auth", "plain", "--auth-user", "bob", "--auth-password-file", writeTestFile(t, "b-secret-2\n")}, ""},
		{"auth file round robin, CRAM-MD5", []string{"--auth", "CRAM-MD5", "--auth-file", authFile}, ""},
		{"auth file, LOGIN", []string{"--auth", "LOGIN", "--auth-file", authFile}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv(authPasswordEnv, tc.env)
			}
			srv := f.server(t, f.good, testpeer.TLSServerConfig{Users: users})
			args := append(append([]string{"-v", "-s", "2", "-m", "6", "--tls", "encrypt"}, tc.args...), srv.Addr)
			code, stderr := runCLI(t, args...)
			if code != 0 || srv.AuthOK.Load() != 6 || srv.Messages.Load() != 6 {
				t.Fatalf("exit %d, auth ok %d, messages %d\n%s", code, srv.AuthOK.Load(), srv.Messages.Load(), stderr)
			}
			for _, secret := range []string{"secret", "YS1zZWNyZXQtMQ", "Yi1zZWNyZXQtMg"} {
				if strings.Contains(stderr, secret) {
					t.Fatalf("-v shows %q:\n%s", secret, stderr)
				}
			}
			if !strings.Contains(stderr, "[credentials redacted]") || !strings.Contains(stderr, "<<< 235 2.7.0") {
				t.Fatalf("-v transcript:\n%s", stderr)
			}
		})
	}
}

func TestTLSBadCommandLines(t *testing.T) {
	t.Setenv(authPasswordEnv, "")
	os.Unsetenv(authPasswordEnv)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls", "bogus"}, `--tls: want one of none, may, encrypt, verify, secure, got "bogus"`},
		{[]string{"--tls", "encrypt", "--tls-min-version", "1.3", "--tls-max-version", "1.2"}, "--tls-min-version 1.3 is above --tls-max-version 1.2"},
		{[]string{"--tls", "encrypt", "--tls-max-version", "2"}, `--tls-max-version: want 1.0, 1.1, 1.2 or 1.3, got "2"`},
		{[]string{"--tls-ciphers", "TLS_AES_128_GCM_SHA256"}, "--tls-ciphers: TLS_AES_128_GCM_SHA256 is not a TLS 1.2 suite"},
		{[]string{"--tls-ciphers", "RC4"}, `--tls-ciphers: unknown cipher suite "RC4"`},
		{[]string{"--tls-cert", "x.pem"}, "--tls-cert and --tls-key go together"},
		{[]string{"--tls", "verify", "--tls-ca-file", "/nonexistent"}, "--tls-ca-file: open /nonexistent"},
		{[]string{"--auth", "GSSAPI"}, `--auth: want PLAIN, LOGIN or CRAM-MD5, got "GSSAPI"`},
		{[]string{"--auth", "PLAIN"}, "--auth needs credentials: --auth-user or --auth-file"},
		{[]string{"--auth-user", "alice", "--tls", "encrypt"}, "--auth-user needs a password: --auth-password-file FILE or $GSS_AUTH_PASSWORD"},
		{[]string{"--auth-file", writeTestFile(t, "alice:x\n")}, "AUTH over a connection that is not encrypted: add --tls (or --auth-insecure)"},
		{[]string{"--auth-file", writeTestFile(t, "nocolon\n"), "--tls", "may"}, "want user:password"},
		{[]string{"-o", "--tls", "may"}, "--tls may needs EHLO, and -o sends no greeting"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stderr := runCLI(t, append(tc.args, "127.0.0.1:1")...)
			if code != 2 || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 1 {
				t.Fatalf("exit %d, stderr %q, want %q", code, stderr, tc.want)
			}
		})
	}
}

package main

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
	"github.com/go-smtp-source/go-smtp-source/sink"
)

// tlsFixture is a CA with a server certificate for 127.0.0.1/localhost, a client
// certificate from the same CA and one from another CA, all as files.
type tlsFixture struct {
	caFile                    string
	serverCert, serverKey     string
	clientCert, clientKey     string
	strangerCert, strangerKey string
}

func newTLSFixture(t *testing.T) *tlsFixture {
	t.Helper()
	dir := t.TempDir()
	ca := testpeer.NewCA(t, "sink test CA")
	f := &tlsFixture{caFile: ca.WriteFile(t, dir, "ca.pem")}
	f.serverCert, f.serverKey = ca.Issue(t, testpeer.LocalhostSpec()).WriteFiles(t, dir, "server-")
	f.clientCert, f.clientKey = ca.Issue(t, testpeer.LeafSpec{CommonName: "client", Client: true}).WriteFiles(t, dir, "client-")
	other := testpeer.NewCA(t, "another CA")
	f.strangerCert, f.strangerKey = other.Issue(t, testpeer.LeafSpec{CommonName: "stranger", Client: true}).WriteFiles(t, dir, "stranger-")
	return f
}

// sourceCounters runs go-smtp-source with --json and returns its exit code, stderr and
// counters.
func runSource(t *testing.T, source string, args ...string) (int, string, map[string]int64) {
	t.Helper()
	jsonFile := filepath.Join(t.TempDir(), "run.json")
	res := testpeer.Run(t, 60*time.Second, source, append([]string{"--json", jsonFile}, args...)...)
	var doc struct {
		Counters map[string]int64 `json:"counters"`
	}
	if b, err := os.ReadFile(jsonFile); err == nil {
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("go-smtp-source --json: %v", err)
		}
	}
	return res.ExitCode, res.Stderr, doc.Counters
}

// TestTLSWithGoSMTPSource drives go-smtp-sink's STARTTLS and implicit TLS with
// go-smtp-source at every level that encrypts, TLS 1.2 and 1.3, with and without
// resumption, with client certificates, and checks both sides' counters.
func TestTLSWithGoSMTPSource(t *testing.T) {
	source := buildGoSMTPSource(t)
	f := newTLSFixture(t)
	const m = 12
	for _, tc := range []struct {
		name      string
		sinkArgs  []string
		srcArgs   []string
		handshake int64 // handshakes expected (m when every session encrypts)
		resumed   bool  // every handshake but the first resumes
		version   string
		clientCrt bool
	}{
		{"STARTTLS self-signed, encrypt, TLS 1.3", []string{"--starttls"}, []string{"--tls", "encrypt"}, m, false, "1_3", false},
		{"STARTTLS self-signed, encrypt, TLS 1.2", []string{"--starttls"}, []string{"--tls", "encrypt", "--tls-max-version", "1.2"}, m, false, "1_2", false},
		{"STARTTLS, may", []string{"--starttls"}, []string{"--tls", "may"}, m, false, "1_3", false},
		{"no STARTTLS offered, may", nil, []string{"--tls", "may"}, 0, false, "", false},
		{"STARTTLS, verify with --tls-cert", []string{"--tls-cert", f.serverCert, "--tls-key", f.serverKey}, []string{"--tls", "verify", "--tls-ca-file", f.caFile}, m, false, "1_3", false},
		{"STARTTLS, secure, localhost", []string{"--tls-cert", f.serverCert, "--tls-key", f.serverKey}, []string{"--tls", "secure", "--tls-ca-file", f.caFile, "--tls-servername", "localhost"}, m, false, "1_3", false},
		{"STARTTLS, resumed, TLS 1.3", []string{"--starttls"}, []string{"--tls", "encrypt", "--tls-resume"}, m, true, "1_3", false},
		{"STARTTLS, resumed, TLS 1.2", []string{"--starttls"}, []string{"--tls", "encrypt", "--tls-resume", "--tls-max-version", "1.2"}, m, true, "1_2", false},
		{"implicit TLS, verify, TLS 1.3", []string{"--tls-wrapper", "--tls-cert", f.serverCert, "--tls-key", f.serverKey}, []string{"--tls-wrapper", "--tls", "verify", "--tls-ca-file", f.caFile}, m, false, "1_3", false},
		{"implicit TLS, self-signed, TLS 1.2, resumed", []string{"--tls-wrapper"}, []string{"--tls-wrapper", "--tls", "encrypt", "--tls-max-version", "1.2", "--tls-resume"}, m, true, "1_2", false},
		{"client certificate, TLS 1.3", []string{"--tls-client-ca", f.caFile}, []string{"--tls", "encrypt", "--tls-cert", f.clientCert, "--tls-key", f.clientKey}, m, false, "1_3", true},
		{"client certificate, TLS 1.2, implicit", []string{"--tls-wrapper", "--tls-client-ca", f.caFile}, []string{"--tls-wrapper", "--tls", "encrypt", "--tls-max-version", "1.2", "--tls-cert", f.clientCert, "--tls-key", f.clientKey}, m, false, "1_2", true},
		{"client CA asked, no certificate given", []string{"--tls-client-ca", f.caFile}, []string{"--tls", "encrypt"}, m, false, "1_3", false},
		{"-d pipelining, TLS", []string{"--starttls"}, []string{"--tls", "encrypt", "-d", "--pipelining"}, 3, false, "1_3", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startGoSink(t, tc.sinkArgs...)
			args := append([]string{"-s", "3", "-m", "12"}, tc.srcArgs...)
			code, stderr, counters := runSource(t, source, append(args, s.Addr)...)
			if code != 0 {
				t.Fatalf("go-smtp-source exit %d:\n%s", code, stderr)
			}
			st := s.stop(t)
			if st.MessagesAccepted != m || st.TLSHandshakes != tc.handshake || st.TLSHandshakeFailures != 0 || counters["tls_handshakes"] != tc.handshake {
				t.Fatalf("sink %+v, source counters %v", st, counters)
			}
			if tc.version != "" && counters["tls_version_"+tc.version] != tc.handshake {
				t.Errorf("source counters %v: want %d at TLS %s", counters, tc.handshake, tc.version)
			}
			if v := map[string]int64{"1_2": st.TLS12, "1_3": st.TLS13}[tc.version]; tc.version != "" && v != tc.handshake {
				t.Errorf("sink: %d handshakes at TLS %s, want %d", v, tc.version, tc.handshake)
			}
			var wantResumed int64
			if tc.resumed {
				// Sessions start together, so the first few may all be full handshakes.
				if st.TLSResumed < tc.handshake-3 || st.TLSResumed != counters["tls_resumed"] {
					t.Errorf("resumed: sink %d, source %d, want at least %d", st.TLSResumed, counters["tls_resumed"], tc.handshake-3)
				}
			} else if st.TLSResumed != wantResumed || counters["tls_resumed"] != 0 {
				t.Errorf("resumed: sink %d, source %d, want 0", st.TLSResumed, counters["tls_resumed"])
			}
			want := int64(0)
			if tc.clientCrt {
				want = tc.handshake
			}
			if st.TLSClientCerts != want {
				t.Errorf("client certificates verified %d, want %d", st.TLSClientCerts, want)
			}
			wantStartTLS := tc.handshake
			if strings.Contains(strings.Join(tc.sinkArgs, " "), "--tls-wrapper") {
				wantStartTLS = 0
			}
			if st.StartTLS != wantStartTLS {
				t.Errorf("STARTTLS commands %d, want %d", st.StartTLS, wantStartTLS)
			}
		})
	}
}

// TestTLSClientCertificateRefused: with --tls-client-require, a client certificate from
// another CA (which go-smtp-source then does not send) fails the handshake on both sides.
func TestTLSClientCertificateRefused(t *testing.T) {
	source := buildGoSMTPSource(t)
	f := newTLSFixture(t)
	for _, version := range []string{"1.2", "1.3"} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			s := startGoSink(t, "--tls-client-ca", f.caFile, "--tls-client-require")
			code, stderr, _ := runSource(t, source, "-s", "1", "-m", "2", "--tls", "encrypt", "--tls-max-version", version,
				"--tls-cert", f.strangerCert, "--tls-key", f.strangerKey, s.Addr)
			if code != 1 || !strings.Contains(stderr, "fatal: ") {
				t.Fatalf("go-smtp-source exit %d:\n%s", code, stderr)
			}
			st := s.stop(t)
			if st.TLSHandshakeFailures < 1 || st.TLSHandshakes != 0 || st.MessagesAccepted != 0 {
				t.Fatalf("sink %+v", st)
			}
		})
	}
}

// TestTLSRequire: --tls-require refuses MAIL before STARTTLS with 530 5.7.0, which
// go-smtp-source at --tls none reports (fatal without -A); at --tls may it encrypts.
func TestTLSRequire(t *testing.T) {
	source := buildGoSMTPSource(t)
	s := startGoSink(t, "--tls-require")
	const refusal = "sender rejected: 530 5.7.0 Must issue a STARTTLS command first"
	code, stderr, _ := runSource(t, source, "-s", "1", "-m", "3", "--tls", "none", s.Addr)
	if code != 1 || !strings.Contains(stderr, "fatal: "+refusal) {
		t.Fatalf("--tls none: exit %d:\n%s", code, stderr)
	}
	code, stderr, _ = runSource(t, source, "-A", "-s", "1", "-m", "3", "--tls", "none", s.Addr)
	if code != 0 || strings.Count(stderr, "warning: "+refusal) != 3 {
		t.Fatalf("--tls none -A: exit %d:\n%s", code, stderr)
	}
	code, stderr, counters := runSource(t, source, "-s", "1", "-m", "3", "--tls", "may", s.Addr)
	if code != 0 || counters["tls_handshakes"] != 3 {
		t.Fatalf("--tls may: exit %d, counters %v:\n%s", code, counters, stderr)
	}
	st := s.stop(t)
	if st.TLSRequiredRefusals != 4 || st.MessagesAccepted != 3 || st.TLSHandshakes != 3 {
		t.Fatalf("sink %+v", st)
	}
}

// TestAuthWithGoSMTPSource: AUTH PLAIN, LOGIN and CRAM-MD5 over STARTTLS, accepted and
// rejected against --auth-users, and accepted as is without it.
func TestAuthWithGoSMTPSource(t *testing.T) {
	source := buildGoSMTPSource(t)
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	right := filepath.Join(dir, "right")
	wrong := filepath.Join(dir, "wrong")
	for name, content := range map[string]string{users: "alice:wonder land\nbob:b-secret\n", right: "wonder land\n", wrong: "nope\n"} {
		if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	checked := startGoSink(t, "--starttls", "--auth-users", users)
	open := startGoSink(t, "--starttls")
	var okRuns, failedRuns int64
	for _, mech := range []string{"PLAIN", "LOGIN", "CRAM-MD5"} {
		t.Run(mech, func(t *testing.T) {
			base := []string{"-s", "2", "-m", "4", "--tls", "encrypt", "--auth", mech, "--auth-user", "alice"}
			code, stderr, _ := runSource(t, source, append(base, "--auth-password-file", right, checked.Addr)...)
			if code != 0 {
				t.Fatalf("right password: exit %d\n%s", code, stderr)
			}
			okRuns += 4
			code, stderr, _ = runSource(t, source, append(base, "--auth-password-file", wrong, checked.Addr)...)
			if code != 1 || !strings.Contains(stderr, "fatal: AUTH "+mech+" rejected: 535 5.7.8 Error: authentication failed") {
				t.Fatalf("wrong password: exit %d\n%s", code, stderr)
			}
			failedRuns++ // one session, then the fatal error ends the run
			code, stderr, _ = runSource(t, source, append(base, "--auth-password-file", wrong, open.Addr)...)
			if code != 0 {
				t.Fatalf("without --auth-users: exit %d\n%s", code, stderr)
			}
		})
	}
	st := checked.stop(t)
	if st.AuthSucceeded != okRuns || st.AuthFailed < failedRuns || st.MessagesAccepted != okRuns {
		t.Errorf("checked sink %+v", st)
	}
	if st := open.stop(t); st.AuthSucceeded != 12 || st.AuthFailed != 0 {
		t.Errorf("open sink %+v", st)
	}
}

// TestStartTLSInjectionRefused: a command pipelined behind STARTTLS in plaintext is
// refused (CVE-2011-0411): 554 instead of the 220, and the connection closes.
func TestStartTLSInjectionRefused(t *testing.T) {
	s := startGoSink(t, "--starttls")
	conn, err := net.DialTimeout("tcp", s.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	readReply := func() string {
		var all string
		for i := 0; i < 50; i++ {
			line, err := r.ReadString('\n')
			all += line
			if err != nil || len(line) < 4 || line[3] == ' ' {
				return all
			}
		}
		return all
	}
	readReply() // banner
	if _, err := conn.Write([]byte("EHLO x\r\n")); err != nil {
		t.Fatal(err)
	}
	if ehlo := readReply(); !strings.Contains(ehlo, "250-STARTTLS\r\n") {
		t.Fatalf("EHLO reply %q", ehlo)
	}
	if _, err := conn.Write([]byte("STARTTLS\r\nMAIL FROM:<evil@example.com>\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := readReply(); !strings.HasPrefix(got, "554 5.5.1 ") || !strings.Contains(got, "STARTTLS injection") {
		t.Fatalf("reply to STARTTLS with a pipelined command: %q", got)
	}
	if line, err := r.ReadString('\n'); err == nil {
		t.Fatalf("connection still open after the refusal: %q", line)
	}
	st := s.stop(t)
	if st.TLSInjections != 1 || st.Transactions != 0 || st.TLSHandshakes != 0 {
		t.Fatalf("sink %+v", st)
	}
}

// TestTLSBadFlags checks the TLS flags' errors.
func TestTLSBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls-cert", "x.pem", "127.0.0.1:25", "10"}, "--tls-cert and --tls-key go together"},
		{[]string{"--tls-cert", "/nonexistent", "--tls-key", "/nonexistent", "127.0.0.1:25", "10"}, "--tls-cert/--tls-key: open /nonexistent"},
		{[]string{"--tls-wrapper", "--tls-require", "127.0.0.1:25", "10"}, "--tls-require is for STARTTLS"},
		{[]string{"--tls-client-ca", "/nonexistent", "127.0.0.1:25", "10"}, "--tls-client-ca: open /nonexistent"},
		{[]string{"--tls-client-require", "127.0.0.1:25", "10"}, "--tls-client-require needs --tls-client-ca"},
	} {
		_, err := parseArgs("go-smtp-sink", tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
	o, err := parseArgs("go-smtp-sink", []string{"--tls-require", "127.0.0.1:25", "10"})
	if err != nil || o.cfg.TLS == nil || !o.cfg.RequireTLS || o.cfg.ImplicitTLS {
		t.Fatalf("--tls-require: %v %+v", err, o)
	}
	if _, err := sink.NewServer(sink.Config{Listen: "tcp://127.0.0.1:0", ImplicitTLS: true}); err == nil {
		t.Error("implicit TLS without a configuration accepted")
	}
}

// TestTLSVerboseTrace: -v names the negotiated version and cipher, and resumption.
func TestTLSVerboseTrace(t *testing.T) {
	source := buildGoSMTPSource(t)
	s := startGoSink(t, "-v", "--starttls")
	code, stderr, _ := runSource(t, source, "-s", "1", "-m", "2", "--tls", "encrypt", "--tls-resume", s.Addr)
	if code != 0 {
		t.Fatalf("go-smtp-source exit %d:\n%s", code, stderr)
	}
	s.stop(t)
	trace := s.Stderr.String()
	// The cipher suite depends on the CPU (AES-GCM with AES instructions, else ChaCha20).
	for _, want := range []string{": STARTTLS\n", ": TLS established: TLS 1.3 TLS_", " (resumed)\n"} {
		if !strings.Contains(trace, want) {
			t.Errorf("-v trace lacks %q:\n%s", want, trace)
		}
	}
}

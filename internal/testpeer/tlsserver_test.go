package testpeer

import (
	"crypto/tls"
	"strings"
	"testing"
)

// TestTLSServerWithSwaks checks the test server against an independent client: swaks
// with STARTTLS, implicit TLS and each AUTH mechanism. go-smtp-source's own AUTH code is
// tested against this server, so a shared misreading of RFC 4954 or CRAM-MD5 would show
// here.
func TestTLSServerWithSwaks(t *testing.T) {
	Require(t, "swaks")
	RequirePerl(t, "Net::SSLeay")
	ca := NewCA(t, "swaks CA")
	leaf := ca.Issue(t, LocalhostSpec())
	users := map[string]string{"alice": "wonder land"}
	for _, tc := range []struct {
		name     string
		implicit bool
		args     []string
		authOK   int64
	}{
		{"STARTTLS", false, []string{"--tls"}, 0},
		{"implicit", true, []string{"--tlsc"}, 0},
		{"PLAIN", false, []string{"--tls", "--auth", "PLAIN", "--auth-user", "alice", "--auth-password", "wonder land"}, 1},
		{"LOGIN", false, []string{"--tls", "--auth", "LOGIN", "--auth-user", "alice", "--auth-password", "wonder land"}, 1},
		{"CRAM-MD5", false, []string{"--tls", "--auth", "CRAM-MD5", "--auth-user", "alice", "--auth-password", "wonder land"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := TLSServerConfig{TLS: &tls.Config{Certificates: []tls.Certificate{leaf.TLS}}, Implicit: tc.implicit}
			if tc.authOK > 0 {
				cfg.Users = users // then AUTH is required for MAIL
			}
			srv := StartTLSServer(t, cfg)
			args := append([]string{"--to", "rcpt@example.com", "--from", "from@example.com"}, tc.args...)
			res := Swaks(t, srv.Addr, args...)
			if res.ExitCode != 0 || srv.Messages.Load() != 1 || srv.Handshakes.Load() != 1 || srv.AuthOK.Load() != tc.authOK {
				t.Fatalf("swaks %v: messages %d handshakes %d auth %d\n%v", args, srv.Messages.Load(), srv.Handshakes.Load(), srv.AuthOK.Load(), res)
			}
			if tc.authOK == 1 && !strings.Contains(res.Stdout, "235 2.7.0 Authentication successful") {
				t.Fatalf("transcript:\n%s", res.Stdout)
			}
		})
	}
}

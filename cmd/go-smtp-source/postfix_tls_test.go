package main

import (
	"testing"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// TestTLSAgainstPostfixSMTPD: a real MTA's STARTTLS — Postfix's smtpd from a throwaway
// configuration, with a certificate this test made — takes 1,000 messages at -s 50 with
// --tls encrypt (a handshake per message), 300 over ten sessions (-d: OpenSSL's tickets and
// many records per session), and 50 more with --tls verify, -d and resumption (the client
// keeps the tickets).
func TestTLSAgainstPostfixSMTPD(t *testing.T) {
	ca := testpeer.NewCA(t, "postfix test CA")
	leaf := ca.Issue(t, testpeer.LocalhostSpec())
	smtpd := testpeer.StartPostfixSMTPD(t, leaf.CertPEM, leaf.KeyPEM)
	caFile := ca.WriteFile(t, t.TempDir(), "ca.pem")
	for _, args := range [][]string{
		{"-s", "50", "-m", "300", "--tls", "encrypt"}, // 50 handshakes at once, six times
		{"-s", "10", "-m", "300", "-d", "--tls", "encrypt"},
		{"-s", "10", "-m", "50", "-d", "--pipelining", "--tls", "verify", "--tls-ca-file", caFile, "--tls-resume"},
	} {
		code, stderr := runCLI(t, append(append(args, "--timeout", "30s"), smtpd.Addr)...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, stderr)
		}
		if got := summary(t, stderr); got[1] != got[0] {
			t.Fatalf("%v: not all accepted: %v\n%s", args, got, stderr)
		}
	}
}

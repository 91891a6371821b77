package sink

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tlsTestConfig is a TLS configuration with a self-signed certificate.
func tlsTestConfig(t testing.TB) *tls.Config {
	t.Helper()
	cert, err := SelfSigned("smtp-sink", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}}
}

// feedAll feeds input in one piece, returning the replies and the last action.
func feedAll(s *Session, input string) (string, Result) {
	res, out := s.Feed([]byte(input), nil)
	return string(out), res
}

func TestSessionStartTLS(t *testing.T) {
	cfg := tlsTestConfig(t)
	e := newTestEnv(t, func(c *Config) { c.TLS = cfg })
	s := newSession(e, "127.0.0.1")
	out, res := feedAll(s, "EHLO x\r\nMAIL FROM:<a>\r\nSTARTTLS\r\nEHLO again\r\n")
	if !strings.Contains(out, "250-STARTTLS\r\n") || !strings.HasSuffix(out, replyMailOK+replyStartTLS) {
		t.Fatalf("replies %q", out)
	}
	if res.Action != ActionStartTLS || res.Consumed != len("EHLO x\r\nMAIL FROM:<a>\r\nSTARTTLS\r\n") {
		t.Fatalf("result %+v: want ActionStartTLS with the input after STARTTLS left over", res)
	}
	// After the handshake: the transaction was forgotten, STARTTLS is neither announced
	// nor accepted again.
	out, res = feedAll(s, "EHLO again\r\nRCPT TO:<b>\r\nSTARTTLS\r\nMAIL FROM:<a>\r\n")
	if strings.Contains(out, "STARTTLS") || !strings.Contains(out, replyNeedMail+replyTLSActive+replyMailOK) || res.Action != ActionContinue {
		t.Fatalf("after TLS: %q %+v", out, res)
	}
	if st := e.stats.Snapshot(); st.StartTLS != 1 {
		t.Errorf("starttls counter %d", st.StartTLS)
	}

	s = newSession(e, "127.0.0.1")
	out, _ = feedAll(s, "STARTTLS now\r\n")
	if !strings.HasSuffix(out, replyStartTLSSyntax) {
		t.Errorf("STARTTLS with an argument: %q", out)
	}
}

func TestSessionStartTLSNotOffered(t *testing.T) {
	for name, mod := range map[string]func(*Config){
		"no TLS":       nil,
		"implicit TLS": func(c *Config) { c.TLS, c.ImplicitTLS = tlsTestConfig(t), true },
	} {
		e := newTestEnv(t, mod)
		out, _ := feedAll(newSession(e, "127.0.0.1"), "EHLO x\r\nSTARTTLS\r\n")
		if strings.Contains(out, "STARTTLS") || !strings.HasSuffix(out, replyUnknown) {
			t.Errorf("%s: %q", name, out)
		}
	}
}

func TestSessionRequireTLS(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.TLS, c.RequireTLS = tlsTestConfig(t), true })
	s := newSession(e, "127.0.0.1")
	out, res := feedAll(s, "EHLO x\r\nMAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\nAUTH PLAIN AHVzZXIAcGFzcw==\r\nNOOP\r\nRSET\r\nSTARTTLS\r\n")
	want := strings.Repeat(replyTLSRequired, 4) + replyOK + replyRsetOK + replyStartTLS
	if !strings.HasSuffix(out, want) || res.Action != ActionStartTLS {
		t.Fatalf("before TLS: %q %+v", out, res)
	}
	out, _ = feedAll(s, "EHLO x\r\nMAIL FROM:<a>\r\n")
	if !strings.HasSuffix(out, replyMailOK) {
		t.Fatalf("after TLS: %q", out)
	}
	if st := e.stats.Snapshot(); st.TLSRequiredRefusals != 4 {
		t.Errorf("refusals %d, want 4", st.TLSRequiredRefusals)
	}
	// Implicit TLS: encrypted from the start.
	e = newTestEnv(t, func(c *Config) { c.TLS, c.RequireTLS, c.ImplicitTLS = tlsTestConfig(t), true, true })
	if out, _ := feedAll(newSession(e, "127.0.0.1"), "MAIL FROM:<a>\r\n"); !strings.HasSuffix(out, replyMailOK) {
		t.Errorf("implicit TLS: %q", out)
	}
}

func cramResponse(challenge334, user, pass string) string {
	ch, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(strings.TrimPrefix(challenge334, "334 "), "\r\n"))
	if err != nil {
		return "bad"
	}
	mac := hmac.New(md5.New, []byte(pass))
	mac.Write(ch)
	return base64.StdEncoding.EncodeToString([]byte(user + " " + hex.EncodeToString(mac.Sum(nil))))
}

func TestSessionCRAMMD5(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.AuthUsers = map[string]string{"alice": "wonderland"} })
	for _, tc := range []struct {
		user, pass string
		want       string
	}{
		{"alice", "wonderland", replyAuthOK},
		{"alice", "wrong", replyAuthFailed},
		{"bob", "wonderland", replyAuthFailed},
	} {
		s := newSession(e, "127.0.0.1")
		out, _ := feedAll(s, "AUTH CRAM-MD5\r\n")
		challenge := strings.TrimPrefix(out, "220 smtp-sink ESMTP\r\n")
		ch, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(strings.TrimPrefix(challenge, "334 ")))
		if !strings.HasPrefix(challenge, "334 ") || !strings.HasPrefix(string(ch), "<") || !strings.HasSuffix(string(ch), "@smtp-sink>") {
			t.Fatalf("challenge %q (%q)", challenge, ch)
		}
		out, _ = feedAll(s, cramResponse(challenge, tc.user, tc.pass)+"\r\n")
		if out != tc.want {
			t.Errorf("%s/%s: %q, want %q", tc.user, tc.pass, out, tc.want)
		}
	}
	s := newSession(e, "127.0.0.1")
	if out, _ := feedAll(s, "AUTH CRAM-MD5 xyz\r\n"); !strings.HasSuffix(out, replyAuthSyntax) {
		t.Errorf("CRAM-MD5 with an initial response: %q", out)
	}
	// Without --auth-users any well-formed response is accepted.
	e = newTestEnv(t, nil)
	s = newSession(e, "127.0.0.1")
	out, _ := feedAll(s, "AUTH CRAM-MD5\r\n")
	out, _ = feedAll(s, cramResponse(strings.TrimPrefix(out, "220 smtp-sink ESMTP\r\n"), "anyone", "anything")+"\r\n")
	if out != replyAuthOK {
		t.Errorf("any user: %q", out)
	}
	if st := e.stats.Snapshot(); st.AuthSucceeded != 1 {
		t.Errorf("auth counter %d", st.AuthSucceeded)
	}
}

func TestDumpProtocolOverTLS(t *testing.T) {
	file := filepath.Join(t.TempDir(), "dump")
	e := newTestEnv(t, func(c *Config) { c.TLS, c.DumpFile = tlsTestConfig(t), file })
	s := newSession(e, "127.0.0.1")
	msg := "MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n"
	feedAll(s, "EHLO x\r\nSTARTTLS\r\n")
	feedAll(s, "EHLO x\r\n"+msg+"AUTH PLAIN AHVzZXIAcGFzcw==\r\n"+msg)
	if err := e.dump.close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"X-Client-Proto: ESMTPS\n", "(smtp-sink) with ESMTPS id", "X-Client-Proto: ESMTPSA\n", "(smtp-sink) with ESMTPSA id"} {
		if !strings.Contains(string(got), want) {
			t.Errorf("dump lacks %q:\n%s", want, got)
		}
	}
}

func TestSessionStartTLSLMTP(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.TLS, c.LMTP = tlsTestConfig(t), true })
	s := newSession(e, "127.0.0.1")
	out, res := feedAll(s, "LHLO x\r\nSTARTTLS\r\n")
	if !strings.Contains(out, "250-STARTTLS\r\n") || res.Action != ActionStartTLS {
		t.Fatalf("before TLS: %q %+v", out, res)
	}
	out, _ = feedAll(s, "LHLO x\r\n")
	if strings.Contains(out, "STARTTLS") || !strings.HasPrefix(out, "250-smtp-sink\r\n") {
		t.Fatalf("after TLS: %q", out)
	}
}

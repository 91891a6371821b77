package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// TestSwaksExtensions sends one message per extension with swaks and checks both the
// dialogue and what the sink recorded.
func TestSwaksExtensions(t *testing.T) {
	dir := t.TempDir()
	dump := filepath.Join(dir, "dump")
	users := filepath.Join(dir, "users")
	if err := os.WriteFile(users, []byte("alice:wonderland\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startGoSink(t, "-D", dump, "--auth-users", users, "--unique-header", "X-Test-Id")
	tests := []struct {
		name     string
		args     []string
		exit     int
		contains []string
	}{
		{"PIPELINING", []string{"--pipeline", "--to", "a@example.com,b@example.com", "--header", "X-Test-Id: 1"}, 0,
			[]string{"250-PIPELINING", " -> MAIL FROM:", " -> RCPT TO:<b@example.com>", "250 2.0.0 Ok: queued as "}},
		{"AUTH PLAIN", []string{"--auth", "PLAIN", "--auth-user", "alice", "--auth-password", "wonderland", "--to", "c@example.com", "--header", "X-Test-Id: 2"}, 0,
			[]string{"250-AUTH PLAIN LOGIN", "235 2.7.0 Authentication successful", "250 2.0.0 Ok: queued as "}},
		{"AUTH LOGIN", []string{"--auth", "LOGIN", "--auth-user", "alice", "--auth-password", "wonderland", "--to", "d@example.com", "--header", "X-Test-Id: 3"}, 0,
			[]string{"334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6", "235 2.7.0 Authentication successful"}},
		{"AUTH wrong password", []string{"--auth", "LOGIN", "--auth-user", "alice", "--auth-password", "nope", "--to", "e@example.com"}, 28,
			[]string{"535 5.7.8 Error: authentication failed"}},
		{"8BITMIME body", []string{"--to", "f@example.com", "--header", "X-Test-Id: 4", "--body", "caf\xc3\xa9 na\xc3\xafve 8-bit"}, 0,
			[]string{"250-8BITMIME", "250 2.0.0 Ok: queued as "}},
		{"SMTPUTF8 address", []string{"--to", "j\xc3\xb6rg@example.com", "--from", "\xc3\xa9@example.com", "--header", "X-Test-Id: 5"}, 0,
			[]string{"250-SMTPUTF8", "250 2.1.5 Ok", "250 2.0.0 Ok: queued as "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := testpeer.Swaks(t, s.Addr, tt.args...)
			if res.ExitCode != tt.exit {
				t.Fatalf("swaks exit %d, want %d: %v", res.ExitCode, tt.exit, res)
			}
			for _, want := range tt.contains {
				if !strings.Contains(res.Stdout, want) {
					t.Errorf("swaks transcript lacks %q:\n%s", want, res.Stdout)
				}
			}
		})
	}
	st := s.stop(t)
	if st.MessagesAccepted != 5 || st.AuthSucceeded != 2 || st.AuthFailed != 1 || st.Recipients != 6 {
		t.Errorf("counters %+v", st)
	}
	if st.Unique == nil || st.Unique.Distinct != 5 || st.Unique.Duplicates != 0 || st.Unique.Missing != 0 {
		t.Errorf("unique X-Test-Id %+v, want 5 distinct", st.Unique)
	}
	b, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"X-Client-Proto: ESMTP\n", "X-Rcpt-Args: <b@example.com>\n", "caf\xc3\xa9 na\xc3\xafve 8-bit\n",
		"X-Rcpt-Args: <j\xc3\xb6rg@example.com>\n", "X-Mail-Args: <\xc3\xa9@example.com>\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("dump lacks %q", want)
		}
	}
}

// TestSwaksLMTP delivers one message over LMTP with swaks.
func TestSwaksLMTP(t *testing.T) {
	s := startGoSink(t, "-L")
	res := testpeer.Swaks(t, s.Addr, "--protocol", "LMTP", "--to", "a@example.com,b@example.com")
	if res.ExitCode != 0 || strings.Count(res.Stdout, "250 2.2.0 Ok: queued as ") != 2 || !strings.Contains(res.Stdout, " -> LHLO ") {
		t.Errorf("swaks LMTP: %v", res)
	}
	if st := s.stop(t); st.MessagesAccepted != 1 || st.Recipients != 2 {
		t.Errorf("counters %+v", st)
	}
}

// TestSwaksFaults runs swaks against each injected fault.
func TestSwaksFaults(t *testing.T) {
	tests := []struct {
		name     string
		sinkOpts []string
		exit     int
		contains []string
		absent   []string
	}{
		{"-f rcpt: hard reject", []string{"-f", "rcpt"}, 24, []string{"<** 500 5.3.0 Error: command failed"}, []string{"250-PIPELINING"}},
		{"-r mail: soft reject", []string{"-r", "mail"}, 23, []string{"<** 450 4.3.0 Error: command failed"}, nil},
		{"-B reply on data", []string{"-f", "data", "-B", "554 5.7.1 no thanks"}, 25, []string{"<** 554 5.7.1 no thanks"}, nil},
		{"-r .: end of data deferred", []string{"-r", "."}, 26, []string{"<** 450 4.3.0 Error: command failed"}, nil},
		{"-Q rcpt: 421", []string{"-Q", "rcpt"}, 24, []string{"<** 421 4.0.0 Server closing connection"}, nil},
		{"-q data: silent close", []string{"-q", "data"}, 6, []string{" -> DATA"}, []string{"354 "}},
		{"-f connect: rejected greeting", []string{"-f", "connect"}, 21, []string{"<** 500 5.3.0 Error: command failed"}, nil},
		{"-A 0.2: abort after DATA", []string{"-A", "0.2"}, 26, []string{"354 End data", "<** 550 This violates SMTP"}, nil},
		{"-e: no ESMTP", []string{"-e"}, 0, []string{"<-  220 smtp-sink\n", "<** 500 5.5.1 Error: unknown command", " -> HELO swaks.test"}, nil},
		{"-W rcpt with delay, still accepted", []string{"-W", "rcpt:0.05", "--delay", "dot=20ms"}, 0, []string{"250 2.0.0 Ok: queued as "}, nil},
		{"-w and -H: DATA reply and first read delayed", []string{"-w", "0.05", "-H", "0.05"}, 0, []string{"354 End data", "250 2.0.0 Ok: queued as "}, nil},
		{"-P: PIX banner", []string{"-P"}, 0, []string{"<-  220 ********", "<** 500 5.5.1 Error: unknown command"}, nil},
		{"--delay connect with probability", []string{"--delay", "connect=30ms:100%"}, 0, []string{"<-  220 smtp-sink ESMTP"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := startGoSink(t, tt.sinkOpts...)
			res := testpeer.Swaks(t, s.Addr, "--to", "x@example.com")
			if res.ExitCode != tt.exit {
				t.Errorf("swaks exit %d, want %d: %v", res.ExitCode, tt.exit, res)
			}
			for _, want := range tt.contains {
				if !strings.Contains(res.Stdout+res.Stderr, want) {
					t.Errorf("swaks transcript lacks %q:\n%s%s", want, res.Stdout, res.Stderr)
				}
			}
			for _, bad := range tt.absent {
				if strings.Contains(res.Stdout, bad) {
					t.Errorf("swaks transcript has %q:\n%s", bad, res.Stdout)
				}
			}
			st := s.stop(t)
			if st.FaultsInjected == 0 && tt.exit != 0 && !strings.HasPrefix(tt.name, "-A") {
				t.Errorf("no fault counted: %+v", st)
			}
			if strings.Contains(tt.name, "delay") && st.DelaysInjected == 0 {
				t.Errorf("no delay counted: %+v", st)
			}
		})
	}
}

// TestSwaksTLS uses swaks as a second, independent client of go-smtp-sink's STARTTLS,
// implicit TLS (--tlsc), --tls-require and AUTH PLAIN, LOGIN and CRAM-MD5 over TLS.
func TestSwaksTLS(t *testing.T) {
	testpeer.Require(t, "swaks")
	testpeer.RequirePerl(t, "Net::SSLeay") // every case counts in the totals checked at the end
	users := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(users, []byte("alice:wonder land\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	starttls := startGoSink(t, "--tls-require", "--auth-users", users)
	implicit := startGoSink(t, "--tls-wrapper", "--auth-users", users)
	auth := func(mech, pass string) []string {
		return []string{"--auth", mech, "--auth-user", "alice", "--auth-password", pass}
	}
	tests := []struct {
		name     string
		sink     *goSink
		args     []string
		exit     int
		contains []string
	}{
		{"STARTTLS", starttls, []string{"--tls"}, 0,
			[]string{"250-STARTTLS", "220 2.0.0 Ready to start TLS", "TLS started with cipher", "250 2.0.0 Ok: queued as "}},
		{"no STARTTLS: --tls-require refuses MAIL", starttls, nil, 23,
			[]string{"530 5.7.0 Must issue a STARTTLS command first"}},
		{"implicit TLS", implicit, []string{"--tlsc"}, 0,
			[]string{"TLS started with cipher", "220 smtp-sink ESMTP", "250 2.0.0 Ok: queued as "}},
		{"STARTTLS AUTH PLAIN", starttls, append([]string{"--tls"}, auth("PLAIN", "wonder land")...), 0,
			[]string{"235 2.7.0 Authentication successful", "250 2.0.0 Ok: queued as "}},
		{"STARTTLS AUTH LOGIN", starttls, append([]string{"--tls"}, auth("LOGIN", "wonder land")...), 0,
			[]string{"334 VXNlcm5hbWU6", "235 2.7.0 Authentication successful"}},
		{"STARTTLS AUTH CRAM-MD5", starttls, append([]string{"--tls"}, auth("CRAM-MD5", "wonder land")...), 0,
			[]string{"250-AUTH PLAIN LOGIN CRAM-MD5", "235 2.7.0 Authentication successful"}},
		{"implicit AUTH CRAM-MD5 wrong password", implicit, append([]string{"--tlsc"}, auth("CRAM-MD5", "wonderland")...), 28,
			[]string{"535 5.7.8 Error: authentication failed"}},
		{"implicit AUTH PLAIN", implicit, append([]string{"--tlsc"}, auth("PLAIN", "wonder land")...), 0,
			[]string{"235 2.7.0 Authentication successful", "250 2.0.0 Ok: queued as "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := testpeer.Swaks(t, tt.sink.Addr, append([]string{"--to", "rcpt@example.com", "--from", "from@example.com"}, tt.args...)...)
			if res.ExitCode != tt.exit {
				t.Fatalf("swaks exit %d, want %d: %v", res.ExitCode, tt.exit, res)
			}
			for _, want := range tt.contains {
				if !strings.Contains(res.Stdout, want) {
					t.Errorf("swaks transcript lacks %q:\n%s", want, res.Stdout)
				}
			}
		})
	}
	if st := starttls.stop(t); st.MessagesAccepted != 4 || st.TLSHandshakes != 4 || st.AuthSucceeded != 3 || st.TLSRequiredRefusals != 1 {
		t.Errorf("STARTTLS sink %+v", st)
	}
	if st := implicit.stop(t); st.MessagesAccepted != 2 || st.TLSHandshakes != 3 || st.AuthSucceeded != 1 || st.AuthFailed != 1 || st.StartTLS != 0 {
		t.Errorf("implicit sink %+v", st)
	}
}

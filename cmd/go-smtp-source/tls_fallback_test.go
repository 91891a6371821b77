package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
	"github.com/go-smtp-source/go-smtp-source/sink"
)

// startStatsSink runs go-smtp-sink with opts and --stats; stop returns its final counters.
func startStatsSink(t *testing.T, opts ...string) (addr string, stop func() sink.Snapshot) {
	t.Helper()
	stats := filepath.Join(t.TempDir(), "sink-stats.json")
	p, addr := startGoSink(t, append([]string{"--stats", stats}, opts...)...)
	return addr, func() sink.Snapshot {
		t.Helper()
		return stopGoSinkStats(t, p, stats)
	}
}

// At --tls may a failed TLS handshake does not fail the message: the session closes the
// connection and does the message again in plaintext on a new one, as Postfix does
// (postconf(5), smtp_tls_security_level may: "When TLS handshakes fail, the connection is
// retried with TLS disabled"). Every message reaches the sink, the run exits 0, each
// failed handshake is one warning and is counted under its key in the report. With -d
// the plaintext connection carries the session's following messages.
func TestTLSMayPlaintextFallback(t *testing.T) {
	ca := testpeer.NewCA(t, "fallback CA")
	caFile := ca.WriteFile(t, t.TempDir(), "ca.pem")
	// go-smtp-sink speaks TLS 1.2 and 1.3 (Go's defaults): a client at 1.0-1.1 fails.
	oldTLS := []string{"--tls-min-version", "1.0", "--tls-max-version", "1.1"}
	const versionWarning = "warning: TLS handshake failed (protocol_version): remote error: tls: protocol version not supported; retrying in plaintext"
	for _, tc := range []struct {
		name     string
		sinkOpts []string
		args     []string
		failures int    // failed handshakes: one per connection that tried TLS
		key      string // the error key; "": any (the TLS 1.3 failure's depends on timing)
		warning  string // the warning, or its end
	}{
		{"a connection per message", nil, append([]string{"-s", "2", "-m", "10"}, oldTLS...), 10,
			"tls_handshake:tls:protocol_version", versionWarning},
		{"-d", nil, append([]string{"-d", "-s", "2", "-m", "10"}, oldTLS...), 2,
			"tls_handshake:tls:protocol_version", versionWarning},
		{"-d --pipelining", nil, append([]string{"-d", "--pipelining", "-s", "3", "-m", "10"}, oldTLS...), 3,
			"tls_handshake:tls:protocol_version", versionWarning},
		// TLS 1.2: the server refuses the missing client certificate in the handshake;
		// TLS 1.3: only after the client's part of it is over, when the client reads the
		// reply to its EHLO. Both are failures to set up TLS.
		{"client certificate refused, TLS 1.2", []string{"--tls-client-ca", caFile, "--tls-client-require"},
			[]string{"-s", "2", "-m", "4", "--tls-max-version", "1.2"}, 4, "tls_handshake:tls:handshake_failure",
			"warning: TLS handshake failed (handshake_failure): remote error: tls: handshake failure; retrying in plaintext"},
		// The client learns it from the server's alert when it reads the reply to its
		// EHLO, at the close if that comes first, or only from the close: the error is
		// ehlo_tls:tls:certificate_required, tls_handshake:tls:certificate_required or
		// ehlo_tls:net:other, as without the fallback.
		{"client certificate refused, TLS 1.3", []string{"--tls-client-ca", caFile, "--tls-client-require"},
			[]string{"-d", "-s", "2", "-m", "4"}, 2, "", "; retrying in plaintext"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, stop := startStatsSink(t, append([]string{"--starttls"}, tc.sinkOpts...)...)
			out := filepath.Join(t.TempDir(), "r.json")
			args := append(append([]string{"--tls", "may", "--json", out}, tc.args...), addr)
			code, stderr := runCLI(t, args...)
			snap := stop()
			sum := summary(t, stderr)
			m := int64(sum[0])
			if code != 0 || sum != [5]int{int(m), int(m), 0, 0, 0} {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			if snap.MessagesAccepted != m || snap.StartTLS != int64(tc.failures) {
				t.Fatalf("sink: %d messages accepted (want %d), %d STARTTLS (want %d)", snap.MessagesAccepted, m, snap.StartTLS, tc.failures)
			}
			if tc.key == "tls_handshake:tls:protocol_version" && snap.TLSHandshakeFailures != int64(tc.failures) {
				t.Fatalf("sink: %d handshake failures, want %d", snap.TLSHandshakeFailures, tc.failures)
			}
			// Warnings of one key: a few a second shown, the rest counted ("N more KEY
			// warnings in the last second, not shown").
			warnings, shown, counted := 0, 0, 0
			for _, l := range strings.Split(stderr, "\n") {
				var n int
				var key string
				switch {
				case strings.HasPrefix(l, "go-smtp-source: warning: ") && strings.HasSuffix(l, tc.warning):
					warnings++
					shown++
				case strings.HasPrefix(l, "go-smtp-source: warning: "):
					if _, err := fmt.Sscanf(strings.TrimPrefix(l, "go-smtp-source: warning: "), "%d more %s warnings", &n, &key); err == nil {
						warnings += n
						counted++
					}
				}
			}
			if warnings != tc.failures || strings.Count(stderr, "warning:") != shown+counted {
				t.Fatalf("%d warnings %q, want %d:\n%s", warnings, tc.warning, tc.failures, stderr)
			}
			if strings.Contains(stderr, "fatal:") {
				t.Fatalf("fatal:\n%s", stderr)
			}
			// The report: the failed handshakes under their key, in the text and the JSON.
			row := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(tc.key) + `\s+` + strconv.Itoa(tc.failures) + `\s`)
			if tc.key != "" && !row.MatchString(stderr) {
				t.Fatalf("no error row %q × %d:\n%s", tc.key, tc.failures, stderr)
			}
			r := readReport(t, out)
			var reported int64
			for _, e := range r.Errors {
				if tc.key != "" && e.Key != tc.key {
					t.Fatalf("error %+v", e)
				}
				reported += e.Count
			}
			if r.Totals.Planned != m || r.Totals.Accepted != m || reported != int64(tc.failures) {
				t.Fatalf("report totals %+v, errors %+v", r.Totals, r.Errors)
			}
			// One plaintext connection follows each failed one; with -d it carries the
			// session's other messages (the sink saw STARTTLS only tc.failures times).
			if want := int64(tc.failures) * 2; r.Counters["sessions_opened"] != want {
				t.Fatalf("%d connections, want %d", r.Counters["sessions_opened"], want)
			}
		})
	}
}

// The fallback is --tls may's alone: at encrypt (and above) the same failure stays fatal,
// or a failed message under -A; implicit TLS has no plaintext to fall back to (--tls-wrapper
// makes may encrypt); and with AUTH credentials there is none either, as in Postfix.
func TestTLSNoPlaintextFallback(t *testing.T) {
	const fatal = "go-smtp-source: fatal: TLS handshake failed (protocol_version): remote error: tls: protocol version not supported"
	oldTLS := []string{"--tls-min-version", "1.0", "--tls-max-version", "1.1"}
	for _, tc := range []struct {
		name     string
		sinkOpts []string
		args     []string
	}{
		{"encrypt", []string{"--starttls"}, []string{"--tls", "encrypt"}},
		{"may with AUTH", []string{"--starttls"}, []string{"--tls", "may", "--auth-user", "alice"}},
		{"may with --tls-wrapper", []string{"--tls-wrapper"}, []string{"--tls", "may", "--tls-wrapper"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(authPasswordEnv, "secret")
			addr, stop := startStatsSink(t, tc.sinkOpts...)
			args := append(append(append([]string{"-s", "1", "-m", "3"}, oldTLS...), tc.args...), addr)
			code, stderr := runCLI(t, args...)
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if code != 1 || lines[0] != fatal || summary(t, stderr)[1] != 0 || strings.Contains(stderr, "plaintext") {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			// -A: every message fails, one warning each, no retry.
			code, stderr = runCLI(t, append([]string{"-A"}, args...)...)
			if code != 0 || summary(t, stderr) != [5]int{3, 0, 0, 3, 0} ||
				strings.Count(stderr, "warning: TLS handshake failed (protocol_version)") != 3 || strings.Contains(stderr, "plaintext") {
				t.Fatalf("-A: exit %d, stderr:\n%s", code, stderr)
			}
			if snap := stop(); snap.MessagesAccepted != 0 {
				t.Fatalf("sink accepted %d", snap.MessagesAccepted)
			}
		})
	}
}

package testpeer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Log is what Postfix has logged so far (its maillog_file in the configuration
// directory).
func (p *PostfixSMTPD) Log(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.Dir, "maillog"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatalf("postfix log: %v", err)
	}
	return string(b)
}

// WaitLog waits, up to timeout, until Postfix's log holds n lines containing every one of
// the substrings, and returns those lines; it fails the test with the log when it does not.
func (p *PostfixSMTPD) WaitLog(t testing.TB, timeout time.Duration, n int, substrings ...string) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var found []string
		log := p.Log(t)
		for _, line := range strings.Split(log, "\n") {
			if containsAll(line, substrings) {
				found = append(found, line)
			}
		}
		if len(found) >= n {
			return found
		}
		if time.Now().After(deadline) {
			t.Fatalf("postfix log: %d lines with %q, want %d; the log:\n%s", len(found), substrings, n, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

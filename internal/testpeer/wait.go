package testpeer

import (
	"testing"
	"time"
)

// Eventually waits until cond holds, checking it every poll, at most within; when it
// does not hold in time the test fails, naming what it waited for. cond is checked once
// more at the deadline, so a slow machine that lets the condition come true just then
// does not fail. It must be called from the test's goroutine.
func Eventually(t testing.TB, within, poll time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Poll(within, poll, cond) {
		t.Fatalf("timed out after %v waiting for %s", within, what)
	}
}

// Poll is Eventually without a test: it reports whether cond held within the time.
func Poll(within, poll time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return true
		}
		if !time.Now().Before(deadline) {
			return false
		}
		time.Sleep(min(poll, max(time.Until(deadline), 0)))
	}
}

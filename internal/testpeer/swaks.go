package testpeer

import (
	"testing"
	"time"
)

// Swaks runs swaks (Debian package swaks) against server ("host:port") with the given
// extra arguments, bounded to 30 seconds. Its transcript is in Result.Stdout.
func Swaks(t testing.TB, server string, args ...string) Result {
	t.Helper()
	bin := Require(t, "swaks")
	all := append([]string{"--server", server, "--timeout", "10", "--helo", "swaks.test"}, args...)
	return Run(t, 30*time.Second, bin, all...)
}

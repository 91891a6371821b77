package testpeer

import (
	"strings"
	"testing"
	"time"
)

// Swaks runs swaks (Debian package swaks) against server ("host:port") with the given
// extra arguments, bounded to 30 seconds. Its transcript is in Result.Stdout. The Perl
// modules the arguments need are checked first: without them swaks runs, prints "not
// available" and fails in a way that looks like the server's fault.
func Swaks(t testing.TB, server string, args ...string) Result {
	t.Helper()
	bin := Require(t, "swaks")
	for _, m := range swaksModules(args) {
		RequirePerl(t, m)
	}
	all := append([]string{"--server", server, "--timeout", "10", "--helo", "swaks.test"}, args...)
	return Run(t, 30*time.Second, bin, all...)
}

// swaksModules lists the Perl modules swaks loads for args (swaks --support names them).
func swaksModules(args []string) []string {
	var mods []string
	for i, a := range args {
		switch {
		case strings.HasPrefix(a, "--tls") || a == "-tls" || a == "-tlsc":
			mods = append(mods, "Net::SSLeay")
		case (a == "--auth" || a == "-a") && i+1 < len(args):
			switch strings.ToUpper(args[i+1]) {
			case "CRAM-MD5":
				mods = append(mods, "Digest::MD5")
			case "CRAM-SHA1":
				mods = append(mods, "Digest::SHA")
			default:
				mods = append(mods, "MIME::Base64")
			}
		}
	}
	return mods
}

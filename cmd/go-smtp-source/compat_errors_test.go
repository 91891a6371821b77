package main_test

// TestCompatTargetErrors: a target that cannot be reached ends both programs the same
// way: exit status, stdout, and smtp-source's diagnostics in order (program name
// normalised); go-smtp-source's summary report at the end is its own. Only loopback
// literals and a missing unix socket are used, so no name lookup leaves the machine.

import (
	"path/filepath"
	"testing"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

func TestCompatTargetErrors(t *testing.T) {
	source := testpeer.Require(t, "smtp-source")
	tool := compatUnderTest(t)
	cases := []struct {
		name string
		args []string // "PORT" is replaced by a free loopback port
	}{
		{"refused", []string{"127.0.0.1:PORT"}},
		{"refused-C3", []string{"-C", "3", "127.0.0.1:PORT"}},
		{"refused-s3-m5", []string{"-s", "3", "-m", "5", "127.0.0.1:PORT"}},
		{"refused-ipv6", []string{"[::1]:PORT"}},
		{"unix-missing", []string{"unix:SOCKDIR/missing.sock"}},
		{"6-with-ipv4-literal", []string{"-6", "127.0.0.1:PORT"}},
		{"4-with-ipv6-literal", []string{"-4", "[::1]:PORT"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			args := make([]string, len(tc.args))
			for i, a := range tc.args {
				switch { // a port held closed for the test: connects to it are refused
				case a == "127.0.0.1:PORT":
					a = testpeer.ClosedPort(t)
				case a == "[::1]:PORT":
					a = testpeer.ClosedPort6(t)
				case a == "unix:SOCKDIR/missing.sock":
					a = "unix:" + filepath.Join(dir, "missing.sock")
				}
				args[i] = a
			}
			refCh := make(chan testpeer.Result, 1)
			go func() {
				defer close(refCh)
				refCh <- testpeer.Run(t, compatRunLimit, source, args...)
			}()
			got := testpeer.Run(t, compatRunLimit, tool.path, tool.args(nil, args...)...)
			ref, ok := <-refCh
			if !ok {
				t.FailNow()
			}
			if ref.ExitCode != 1 {
				t.Fatalf("harness: smtp-source should exit 1: %s", ref)
			}
			if got.ExitCode != ref.ExitCode {
				t.Errorf("exit code: smtp-source %d, go-smtp-source %d (stderr %q)", ref.ExitCode, got.ExitCode, got.Stderr)
			}
			if got.Stdout != ref.Stdout {
				t.Errorf("stdout: smtp-source %q, go-smtp-source %q", ref.Stdout, got.Stdout)
			}
			refLines := compatStderrLines(ref.Stderr, source)
			gotLines := compatOursDiagnostics(t, tool, got.Stderr)
			if d := compatDiff(refLines, gotLines); d != "" {
				t.Errorf("stderr differs (program name normalised to PROG; go-smtp-source's summary report at the end is not compared):\n%s", d)
			}
		})
	}
}

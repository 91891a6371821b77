package main_test

// TestCompatGetopt: smtp-source parses with POSIX getopt ("+" mode): options after the
// host, an unknown option, no host or two hosts are usage errors, and nothing is sent.
// go-smtp-source must also fail without touching the server. The exit status (1 for
// smtp-source, 2 for go-smtp-source's usage errors by design) and the usage text (ours
// lists the long options too) are not compared here.

import (
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

func TestCompatGetopt(t *testing.T) {
	source := testpeer.Require(t, "smtp-source")
	tool := compatUnderTest(t)
	cases := []struct {
		name string
		args []string // "HOST" is the capture server
	}{
		{"option-after-host", []string{"HOST", "-m", "2"}},
		{"option-after-host-d", []string{"-m", "2", "HOST", "-d"}},
		{"unknown-option", []string{"-x", "HOST"}},
		{"no-host", []string{"-m", "2"}},
		{"two-hosts", []string{"HOST", "HOST"}},
		{"missing-value", []string{"HOST", "-m"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			refSrv := testpeer.StartCapture(t, testpeer.CaptureOptions{})
			gotSrv := testpeer.StartCapture(t, testpeer.CaptureOptions{})
			subst := func(addr string) []string {
				out := make([]string, len(tc.args))
				for i, a := range tc.args {
					if a == "HOST" {
						a = addr
					}
					out[i] = a
				}
				return out
			}
			refCh := make(chan testpeer.Result, 1)
			go func() {
				defer close(refCh)
				refCh <- testpeer.Run(t, compatRunLimit, source, subst(refSrv.Addr)...)
			}()
			got := testpeer.Run(t, compatRunLimit, tool.path, tool.args(nil, subst(gotSrv.Addr)...)...)
			ref, ok := <-refCh
			if !ok {
				t.FailNow()
			}
			if ref.ExitCode == 0 || ref.ExitCode == -1 || len(refSrv.Conns()) != 0 {
				t.Fatalf("harness: smtp-source should fail without connecting: %s (%d connections)", ref, len(refSrv.Conns()))
			}
			if got.ExitCode == 0 || got.ExitCode == -1 {
				t.Errorf("go-smtp-source should fail with a usage error like smtp-source (%q), got %s", ref.Stderr, got)
			}
			if got.Stderr == "" {
				t.Errorf("go-smtp-source failed silently")
			}
			if got.Stdout != "" {
				t.Errorf("go-smtp-source wrote to stdout: %q", got.Stdout)
			}
			// Every connection it made before it exited is accepted by now.
			conns, err := gotSrv.ConnsSoFar(10 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(conns); n != 0 {
				t.Errorf("go-smtp-source connected %d time(s); smtp-source sends nothing", n)
			}
		})
	}
}

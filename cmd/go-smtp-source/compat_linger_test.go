package main_test

// Class 4: a server that answers QUIT with 221 and keeps the connection open. smtp-source
// closes as soon as it has read the 221; go-smtp-source waits a moment for the server to
// close first and then closes too, so a run takes as long as smtp-source's, not 2 s more
// per connection.

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

func TestCompatLingerAfterQuit(t *testing.T) {
	source := testpeer.Require(t, "smtp-source")
	tool := compatUnderTest(t)
	lingering := testpeer.ScriptedOptions{Script: testpeer.SMTPScript{
		Replies: map[string]string{"QUIT": "221 2.0.0 Bye\r\n" + testpeer.FaultSilent},
	}}
	for _, tc := range []struct {
		name  string
		args  []string
		conns int
	}{
		{"m3", []string{"-m", "3"}, 3},
		{"s2-m6", []string{"-s", "2", "-m", "6"}, 6},
		{"d-m3", []string{"-d", "-m", "3"}, 1},
		{"c-m4", []string{"-c", "-m", "4"}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			refSrv, gotSrv := testpeer.StartScripted(t, lingering), testpeer.StartScripted(t, lingering)
			ref, got := compatRunPair(t, source, append(append([]string{}, tc.args...), refSrv.Addr),
				tool.path, append(tool.args(nil, tc.args...), gotSrv.Addr))
			if ref.ExitCode != 0 || ref.Elapsed > 5*time.Second {
				t.Fatalf("harness: smtp-source: %s", ref)
			}
			compatCompareRun(t, source, tool, ref, got, false)
			// Not a speed target: the old 2 s wait per connection is what must be gone.
			if limit := ref.Elapsed + time.Second; got.Elapsed > limit {
				t.Errorf("go-smtp-source took %v, smtp-source %v: it waits for a server that keeps the connection after 221",
					got.Elapsed.Round(time.Millisecond), ref.Elapsed.Round(time.Millisecond))
			}
			refBytes, gotBytes := refSrv.Received(), gotSrv.Received()
			if len(refBytes) != tc.conns || len(gotBytes) != len(refBytes) {
				t.Fatalf("connections: smtp-source %d, go-smtp-source %d, want %d", len(refBytes), len(gotBytes), tc.conns)
			}
			for i := range refBytes {
				if w, h := compatNormaliseStream([]byte(refBytes[i])), compatNormaliseStream([]byte(gotBytes[i])); w != h {
					t.Errorf("connection %d: client byte streams differ\n%s", i+1, compatDiff(compatSplitLines(w), compatSplitLines(h)))
				}
			}
		})
	}
}

// Class 7, the machine's own name: without -M, smtp-source takes gethostname() and
// refuses one that is not a valid host name (a numeric one), after the validator's
// warning; with -M the machine's name is not looked at. Each program runs in its own UTS
// namespace (unshare, as root) with the host name set.
func TestCompatOwnHostname(t *testing.T) {
	source := testpeer.Require(t, "smtp-source")
	tool := compatUnderTest(t)
	if os.Geteuid() != 0 || exec.Command("unshare", "--uts", "true").Run() != nil {
		t.Skip("needs root and unshare(1) to set a host name in a UTS namespace")
	}
	for _, tc := range []struct {
		name, hostname string
		args           []string
		status         int
	}{
		{"numeric", "123", nil, 1},
		{"ipv4-address", "192.0.2.1", nil, 1},
		{"trailing-dot", "host.", nil, 1},
		{"underscore-label", "a_b", nil, 0},
		{"leading-hyphen", "-x", nil, 1},
		{"valid", "client-1.example", nil, 0},
		{"numeric-with-M", "123", []string{"-M", "client.example"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			refSrv, gotSrv := testpeer.StartCapture(t, testpeer.CaptureOptions{}), testpeer.StartCapture(t, testpeer.CaptureOptions{})
			in := func(prog string, args ...string) []string {
				return append([]string{"--uts", "sh", "-c", `printf %s "$0" >/proc/sys/kernel/hostname && exec "$@"`, tc.hostname, prog}, args...)
			}
			ref, got := compatRunPair(t, "unshare", in(source, append(append([]string{}, tc.args...), refSrv.Addr)...),
				"unshare", in(tool.path, append(tool.args(nil, tc.args...), gotSrv.Addr)...))
			if ref.ExitCode != tc.status {
				t.Fatalf("harness: smtp-source should exit %d: %s", tc.status, ref)
			}
			compatCompareRun(t, source, tool, ref, got, false)
			compatCompareConns(t, refSrv, gotSrv)
		})
	}
}

// Class 11, the open-files limit: smtp-source (Postfix's event_init) warns when it has
// fewer than 256 files, then goes on.
func TestCompatOpenFilesWarning(t *testing.T) {
	source := testpeer.Require(t, "smtp-source")
	tool := compatUnderTest(t)
	for _, limit := range []string{"64", "255", "256"} {
		t.Run(limit, func(t *testing.T) {
			t.Parallel()
			refSrv, gotSrv := testpeer.StartCapture(t, testpeer.CaptureOptions{}), testpeer.StartCapture(t, testpeer.CaptureOptions{})
			in := func(prog string, args ...string) []string {
				return append([]string{"-c", `ulimit -n "$0" && exec "$@"`, limit, prog}, args...)
			}
			ref, got := compatRunPair(t, "/bin/sh", in(source, "-m", "2", refSrv.Addr),
				"/bin/sh", in(tool.path, append(tool.args(nil, "-m", "2"), gotSrv.Addr)...))
			if ref.ExitCode != 0 || strings.Contains(ref.Stderr, "could allocate") != (limit != "256") {
				t.Fatalf("harness: smtp-source: %s", ref)
			}
			compatCompareRun(t, source, tool, ref, got, false)
			compatCompareConns(t, refSrv, gotSrv)
		})
	}
}

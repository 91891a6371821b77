package main_test

// Class 8, sizes: whatever the counts and lengths (32-bit, as smtp-source's atoi gives
// them), a run is served in bounded memory or refused with one line; never a Go
// out-of-memory trace. The memory bound is the child's peak RSS (getrusage).

import (
	"bytes"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// runMeasured runs path to completion (or until stop returns, then SIGINT), bounded by
// limit, and returns how it ended, its stderr and its peak RSS in KiB.
func runMeasured(t *testing.T, limit time.Duration, stop func() bool, path string, args ...string) (exit int, stderr string, rssKiB int64) {
	t.Helper()
	var errb bytes.Buffer
	cmd := exec.Command(path, args...)
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	deadline := time.After(limit)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for interrupted := false; ; {
		select {
		case <-done:
			ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
			return cmd.ProcessState.ExitCode(), errb.String(), ru.Maxrss
		case <-deadline:
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("%s %q still running after %v; stderr %q", path, args, limit, errb.String())
		case <-tick.C:
			if stop != nil && !interrupted && stop() {
				interrupted = true
				_ = cmd.Process.Signal(syscall.SIGINT)
			}
		}
	}
}

func TestHugeValuesBounded(t *testing.T) {
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	sink := testpeer.StartPostfixSink(t, "-c")
	const maxRSS = 96 << 10 // KiB
	for _, tc := range []struct {
		name   string
		args   []string
		stop   func() bool // when to interrupt a run that would go on for hours
		exit   int
		stderr string // a line stderr must hold; for a refusal the only line
	}{
		// smtp-source holds a -l body in memory (and crashes at 2^31-1); here it is sent
		// from a pattern, window by window.
		{name: "l-2e8", args: []string{"--quiet", "-l", "200000000", sink.Addr}},
		// smtp-source makes 2^31-1 session structures (43 s); here, one per message.
		{name: "s-2^31-1", args: []string{"--quiet", "-s", "2147483647", sink.Addr}},
		// 2^31-1 messages: nothing is kept per message; interrupted, all are accounted.
		{name: "d-m-2^31-1", args: []string{"-d", "-m", "2147483647", sink.Addr}, exit: 130,
			stop:   func() bool { return strings.Contains(sink.Stdout.String(), "mesg=200") },
			stderr: "2147483647 messages: "},
		{name: "r-2^31-1-pipelining", args: []string{"--pipelining", "-r", "2147483647", sink.Addr}, exit: 2,
			stderr: "fatal: --pipelining writes a message's RCPTs at once: -r 2147483647 is more than 100000\n"},
		{name: "s-beyond-open-files", args: []string{"-c", `ulimit -n 1000 && exec "$0" "$@"`, bin, "-s", "2000", "-m", "5000", sink.Addr},
			exit: 1, stderr: "fatal: -s 2000: a socket per session, and 1000 open files allowed: the open-files limit is reached: raise it with ulimit -n, or lower -s\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, args := bin, tc.args
			if tc.name == "s-beyond-open-files" {
				path = "/bin/sh"
			}
			exit, stderr, rss := runMeasured(t, 60*time.Second, tc.stop, path, args...)
			if exit != tc.exit || !strings.Contains(stderr, tc.stderr) {
				t.Fatalf("exit %d, want %d; stderr %q, want it to hold %q", exit, tc.exit, stderr, tc.stderr)
			}
			if tc.exit != 0 && tc.exit != 130 && strings.Count(stderr, "\n") != 1 {
				t.Errorf("a refusal is one line: %q", stderr)
			}
			if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "out of memory") {
				t.Fatalf("stack trace: %s", stderr)
			}
			if m := regexp.MustCompile(`(\d+) messages: (\d+) accepted, (\d+) rejected, (\d+) failed, (\d+) not started`).FindStringSubmatch(stderr); m != nil {
				var n [5]int64
				for i := range n {
					n[i], _ = strconv.ParseInt(m[i+1], 10, 64)
				}
				if n[1]+n[2]+n[3]+n[4] != n[0] {
					t.Errorf("the summary does not account for every message: %s", m[0])
				}
			}
			if rss > maxRSS {
				t.Errorf("peak RSS %d KiB, want at most %d KiB", rss, maxRSS)
			}
			t.Logf("peak RSS %d KiB", rss)
		})
	}
}

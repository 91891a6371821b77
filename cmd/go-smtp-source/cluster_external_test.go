package main

import (
	"fmt"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// Against Debian's nats-server binary (an external server, token from the environment):
// two runs in a row by the same two workers, each exact, their Message-Ids all distinct;
// then a worker whose --allow-target excludes the target refuses the plan, and the run
// fails before any load.
func TestClusterExternalNATS(t *testing.T) {
	natsBin := testpeer.Require(t, "nats-server")
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	const token = "external-token-6"
	srv := testpeer.Start(t, natsBin, "-a", "127.0.0.1", "-p", "-1", "--auth", token) // -1: a port of its own, which it logs
	var listening []string
	listeningRE := regexp.MustCompile(`Listening for client connections on (\S+)\n`)
	testpeer.Eventually(t, 10*time.Second, 10*time.Millisecond, "nats-server's client address", func() bool {
		listening = listeningRE.FindStringSubmatch(srv.Stderr.String())
		return listening != nil
	})
	url := "nats://" + listening[1]
	t.Setenv("GSS_NATS_TOKEN", token)
	s := startCountingSink(t)
	workers := []*testpeer.Process{
		testpeer.Start(t, bin, "worker", "--nats", url, "--name", "e0", "--allow-target", s.addr),
		testpeer.Start(t, bin, "worker", "--nats", url, "--name", "e1", "--weight", "2", "--allow-target", s.addr),
	}
	for _, w := range workers {
		waitStderr(t, w, "waiting for runs", 10*time.Second)
	}
	const m = 300
	for run := 1; run <= 2; run++ {
		r := testpeer.Run(t, 30*time.Second, bin, "--cluster-nats", url, "--cluster-workers", "2", "--quiet",
			"-m", fmt.Sprint(m), "-s", "6", s.addr)
		if r.ExitCode != 0 {
			t.Fatalf("run %d: exit %d; stderr:\n%s", run, r.ExitCode, r.Stderr)
		}
	}
	for _, w := range workers {
		_ = w.Cmd.Process.Signal(syscall.SIGTERM)
		waitExit(t, w, 10*time.Second)
		if n := strings.Count(w.Stderr.String(), ": done\n"); n != 2 {
			t.Errorf("worker did %d runs, want 2: %s", n, w.Stderr.String())
		}
	}
	st := s.stop(t)
	if st.MessagesAccepted != 2*m {
		t.Errorf("sink accepted %d, want %d (two runs of %d)", st.MessagesAccepted, 2*m, m)
	}
	if st.Unique == nil || st.Unique.Distinct != 2*m {
		t.Errorf("sink Message-Ids %+v: the two runs of the same workers repeated ids", st.Unique)
	}

	w := testpeer.Start(t, bin, "worker", "--nats", url, "--name", "strict", "--allow-target", "192.0.2.1:25")
	waitStderr(t, w, "waiting for runs", 10*time.Second)
	r := testpeer.Run(t, 30*time.Second, bin, "--cluster-nats", url, "--cluster-workers", "1", "-m", "5", "127.0.0.1:9")
	if r.ExitCode != 1 || !strings.Contains(r.Stderr, "worker strict refused the plan: target 127.0.0.1:9 is not in this worker's --allow-target") {
		t.Errorf("exit %d; stderr:\n%s", r.ExitCode, r.Stderr)
	}
}

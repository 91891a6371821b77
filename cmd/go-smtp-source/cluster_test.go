package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// testCluster is a coordinator process with an embedded NATS server and its workers,
// all the real binary, on loopback.
type testCluster struct {
	bin, url, token string
	coord           *testpeer.Process
	workers         []*testpeer.Process
	json            string
}

// startCoordinator starts a coordinator of workers with an embedded NATS server. Its
// workers may start up to a second late (--max-start-late 1s; 100 ms by default): on a
// machine as loaded as a test machine can be, a process wakes up from its wait for the
// start over 100 ms late, and refuses; that is not what these tests test (the test of a
// paused worker gives its own).
func startCoordinator(t *testing.T, workers int, run ...string) *testCluster {
	t.Helper()
	c := &testCluster{bin: testpeer.BuildCommand(t, "go-smtp-source"), token: "test-token-6"}
	c.json = filepath.Join(t.TempDir(), "cluster.json")
	args := append([]string{"--cluster-listen", "127.0.0.1:0", "--cluster-token", c.token,
		"--cluster-workers", fmt.Sprint(workers), "--cluster-join-timeout", "30s", "--progress", "--json", c.json,
		"--max-start-late", "1s"}, run...)
	c.coord = testpeer.Start(t, c.bin, args...)
	waitStderr(t, c.coord, "waiting for", 15*time.Second)
	// Its NATS server bound port 0 and said where: "embedded NATS server on nats://…".
	m := regexp.MustCompile(`embedded NATS server on (nats://[^\s;]+)`).FindStringSubmatch(c.coord.Stderr.String())
	if m == nil {
		t.Fatalf("no NATS address from the coordinator:\n%s", c.coord.Stderr.String())
	}
	c.url = m[1]
	return c
}

func (c *testCluster) startWorker(t *testing.T, name string, extra ...string) *testpeer.Process {
	t.Helper()
	p := testpeer.Start(t, c.bin, append([]string{"worker", "--nats", c.url, "--token", c.token, "--name", name}, extra...)...)
	c.workers = append(c.workers, p)
	return p
}

// waitStderr waits until the process's stderr holds text.
func waitStderr(t *testing.T, p *testpeer.Process, text string, within time.Duration) {
	t.Helper()
	if !testpeer.Poll(within, 20*time.Millisecond, func() bool { return strings.Contains(p.Stderr.String(), text) }) {
		t.Fatalf("no %q within %v; stderr:\n%s", text, within, p.Stderr.String())
	}
}

func waitExit(t *testing.T, p *testpeer.Process, within time.Duration) int {
	t.Helper()
	if exited, _ := p.Wait(within); !exited {
		t.Fatalf("still running after %v; stderr:\n%s", within, p.Stderr.String())
	}
	return p.Cmd.ProcessState.ExitCode()
}

type clusterDoc struct {
	Run         string          `json:"run"`
	StartSkewNs int64           `json:"start_skew_ns"`
	Incomplete  bool            `json:"incomplete"`
	Workers     []clusterWorker `json:"workers"`
}

type clusterWorker struct {
	Name        string `json:"name"`
	Planned     int64  `json:"planned"`
	Lost        bool   `json:"lost"`
	Unaccounted int64  `json:"unaccounted"`
	Late        *struct {
		Totals *metrics.Totals `json:"totals"`
	} `json:"late_result"`
}

// clusterOf reads the cluster's outcome from a coordinated run's document.
func clusterOf(t *testing.T, r *metrics.Report) clusterDoc {
	t.Helper()
	var cl clusterDoc
	if r.Run == nil || json.Unmarshal(r.Run.Cluster, &cl) != nil {
		t.Fatalf("no cluster in %+v", r.Run)
	}
	return cl
}

// Three worker processes run one test through the coordinator's embedded NATS: the sink
// sees every message exactly once, the merged counters equal the sink's, the start skew
// is small, live progress is printed; a late fourth worker and a wrong token are refused.
func TestClusterEmbeddedNATS(t *testing.T) {
	s := startCountingSink(t)
	const m = 600
	c := startCoordinator(t, 3, "--rate", "300", "-m", fmt.Sprint(m), "--max-sessions", "30", s.addr)
	bad := testpeer.Start(t, c.bin, "worker", "--nats", c.url, "--token", "wrong")
	for i := 0; i < 2; i++ {
		c.startWorker(t, fmt.Sprintf("w%d", i), "--allow-target", s.addr)
	}
	once := c.startWorker(t, "w2", "--once")
	if code := waitExit(t, bad, 10*time.Second); code != 1 || !strings.Contains(strings.ToLower(bad.Stderr.String()), "authorization violation") {
		t.Errorf("wrong token: exit %d, stderr %q", code, bad.Stderr.String())
	}
	probe := testpeer.ProbeScheduling(t) // across the shared start
	waitStderr(t, c.coord, "all ready", 20*time.Second)
	late := c.startWorker(t, "late")
	waitStderr(t, late, "late joiners are refused", 10*time.Second)
	if code := waitExit(t, c.coord, 30*time.Second); code != 0 {
		t.Fatalf("coordinator exit %d; stderr:\n%s", code, c.coord.Stderr.String())
	}
	stderr := c.coord.Stderr.String()
	if lines := liveLines(t, stderr); len(lines) == 0 || lines[len(lines)-1].n["accepted"] != m {
		t.Errorf("no live progress ending at %d accepted in:\n%s", m, stderr)
	}
	r := readReport(t, c.json)
	s.checkMerged(t, r, m)
	var plan struct {
		Messages int64 `json:"messages"`
	}
	cl := clusterOf(t, r)
	if err := json.Unmarshal(r.Plan, &plan); err != nil {
		t.Fatalf("plan %s: %v", r.Plan, err)
	}
	if plan.Messages != m || len(cl.Workers) != 3 || cl.Incomplete || len(r.Sources) != 3 {
		t.Errorf("plan %s, cluster %+v, %d sources", r.Plan, cl, len(r.Sources))
	}
	if doc, err := os.ReadFile(c.json); err != nil || strings.Contains(string(doc), c.token) {
		t.Errorf("the NATS token %q is in the result document (%v)", c.token, err)
	}
	skew := time.Duration(cl.StartSkewNs)
	t.Logf("start skew %v", skew)
	if maxSkew := 50*time.Millisecond + probe.Stop().Worst(); skew > maxSkew { // plus the worst late wake-up meanwhile
		t.Errorf("start skew %v, want at most %v", skew, maxSkew)
	}
	if code := waitExit(t, once, 10*time.Second); code != 0 {
		t.Errorf("worker --once: exit %d after its run: %s", code, once.Stderr.String())
	}
	for _, w := range c.workers {
		if w == once {
			continue
		}
		_ = w.Cmd.Process.Signal(syscall.SIGTERM)
		if code := waitExit(t, w, 10*time.Second); code != 0 {
			t.Errorf("worker exit %d after SIGTERM: %s", code, w.Stderr.String())
		}
	}
}

// A worker SIGKILLed mid-run is lost within three report intervals; the run is aborted,
// the others stop, the result is INCOMPLETE with exit status 3.
func TestClusterWorkerKilled(t *testing.T) {
	t.Parallel() // mostly waiting: runs beside the other parallel tests
	s := startCountingSink(t)
	const m = 6000
	c := startCoordinator(t, 3, "--rate", "300", "-m", fmt.Sprint(m), "--max-sessions", "30", s.addr)
	for i := 0; i < 3; i++ {
		c.startWorker(t, fmt.Sprintf("w%d", i))
	}
	waitStderr(t, c.coord, "all ready", 20*time.Second)
	waitStderrMatch(t, c.coord, `: 2s(/[0-9]+s)?  .*  achieved `, 10*time.Second)
	probe := testpeer.ProbeScheduling(t)
	_ = c.workers[1].Cmd.Process.Kill()
	killed := time.Now()
	waitStderr(t, c.coord, "worker w1 (shard", 10*time.Second)
	lostAfter := time.Since(killed)
	lostBound := 4*time.Second + probe.Stop().Worst()
	code := waitExit(t, c.coord, 20*time.Second)
	stderr := c.coord.Stderr.String()
	if code != exitIncomplete || !strings.Contains(stderr, "INCOMPLETE: worker w1") {
		t.Fatalf("exit %d (want %d); stderr:\n%s", code, exitIncomplete, stderr)
	}
	t.Logf("lost after %v", lostAfter)
	// 3 missed reports after the last one (≤ 1 s before the kill), checked 4 times an
	// interval; plus the worst late wake-up the machine's scheduling caused meanwhile.
	if lostAfter > lostBound {
		t.Errorf("worker declared lost %v after the kill (3 report intervals: 3s; at most %v)", lostAfter, lostBound)
	}
	for _, k := range []int{0, 2} {
		waitStderr(t, c.workers[k], "aborted by the coordinator", 5*time.Second)
	}
	r := readReport(t, c.json)
	cl := clusterOf(t, r)
	if !cl.Incomplete {
		t.Errorf("cluster %+v not incomplete", cl)
	}
	for _, w := range cl.Workers {
		if w.Lost != (w.Name == "w1") || w.Lost && w.Unaccounted == 0 {
			t.Errorf("worker %+v", w)
		}
	}
	st := s.stop(t)
	if st.MessagesAccepted >= m || st.Unique.Duplicates != 0 {
		t.Errorf("sink accepted %d of %d (duplicates %d): the others did not stop", st.MessagesAccepted, m, st.Unique.Duplicates)
	}
	if r.Totals.Accepted > st.MessagesAccepted {
		t.Errorf("merged accepted %d, more than the sink's %d", r.Totals.Accepted, st.MessagesAccepted)
	}
}

// Workers whose coordinator dies stop sending within their grace (5 s), and stay up.
func TestClusterCoordinatorKilled(t *testing.T) {
	t.Parallel() // mostly waiting: runs beside the other parallel tests
	s := startCountingSink(t)
	c := startCoordinator(t, 2, "--rate", "200", "-m", "20000", "--max-sessions", "20", s.addr)
	for i := 0; i < 2; i++ {
		c.startWorker(t, fmt.Sprintf("w%d", i))
	}
	waitStderrMatch(t, c.coord, `: 1s(/[0-9]+s)?  .*  achieved `, 25*time.Second)
	_ = c.coord.Cmd.Process.Kill()
	killed := time.Now()
	for _, w := range c.workers {
		waitStderr(t, w, "lost the coordinator", 9*time.Second)
	}
	t.Logf("workers stopped %v after the coordinator was killed", time.Since(killed))
	// "lost the coordinator" is printed as a worker stops its run: a message whose bytes
	// were on their way then may still reach the sink, later on a busy machine. The stop is
	// complete once the sink has no session open: from then on nothing may arrive.
	var before goSinkCounts
	testpeer.Eventually(t, 10*time.Second, 50*time.Millisecond, "the workers' sessions closed at the sink", func() bool {
		before = s.statsNow(t)
		return before.SessionsActive == 0
	})
	t.Logf("sink sessions all closed %v after the coordinator was killed", time.Since(killed))
	time.Sleep(time.Second) // the window in which nothing may arrive
	if after := s.statsNow(t); after != before {
		t.Errorf("the sink still receives: %+v then %+v", before, after)
	}
	for _, w := range c.workers {
		if w.Exited() {
			t.Errorf("worker exited: %s", w.Stderr.String())
		}
	}
}

// statsNow has the sink write its stats file (SIGUSR1) and returns its counts by then:
// the file is removed first, and the sink renames a complete one into place.
func (s *clusterSink) statsNow(t *testing.T) goSinkCounts {
	t.Helper()
	if err := os.Remove(s.stats); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if err := s.proc.Cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	testpeer.Eventually(t, 10*time.Second, 5*time.Millisecond, "the sink's stats file after SIGUSR1", func() bool {
		_, err := os.Stat(s.stats)
		return err == nil
	})
	return readSinkStats(t, s.stats)
}

// goSinkCounts is what statsNow reads from the sink's stats file.
type goSinkCounts struct {
	MessagesAccepted int64 `json:"messages_accepted"`
	SessionsActive   int64 `json:"sessions_active"`
}

func readSinkStats(t *testing.T, path string) goSinkCounts {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st goSinkCounts
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// A worker whose run fails (nothing listens on the target) fails the run: exit 1, the
// worker named.
func TestClusterWorkerFails(t *testing.T) {
	t.Parallel() // mostly waiting: runs beside the other parallel tests
	closed := testpeer.ClosedPort(t)
	c := startCoordinator(t, 2, "-m", "10", "-s", "2", closed)
	for i := 0; i < 2; i++ {
		c.startWorker(t, fmt.Sprintf("w%d", i))
	}
	code := waitExit(t, c.coord, 30*time.Second)
	if stderr := c.coord.Stderr.String(); code != exitFatal || !strings.Contains(stderr, "fatal: worker w") {
		t.Errorf("exit %d; stderr:\n%s", code, stderr)
	}
}

// SIGTERM to the coordinator aborts the workers; their results are still merged; exit 143.
func TestClusterCoordinatorTerminated(t *testing.T) {
	t.Parallel() // mostly waiting: runs beside the other parallel tests
	s := startCountingSink(t)
	c := startCoordinator(t, 2, "--rate", "100", "-m", "100000", s.addr)
	for i := 0; i < 2; i++ {
		c.startWorker(t, fmt.Sprintf("w%d", i))
	}
	waitStderrMatch(t, c.coord, `: 1s(/[0-9]+s)?  .*  achieved `, 25*time.Second)
	_ = c.coord.Cmd.Process.Signal(syscall.SIGTERM)
	code := waitExit(t, c.coord, 15*time.Second)
	stderr := c.coord.Stderr.String()
	if code != exitTerminated || !strings.Contains(stderr, "Accounting") {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	r := readReport(t, c.json)
	st := s.stop(t)
	if r.Totals.Accepted != st.MessagesAccepted || r.Totals.Accepted == 0 {
		t.Errorf("merged accepted %d, sink %d", r.Totals.Accepted, st.MessagesAccepted)
	}
	for _, w := range c.workers {
		if !strings.Contains(w.Stderr.String(), "aborted by the coordinator: the coordinator was interrupted") {
			t.Errorf("worker: %s", w.Stderr.String())
		}
	}
}

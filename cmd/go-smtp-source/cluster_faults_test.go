package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/cluster"
	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// dumpSink is a go-smtp-sink counting distinct Message-Ids that also appends every
// message to a file: a cluster run's Message-Id starts with the PID of the worker that
// sent it ("<pid-run.slot.seq@host>"), so the test can count a worker's messages at any
// moment.
type dumpSink struct {
	*clusterSink
	dump string
}

func startDumpSink(t *testing.T) *dumpSink {
	t.Helper()
	dir := t.TempDir()
	stats, dump := filepath.Join(dir, "sink-stats.json"), filepath.Join(dir, "dump")
	p, addr := startGoSink(t, "--unique-header", "Message-Id", "--stats", stats, "-D", dump)
	return &dumpSink{clusterSink: &clusterSink{proc: p, addr: addr, stats: stats}, dump: dump}
}

// sentBy is the global numbers of the messages the process pid has delivered to the
// sink so far.
func (s *dumpSink) sentBy(t *testing.T, pid int) []int64 {
	t.Helper()
	b, err := os.ReadFile(s.dump)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	re := regexp.MustCompile(fmt.Sprintf(`Message-Id: <%04x-[0-9a-f]+\.[0-9a-f]+\.([0-9a-f]+)@`, pid))
	var seqs []int64
	for _, m := range re.FindAllSubmatch(b, -1) {
		seq, err := strconv.ParseInt(string(m[1]), 16, 64)
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq-1)
	}
	return seqs
}

// waitStderrMatch waits until the process's stderr matches the regular expression.
func waitStderrMatch(t *testing.T, p *testpeer.Process, expr string, within time.Duration) {
	t.Helper()
	re := regexp.MustCompile(expr)
	if !testpeer.Poll(within, 20*time.Millisecond, func() bool { return re.MatchString(p.Stderr.String()) }) {
		t.Fatalf("no %q within %v; stderr:\n%s", expr, within, p.Stderr.String())
	}
}

// startAt reads the shared start from a coordinator's "all ready" line.
func startAt(t *testing.T, coord *testpeer.Process) time.Time {
	t.Helper()
	waitStderr(t, coord, "all ready: start at ", 20*time.Second)
	m := regexp.MustCompile(`all ready: start at (\S+)`).FindStringSubmatch(coord.Stderr.String())
	at, err := time.Parse(time.RFC3339Nano, m[1])
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// A worker stopped (SIGSTOP) mid-run is declared lost; resumed (SIGCONT), it learns it is
// fenced before it starts a single message: of the messages that fell due while it was
// stopped (the open model's message g is due at g/R after the start), the sink gets
// none. With --on-worker-loss continue the survivors finish their shards, the lost
// worker's late result is reported apart and never merged (the merged totals are the
// survivors' alone); with abort the survivors stop. Either way the run is INCOMPLETE,
// exit status 3.
func TestClusterPausedWorker(t *testing.T) {
	t.Parallel() // mostly waiting: runs beside the other parallel tests
	for _, mode := range []string{"continue", "abort"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			s := startDumpSink(t)
			const m, rate = 3000, 300 // 10 s; 100/s a worker
			c := startCoordinator(t, 3, "--on-worker-loss", mode, "--rate", fmt.Sprint(rate), "-m", fmt.Sprint(m), "--max-sessions", "60", s.addr)
			for i := 0; i < 3; i++ {
				c.startWorker(t, fmt.Sprintf("w%d", i))
			}
			start := startAt(t, c.coord)
			waitStderr(t, c.coord, "  achieved ", 20*time.Second) // a live line
			paused := c.workers[1]
			pid := paused.Cmd.Process.Pid
			stoppedAt := time.Now()
			_ = paused.Cmd.Process.Signal(syscall.SIGSTOP)
			waitStderrMatch(t, c.coord, `worker w1 \(shard \d\) lost`, 10*time.Second)
			before := len(s.sentBy(t, pid))
			_ = paused.Cmd.Process.Signal(syscall.SIGCONT)
			waitStderr(t, paused, ": worker w1: run ", 15*time.Second) // its run is over, its result delivered or given up
			sent := s.sentBy(t, pid)
			var dueInPause int
			for _, g := range sent {
				if start.Add(time.Duration(g) * time.Second / rate).After(stoppedAt.Add(50 * time.Millisecond)) {
					dueInPause++
				}
			}
			t.Logf("the lost worker's messages at the sink: %d when declared lost, %d in all, %d of them due after it was stopped", before, len(sent), dueInPause)
			if dueInPause > 0 {
				t.Errorf("the lost worker sent %d messages after it came back:\n%s", dueInPause, paused.Stderr.String())
			}
			checkLostApart(t, c, s, m, int64(len(sent)), mode == "continue")
		})
	}
}

// checkLostApart checks a run of total messages that lost worker w1, which had delivered
// lostSent messages to the sink in all: exit status 3, the report INCOMPLETE with w1 lost, and none of
// w1's messages merged. With the survivors finishing (continue), their messages are
// all the merged ones, and w1's late result is reported apart, in --json and on stderr.
func checkLostApart(t *testing.T, c *testCluster, s *dumpSink, total, lostSent int64, finished bool) {
	t.Helper()
	code := waitExit(t, c.coord, 30*time.Second)
	stderr := c.coord.Stderr.String()
	if code != exitIncomplete || !regexp.MustCompile(`INCOMPLETE: worker w1 \(shard \d\) lost`).MatchString(stderr) {
		t.Fatalf("exit %d (want %d); stderr:\n%s", code, exitIncomplete, stderr)
	}
	r := readReport(t, c.json)
	cl := clusterOf(t, r)
	st := s.stop(t)
	lost := slices.IndexFunc(cl.Workers, func(w clusterWorker) bool { return w.Name == "w1" })
	if !cl.Incomplete || len(cl.Workers) != 3 || lost < 0 || !cl.Workers[lost].Lost || cl.Workers[lost].Unaccounted == 0 {
		t.Fatalf("cluster %+v", cl)
	}
	if r.Totals.Accepted+lostSent != st.MessagesAccepted || st.Unique.Duplicates != 0 {
		t.Errorf("merged accepted %d + the lost worker's %d, sink %d (duplicates %d): the lost worker's messages were merged",
			r.Totals.Accepted, lostSent, st.MessagesAccepted, st.Unique.Duplicates)
	}
	if !finished {
		return
	}
	if survivors := r.Totals.Planned; r.Totals.Accepted != survivors || survivors+cl.Workers[lost].Planned != total {
		t.Errorf("merged totals %+v, want the survivors' messages all accepted", r.Totals)
	}
	if late := cl.Workers[lost].Late; late == nil || late.Totals == nil || late.Totals.Accepted != lostSent {
		t.Errorf("the late result in --json: %+v, want %d accepted", late, lostSent)
	}
	if !regexp.MustCompile(`late result of lost worker w1 \(shard \d\), kept out of the merge`).MatchString(stderr) ||
		!strings.Contains(stderr, "INCOMPLETE: worker w1 came back after it was lost; its own account, not merged") {
		t.Errorf("the late result is not reported apart:\n%s", stderr)
	}
}

// A worker stopped across the shared start wakes up late: it refuses (missed start), and
// the run fails, exit 1. The same wait serves --shard --start-at: a shard stopped across
// its start refuses too, and writes no report.
func TestPausedAcrossTheStart(t *testing.T) {
	t.Run("cluster", func(t *testing.T) {
		s := startCountingSink(t)
		c := startCoordinator(t, 2, "--max-start-late", "300ms", "--rate", "100", "-m", "300", s.addr)
		for i := 0; i < 2; i++ {
			c.startWorker(t, fmt.Sprintf("w%d", i))
		}
		start := startAt(t, c.coord)
		waitStderr(t, c.workers[1], "starting shard", 10*time.Second) // it waits for the start now
		_ = c.workers[1].Cmd.Process.Signal(syscall.SIGSTOP)
		time.Sleep(time.Until(start.Add(time.Second))) // the pause: 1 s past the start, under the 3 s that make a worker lost
		_ = c.workers[1].Cmd.Process.Signal(syscall.SIGCONT)
		code := waitExit(t, c.coord, 20*time.Second)
		if stderr := c.coord.Stderr.String(); code != exitFatal || !strings.Contains(stderr, "fatal: worker w1: missed the shared start time") {
			t.Fatalf("exit %d (want %d); stderr:\n%s", code, exitFatal, stderr)
		}
	})
	t.Run("shard", func(t *testing.T) {
		s := startCountingSink(t)
		out := filepath.Join(t.TempDir(), "shard.json")
		start := time.Now().Add(2 * time.Second)
		p := testpeer.Start(t, testpeer.BuildCommand(t, "go-smtp-source"), "--shard", "0/1", "--start-at", start.UTC().Format(time.RFC3339Nano),
			"--max-start-late", "300ms", "--json", out, "-m", "5", s.addr)
		time.Sleep(time.Until(start.Add(-time.Second))) // by now it has been waiting for the start for a second
		_ = p.Cmd.Process.Signal(syscall.SIGSTOP)
		time.Sleep(time.Until(start.Add(time.Second)))
		_ = p.Cmd.Process.Signal(syscall.SIGCONT)
		if code := waitExit(t, p, 10*time.Second); code != exitFatal || !strings.Contains(p.Stderr.String(), "missed the shared start time") {
			t.Fatalf("exit %d; stderr:\n%s", code, p.Stderr.String())
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("a shard that refused wrote %s (%v)", out, err)
		}
		if st := s.stop(t); st.MessagesAccepted != 0 {
			t.Errorf("the sink accepted %d messages", st.MessagesAccepted)
		}
	})
}

// When every worker is lost, the coordinator still reports: the text report and --json,
// with every worker lost and its messages unaccounted for; exit status 3.
func TestClusterAllWorkersLost(t *testing.T) {
	t.Parallel() // mostly waiting: runs beside the other parallel tests
	s := startCountingSink(t)
	c := startCoordinator(t, 2, "--rate", "100", "-m", "2000", s.addr)
	for i := 0; i < 2; i++ {
		c.startWorker(t, fmt.Sprintf("w%d", i))
	}
	waitStderr(t, c.coord, "  achieved ", 20*time.Second) // a live line
	for _, w := range c.workers {
		_ = w.Cmd.Process.Signal(syscall.SIGSTOP)
	}
	code := waitExit(t, c.coord, 20*time.Second)
	for _, w := range c.workers {
		_ = w.Cmd.Process.Signal(syscall.SIGCONT)
	}
	stderr := c.coord.Stderr.String()
	if code != exitIncomplete || !strings.Contains(stderr, "INCOMPLETE: 0 of 2 workers delivered their results") || !strings.Contains(stderr, "Accounting") {
		t.Fatalf("exit %d (want %d); stderr:\n%s", code, exitIncomplete, stderr)
	}
	r := readReport(t, c.json)
	cl := clusterOf(t, r)
	if !cl.Incomplete || len(cl.Workers) != 2 || r.Totals.Accepted != 0 {
		t.Fatalf("cluster %+v, totals %+v", cl, r.Totals)
	}
	for _, w := range cl.Workers {
		if !w.Lost || w.Unaccounted == 0 {
			t.Errorf("worker %+v", w)
		}
	}
	for _, w := range c.workers {
		waitStderr(t, w, ": run ", 15*time.Second) // resumed, each stops by itself
	}
}

// Two builds of the same source that differ only in their report format (a field of
// the progress report renamed, no version bump: the overlay stands for a code change)
// do not run together: the coordinator refuses the odd worker in one line, and runs with
// a worker of its own build. Neither binary has VCS information.
func TestClusterRefusesAnotherBuild(t *testing.T) {
	t.Parallel() // mostly waiting: runs beside the other parallel tests
	odd := buildWithReportRenamed(t)
	s := startCountingSink(t)
	c := startCoordinator(t, 1, "-m", "20", s.addr)
	w := testpeer.Start(t, odd, "worker", "--nats", c.url, "--token", c.token, "--name", "odd")
	waitStderr(t, w, "run the same build everywhere", 15*time.Second)
	waitStderr(t, c.coord, "refused worker odd (", 5*time.Second)
	c.startWorker(t, "same")
	if code := waitExit(t, c.coord, 30*time.Second); code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, c.coord.Stderr.String())
	}
	stderr := c.coord.Stderr.String()
	if n := strings.Count(stderr, "refused worker odd ("); n != 1 {
		t.Errorf("%d refusal lines for the odd worker, want 1:\n%s", n, stderr)
	}
	line := stderr[strings.Index(stderr, "refused worker odd ("):]
	line = line[:strings.IndexByte(line, '\n')]
	t.Logf("%s", line)
	if !strings.Contains(line, "build sha256:") || !strings.Contains(line, "run the same build everywhere") {
		t.Errorf("refusal %q does not say why", line)
	}
	s.checkMerged(t, readReport(t, c.json), 20)
	if strings.Contains(w.Stderr.String(), "joined as shard") {
		t.Errorf("the odd worker joined: %s", w.Stderr.String())
	}
}

// buildWithReportRenamed builds go-smtp-source as the tests do, but with the progress
// report's "accepted" field renamed (go build -overlay): the same source otherwise, the
// same flags, no VCS stamp.
func buildWithReportRenamed(t *testing.T) string {
	t.Helper()
	root := testpeer.ModuleRoot(t)
	src, err := os.ReadFile(filepath.Join(root, "cluster", "protocol.go"))
	if err != nil {
		t.Fatal(err)
	}
	const field = "Accepted int64  `json:\"accepted\"`"
	if bytes.Count(src, []byte(field)) != 1 {
		t.Fatalf("cluster/protocol.go has no single %s", field)
	}
	dir := t.TempDir()
	patched := filepath.Join(dir, "protocol.go")
	if err := os.WriteFile(patched, bytes.Replace(src, []byte(field), []byte("Accepted int64  `json:\"accepted_messages\"`"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	overlay := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(overlay, fmt.Appendf(nil, `{"Replace":{%q:%q}}`, filepath.Join(root, "cluster", "protocol.go"), patched), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "go-smtp-source")
	cmd := exec.Command("go", "build", "-buildvcs=false", "-overlay", overlay, "-o", out, "./cmd/go-smtp-source")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build -overlay: %v\n%s", err, b)
	}
	return out
}

// The coordinator and a worker started before their NATS server wait for it (one line
// each), and run once it is up.
func TestClusterStartsBeforeNATS(t *testing.T) {
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	s := startCountingSink(t)
	// The address is told before anything listens on it: a testpeer.FixedPort, which no
	// port-0 server is given meanwhile.
	addr := fmt.Sprintf("127.0.0.1:%d", testpeer.FixedPort(t, "127.0.0.1"))
	const token = "before-nats-token"
	t.Setenv("GSS_NATS_TOKEN", token)
	json := filepath.Join(t.TempDir(), "run.json")
	coord := testpeer.Start(t, bin, "--cluster-nats", "nats://"+addr, "--cluster-workers", "1", "--cluster-nats-wait", "30s",
		"--json", json, "--max-start-late", "1s", "-m", "30", s.addr)
	w := testpeer.Start(t, bin, "worker", "--nats", "nats://"+addr, "--name", "early", "--nats-wait", "30s", "--once")
	for _, p := range []*testpeer.Process{coord, w} {
		waitStderr(t, p, "is not reachable yet", 15*time.Second)
	}
	srv, err := cluster.StartServer(addr, token)
	if err != nil {
		t.Fatalf("NATS on %s: %v", addr, err)
	}
	t.Cleanup(srv.Shutdown)
	if code := waitExit(t, coord, 30*time.Second); code != exitOK {
		t.Fatalf("coordinator: exit %d; stderr:\n%s", code, coord.Stderr.String())
	}
	if code := waitExit(t, w, 10*time.Second); code != exitOK || !strings.Contains(w.Stderr.String(), "is up: connected after") {
		t.Errorf("worker: exit %d; stderr:\n%s", code, w.Stderr.String())
	}
	s.checkMerged(t, readReport(t, json), 30)
}

// Two runs of one standing worker: every Message-Id the sink sees is distinct (the
// worker's PID, slots and global message numbers are the same in both runs).
func TestClusterMessageIDsAcrossRuns(t *testing.T) {
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	const token = "ids-token"
	srv, err := cluster.StartServer("127.0.0.1:0", token)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	t.Setenv("GSS_NATS_TOKEN", token)
	s := startCountingSink(t)
	w := testpeer.Start(t, bin, "worker", "--nats", srv.URL, "--name", "standing")
	waitStderr(t, w, "waiting for runs", 10*time.Second)
	const m = 100
	for run := 1; run <= 2; run++ {
		r := testpeer.Run(t, 30*time.Second, bin, "--cluster-nats", srv.URL, "--cluster-workers", "1", "--quiet", "--max-start-late", "1s",
			"-m", fmt.Sprint(m), "-s", "4", s.addr)
		if r.ExitCode != 0 {
			t.Fatalf("run %d: exit %d; stderr:\n%s", run, r.ExitCode, r.Stderr)
		}
	}
	st := s.stop(t)
	if st.MessagesAccepted != 2*m || st.Unique == nil || st.Unique.Distinct != 2*m || st.Unique.Duplicates != 0 {
		t.Errorf("sink: %d accepted, Message-Ids %+v; want %d, all distinct", st.MessagesAccepted, st.Unique, 2*m)
	}
}

// The NATS token, given on the command line, is in no output: not in the coordinator's
// or the workers' standard output and error, not in --json; nor, in a run of one process
// (here a shard, which the token's flag does not make a cluster), in --json, --hdr-log
// or --log-messages.
func TestTokenInNoOutput(t *testing.T) {
	s := startCountingSink(t)
	c := startCoordinator(t, 2, "-m", "20", "-s", "2", s.addr)
	for i := 0; i < 2; i++ {
		c.startWorker(t, fmt.Sprintf("w%d", i), "--once")
	}
	if code := waitExit(t, c.coord, 30*time.Second); code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, c.coord.Stderr.String())
	}
	outputs := map[string]string{"coordinator": c.coord.Output()}
	for i, w := range c.workers {
		waitExit(t, w, 10*time.Second)
		outputs[fmt.Sprintf("worker %d", i)] = w.Output()
	}
	dir := t.TempDir()
	files := map[string]string{"--json": filepath.Join(dir, "run.json"), "--hdr-log": filepath.Join(dir, "run.hlog"), "--log-messages": filepath.Join(dir, "messages.csv")}
	r := testpeer.Run(t, 30*time.Second, c.bin, "--cluster-token", c.token, "--shard", "0/1", "--json", files["--json"],
		"--hdr-log", files["--hdr-log"], "--log-messages", files["--log-messages"], "-m", "5", s.addr)
	if r.ExitCode != 0 {
		t.Fatalf("local run: exit %d: %s", r.ExitCode, r.Stderr)
	}
	outputs["local run"] = r.Stdout + r.Stderr
	files["coordinator --json"] = c.json
	for name, path := range files {
		b, err := os.ReadFile(path)
		if err != nil || len(b) == 0 {
			t.Fatalf("%s: %v (%d bytes)", name, err, len(b))
		}
		outputs[name] = string(b)
	}
	for name, out := range outputs {
		if strings.Contains(out, c.token) {
			t.Errorf("the token is in the %s output", name)
		}
	}
}

// The coordinator's live view is a single run's line (metrics.FormatLive, the same
// parser), summed over the workers at each whole second of the shared timeline: the
// rate of every line but the first and the last (parts of a second) is exactly the
// merged report's count for that second (the same engine samples, summed at the same
// second), never a sum of three unaligned samples, which swung between a third and five
// thirds of a steady rate; the target rate is the sum of the workers' shares; the
// percentiles are the merged histograms' (within the report's range); and the last line
// counts what the merged report counts.
func TestClusterLiveProgress(t *testing.T) {
	s := startCountingSink(t)
	c := startCoordinator(t, 3, "--rate", "600", "-m", "3600", "--max-sessions", "60", s.addr)
	for i := 0; i < 3; i++ {
		c.startWorker(t, fmt.Sprintf("w%d", i))
	}
	start := startAt(t, c.coord)
	if code := waitExit(t, c.coord, 40*time.Second); code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, c.coord.Stderr.String())
	}
	r := readReport(t, c.json)
	perSecond := make(map[int64]int64) // the merged report's messages answered, by the second they end at
	for _, iv := range r.Intervals {
		end := iv.Start.Add(time.Duration(iv.DurationNs)).Round(time.Second).Unix()
		perSecond[end] += iv.Counters["messages_accepted"] + iv.Counters["messages_rejected"]
	}
	lines := liveLines(t, c.coord.Stderr.String())
	if len(lines) < 4 {
		t.Fatalf("%d live lines:\n%s", len(lines), c.coord.Stderr.String())
	}
	latency, _ := r.Phase("latency")
	// The first line is a part of a second; the last one is the workers' final samples
	// (the second after their run ended), whose short last intervals the report's
	// series puts in the second before, by their nearest whole second.
	var prevTarget int64
	for i, l := range lines[1 : len(lines)-1] {
		sec := start.Add(time.Duration(l.n["elapsed"])*time.Second - time.Second/2).Truncate(time.Second).Add(time.Second).Unix()
		if i+1 < len(lines)-2 && l.n["rate"] != perSecond[sec] {
			t.Errorf("%q: the report has %d messages in that second", l.text, perSecond[sec])
		}
		if l.n["planned"] != 3600 || l.n["workers"] != 3 || l.n["lost"] != 0 {
			t.Errorf("%q: want 3600 planned, 3 workers", l.text)
		}
		// The target is the sum of the shares of the workers still sending: 200/s each,
		// less one share for each worker that has sent its 1,200 messages, which needs
		// that many done; it never grows back.
		finished := min(l.n["done"]/1200, 3)
		if tg := l.n["target"]; tg%200 != 0 || tg > 600 || tg < 600-200*finished || i > 0 && tg > prevTarget {
			t.Errorf("%q: want target 600/s less 200/s for each worker done (at most %d have sent their share); the line before said %d/s", l.text, finished, prevTarget)
		}
		prevTarget = l.n["target"]
		if p99, err := time.ParseDuration(l.latency); err != nil || p99 < time.Duration(latency.MinNs) || p99 > time.Duration(latency.MaxNs) {
			t.Errorf("%q: latency p99 %s not within the run's [%v, %v]", l.text, l.latency, time.Duration(latency.MinNs), time.Duration(latency.MaxNs))
		}
	}
	last := lines[len(lines)-1].n
	tot := r.Totals
	if last["accepted"] != tot.Accepted || last["rejected"] != tot.Rejected || last["failed"] != tot.Failed ||
		last["done"] != tot.Accepted+tot.Rejected+tot.Failed || last["open"] != 0 ||
		last["late"] != r.Counters["late"] || last["dropped"] != r.Counters["dropped"] {
		t.Errorf("last line %q; the merged report: %+v, late %d, dropped %d", lines[len(lines)-1].text, tot, r.Counters["late"], r.Counters["dropped"])
	}
	// A single run's line parses with the same expression, without the workers.
	res := testpeer.Run(t, time.Minute, c.bin, "--progress", "--rate", "100", "-m", "150", s.addr)
	single := liveLines(t, res.Stderr)
	if res.ExitCode != 0 || len(single) == 0 {
		t.Fatalf("single run: %v", res)
	}
	if _, ok := single[0].n["workers"]; ok || single[0].n["target"] != 100 {
		t.Errorf("single run's line %q", single[0].text)
	}
}

package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// verdicts is a report's thresholds by expression.
func verdicts(r *metrics.Report) map[string]metrics.Verdict {
	out := map[string]metrics.Verdict{}
	for _, v := range r.Thresholds {
		out[v.Threshold] = v
	}
	return out
}

// A threshold that holds exits 0, one that breaks exits 99 and names itself; the JSON
// records every threshold and its verdict.
func TestThresholdExitStatus(t *testing.T) {
	_, addr := startGoSink(t)
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	dir := t.TempDir()
	for _, tc := range []struct {
		name     string
		extra    string
		exit     int
		breached bool
	}{
		{"held", "accepted>=50", 0, false},
		{"breached", "accepted>=51", exitThreshold, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, tc.name+".json")
			res := testpeer.Run(t, time.Minute, bin, "-s", "2", "-m", "50", "--json", out,
				"--threshold", "eod.p99<5s", "--threshold", "errors == 0", "--threshold", tc.extra, addr)
			if res.ExitCode != tc.exit {
				t.Fatalf("exit %d, want %d: %v", res.ExitCode, tc.exit, res)
			}
			line := "fatal: threshold breached: accepted>=51 (observed 50)"
			if strings.Contains(res.Stderr, line) != tc.breached {
				t.Fatalf("stderr %q, want the line %q: %v", res.Stderr, line, tc.breached)
			}
			v := verdicts(readReport(t, out))
			if len(v) != 3 || !v["eod.p99<5s"].Pass || !v["errors==0"].Pass || v[tc.extra].Pass == tc.breached {
				t.Fatalf("verdicts %+v", v)
			}
		})
	}
}

// --threshold-abort stops a run once a threshold is lost (after its delay): exit 99,
// long before the run's planned end.
func TestThresholdAbortCommand(t *testing.T) {
	_, addr := startGoSink(t, "-f", "rcpt") // every recipient rejected
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	start := time.Now()
	res := testpeer.Run(t, time.Minute, bin, "--rate", "40", "--duration", "20s", "--threshold", "errors<3",
		"--threshold-abort", "--threshold-abort-delay", "1s", addr)
	if res.ExitCode != exitThreshold || !strings.Contains(res.Stderr, "threshold lost after") {
		t.Fatalf("exit %d: %v", res.ExitCode, res)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("the run took %v: it should stop soon after the 1 s delay, not at 20 s", took)
	}
}

// --max-errors ends a run with its own exit status and one clear line.
func TestErrorBudgetCommand(t *testing.T) {
	_, addr := startGoSink(t, "-f", "rcpt")
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	res := testpeer.Run(t, time.Minute, bin, "-m", "200", "--on-error", "continue", "--max-errors", "5", addr)
	want := "fatal: error budget exceeded: 6 of 6 messages rejected or failed, more than 5"
	if res.ExitCode != exitErrorBudget || !strings.Contains(res.Stderr, want) {
		t.Fatalf("exit %d, want %d and %q: %v", res.ExitCode, exitErrorBudget, want, res)
	}
	if got := summary(t, res.Stderr); got[2] != 6 || got[4] == 0 {
		t.Fatalf("summary %v: 6 rejected, the rest not started", got)
	}
}

// --duration is hard: a server that never answers does not hold the run past
// D + grace + 2 s, the messages in flight are cut off (exit 0: the run went as
// planned), and the document says how long the drain took.
func TestDurationIsHardCommand(t *testing.T) {
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	out := filepath.Join(t.TempDir(), "r.json")
	start := time.Now()
	res := testpeer.Run(t, time.Minute, bin, "--rate", "20", "--duration", "2s", "--grace", "1s", "--json", out, testpeer.ListenSilent(t))
	if took := time.Since(start); res.ExitCode != 0 || took > 5*time.Second {
		t.Fatalf("exit %d after %v, want 0 within 2 s + 1 s + 2 s: %v", res.ExitCode, took, res)
	}
	r := readReport(t, out)
	if r.Counters["messages_cut_off"] != r.Totals.Failed || r.Totals.Failed == 0 || r.Window == nil || r.Window.DrainNs < int64(500*time.Millisecond) {
		t.Fatalf("totals %+v, cut off %d, window %+v", r.Totals, r.Counters["messages_cut_off"], r.Window)
	}
	if !strings.Contains(res.Stderr, "Duration     [total, sending, drain]") || !strings.Contains(res.Stderr, "banner:cut_off") {
		t.Fatalf("the report does not show the drain and the cut-off messages:\n%s", res.Stderr)
	}
}

// --find-max finds go-smtp-sink's capacity: a line per step, the steps' table and the
// highest rate in the report and the JSON.
func TestFindMaxCommand(t *testing.T) {
	_, addr := startGoSink(t, "-m", "2", "--delay", "dot=50ms") // about 38 msg/s
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	out := filepath.Join(t.TempDir(), "search.json")
	res := testpeer.Run(t, 2*time.Minute, bin, "--find-max", "--find-max-start", "10", "--find-max-factor", "4",
		"--find-max-step", "2s", "--find-max-bisect", "1", "--grace", "1s", "--threshold", "latency.p90<400ms", "--json", out, addr)
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %v", res.ExitCode, res)
	}
	r := readReport(t, out)
	fm := r.FindMax
	if fm == nil || len(fm.Steps) < 3 || fm.Highest < 10 || fm.Highest > 60 {
		t.Fatalf("find_max %+v", fm)
	}
	if !strings.Contains(res.Stderr, "find-max: 10.0 msg/s for ") || !strings.Contains(res.Stderr, "Highest rate that held every threshold") ||
		!strings.Contains(res.Stderr, "broke: latency.p90<400ms (observed ") {
		t.Fatalf("stderr:\n%s", res.Stderr)
	}
	var planned int64
	for _, st := range fm.Steps {
		planned += st.Totals.Planned
	}
	if r.Totals.Planned != planned {
		t.Fatalf("the document's totals %+v are not the steps' (planned %d)", r.Totals, planned)
	}
}

// Output paths are checked before any traffic: an unwritable --json, --hdr-log or
// --log-messages is an error and no connection is made; --json - is stdout.
func TestOutputPathsCheckedFirst(t *testing.T) {
	var conns atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			c.Close()
		}
	}()
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--json", filepath.Join(dir, "missing", "r.json")},
		{"--hdr-log", dir},
		{"--log-messages", filepath.Join(dir, "no", "m.csv")},
	} {
		res := testpeer.Run(t, 30*time.Second, bin, append(args, ln.Addr().String())...)
		if res.ExitCode != exitFatal || !strings.Contains(res.Stderr, args[0]+" ") {
			t.Errorf("%v: exit %d: %v", args, res.ExitCode, res)
		}
	}
	if n := conns.Load(); n != 0 {
		t.Fatalf("%d connections made before the output paths were checked", n)
	}
	if res := testpeer.Run(t, 30*time.Second, bin, "-c", "--json", "-", ln.Addr().String()); res.ExitCode != exitUsage {
		t.Fatalf("-c with --json -: %v", res)
	}
}

// --json - writes the document on stdout, with the tool's version and where it ran.
func TestJSONOnStdout(t *testing.T) {
	_, addr := startGoSink(t)
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	res := testpeer.Run(t, time.Minute, bin, "-m", "5", "--event-loops", "1", "--json", "-", addr)
	if res.ExitCode != 0 {
		t.Fatalf("%v", res)
	}
	r, err := metrics.ReadReport(strings.NewReader(res.Stdout))
	if err != nil {
		t.Fatalf("stdout is no report: %v\n%s", err, res.Stdout)
	}
	host, _ := os.Hostname()
	if ri := r.Run; ri == nil || !strings.HasPrefix(ri.Version, "go-smtp-source ") || ri.Host != host ||
		!strings.HasPrefix(ri.Kernel, "Linux ") || ri.CPUs < 1 || ri.EventLoops != 1 || r.Totals.Accepted != 5 {
		t.Fatalf("run %+v, totals %+v", r.Run, r.Totals)
	}
}

func TestVersion(t *testing.T) {
	for _, tool := range []string{"go-smtp-source", "go-smtp-sink"} {
		res := testpeer.Run(t, 30*time.Second, testpeer.BuildCommand(t, tool), "--version")
		if res.ExitCode != 0 || !strings.HasPrefix(res.Stdout, tool+" ") {
			t.Errorf("%s --version: %v", tool, res)
		}
	}
}

// merge refuses the same report given twice, warns when the runs' targets differ, and
// evaluates thresholds over the merged histograms (exit 99 on a breach).
func TestMergeChecks(t *testing.T) {
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	dir := t.TempDir()
	var files []string
	for i := 0; i < 2; i++ {
		_, addr := startGoSink(t)
		f := filepath.Join(dir, fmt.Sprintf("r%d.json", i))
		if res := testpeer.Run(t, time.Minute, bin, "-m", "20", "--json", f, addr); res.ExitCode != 0 {
			t.Fatalf("%v", res)
		}
		files = append(files, f)
	}
	res := testpeer.Run(t, 30*time.Second, bin, "merge", files[0], files[0])
	if res.ExitCode != exitFatal || !strings.Contains(res.Stderr, "are the same run") {
		t.Fatalf("the same report twice: %v", res)
	}
	out := filepath.Join(dir, "m.json")
	res = testpeer.Run(t, 30*time.Second, bin, "merge", "--json", out, "--threshold", "accepted>=40", "--threshold", "eod.p99<5s", files[0], files[1])
	if res.ExitCode != 0 || !strings.Contains(res.Stderr, "warning: the runs' targets differ") {
		t.Fatalf("merge: %v", res)
	}
	if v := verdicts(readReport(t, out)); len(v) != 2 || !v["accepted>=40"].Pass || v["accepted>=40"].Text != "40" {
		t.Fatalf("merged verdicts %+v", v)
	}
	res = testpeer.Run(t, 30*time.Second, bin, "merge", "--threshold", "accepted>40", files[0], files[1])
	if res.ExitCode != exitThreshold || !strings.Contains(res.Stderr, "threshold breached: accepted>40 (observed 40)") {
		t.Fatalf("a breach over the merge: %v", res)
	}
}

var liveLatency = regexp.MustCompile(`latency p99 (\S+)`)

// The live view on a terminal (a pseudo-terminal from util-linux script): one line
// rewritten in place (carriage return, clear to the end of the line) that shows the
// CO-corrected latency rise while the server stalls (go-smtp-sink stopped with
// SIGSTOP for 1.5 s). Off a terminal, --progress prints one line a second.
func TestLiveViewShowsAStall(t *testing.T) {
	script := testpeer.Require(t, "script")
	sink, addr := startGoSink(t)
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	cmd := fmt.Sprintf("stty cols 300; exec %s --rate 50 --duration 6s --grace 1s %s", bin, addr)
	stall := 1500 * time.Millisecond
	term := testpeer.Start(t, script, "-q", "-e", "-c", cmd, "/dev/null")
	// The stall begins once the view has shown two seconds: the server's own latency.
	testpeer.Eventually(t, 30*time.Second, 10*time.Millisecond, "two live lines", func() bool {
		return strings.Count(term.Stdout.String(), "conns open") >= 2
	})
	_ = sink.Cmd.Process.Signal(syscall.SIGSTOP)
	time.Sleep(stall) // the stall is what the view must show
	_ = sink.Cmd.Process.Signal(syscall.SIGCONT)
	if exited, err := term.Wait(time.Minute); !exited || err != nil {
		t.Fatalf("script: exited %v, %v: %s", exited, err, term.Output())
	}
	out := term.Stdout.String()
	if !strings.Contains(out, "\r") || !strings.Contains(out, "\x1b[K") {
		t.Fatalf("no line rewritten in place:\n%q", out)
	}
	var p99s []time.Duration
	for _, line := range strings.Split(out, "\r") {
		m := liveLatency.FindStringSubmatch(line)
		if m == nil || !strings.Contains(line, "conns open") {
			continue
		}
		d, err := time.ParseDuration(m[1])
		if err != nil {
			d = 0 // "-": nothing ended that second
		}
		p99s = append(p99s, d)
	}
	if len(p99s) < 4 {
		t.Fatalf("%d live lines:\n%q", len(p99s), out)
	}
	// Before the stall (the first two seconds) the latency is the server's own; some
	// second after it shows the messages that waited out the stall.
	base := max(p99s[0], p99s[1])
	peak := time.Duration(0)
	for _, d := range p99s[2:] {
		peak = max(peak, d)
	}
	// At least half the stall above the latency before it (on a quiet machine, the
	// server's own few milliseconds; a busy one's raises both alike).
	if peak < base+stall/2 {
		t.Fatalf("latency p99 per second %v: the stall of %v does not show (before it %v)", p99s, stall, base)
	}

	res := testpeer.Run(t, time.Minute, bin, "--progress", "--rate", "50", "--duration", "2s", addr)
	if res.ExitCode != 0 || strings.Contains(res.Stderr, "\r") || strings.Count(res.Stderr, "conns open") < 1 {
		t.Fatalf("off a terminal: %q", res.Stderr)
	}
	if !bytes.Contains([]byte(res.Stderr), []byte("target 50/s")) {
		t.Fatalf("no target rate in %q", res.Stderr)
	}
}

// A cluster coordinator applies the thresholds to the merged run: exit 99 on a breach,
// the verdicts in the merged document.
func TestClusterThresholds(t *testing.T) {
	s := startCountingSink(t)
	c := startCoordinator(t, 2, "-s", "2", "-m", "20", "--threshold", "accepted>20", "--threshold", "eod.p99<5s", s.addr)
	for i := 0; i < 2; i++ {
		c.startWorker(t, fmt.Sprintf("w%d", i))
	}
	if code := waitExit(t, c.coord, 60*time.Second); code != exitThreshold {
		t.Fatalf("coordinator exit %d, want %d; stderr:\n%s", code, exitThreshold, c.coord.Stderr.String())
	}
	if !strings.Contains(c.coord.Stderr.String(), "fatal: threshold breached: accepted>20 (observed 20)") {
		t.Fatalf("stderr:\n%s", c.coord.Stderr.String())
	}
	v := verdicts(readReport(t, c.json))
	if len(v) != 2 || v["accepted>20"].Pass || !v["eod.p99<5s"].Pass {
		t.Fatalf("verdicts %+v", v)
	}
}

// The load-test options become the plan: the error policy by model unless given, the
// budget as a count or a share, the hard end from --duration, --max-duration or the
// stages, thresholds in canonical form, a search's settings; mistakes are usage errors.
func TestLoadTestOptions(t *testing.T) {
	parse := func(args ...string) *invocation {
		t.Helper()
		inv, _, err := parseOptions(append(args, "127.0.0.1:25"))
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return inv
	}
	if p := parse("-m", "10").plan; p.Errors.OnError != "abort" || p.MaxDuration != 0 {
		t.Errorf("closed model: %+v, max duration %v", p.Errors, p.MaxDuration)
	}
	if p := parse("--rate", "10", "--duration", "3s").plan; p.Errors.OnError != "continue" || p.MaxDuration != 3*time.Second || p.Messages != 30 {
		t.Errorf("--duration: %+v, %v, %d messages", p.Errors, p.MaxDuration, p.Messages)
	}
	if p := parse("--stages", "2s:10,1s:0").plan; p.MaxDuration != 3*time.Second {
		t.Errorf("--stages: max duration %v", p.MaxDuration)
	}
	p := parse("-m", "1000", "--max-duration", "90", "--on-error", "continue", "--max-errors", "2.5%", "--threshold", "eod.p(99) < 1s",
		"--threshold-abort", "--threshold-abort-delay", "1ms").plan
	if p.MaxDuration != 90*time.Second || p.Errors.MaxErrorsPercent != 2.5 || p.Thresholds.Exprs[0] != "eod.p99<1s" || !p.Thresholds.Abort || p.Thresholds.AbortDelay != time.Millisecond {
		t.Errorf("%+v %+v %v", p.Errors, p.Thresholds, p.MaxDuration)
	}
	p = parse("--find-max", "--find-max-increment", "25", "--find-max-step", "5s", "--threshold", "errors<1%").plan
	if fm := p.FindMax; fm == nil || fm.Increment != 25 || fm.Factor != 0 || fm.StepDuration != 5*time.Second || p.Load.Rate != fm.Start || p.Messages != 50 {
		t.Errorf("find-max: %+v, rate %v, messages %d", p.FindMax, p.Load.Rate, p.Messages)
	}
	for args, want := range map[string]string{
		"--on-error retry":                              "--on-error: want abort or continue",
		"--max-errors x":                                "--max-errors: want a count",
		"--max-errors 0":                                "use --on-error abort",
		"--max-errors 200%":                             "percentage in (0, 100]",
		"--rate 5 --duration 2s --max-duration 3":       "use one",
		"--threshold eod<1s":                            "--threshold: ",
		"--threshold-abort":                             "--threshold-abort needs --threshold",
		"--find-max":                                    "--find-max needs --threshold",
		"--find-max --threshold errors<1 --rate 5 -m 9": "--find-max sets the rate",
	} {
		_, _, err := parseOptions(append(strings.Fields(args), "127.0.0.1:25"))
		if _, usage := err.(*usageError); !usage || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want a usage error with %q", args, err, want)
		}
	}
}

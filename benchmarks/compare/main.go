// Command compare runs Postfix smtp-source and go-smtp-source side by side against the
// same Postfix smtp-sink on loopback and prints a Markdown table: messages per second,
// CPU seconds per 10,000 messages and peak RSS of each, with our/their ratios and the
// issue's targets marked pass or fail.
//
// CPU time and peak RSS come from the child's own rusage (wait4: ru_utime+ru_stime,
// ru_maxrss), so they are exact, not sampled. Each case runs -runs times per tool
// (alternating which tool goes first) and every figure is the median of those runs.
// One smtp-sink process serves both tools within a case.
//
// Usage (from the repository root, after make build):
//
//	go run ./benchmarks/compare [-ours bin/go-smtp-source] [-theirs smtp-source]
//	    [-sink smtp-sink] [-runs 3] [-scale 1] [-cases d-s100,d-s100-pipe] [-out FILE]
//	    [-floor PATH]
//
// -floor names a build of benchmarks/floor, the least a client can do per message; the
// d-s100 case then runs it too, alone and on gnet's event loops (--gnet): their user CPU
// per message bounds what any client, and any client built on gnet as the engine is, can
// reach on the machine (benchmarks/README.md).
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// benchCase is one row of the table.
type benchCase struct {
	id     string
	label  string
	msgs   int
	common []string // options for both tools (before the target)
	ext    []string // extra options for go-smtp-source only
	// selfTheirs: the "theirs" column is go-smtp-source too, with selfExt, so that a case
	// compares two configurations of ours in the same run (metrics on against off).
	selfTheirs bool
	selfExt    []string
}

var allCases = []benchCase{
	{id: "s1", label: "-s 1", msgs: 10_000, common: []string{"-s", "1"}},
	{id: "d-s1", label: "-d -s 1", msgs: 100_000, common: []string{"-d", "-s", "1"}},
	{id: "s100", label: "-s 100", msgs: 100_000, common: []string{"-s", "100"}},
	{id: "d-s100", label: "-d -s 100", msgs: 100_000, common: []string{"-d", "-s", "100"}},
	{id: "d-s100-pipe", label: "-d -s 100, ours --ehlo --pipelining", msgs: 100_000,
		common: []string{"-d", "-s", "100"}, ext: []string{"--ehlo", "--pipelining"}},
	{id: "d-s100-1loop", label: "-d -s 100, ours --event-loops 1 (the other core left to the sink)", msgs: 100_000,
		common: []string{"-d", "-s", "100"}, ext: []string{"--event-loops", "1"}},
	{id: "d-s100-metrics", label: "-d -s 100: ours (theirs column: ours --no-metrics)", msgs: 100_000,
		common: []string{"-d", "-s", "100"}, selfTheirs: true, selfExt: []string{"--no-metrics"}},
	{id: "s1000", label: "-s 1000", msgs: 100_000, common: []string{"-s", "1000"}},
	{id: "d-s1000", label: "-d -s 1000", msgs: 100_000, common: []string{"-d", "-s", "1000"}},
}

// sample is one measured run.
type sample struct {
	wall    time.Duration
	cpu     time.Duration // user + system
	sys     time.Duration // of which system (kernel) time
	user    time.Duration // of which user time
	rssKB   int64
	sinkCPU time.Duration // the sink's user + system time during the run (from /proc)
}

type result struct {
	msgs          int
	theirs, ours  []sample
	theirsErr     string
	oursErr       string
	theirsCmd     string
	oursCmd       string
	floor         []sample   // the -floor client's runs (d-s100 only)
	gnetFloor     []sample   // the same on gnet's event loops (floor --gnet)
	msgsPerSecond [2]float64 // theirs, ours (median)
	cpuPer10k     [2]float64 // seconds
	peakRSSMB     [2]float64
	haveT, haveO  bool
}

var (
	mu       sync.Mutex
	children = map[int]*os.Process{} // running children, stopped by PID on SIGINT
)

func track(p *os.Process) {
	mu.Lock()
	children[p.Pid] = p
	mu.Unlock()
}

func untrack(p *os.Process) {
	mu.Lock()
	delete(children, p.Pid)
	mu.Unlock()
}

func main() {
	ours := flag.String("ours", "bin/go-smtp-source", "go-smtp-source binary")
	theirs := flag.String("theirs", "", "Postfix smtp-source binary (default: smtp-source from PATH or /usr/sbin)")
	sinkBin := flag.String("sink", "", "Postfix smtp-sink binary (default: smtp-sink from PATH or /usr/sbin)")
	runs := flag.Int("runs", 3, "runs per tool and case; the table shows medians")
	scale := flag.Float64("scale", 1, "multiply every case's message count (e.g. 0.1 for a quick look)")
	only := flag.String("cases", "", "comma-separated case ids to run (default all: "+caseIDs()+")")
	limit := flag.Duration("timeout", 10*time.Minute, "time limit for one run of one tool")
	out := flag.String("out", "", "also write the Markdown report to this file")
	floor := flag.String("floor", "", "in the d-s100 case, also run this minimal client (go build ./benchmarks/floor) for the bound on user CPU")
	flag.Parse()

	if *theirs == "" {
		*theirs = lookPath("smtp-source")
	}
	if *sinkBin == "" {
		*sinkBin = lookPath("smtp-sink")
	}
	for _, p := range []string{*ours, *theirs, *sinkBin} {
		if _, err := os.Stat(p); err != nil {
			fatalf("%v", err)
		}
	}
	// Pointing -ours at smtp-source itself validates the driver: the extension options
	// are then dropped.
	oursIsOracle := filepath.Base(*ours) == "smtp-source"

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sigs
		mu.Lock()
		for _, p := range children {
			_ = p.Signal(syscall.SIGTERM)
		}
		mu.Unlock()
		time.Sleep(500 * time.Millisecond)
		mu.Lock()
		for _, p := range children {
			_ = p.Kill()
		}
		mu.Unlock()
		fmt.Fprintf(os.Stderr, "compare: %v: stopped\n", s)
		os.Exit(130)
	}()

	selected := allCases
	if *only != "" {
		selected = nil
		for _, id := range strings.Split(*only, ",") {
			found := false
			for _, c := range allCases {
				if c.id == strings.TrimSpace(id) {
					selected = append(selected, c)
					found = true
				}
			}
			if !found {
				fatalf("unknown case %q (known: %s)", id, caseIDs())
			}
		}
	}

	results := make([]*result, len(selected))
	for i, c := range selected {
		msgs := max(1, int(float64(c.msgs)*(*scale)))
		floorBin := ""
		if c.id == "d-s100" {
			floorBin = *floor
		}
		results[i] = runCase(c, msgs, *runs, *theirs, *ours, oursIsOracle, *sinkBin, *limit, floorBin)
	}

	var rep bytes.Buffer
	report(&rep, selected, results, *runs, *ours, *theirs)
	os.Stdout.Write(rep.Bytes())
	if *out != "" {
		if err := os.WriteFile(*out, rep.Bytes(), 0o644); err != nil {
			fatalf("%v", err)
		}
	}
	for _, r := range results {
		if r.theirsErr != "" || r.oursErr != "" {
			os.Exit(1)
		}
	}
}

func caseIDs() string {
	var ids []string
	for _, c := range allCases {
		ids = append(ids, c.id)
	}
	return strings.Join(ids, ",")
}

func lookPath(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return "/usr/sbin/" + name
}

func fatalf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "compare: "+format+"\n", a...)
	os.Exit(2)
}

func runCase(c benchCase, msgs, runs int, theirs, ours string, oursIsOracle bool, sinkBin string, limit time.Duration, floor string) *result {
	r := &result{msgs: msgs}
	sink, addr, err := startSink(sinkBin)
	if err != nil {
		r.theirsErr, r.oursErr = err.Error(), err.Error()
		return r
	}
	defer stop(sink)

	common := append(append([]string{}, c.common...), "-m", strconv.Itoa(msgs))
	theirArgs := append(append([]string{}, common...), addr)
	theirName := "smtp-source"
	if c.selfTheirs {
		theirs, theirName = ours, "go-smtp-source"
		theirArgs = append(append(append([]string{}, c.selfExt...), common...), addr)
	}
	ourArgs := append([]string{}, c.ext...)
	if oursIsOracle {
		ourArgs = nil
	}
	ourArgs = append(append(ourArgs, common...), addr)
	r.theirsCmd = strings.ReplaceAll(theirName+" "+strings.Join(theirArgs, " "), addr, "127.0.0.1:PORT")
	r.oursCmd = strings.ReplaceAll("go-smtp-source "+strings.Join(ourArgs, " "), addr, "127.0.0.1:PORT")

	for i := 0; i < runs; i++ {
		order := []bool{false, true} // false: theirs
		if i%2 == 1 {
			order = []bool{true, false}
		}
		for _, isOurs := range order {
			bin, args, name := theirs, theirArgs, theirName
			if isOurs {
				bin, args, name = ours, ourArgs, "go-smtp-source"
			}
			fmt.Fprintf(os.Stderr, "compare: %-14s run %d/%d: %s %s\n", c.id, i+1, runs, name, strings.Join(args, " "))
			sinkBefore := procCPU(sink.Process.Pid)
			s, err := measure(bin, args, limit, msgs)
			s.sinkCPU = procCPU(sink.Process.Pid) - sinkBefore
			if err != nil {
				fmt.Fprintf(os.Stderr, "compare:   %v\n", err)
				if isOurs {
					r.oursErr = err.Error()
				} else {
					r.theirsErr = err.Error()
				}
				continue
			}
			fmt.Fprintf(os.Stderr, "compare:   %.0f msgs/s, %.3f CPU s/10k (user %.2f µs/msg, sys %.2f µs/msg), %.1f MB peak RSS\n",
				float64(msgs)/s.wall.Seconds(), s.cpu.Seconds()/float64(msgs)*1e4,
				s.user.Seconds()/float64(msgs)*1e6, s.sys.Seconds()/float64(msgs)*1e6, float64(s.rssKB)/1024)
			if isOurs {
				r.ours = append(r.ours, s)
			} else {
				r.theirs = append(r.theirs, s)
			}
			time.Sleep(300 * time.Millisecond) // let the sink and the kernel settle
		}
		if floor != "" {
			r.floor = append(r.floor, runFloor(c, i, runs, floor, theirArgs, limit, msgs)...)
			r.gnetFloor = append(r.gnetFloor, runFloor(c, i, runs, floor, append([]string{"--gnet"}, theirArgs...), limit, msgs)...)
		}
	}
	for k, ss := range [][]sample{r.theirs, r.ours} {
		if len(ss) == 0 {
			continue
		}
		if k == 0 {
			r.haveT = true
		} else {
			r.haveO = true
		}
		r.msgsPerSecond[k] = median(ss, func(s sample) float64 { return float64(msgs) / s.wall.Seconds() })
		r.cpuPer10k[k] = median(ss, func(s sample) float64 { return s.cpu.Seconds() / float64(msgs) * 1e4 })
		r.peakRSSMB[k] = median(ss, func(s sample) float64 { return float64(s.rssKB) / 1024 })
	}
	return r
}

// runFloor runs the -floor client once, after run i of a case, with smtp-source's
// arguments.
func runFloor(c benchCase, i, runs int, bin string, args []string, limit time.Duration, msgs int) []sample {
	fmt.Fprintf(os.Stderr, "compare: %-14s run %d/%d: floor %s\n", c.id, i+1, runs, strings.Join(args, " "))
	s, err := measure(bin, args, limit, msgs)
	if err != nil {
		fmt.Fprintf(os.Stderr, "compare:   %v\n", err)
		return nil
	}
	fmt.Fprintf(os.Stderr, "compare:   %.0f msgs/s, user %.2f µs/msg, sys %.2f µs/msg\n",
		float64(msgs)/s.wall.Seconds(), s.user.Seconds()/float64(msgs)*1e6, s.sys.Seconds()/float64(msgs)*1e6)
	time.Sleep(300 * time.Millisecond)
	return []sample{s}
}

// procCPU is a process's user + system time from /proc/PID/stat (clock ticks of 10 ms),
// or 0 when it cannot be read.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s) // f[0] is field 3 (state); utime and stime are fields 14 and 15
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

func minMax(ss []sample, f func(sample) float64) (lo, hi float64) {
	for i, s := range ss {
		v := f(s)
		if i == 0 || v < lo {
			lo = v
		}
		if i == 0 || v > hi {
			hi = v
		}
	}
	return lo, hi
}

func median(ss []sample, f func(sample) float64) float64 {
	v := make([]float64, len(ss))
	for i, s := range ss {
		v[i] = f(s)
	}
	sort.Float64s(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// measure runs one tool to completion and returns its wall time and its own rusage.
// When the run's stderr holds go-smtp-source's summary ("N accepted"), every planned
// message must have been accepted; smtp-source's exit status 0 already says so.
func measure(bin string, args []string, limit time.Duration, msgs int) (sample, error) {
	var stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout = io.Discard
	cmd.Stderr = &stderr
	cmd.Cancel = func() error { return cmd.Process.Kill() } // by PID
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return sample{}, err
	}
	track(cmd.Process)
	err := cmd.Wait()
	wall := time.Since(start)
	untrack(cmd.Process)
	if ctx.Err() != nil {
		return sample{}, fmt.Errorf("%s: killed after %v", filepath.Base(bin), limit)
	}
	if err != nil {
		return sample{}, fmt.Errorf("%s: %v: %s", filepath.Base(bin), err, tail(stderr.String(), 400))
	}
	if m := acceptedRe.FindStringSubmatch(stderr.String()); m != nil && m[1] != strconv.Itoa(msgs) {
		return sample{}, fmt.Errorf("%s: %s of %d messages accepted: %s", filepath.Base(bin), m[1], msgs, tail(stderr.String(), 400))
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return sample{}, errors.New("no rusage on this platform")
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return sample{wall: wall, cpu: cpu, sys: time.Duration(ru.Stime.Nano()), user: time.Duration(ru.Utime.Nano()), rssKB: ru.Maxrss}, nil
}

var acceptedRe = regexp.MustCompile(`\b(\d+) accepted\b`)

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// startSink starts Postfix smtp-sink on a free loopback port: -m 2000 (its default of
// 256 simultaneous connections would queue -s 1000 in the backlog), backlog 1024, and
// -u nobody when run as root.
func startSink(bin string) (*exec.Cmd, string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	addr := l.Addr().String()
	l.Close()
	var args []string
	if os.Geteuid() == 0 {
		args = append(args, "-u", "nobody")
	}
	args = append(args, "-m", "2000", addr, "1024")
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	track(cmd.Process)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return cmd, addr, nil
		}
		if time.Now().After(deadline) {
			stop(cmd)
			return nil, "", fmt.Errorf("smtp-sink on %s not accepting: %v; stderr: %s", addr, err, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends a child by its PID: SIGTERM, then SIGKILL after two seconds.
func stop(cmd *exec.Cmd) {
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
	untrack(cmd.Process)
}

func report(w io.Writer, cases []benchCase, rs []*result, runs int, ours, theirs string) {
	host, _ := os.Hostname()
	var uts syscall.Utsname
	_ = syscall.Uname(&uts)
	fmt.Fprintf(w, "## go-smtp-source vs Postfix smtp-source\n\n")
	fmt.Fprintf(w, "%s, host %s, %d CPUs, Linux %s; sink: Postfix smtp-sink -m 2000 on 127.0.0.1 (one per case, shared by both tools); "+
		"median of %d runs per tool; CPU = user+system from the child's rusage, RSS = ru_maxrss.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), host, runtime.NumCPU(), utsString(uts.Release[:]), runs)
	fmt.Fprintf(w, "ours: `%s`; theirs: `%s`\n\n", ours, theirs)
	fmt.Fprintln(w, "| case | messages | smtp-source msgs/s | ours msgs/s | ours/theirs | smtp-source CPU s/10k | ours CPU s/10k | ours/theirs | smtp-source peak RSS MB | ours peak RSS MB | ours/theirs |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	var targets []string
	for i, c := range cases {
		r := rs[i]
		cell := func(k int, v [2]float64, format string) string {
			if (k == 0 && !r.haveT) || (k == 1 && !r.haveO) {
				return "failed"
			}
			return fmt.Sprintf(format, v[k])
		}
		ratio := func(v [2]float64) string {
			if !r.haveT || !r.haveO || v[0] == 0 {
				return "–"
			}
			return fmt.Sprintf("%.2f×", v[1]/v[0])
		}
		fmt.Fprintf(w, "| `%s` | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", c.label, r.msgs,
			cell(0, r.msgsPerSecond, "%.0f"), cell(1, r.msgsPerSecond, "%.0f"), ratio(r.msgsPerSecond),
			cell(0, r.cpuPer10k, "%.3f"), cell(1, r.cpuPer10k, "%.3f"), ratio(r.cpuPer10k),
			cell(0, r.peakRSSMB, "%.1f"), cell(1, r.peakRSSMB, "%.1f"), ratio(r.peakRSSMB))

		both := r.haveT && r.haveO
		verdict := func(ok bool) string {
			if !both {
				return "**not measured**"
			}
			if ok {
				return "**pass**"
			}
			return "**FAIL**"
		}
		switch c.id {
		case "d-s100":
			q := r.msgsPerSecond[1] / r.msgsPerSecond[0]
			targets = append(targets, fmt.Sprintf("- `-d -s 100`: ours ≥ 1.3× smtp-source's msgs/s: %.2f× %s", q, verdict(q >= 1.3)))
			q = r.cpuPer10k[1] / r.cpuPer10k[0]
			targets = append(targets, fmt.Sprintf("- `-d -s 100`: ours ≤ 0.7× smtp-source's CPU per message: %.2f× %s", q, verdict(q <= 0.7)))
			if both {
				q = userPerMsg(r.ours, r.msgs) / userPerMsg(r.theirs, r.msgs)
				targets = append(targets, fmt.Sprintf("- `-d -s 100`: ours ≤ 0.6× smtp-source's user CPU per message: %.2f× %s", q, verdict(q <= 0.6)))
				targets = append(targets, bounds(r)...)
			}
		case "d-s100-metrics":
			q := r.msgsPerSecond[1] / r.msgsPerSecond[0]
			targets = append(targets, fmt.Sprintf("- `-d -s 100`: throughput with metrics within 3%% of --no-metrics: %.3f× %s", q, verdict(q >= 0.97)))
		case "d-s100-pipe":
			q := r.msgsPerSecond[1] / r.msgsPerSecond[0]
			lowest := lowestRunRatio(r)
			targets = append(targets, fmt.Sprintf("- `-d -s 100 --ehlo --pipelining`: ours ≥ 3× smtp-source's msgs/s in every run: median %.2f×, lowest run %.2f× %s",
				q, lowest, verdict(lowest >= 3)))
		case "d-s1000":
			targets = append(targets, fmt.Sprintf("- `-d -s 1000`: our peak RSS ≤ 40 MB: %.1f MB %s", r.peakRSSMB[1],
				func() string {
					if !r.haveO {
						return "**not measured**"
					}
					if r.peakRSSMB[1] <= 40 {
						return "**pass**"
					}
					return "**FAIL**"
				}()))
		}
	}
	if len(targets) > 0 {
		fmt.Fprintf(w, "\nTargets:\n\n%s\n", strings.Join(targets, "\n"))
	}
	fmt.Fprintf(w, "\nRun-to-run spread (msgs/s, min–max) and the sink's load (its CPU time over the run's wall time, median; "+
		"near 100%% the single-threaded sink is the bottleneck) and the sink CPU each tool's traffic costs per 10,000 messages "+
		"(from /proc, 10 ms ticks):\n\n")
	fmt.Fprintln(w, "| case | smtp-source msgs/s range | ours msgs/s range | sink busy, smtp-source runs | sink busy, our runs | sink CPU s/10k, smtp-source runs | sink CPU s/10k, our runs |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
	for i, c := range cases {
		r := rs[i]
		rng := func(ss []sample) string {
			if len(ss) == 0 {
				return "failed"
			}
			lo, hi := minMax(ss, func(s sample) float64 { return float64(r.msgs) / s.wall.Seconds() })
			return fmt.Sprintf("%.0f–%.0f", lo, hi)
		}
		busy := func(ss []sample) string {
			if len(ss) == 0 {
				return "–"
			}
			return fmt.Sprintf("%.0f%%", 100*median(ss, func(s sample) float64 { return s.sinkCPU.Seconds() / s.wall.Seconds() }))
		}
		sinkCost := func(ss []sample) string {
			if len(ss) == 0 {
				return "–"
			}
			return fmt.Sprintf("%.3f", median(ss, func(s sample) float64 { return s.sinkCPU.Seconds() / float64(r.msgs) * 1e4 }))
		}
		fmt.Fprintf(w, "| `%s` | %s | %s | %s | %s | %s | %s |\n", c.label, rng(r.theirs), rng(r.ours),
			busy(r.theirs), busy(r.ours), sinkCost(r.theirs), sinkCost(r.ours))
	}
	var errs []string
	for i, c := range cases {
		if rs[i].theirsErr != "" {
			errs = append(errs, fmt.Sprintf("- `%s` smtp-source: %s", c.label, rs[i].theirsErr))
		}
		if rs[i].oursErr != "" {
			errs = append(errs, fmt.Sprintf("- `%s` go-smtp-source: %s", c.label, rs[i].oursErr))
		}
	}
	if len(errs) > 0 {
		fmt.Fprintf(w, "\nFailed runs (not in the medians):\n\n%s\n", strings.Join(errs, "\n"))
	}
	fmt.Fprintf(w, "\nCommands (PORT is the case's sink):\n\n")
	for i, c := range cases {
		fmt.Fprintf(w, "- %s: `%s` / `%s`\n", c.id, rs[i].theirsCmd, rs[i].oursCmd)
	}
}

// bounds says, from the same run's measurements, how far any non-pipelining client could
// go against this sink on this machine: the sink's CPU per message of our traffic caps the
// rate even with a core of its own, both processes' CPU per message cap it on the
// machine's cores, and our kernel time alone (one write per command, one read per reply:
// the same syscalls smtp-source makes) bounds our CPU per message from below.
func bounds(r *result) []string {
	perMsg := func(ss []sample, f func(sample) time.Duration) float64 {
		return median(ss, func(s sample) float64 { return f(s).Seconds() / float64(r.msgs) })
	}
	sinkCPU := perMsg(r.ours, func(s sample) time.Duration { return s.sinkCPU })
	ourCPU := perMsg(r.ours, func(s sample) time.Duration { return s.cpu })
	ourSys := perMsg(r.ours, func(s sample) time.Duration { return s.sys })
	theirCPU := perMsg(r.theirs, func(s sample) time.Duration { return s.cpu })
	if sinkCPU == 0 || theirCPU == 0 {
		return nil
	}
	theirRate := r.msgsPerSecond[0]
	sinkCeiling := 1 / sinkCPU
	machineCeiling := float64(runtime.NumCPU()) / (sinkCPU + ourCPU)
	out := []string{
		fmt.Sprintf("  - bound: the sink spends %.1f µs of CPU per message of our traffic, so even with a core to itself "+
			"it cannot take more than %.0f msgs/s = %.2f× smtp-source's rate; sink and client together need %.1f µs "+
			"per message, which %d CPUs turn into at most %.0f msgs/s = %.2f×",
			sinkCPU*1e6, sinkCeiling, sinkCeiling/theirRate, (sinkCPU+ourCPU)*1e6, runtime.NumCPU(), machineCeiling, machineCeiling/theirRate),
		fmt.Sprintf("  - bound: our kernel (system) time alone is %.1f µs per message = %.2f× smtp-source's whole CPU per message (%.1f µs)",
			ourSys*1e6, ourSys/theirCPU, theirCPU*1e6),
	}
	theirUser, ourUser := userPerMsg(r.theirs, r.msgs), userPerMsg(r.ours, r.msgs)
	if len(r.floor) > 0 {
		floorUser := userPerMsg(r.floor, r.msgs)
		out = append(out, fmt.Sprintf("  - bound: a minimal client (benchmarks/floor: one thread, raw read, write and epoll_wait, no parsing, "+
			"no metrics) is charged %.1f µs of user CPU per message = %.2f× smtp-source's (%.1f µs) and ours is %.2f× it: "+
			"where the kernel samples user and system time at the tick (benchmarks/README.md), system calls are charged "+
			"to user time too", floorUser*1e6, floorUser/theirUser, theirUser*1e6, ourUser/floorUser))
	}
	if len(r.gnetFloor) > 0 {
		gnetUser := userPerMsg(r.gnetFloor, r.msgs)
		out = append(out, fmt.Sprintf("  - bound: the same client on gnet's event loops (floor --gnet: gnet reads, nothing queued is written "+
			"straight to the socket as the engine does, single-line replies, no metrics) is charged %.1f µs = %.2f× "+
			"smtp-source's, and ours is %.2f× it", gnetUser*1e6, gnetUser/theirUser, ourUser/gnetUser))
	}
	return out
}

// userPerMsg is the median user CPU per message, in seconds.
func userPerMsg(ss []sample, msgs int) float64 {
	return median(ss, func(s sample) float64 { return s.user.Seconds() / float64(msgs) })
}

// lowestRunRatio is the lowest of the runs' ours/theirs msgs/s, run i of each tool paired.
func lowestRunRatio(r *result) float64 {
	lowest := 0.0
	for i := range min(len(r.ours), len(r.theirs)) {
		q := r.theirs[i].wall.Seconds() / r.ours[i].wall.Seconds()
		if i == 0 || q < lowest {
			lowest = q
		}
	}
	return lowest
}

func utsString(b []int8) string {
	var sb strings.Builder
	for _, c := range b {
		if c == 0 {
			break
		}
		sb.WriteByte(byte(c))
	}
	return sb.String()
}

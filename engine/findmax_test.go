package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/plan"
	"github.com/go-smtp-source/go-smtp-source/sink"
	"github.com/go-smtp-source/go-smtp-source/sink/sinktest"
)

// startSink runs go-smtp-sink's engine in this process with cfg (Listen is set here).
func startSink(t testing.TB, cfg sink.Config) string {
	t.Helper()
	return startSinkServer(t, cfg).Addr().String()
}

// startSinkServer is startSink, returning the server (its counters).
func startSinkServer(t testing.TB, cfg sink.Config) *sink.Server {
	t.Helper()
	cfg.Listen = "" // a loopback port of its own: srv.Addr once ready
	return sinktest.Start(t, cfg)
}

// capacity measures what a server sustains: a closed-model run with more sessions than
// it serves at once, a connection per message, for about span. It returns the rate and
// a latency bound for the search's threshold: twice the run's service time p90 (each
// message waited there for a busy server, as it will at the top of the search), and at
// least 100 ms, plus twice the machine's longest stall measured meanwhile (a reply waits
// for two wake-ups, the server's and ours: a busy machine makes a message at half the
// capacity that much later, which is not the server's limit).
func capacity(t *testing.T, addr string, sessions int, span time.Duration, guess float64) (float64, time.Duration) {
	t.Helper()
	tr := config(t, addr, sessions, max(50, int64(guess*span.Seconds())))
	probe := testpeer.ProbeScheduling(t)
	res, err := runTest(context.Background(), tr)
	stalls := 2 * probe.Stop().Max()
	if err != nil || res.Accepted != tr.Messages {
		t.Fatalf("measuring capacity: %v, %+v", err, res)
	}
	bound := max(100*time.Millisecond, 2*res.Metrics.Quantile(metrics.ServiceTime, 0.9)) + stalls
	return float64(res.Accepted) / res.Elapsed.Seconds(), bound.Round(time.Millisecond)
}

// searchPlan is a capacity search from start, doubling, with steps of step and two
// bisections, holding while the CO-corrected latency p90 stays under latency and under 1% of
// the messages fail.
func searchPlan(t *testing.T, addr string, start float64, step, latency time.Duration) *testRun {
	tr := config(t, addr, 0, 1)
	tr.Load.Model, tr.Load.Rate, tr.Errors.OnError = plan.ModelOpen, start, plan.OnErrorContinue
	tr.Session.Timeout, tr.Grace = 5*time.Second, time.Second
	tr.Thresholds.Exprs = []string{"latency.p90<" + latency.String(), "errors<1%"}
	tr.FindMax = &plan.FindMax{Start: start, Factor: 2, StepDuration: step, Bisect: 2, MaxSteps: 8}
	return tr
}

// checkSearch: the search rose until a step broke, bisected, and found a rate within
// one step of the server's capacity, measured before (c) and again after (after) the
// search: at least half of the lower measurement (the step below), at most upper times
// the higher (a held step cannot run much above what the server sustains). Two
// measurements bracket the conditions the search ran under: other work on the machine
// moves a server's capacity, and their spread is how much it moved meanwhile.
func checkSearch(t *testing.T, res FindMaxResult, c, after, upper float64) {
	t.Helper()
	var log string
	broke := false
	for _, st := range res.Steps {
		log += fmt.Sprintf("  %.1f/s held %v achieved %.1f/s latency p99 %v %s %v\n", st.Rate, st.Held, st.Result.AchievedRate(),
			st.Result.Metrics.Quantile(metrics.Latency, 0.99), metrics.DescribeBreaches(metrics.Breached(st.Verdicts)), st.Err)
		checkAccounting(t, st.Result)
		broke = broke || !st.Held
	}
	low, high := min(c, after), max(c, after)
	if !broke || res.Highest < low/2 || res.Highest > upper*high {
		t.Fatalf("highest rate held %.1f/s, measured capacity %.1f/s before and %.1f/s after; steps:\n%s", res.Highest, c, after, log)
	}
	t.Logf("capacity %.1f/s before, %.1f/s after, found %.1f/s; steps:\n%s", c, after, res.Highest, log)
}

// --find-max finds go-smtp-sink's capacity within one step: two sessions served at
// once (-m 2), each end-of-data reply 50 ms late (the delay, not the CPU, sets the
// capacity, so that a loaded machine moves it little), a connection per message.
func TestFindMaxSink(t *testing.T) {
	if raceEnabled {
		t.Skip("a capacity search under a latency threshold; run without -race")
	}
	var cfg sink.Config
	cfg.MaxConnections, cfg.EventLoops = 2, 1
	if err := cfg.SetDelays("dot=50ms"); err != nil {
		t.Fatal(err)
	}
	addr := startSink(t, cfg)
	c, bound := capacity(t, addr, 4, 2*time.Second, 40)
	var seen []float64
	res, err := FindMax(context.Background(), searchPlan(t, addr, c/4, 3*time.Second, bound).Plan, Hooks{},
		func(st FindMaxStep) { seen = append(seen, st.Rate) })
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(res.Steps) {
		t.Fatalf("steps reported %v, run %d", seen, len(res.Steps))
	}
	after, _ := capacity(t, addr, 4, 2*time.Second, c)
	checkSearch(t, res, c, after, 1.3)
	t.Logf("latency bound %v", bound)
}

// A search is refused without thresholds, and an interrupt ends it with the steps so
// far.
func TestFindMaxRefusesAndStops(t *testing.T) {
	addr := startSink(t, sink.Config{EventLoops: 1})
	tr := searchPlan(t, addr, 50, time.Second, time.Second)
	tr.Thresholds.Exprs = nil
	if _, err := FindMax(context.Background(), tr.Plan, Hooks{}, nil); err == nil {
		t.Fatal("a search without thresholds ran")
	}
	tr = searchPlan(t, addr, 50, time.Second, time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	res, err := FindMax(ctx, tr.Plan, Hooks{}, func(FindMaxStep) { cancel() })
	if !errors.Is(err, ErrInterrupted) || len(res.Steps) != 1 || !res.Steps[0].Held {
		t.Fatalf("err %v, steps %+v", err, res.Steps)
	}
}

// --find-max finds the capacity of Postfix's smtpd limited to two processes within one
// step (of two: Postfix's capacity is its CPU's and its disk's, which other work on the
// machine moves; the measurements before and after the search bracket it).
func TestFindMaxPostfix(t *testing.T) {
	if raceEnabled {
		t.Skip("a capacity search under a latency threshold; run without -race")
	}
	ca := testpeer.NewCA(t, "find-max CA")
	leaf := ca.Issue(t, testpeer.LocalhostSpec())
	// The queue on tmpfs: Postfix syncs each queue file to disk, and a disk shared with
	// other work stalls some of those syncs for a tenth of a second, which would be the
	// figure the search measures rather than the server's capacity.
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		t.Setenv("TMPDIR", "/dev/shm")
	}
	smtpd := testpeer.StartPostfixSMTPDLimited(t, leaf.CertPEM, leaf.KeyPEM, 2)
	c, bound := capacity(t, smtpd.Addr, 6, 2*time.Second, 200)
	res, err := FindMax(context.Background(), searchPlan(t, smtpd.Addr, c/4, 2*time.Second, bound).Plan, Hooks{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := capacity(t, smtpd.Addr, 6, 2*time.Second, c)
	checkSearch(t, res, c, after, 2)
	t.Logf("latency bound %v", bound)
}

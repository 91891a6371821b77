package main

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/sink"
)

// traceSink is a go-smtp-sink with --trace, its /trace served on a port of its own
// choosing (--http 127.0.0.1:0), and its --stats.
type traceSink struct {
	*testpeer.Process
	Addr  string // SMTP
	URL   string // http://HOST:PORT, for --e2e-sink
	stats string
}

func startTraceSink(t *testing.T, opts ...string) *traceSink {
	t.Helper()
	stats := filepath.Join(t.TempDir(), "sink-stats.json")
	bin := testpeer.BuildCommand(t, "go-smtp-sink")
	args := append([]string{"--trace", "--http", "127.0.0.1:0", "--stats", stats}, opts...)
	p := testpeer.Start(t, bin, append(args, "127.0.0.1:0", "1024")...)
	if !p.WaitOutput("http: listening on ", 10*time.Second) {
		t.Fatalf("go-smtp-sink printed no HTTP address: %s", p.Stderr.String())
	}
	m := regexp.MustCompile(`http: listening on (\S+)\n`).FindStringSubmatch(p.Stderr.String())
	if m == nil {
		t.Fatalf("go-smtp-sink: %q", p.Stderr.String())
	}
	// Both listeners bound port 0: the SMTP one is the other.
	addr := testpeer.WaitListening(t, p, 10*time.Second, m[1])
	if err := testpeer.WaitAccepting(addr, 10*time.Second); err != nil {
		t.Fatalf("go-smtp-sink: %v; stderr %s", err, p.Stderr.String())
	}
	return &traceSink{Process: p, Addr: addr, URL: "http://" + m[1], stats: stats}
}

// stop ends the sink and returns its counters.
func (s *traceSink) stop(t *testing.T) sink.Snapshot {
	t.Helper()
	return stopGoSinkStats(t, s.Process, s.stats)
}

// e2eRun is one go-smtp-source run traced through the MTA: its result and document.
type e2eRun struct {
	res     testpeer.Result
	report  *metrics.Report
	run     *metrics.E2ERun
	file    string
	started time.Time
}

// runTraced runs go-smtp-source with args and --json, bounded to two minutes, and reads
// the document's traced run.
func runTraced(t *testing.T, args ...string) e2eRun {
	t.Helper()
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	out := filepath.Join(t.TempDir(), "run.json")
	started := time.Now()
	res := testpeer.Run(t, 2*time.Minute, bin, append([]string{"--json", out}, args...)...)
	if res.ExitCode == -1 {
		t.Fatalf("go-smtp-source %v: %v", args, res)
	}
	rep := readReport(t, out)
	if rep.E2E == nil || len(rep.E2E.Runs) != 1 {
		t.Fatalf("no traced run in the document: %v", res)
	}
	return e2eRun{res: res, report: rep, run: &rep.E2E.Runs[0], file: out, started: started}
}

// 2,000 messages through a real Postfix relaying to go-smtp-sink: every one delivered
// once, none lost, the delivery latency above 0 and below the run's length, and the
// sink's own count the same.
func TestE2EThroughPostfix(t *testing.T) {
	t.Parallel() // counts through Postfix, each run waiting long enough for every delivery: runs beside the other parallel tests
	s := startTraceSink(t)
	relay := testpeer.StartPostfixRelay(t, s.Addr, testpeer.RelayOptions{})
	r := runTraced(t, "-d", "-s", "20", "-m", "2000", "-f", "a@source.test", "-t", "b@dest.test",
		"--e2e-sink", s.URL, "--e2e-wait", "60s", relay.Addr)
	took := time.Since(r.started)
	if r.res.ExitCode != 0 {
		t.Fatalf("%v\npostfix: %s", r.res, relay.Log())
	}
	e := r.run
	if e.Accepted.Len() != 2000 || e.Delivered != 2000 || e.Lost != 0 || e.Duplicates != 0 || e.DeliveredLate != 0 || e.Unexpected != 0 {
		t.Errorf("accepted %d, delivered %d, late %d, lost %d %v, duplicates %d, unexpected %d", e.Accepted.Len(), e.Delivered,
			e.DeliveredLate, e.Lost, e.LostSeqs, e.Duplicates, e.Unexpected)
	}
	d := e.Delivery
	if d.Count != 2000 || d.MinNs <= 0 || time.Duration(d.MaxNs) >= took {
		t.Errorf("delivery latency: %d samples, %v … %v; the run took %v", d.Count, time.Duration(d.MinNs), time.Duration(d.MaxNs), took)
	}
	t.Logf("%s", r.res.Stderr[:strings.Index(r.res.Stderr, "\n")])
	t.Logf("delivery through Postfix: p50 %v, p99 %v, max %v (run %v)", time.Duration(d.P50Ns), time.Duration(d.P99Ns), time.Duration(d.MaxNs), took)
	if st := s.stop(t); st.Trace == nil || st.Trace.Seen != 2000 || st.Trace.Duplicates != 0 {
		t.Errorf("the sink's own count: %+v", st.Trace)
	}
	if !strings.Contains(r.res.Stderr, "End to end, run "+e.Run) {
		t.Errorf("no end-to-end section in the text report:\n%s", r.res.Stderr)
	}
}

// Go-smtp-sink greylists every triplet once (-N: each message its own recipient) and
// Postfix retries after a second or two: every message is delivered, each after at least
// the greylisting delay, and the sink let each triplet through once.
func TestE2EGreylistedThroughPostfix(t *testing.T) {
	t.Parallel() // counts through Postfix, each run waiting long enough for every delivery: runs beside the other parallel tests
	const delay, messages = time.Second, 200
	s := startTraceSink(t, "--greylist", "--greylist-delay", delay.String())
	relay := testpeer.StartPostfixRelay(t, s.Addr, testpeer.RelayOptions{Retry: time.Second})
	r := runTraced(t, "-N", "-s", "20", "-m", fmt.Sprint(messages), "-f", "a@source.test", "-t", "b@dest.test",
		"--e2e-sink", s.URL, "--e2e-wait", "60s", relay.Addr)
	if r.res.ExitCode != 0 {
		t.Fatalf("%v\npostfix: %s", r.res, relay.Log())
	}
	e, d := r.run, r.run.Delivery
	if e.Accepted.Len() != messages || e.Delivered != messages || e.Lost != 0 || e.Duplicates != 0 {
		t.Errorf("accepted %d, delivered %d, lost %d %v, duplicates %d\npostfix: %s", e.Accepted.Len(), e.Delivered, e.Lost, e.LostSeqs, e.Duplicates, relay.Log())
	}
	if d.Count != messages || time.Duration(d.MinNs) < delay {
		t.Errorf("greylisted messages delivered after %v … %v, want at least %v", time.Duration(d.MinNs), time.Duration(d.MaxNs), delay)
	}
	t.Logf("greylisted: delivery min %v, p50 %v, p99 %v, max %v", time.Duration(d.MinNs), time.Duration(d.P50Ns), time.Duration(d.P99Ns), time.Duration(d.MaxNs))
	st := s.stop(t)
	if g := st.Greylist; g == nil || g.Passed != messages || g.Refused < messages || g.Refused != st.RefusalsByKey["rcpt:temp:450:4.7.1"] {
		t.Errorf("the sink's greylist: %+v, refusals %v", g, st.RefusalsByKey)
	}
}

// Postfix holds every message whose sequence number ends in 3 (header_checks HOLD): the
// run, whose wait ends after a second, counts them lost; released once it has ended,
// they are delivered, and a reconcile of the sink's document then counts them delivered
// late, none lost, the others as the run did.
func TestE2ELateThroughPostfix(t *testing.T) {
	s := startTraceSink(t)
	relay := testpeer.StartPostfixRelay(t, s.Addr, testpeer.RelayOptions{Retry: time.Second, // released mail goes out at the next scan
		HeaderChecks: []string{`/^X-GSS-Trace: [^ ]+ [0-9]*3 / HOLD sequence number ends in 3`}})
	r := runTraced(t, "-s", "10", "-m", "200", "-f", "a@source.test", "-t", "b@dest.test",
		"--e2e-sink", s.URL, "--e2e-wait", "1s", relay.Addr)
	var held []uint64
	for n := uint64(3); n <= 200; n += 10 {
		held = append(held, n)
	}
	e := r.run
	if e.Accepted.Len() != 200 || e.Lost != 20 || !slices.Equal(e.LostSeqs, held) || e.Delivered+e.DeliveredLate != 180 {
		t.Fatalf("accepted %d, delivered %d, late %d, lost %d %v\npostfix: %s", e.Accepted.Len(), e.Delivered, e.DeliveredLate, e.Lost, e.LostSeqs, relay.Log())
	}
	relay.Release(t)
	if err := relay.WaitQueueEmpty(30 * time.Second); err != nil {
		t.Fatalf("%v\npostfix: %s", err, relay.Log())
	}
	rec := reconcileWithSink(t, s, r.file)
	if rec.DeliveredLate != e.DeliveredLate+20 || rec.Lost != 0 || rec.Delivered != e.Delivered || rec.Delivery.Count != 200 {
		t.Errorf("reconciled: delivered %d, late %d, lost %d %v, %d latencies; the run: delivered %d, late %d",
			rec.Delivered, rec.DeliveredLate, rec.Lost, rec.LostSeqs, rec.Delivery.Count, e.Delivered, e.DeliveredLate)
	}
	// Message 3 was sent before the run's end and released after its one-second wait.
	if max := time.Duration(rec.Delivery.MaxNs); max < time.Second {
		t.Errorf("the held messages' latency %v is shorter than the run's wait", max)
	}
}

// The sink takes about 10% of the messages and then answers the dot 421 (--reject
// .=421:10%:delivered): Postfix sends each of them again, and every injected refusal
// is one duplicate, counted exactly once Postfix's queue is empty (a reconcile of the
// sink's document; the live run, whose wait ends with every number seen once, at most
// that many).
func TestE2EDuplicatesThroughPostfix(t *testing.T) {
	t.Parallel() // counts through Postfix, each run waiting long enough for every delivery: runs beside the other parallel tests
	const messages = 300
	s := startTraceSink(t, "--reject", ".=421:10%:delivered", "--seed", "16")
	relay := testpeer.StartPostfixRelay(t, s.Addr, testpeer.RelayOptions{Retry: time.Second})
	r := runTraced(t, "-s", "20", "-m", fmt.Sprint(messages), "-f", "a@source.test", "-t", "b@dest.test",
		"--e2e-sink", s.URL, "--e2e-wait", "30s", relay.Addr)
	if r.res.ExitCode != 0 {
		t.Fatalf("%v\npostfix: %s", r.res, relay.Log())
	}
	if err := relay.WaitQueueEmpty(60 * time.Second); err != nil {
		t.Fatalf("%v\npostfix: %s", err, relay.Log())
	}
	rec := reconcileWithSink(t, s, r.file)
	st := s.stop(t)
	injected := st.RefusalsByKey["eod:temp:421:4.3.0"]
	t.Logf("injected %d refusals after the dot; the run counted %d duplicates, the reconcile %d", injected, r.run.Duplicates, rec.Duplicates)
	if injected == 0 || rec.Duplicates != injected || st.Trace == nil || st.Trace.Duplicates != injected {
		t.Errorf("duplicates: reconciled %d, the sink's trace %+v; injected refusals %v", rec.Duplicates, st.Trace, st.RefusalsByKey)
	}
	if rec.Delivered != messages || rec.Lost != 0 || rec.Unexpected != 0 || r.run.Duplicates > injected {
		t.Errorf("reconciled: delivered %d, lost %d, unexpected %d; the run's duplicates %d", rec.Delivered, rec.Lost, rec.Unexpected, r.run.Duplicates)
	}
}

// reconcileWithSink saves the sink's whole trace document now and reconciles the run's
// document with it (go-smtp-source reconcile --json), returning the traced run.
func reconcileWithSink(t *testing.T, s *traceSink, runFile string, args ...string) *metrics.E2ERun {
	t.Helper()
	run, _ := reconcileReport(t, s, runFile, args...)
	return run
}

// reconcileReport is reconcileWithSink with the reconciled document's verdicts and the
// command's result.
func reconcileReport(t *testing.T, s *traceSink, runFile string, args ...string) (*metrics.E2ERun, reconciled) {
	t.Helper()
	dir := t.TempDir()
	sinkFile, out := filepath.Join(dir, "sink-trace.json"), filepath.Join(dir, "reconciled.json")
	if err := os.WriteFile(sinkFile, testpeer.HTTPGet(t, s.URL+"/trace"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	res := testpeer.Run(t, time.Minute, bin, append(append([]string{"reconcile", "--json", out}, args...), runFile, sinkFile)...)
	if res.ExitCode != 0 && res.ExitCode != exitThreshold {
		t.Fatalf("reconcile: %v", res)
	}
	rep := readReport(t, out)
	if rep.E2E == nil || len(rep.E2E.Runs) != 1 {
		t.Fatalf("reconcile wrote no traced run: %v", res)
	}
	return &rep.E2E.Runs[0], reconciled{res, rep}
}

type reconciled struct {
	res    testpeer.Result
	report *metrics.Report
}

// Postfix's header_checks DISCARD every message whose trace sequence number ends in 7:
// --threshold lost==0 breaks (exit 99), and once Postfix's queue is empty a reconcile
// of the sink's document counts exactly those lost, listed by number, and every other
// one delivered: on time as the run counted, or late. (The run's own wait is short: it
// can only end at its deadline, since the discarded messages never come.)
func TestE2EDiscardedThroughPostfix(t *testing.T) {
	t.Parallel() // counts through Postfix, each run waiting long enough for every delivery: runs beside the other parallel tests
	const messages = 500
	s := startTraceSink(t)
	relay := testpeer.StartPostfixRelay(t, s.Addr, testpeer.RelayOptions{
		HeaderChecks: []string{`/^X-GSS-Trace: [^ ]+ [0-9]*7 / DISCARD sequence number ends in 7`}})
	r := runTraced(t, "-s", "20", "-m", fmt.Sprint(messages), "-f", "a@source.test", "-t", "b@dest.test", "--threshold", "lost==0",
		"--threshold", "duplicates==0", "--e2e-sink", s.URL, "--e2e-wait", "2s", relay.Addr)
	var discarded []uint64
	for n := uint64(7); n <= messages; n += 10 {
		discarded = append(discarded, n)
	}
	e := r.run
	if r.res.ExitCode != exitThreshold || !strings.Contains(r.res.Stderr, fmt.Sprintf("fatal: threshold breached: lost==0 (observed %d)\n", e.Lost)) {
		t.Errorf("want exit 99 for lost==0: %v", r.res)
	}
	if e.Accepted.Len() != messages || e.Lost < 50 || len(e.LostSeqs) != int(e.Lost) || !isSubset(discarded, e.LostSeqs) || e.Duplicates != 0 {
		t.Errorf("accepted %d, delivered %d, lost %d %v, duplicates %d\npostfix: %s", e.Accepted.Len(), e.Delivered, e.Lost, e.LostSeqs, e.Duplicates, relay.Log())
	}
	if v := r.report.Thresholds; len(v) != 2 || v[0].Pass || v[0].Observed != float64(e.Lost) || !v[1].Pass {
		t.Errorf("verdicts %+v", v)
	}
	if err := relay.WaitQueueEmpty(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	rec, out := reconcileReport(t, s, r.file)
	if out.res.ExitCode != exitThreshold || rec.Lost != 50 || !slices.Equal(rec.LostSeqs, discarded) || rec.Delivered != e.Delivered ||
		rec.DeliveredLate != e.DeliveredLate+e.Lost-50 || rec.Duplicates != 0 || rec.Unexpected != 0 || rec.Delivery.Count != messages-50 {
		t.Errorf("reconciled: delivered %d, late %d, lost %d %v, duplicates %d, %d latencies (exit %d); the run: delivered %d, late %d, lost %d",
			rec.Delivered, rec.DeliveredLate, rec.Lost, rec.LostSeqs, rec.Duplicates, rec.Delivery.Count, out.res.ExitCode, e.Delivered, e.DeliveredLate, e.Lost)
	}
	if v := out.report.Thresholds; len(v) != 2 || v[0].Pass || v[0].Observed != 50 || !v[1].Pass {
		t.Errorf("reconciled verdicts %+v", v)
	}
	if !regexp.MustCompile(`Lost +\[sequence numbers\] +7 17 27 37 47 57 `).MatchString(out.res.Stdout) {
		t.Errorf("the text report does not list the lost numbers:\n%s", out.res.Stdout)
	}
}

// isSubset reports whether every member of sub (ascending) is in set (ascending).
func isSubset(sub, set []uint64) bool {
	for _, n := range sub {
		if _, found := slices.BinarySearch(set, n); !found {
			return false
		}
	}
	return true
}

// Direct to a go-smtp-sink that pushes back (--reject at MAIL, 421 closing the
// connection, at RCPT and at the dot, with a seed): go-smtp-source files exactly the
// sink's count of each injected refusal under the same error key, and no other error;
// the traced run finds every accepted message at the sink, and nothing else. (A 421
// banner is not among them: -A takes it as smtp-source does, a warning, and the
// session's failure is the lost connection at HELO.)
func TestE2EPushbackKeysMatchSink(t *testing.T) {
	const messages = 1000
	s := startTraceSink(t, "--reject", "mail=421:2%,rcpt=550:5%,.=451:3%", "--seed", "16")
	r := runTraced(t, "-A", "-d", "-s", "4", "-m", fmt.Sprint(messages), "--e2e-sink", s.URL, "--e2e-wait", "10s", s.Addr)
	st := s.stop(t)
	got := map[string]int64{}
	for _, e := range r.report.Errors {
		got[e.Key] = e.Count
	}
	for _, key := range []string{"mail:temp:421:4.3.0", "rcpt:perm:550:5.3.0", "eod:temp:451:4.3.0"} {
		if st.RefusalsByKey[key] == 0 {
			t.Errorf("the sink injected no %s: %v", key, st.RefusalsByKey)
		}
	}
	if !maps.Equal(got, st.RefusalsByKey) {
		t.Errorf("go-smtp-source's errors %v, go-smtp-sink's refusals %v", got, st.RefusalsByKey)
	}
	e := r.run
	if tot := r.report.Totals; tot.Accepted+tot.Rejected+tot.Failed != messages || tot.Accepted != st.MessagesAccepted ||
		e.Accepted.Len() != tot.Accepted || e.Delivered != tot.Accepted || e.Lost != 0 || e.Duplicates != 0 || e.Unexpected != 0 {
		t.Errorf("totals %+v, sink accepted %d; e2e accepted %d, delivered %d, lost %d, duplicates %d, unexpected %d",
			tot, st.MessagesAccepted, e.Accepted.Len(), e.Delivered, e.Lost, e.Duplicates, e.Unexpected)
	}
	t.Logf("errors %v", got)
}

// A cluster of two workers traces one run through Postfix, which routes the messages
// with an even sequence number to a second go-smtp-sink (header_checks FILTER): the
// coordinator polls both sinks (--e2e-sink twice) and reconciles the merged run — every
// message delivered once, each sink seeing its half.
func TestE2EClusterTwoSinksThroughPostfix(t *testing.T) {
	t.Parallel() // counts through Postfix, each run waiting long enough for every delivery: runs beside the other parallel tests
	const messages = 200
	odd, even := startTraceSink(t), startTraceSink(t)
	relay := testpeer.StartPostfixRelay(t, odd.Addr, testpeer.RelayOptions{
		HeaderChecks: []string{`/^X-GSS-Trace: [^ ]+ [0-9]*[02468] / FILTER smtp:[` + strings.Replace(even.Addr, ":", "]:", 1)}})
	c := startCoordinator(t, 2, "-s", "10", "-m", fmt.Sprint(messages), "-f", "a@source.test", "-t", "b@dest.test",
		"--e2e-sink", odd.URL, "--e2e-sink", even.URL, "--e2e-wait", "30s", relay.Addr)
	for i := range 2 {
		c.startWorker(t, fmt.Sprintf("w%d", i), "--once", "--allow-target", relay.Addr)
	}
	if code := waitExit(t, c.coord, 90*time.Second); code != 0 {
		t.Fatalf("coordinator exit %d; stderr:\n%s\npostfix: %s", code, c.coord.Stderr.String(), relay.Log())
	}
	rep := readReport(t, c.json)
	if rep.E2E == nil || len(rep.E2E.Runs) != 1 || len(rep.Sources) != 2 {
		t.Fatalf("merged document: e2e %+v, %d sources", rep.E2E, len(rep.Sources))
	}
	e := rep.E2E.Runs[0]
	if e.Accepted.Len() != messages || e.Delivered != messages || e.Lost != 0 || e.Duplicates != 0 || e.Unexpected != 0 || e.Delivery.Count != messages {
		t.Errorf("accepted %d, delivered %d, lost %d %v, duplicates %d, unexpected %d, %d latencies", e.Accepted.Len(), e.Delivered,
			e.Lost, e.LostSeqs, e.Duplicates, e.Unexpected, e.Delivery.Count)
	}
	if len(e.Sinks) != 2 || e.Sinks[0].Name != odd.URL || e.Sinks[1].Name != even.URL {
		t.Fatalf("sinks %+v", e.Sinks)
	}
	for i, s := range e.Sinks {
		members := s.Seen.Members(messages)
		if len(members) != messages/2 || slices.ContainsFunc(members, func(n uint64) bool { return int(n%2) == i }) {
			t.Errorf("sink %s saw %d numbers: %v", s.Name, len(members), members)
		}
	}
	if !strings.Contains(c.coord.Stderr.String(), "Sink "+even.URL) {
		t.Errorf("no second sink in the report:\n%s", c.coord.Stderr.String())
	}
}

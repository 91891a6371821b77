package main

import (
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/sink"
)

// sourceReport runs go-smtp-source against the sink, bounded to a minute, and returns its
// result document.
func sourceReport(t *testing.T, s *goSink, args ...string) *metrics.Report {
	t.Helper()
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	out := filepath.Join(t.TempDir(), "run.json")
	res := testpeer.Run(t, time.Minute, bin, append(append([]string{"--quiet", "--json", out}, args...), s.Addr)...)
	if res.ExitCode == -1 {
		t.Fatalf("go-smtp-source %v: %v", args, res)
	}
	rep, err := metrics.ReadReportFile(out)
	if err != nil {
		t.Fatalf("go-smtp-source %v: %v; %v", args, err, res)
	}
	return rep
}

// sourceErrors is the report's count per error key.
func sourceErrors(rep *metrics.Report) map[string]int64 {
	m := map[string]int64{}
	for _, e := range rep.Errors {
		m[e.Key] = e.Count
	}
	return m
}

// checkRefusalsMatch asserts that the source filed exactly the sink's refusals under each
// key (and no error the sink did not cause).
func checkRefusalsMatch(t *testing.T, rep *metrics.Report, st sink.Snapshot) {
	t.Helper()
	got := sourceErrors(rep)
	for key, n := range st.RefusalsByKey {
		if got[key] != n {
			t.Errorf("%s: go-smtp-source counted %d, go-smtp-sink %d", key, got[key], n)
		}
	}
	for key, n := range got {
		if _, ok := st.RefusalsByKey[key]; !ok {
			t.Errorf("go-smtp-source counted %d %s, which go-smtp-sink did not inject", n, key)
		}
	}
}

// TestRejectCountsMatchSource: probabilistic rejections at RCPT and at the end of data,
// against go-smtp-source with -A. The source's error keys equal the sink's counts, each
// count is within the binomial bound, and the same --seed gives the same counts.
func TestRejectCountsMatchSource(t *testing.T) {
	const messages = 2000
	run := func(seed string) sink.Snapshot {
		s := startGoSink(t, "--reject", "rcpt=550:5%,.=451:2%", "--seed", seed)
		rep := sourceReport(t, s, "-A", "-d", "-s", "4", "-m", "2000")
		st := s.stop(t)
		checkRefusalsMatch(t, rep, st)
		if rep.Totals.Accepted != st.MessagesAccepted || rep.Totals.Accepted+rep.Totals.Rejected != messages {
			t.Errorf("totals %+v, sink accepted %d", rep.Totals, st.MessagesAccepted)
		}
		return st
	}
	first := run("7")
	rcpt, eod := first.RefusalsByKey["rcpt:perm:550:5.3.0"], first.RefusalsByKey["eod:temp:451:4.3.0"]
	for _, c := range []struct {
		what   string
		got, n int64
		p      float64
	}{{"rcpt 5%", rcpt, messages, 0.05}, {". 2%", eod, messages - rcpt, 0.02}} {
		mean, sd := float64(c.n)*c.p, math.Sqrt(float64(c.n)*c.p*(1-c.p))
		if math.Abs(float64(c.got)-mean) > 5*sd {
			t.Errorf("%s: %d of %d, outside %.1f ± 5σ (σ %.1f)", c.what, c.got, c.n, mean, sd)
		}
	}
	if first.Seed != 7 {
		t.Errorf("seed %d", first.Seed)
	}
	again := run("7")
	if again.RefusalsByKey["rcpt:perm:550:5.3.0"] != rcpt || again.RefusalsByKey["eod:temp:451:4.3.0"] != eod {
		t.Errorf("--seed 7 twice: %v then %v", first.RefusalsByKey, again.RefusalsByKey)
	}
}

// TestGreylistAgainstSource runs go-smtp-source twice: every triplet (numbered
// recipients) is greylisted the first time, and accepted when retried after the delay.
func TestGreylistAgainstSource(t *testing.T) {
	const delay = 1500 * time.Millisecond
	s := startGoSink(t, "--greylist", "--greylist-delay", delay.String())
	first := time.Now()
	rep := sourceReport(t, s, "-A", "-d", "-N", "-m", "20")
	lastGreylisted := time.Now() // every triplet's first attempt was before this
	errs := sourceErrors(rep)
	if errs["rcpt:temp:450:4.7.1"] != 20 || rep.Totals.Accepted != 0 {
		t.Fatalf("first run: accepted %d, errors %v", rep.Totals.Accepted, errs)
	}
	if !strings.Contains(rep.Errors[0].Texts[0], "450 4.7.1 Error: greylisted, try again in 1.5s") {
		t.Errorf("reply text %q", rep.Errors[0].Texts)
	}
	if early := sourceReport(t, s, "-A", "-d", "-N", "-m", "1"); time.Since(first) < delay && early.Totals.Accepted != 0 {
		t.Errorf("a retry before the delay was accepted")
	}
	time.Sleep(time.Until(lastGreylisted.Add(delay))) // the greylisting delay is what is tested
	rep = sourceReport(t, s, "-A", "-d", "-N", "-m", "20")
	if rep.Totals.Accepted != 20 || len(rep.Errors) != 0 {
		t.Errorf("second run after the delay: accepted %d, errors %v", rep.Totals.Accepted, sourceErrors(rep))
	}
	st := s.stop(t)
	if g := st.Greylist; g == nil || g.Passed != 20 || g.Entries != 20 || g.Refused != st.RefusalsByKey["rcpt:temp:450:4.7.1"] || g.Refused < 20 {
		t.Errorf("greylist %+v, refusals %v", st.Greylist, st.RefusalsByKey)
	}
}

// TestMaxPerConnectionAgainstSource: with -d, each connection carries three messages; the
// fourth MAIL gets 452 4.5.3, the fifth 421 4.7.0 and the connection closes; go-smtp-source
// then connects again.
func TestMaxPerConnectionAgainstSource(t *testing.T) {
	s := startGoSink(t, "--max-per-connection", "3")
	rep := sourceReport(t, s, "-A", "-d", "-m", "10")
	st := s.stop(t)
	checkRefusalsMatch(t, rep, st)
	// 1-3 accepted, 4: 452, 5: 421 (closed); 6-8 accepted, 9: 452, 10: 421.
	if rep.Totals.Accepted != 6 || st.RefusalsByKey["mail:temp:452:4.5.3"] != 2 || st.RefusalsByKey["mail:temp:421:4.7.0"] != 2 || st.Sessions != 3 { // with the readiness probe
		t.Errorf("accepted %d, refusals %v, sessions %d", rep.Totals.Accepted, st.RefusalsByKey, st.Sessions)
	}
}

// TestRateLimitAgainstSource offers 1,000 messages a second (go-smtp-source's open
// model) to a sink limited to 200/s per client address for three seconds: the rate
// accepted is within 5% of the limit, plus what the machine's measured scheduling stalls
// can explain, and never above it.
func TestRateLimitAgainstSource(t *testing.T) {
	const limit, burst, seconds = 200.0, 10, 3
	s := startGoSink(t, "--rate-limit", "200/s,burst=10")
	probe := testpeer.ProbeScheduling(t)
	rep := sourceReport(t, s, "-A", "-d", "--rate", "1000", "--duration", "3s", "-m", "3000")
	stall := probe.Stop().Beyond(5 * time.Millisecond)
	st := s.stop(t)
	checkRefusalsMatch(t, rep, st)
	accepted := float64(st.MessagesAccepted)
	rate := (accepted - burst) / seconds
	// The bucket banks burst×5ms = 50ms; a stall longer than that loses its excess.
	margin := 0.05 + stall.Seconds()/seconds
	t.Logf("accepted %v in %ds: %.1f/s (limit %v/s; margin %.1f%%, scheduling stalls beyond the burst %v)", accepted, seconds, rate, limit, 100*margin, stall)
	if math.Abs(rate-limit)/limit > margin {
		t.Errorf("accepted rate %.1f/s, want %v/s ± %.1f%%", rate, limit, 100*margin)
	}
	if max := limit*rep.Elapsed().Seconds() + burst + 1; accepted > max {
		t.Errorf("accepted %v in %v: more than the bucket allows (%v)", accepted, rep.Elapsed(), max)
	}
	if st.RefusalsByKey["mail:temp:451:4.7.1"] == 0 {
		t.Errorf("no 451 4.7.1: %v", st.RefusalsByKey)
	}
}

// TestTarpitGrowsWithSessions: with --tarpit 20ms each reply waits 20 ms per open
// connection, measured from the client as more connections are opened.
func TestTarpitGrowsWithSessions(t *testing.T) {
	const per = 20 * time.Millisecond
	s := startGoSink(t, "--tarpit", "20ms,max=1s")
	probe := dialRaw(t, s.Addr)
	probe.roundTrip("", "220 ")
	open := 1
	for _, sessions := range []int{1, 3, 6} {
		for ; open < sessions; open++ {
			dialRaw(t, s.Addr).roundTrip("", "220 ") // greeted: the sink counts it open
		}
		var replies []time.Duration
		sched := testpeer.ProbeScheduling(t)
		for i := 0; i < 5; i++ {
			replies = append(replies, probe.roundTrip("NOOP\r\n", "250 "))
		}
		slices.Sort(replies)
		// The median may be late by 15 ms plus two wake-ups (the sink's timer, the
		// client's read) as late as the machine's measured p99 meanwhile.
		want, slack := time.Duration(sessions)*per, 15*time.Millisecond+2*sched.Stop().P99()
		if replies[0] < want || replies[2] > want+slack {
			t.Errorf("%d sessions: NOOP replies after %v, want %v (+%v)", sessions, replies, want, slack)
		}
	}
	if st := s.stop(t); st.TarpitDelays < 15 || st.TarpitDelayNs < int64(15*per) {
		t.Errorf("tarpit counters: %d delays, %v", st.TarpitDelays, time.Duration(st.TarpitDelayNs))
	}
}

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/plan"
	"github.com/go-smtp-source/go-smtp-source/sink"
)

// clusterSink is a go-smtp-sink counting distinct Message-Ids, with its --stats file.
type clusterSink struct {
	proc  *testpeer.Process
	addr  string
	stats string
}

func startCountingSink(t *testing.T) *clusterSink {
	t.Helper()
	stats := filepath.Join(t.TempDir(), "sink-stats.json")
	p, addr := startGoSink(t, "--unique-header", "Message-Id", "--stats", stats)
	return &clusterSink{proc: p, addr: addr, stats: stats}
}

// stop ends the sink with SIGTERM and returns its final counters.
func (s *clusterSink) stop(t *testing.T) sink.Snapshot {
	t.Helper()
	return stopGoSinkStats(t, s.proc, s.stats)
}

// checkMerged stops the sink and checks that the merged report r and the sink agree on
// exactly m messages, each sent once, and on the sessions.
func (s *clusterSink) checkMerged(t *testing.T, r *metrics.Report, m int64) {
	t.Helper()
	st := s.stop(t)
	if r.Totals.Planned != m || r.Totals.Accepted != m || st.MessagesAccepted != m {
		t.Errorf("merged totals %+v, sink accepted %d, want %d", r.Totals, st.MessagesAccepted, m)
	}
	if st.Unique == nil || st.Unique.Distinct != m || st.Unique.Duplicates != 0 {
		t.Errorf("sink Message-Ids %+v, want %d distinct", st.Unique, m)
	}
	if r.Totals.Sessions != st.Sessions-1 { // the sink also counted the readiness probe
		t.Errorf("merged sessions %d, sink %d", r.Totals.Sessions, st.Sessions-1)
	}
}

// Brokerless: three --shard processes of the real binary, started together with
// --start-at, against one sink; merge checks the set and sums exactly.
func TestBrokerlessShardsMerge(t *testing.T) {
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	s := startCountingSink(t)
	dir := t.TempDir()
	const m = 301
	start := time.Now().Add(3 * time.Second).UTC().Format(time.RFC3339Nano)
	procs := make([]*testpeer.Process, 3)
	files := make([]string, 3)
	probe := testpeer.ProbeScheduling(t) // across the shared start
	for i := range procs {
		files[i] = filepath.Join(dir, fmt.Sprintf("shard-%d.json", i))
		procs[i] = testpeer.Start(t, bin, "--shard", fmt.Sprintf("%d/3", i), "--start-at", start, "--json", files[i],
			"--quiet", "-m", fmt.Sprint(m), "-s", "7", "-r", "2", "127.0.0.1:"+strings.Split(s.addr, ":")[1])
	}
	for i, p := range procs {
		exited, err := p.Wait(20 * time.Second)
		if !exited || err != nil {
			t.Fatalf("shard %d: exited %v, %v; stderr %s", i, exited, err, p.Stderr.String())
		}
	}
	// Each shard wakes up at the shared start: 100 ms apart at most, plus the worst the
	// machine's scheduling delayed a wake-up meanwhile.
	maxSkew := 100*time.Millisecond + probe.Stop().Worst()
	var starts []time.Time
	var sessions int64
	for i, f := range files {
		r := readReport(t, f)
		starts = append(starts, r.Start)
		p, err := plan.Decode(r.Plan)
		if err != nil || p.Shard == nil || p.Shard.Index != i || p.Shard.Count() != 3 || p.Sessions != 7 || p.Messages != m {
			t.Fatalf("%s: plan %s: %v", f, r.Plan, err)
		}
		split, err := plan.NewSplit(p.Shard.Weights) // the share of the whole run's sessions this shard ran
		if err != nil {
			t.Fatal(err)
		}
		sessions += split.Share(i, int64(p.Sessions))
		if want := []int64{101, 100, 100}[i]; r.Totals.Planned != want {
			t.Errorf("shard %d planned %d, want %d", i, r.Totals.Planned, want)
		}
	}
	if sessions != 7 {
		t.Errorf("sessions of the shards add up to %d, want 7", sessions)
	}
	for _, st := range starts[1:] {
		// Each started at the shared time, or refused: no later than --max-start-late.
		if d := st.Sub(starts[0]).Abs(); d > maxSkew {
			t.Errorf("start skew %v, want at most %v", d, maxSkew)
		}
	}

	merged := filepath.Join(dir, "merged.json")
	code, _, stderr := runMergeForTest(append([]string{"--json", merged}, files...)...)
	if code != 0 {
		t.Fatalf("merge: exit %d: %s", code, stderr)
	}
	r := readReport(t, merged)
	s.checkMerged(t, r, m)
	whole, err := plan.Decode(r.Plan)
	if err != nil || whole.Messages != m || whole.Sessions != 7 || whole.Shard != nil {
		t.Errorf("merged plan %s (%v)", r.Plan, err)
	}
	if r.Run == nil || time.Duration(r.Run.StartSkewNs) > maxSkew {
		t.Errorf("merged report's start skew: %+v, want at most %v", r.Run, maxSkew)
	} else {
		t.Logf("start skew %v", time.Duration(r.Run.StartSkewNs))
	}
	if len(r.Sources) != 3 {
		t.Errorf("%d sources, want 3", len(r.Sources))
	}

	// merge refuses an incomplete, a duplicated, or a mixed set, in one line.
	other := filepath.Join(dir, "other.json")
	writeShardReport(t, other, files[2], func(p map[string]any) { p["messages"] = m + 1 })
	for _, c := range []struct {
		files []string
		want  string
	}{
		{files[:2], "shard(s) 2 of 3 missing"},
		{[]string{files[0], files[1], files[2], files[1]}, "shard 1/3 is present twice"},
		{[]string{files[0], files[1], other}, "of another plan"},
	} {
		code, _, stderr := runMergeForTest(c.files...)
		if code != 1 || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("merge %v: exit %d, stderr %q; want 1 and one line with %q", c.files, code, stderr, c.want)
		}
	}
}

// writeShardReport copies a report, editing its plan.
func writeShardReport(t *testing.T, to, from string, edit func(map[string]any)) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	edit(doc["plan"].(map[string]any))
	if b, err = json.Marshal(doc); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A shard that would start too late refuses, and writes no report.
func TestShardMissedStart(t *testing.T) {
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	s := startCountingSink(t)
	out := filepath.Join(t.TempDir(), "late.json")
	past := time.Now().Add(-2 * time.Second).UTC().Format(time.RFC3339Nano)
	r := testpeer.Run(t, 20*time.Second, bin, "--shard", "0/2", "--start-at", past, "--json", out, "-m", "4", "-s", "2", s.addr)
	if r.ExitCode != 1 || !strings.Contains(r.Stderr, "missed the shared start time") {
		t.Errorf("exit %d, stderr %q", r.ExitCode, r.Stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a shard that missed its start wrote a report")
	}
	if st := s.stop(t); st.MessagesAccepted != 0 {
		t.Errorf("sink accepted %d", st.MessagesAccepted)
	}
}

func TestShardOptionErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--shard", "3/3", "127.0.0.1"}, "--shard: shard \"3/3\": want 0 ≤ i < n"},
		{[]string{"--shard", "0/3", "-s", "2", "-m", "9", "127.0.0.1"}, "would own messages but get no session"},
		{[]string{"--shard", "0/3", "-s", "3", "-m", "2", "127.0.0.1"}, "would own none of the 2 messages"},
		{[]string{"--start-at", "tomorrow", "127.0.0.1"}, "--start-at: want an RFC 3339 time"},
	} {
		var stdout, stderr strings.Builder
		if code := run("go-smtp-source", c.args, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, stderr.String(), c.want)
		}
	}
}

// Shards of one plan share a fingerprint whatever their per-process options; another
// plan has another.
func TestShardFingerprint(t *testing.T) {
	fp := func(args ...string) string {
		inv, _, err := parseOptions(args)
		if err != nil {
			t.Fatal(err)
		}
		return inv.plan.Fingerprint()
	}
	a := fp("--shard", "0/3", "--json", "a.json", "-m", "10", "-s", "12", "mx:25")
	b := fp("-m", "10", "--json=b.json", "--shard=2/3", "-s", "12", "--quiet", "--source-addr", "127.0.0.2", "--event-loops", "1", "mx:25")
	if a != b {
		t.Errorf("same plan, fingerprints %s and %s", a, b)
	}
	for _, other := range [][]string{
		{"--shard", "0/3", "-m", "11", "-s", "12", "mx:25"},
		{"--shard", "0/3", "-m", "10", "-s", "12", "mx:26"},
		{"--shard", "0/4", "-m", "10", "-s", "12", "mx:25"},
		{"--shard", "0/3:1,2,1", "-m", "10", "-s", "12", "mx:25"},
	} {
		if fp(other...) == a {
			t.Errorf("%v: same fingerprint as another plan", other)
		}
	}
}

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// writeTestReport writes a small report (accepted messages with eod samples) to dir/name.
func writeTestReport(t *testing.T, dir, name string, start time.Time, accepted int) string {
	t.Helper()
	s := metrics.NewSnapshot()
	for i := 0; i < accepted; i++ {
		s.Record(metrics.EOD, int64(i+1)*int64(time.Millisecond))
	}
	s.Add(metrics.MessagesAccepted, int64(accepted))
	r := metrics.NewReport(map[string]int{"messages": accepted}, start, 2*time.Second,
		metrics.Totals{Planned: int64(accepted), Accepted: int64(accepted), Sessions: 1}, s,
		[]metrics.IntervalSample{{Start: start, Snap: s}})
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := r.WriteJSON(f); err != nil {
		t.Fatal(err)
	}
	return path
}

func runMergeForTest(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = runMerge("go-smtp-source", args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestMergeCommand(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	a := writeTestReport(t, dir, "a.json", start, 10)
	b := writeTestReport(t, dir, "b.json", start.Add(200*time.Millisecond), 30)
	out := filepath.Join(dir, "merged.json")

	code, stdout, stderr := runMergeForTest("--json", out, a, b)
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if stderr != "" {
		t.Fatalf("stderr %q, want nothing (the starts are 200ms apart)", stderr)
	}
	for _, want := range []string{"Accounting", "40, 40, 0, 0, 0", "eod", "a.json", "b.json"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	merged, err := metrics.ReadReport(f)
	if err != nil {
		t.Fatalf("--json output: %v", err)
	}
	if merged.Totals.Accepted != 40 || len(merged.Sources) != 2 || merged.Phases[0].Count != 40 || merged.Phases[0].MaxNs != int64(30*time.Millisecond) {
		t.Fatalf("merged report: %+v", merged.Totals)
	}

	// A merged report merges again; a start-time skew warns on stderr.
	c := writeTestReport(t, dir, "c.json", start.Add(3*time.Second), 5)
	code, stdout, stderr = runMergeForTest("--max-skew", "500ms", out, c)
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if !strings.HasPrefix(stderr, "go-smtp-source: warning: start times differ by 3s") || !strings.Contains(stderr, "c.json") {
		t.Fatalf("stderr %q, want a skew warning", stderr)
	}
	if !strings.Contains(stdout, "45, 45, 0, 0, 0") {
		t.Fatalf("stdout:\n%s", stdout)
	}

	// --json - puts the JSON on stdout and the text on stderr.
	code, stdout, stderr = runMergeForTest("--json", "-", a)
	if code != exitOK || !strings.HasPrefix(stdout, "{") || !strings.Contains(stderr, "Accounting") {
		t.Fatalf("--json -: exit %d, stdout %.40q, stderr %.40q", code, stdout, stderr)
	}
	if _, err := metrics.ReadReport(strings.NewReader(stdout)); err != nil {
		t.Fatalf("--json - output: %v", err)
	}
}

func TestMergeCommandErrors(t *testing.T) {
	dir := t.TempDir()
	good := writeTestReport(t, dir, "good.json", time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC), 3)
	garbage := filepath.Join(dir, "garbage.json")
	os.WriteFile(garbage, []byte("this is not json"), 0o644)
	truncated := filepath.Join(dir, "truncated.json")
	data, _ := os.ReadFile(good)
	os.WriteFile(truncated, data[:len(data)/2], 0o644)
	newer := filepath.Join(dir, "newer.json")
	os.WriteFile(newer, []byte(`{"schema":"go-smtp-source/report","schema_version":7}`), 0o644)
	missing := filepath.Join(dir, "missing.json")

	for _, c := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no files", nil, exitUsage, "go-smtp-source: fatal: merge: no report files"},
		{"unknown flag", []string{"--bogus", good}, exitUsage, "unknown flag: --bogus"},
		{"bad skew", []string{"--max-skew", "soon", good}, exitUsage, "invalid argument"},
		{"missing file", []string{good, missing}, exitFatal, "go-smtp-source: fatal: " + missing + ": open"},
		{"garbage", []string{good, garbage}, exitFatal, "go-smtp-source: fatal: " + garbage + ": not a go-smtp-source report: invalid JSON"},
		{"truncated", []string{truncated}, exitFatal, truncated + ": not a go-smtp-source report: truncated JSON"},
		{"newer schema", []string{newer}, exitFatal, newer + ": report: unsupported schema version 7"},
		{"unwritable json", []string{"--json", filepath.Join(dir, "no", "such", "dir.json"), good}, exitFatal, "dir.json: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runMergeForTest(c.args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d (stderr %q)", code, c.code, stderr)
			}
			if !strings.Contains(stderr, c.stderr) {
				t.Fatalf("stderr %q does not say %q", stderr, c.stderr)
			}
			if strings.Count(strings.TrimSpace(stderr), "\n") > 1 {
				t.Fatalf("more than a line or two of error: %q", stderr)
			}
			if c.code == exitFatal && stdout != "" {
				t.Fatalf("stdout %q on failure", stdout)
			}
		})
	}

	code, stdout, _ := runMergeForTest("-h")
	if code != exitOK || !strings.Contains(stdout, "usage: go-smtp-source merge") || !strings.Contains(stdout, "--max-skew") {
		t.Fatalf("-h: exit %d, %q", code, stdout)
	}
}

// Documents of schema version 1, written by go-smtp-source before plans were values
// (testdata/v1: two --shard 0/2 and 1/2 runs of -m 20 -s 4 -d, and one plain run of -m
// 10), still read and merge: the shards are checked as a set, their merge is written in
// version 2 and reads back, each keeping its own plan; a shard with a plain run is refused.
func TestMergeVersion1Documents(t *testing.T) {
	out := filepath.Join(t.TempDir(), "merged.json")
	code, stdout, stderr := runMergeForTest("--json", out, "testdata/v1/shard-0.json", "testdata/v1/shard-1.json")
	if code != exitOK || !strings.Contains(stdout, "20, 20, 0, 0, 0") {
		t.Fatalf("exit %d, stdout %s, stderr %s", code, stdout, stderr)
	}
	r := readReport(t, out)
	if r.SchemaVersion != metrics.ReportSchemaVersion || r.Run == nil || r.Run.PlanFingerprint == "" || len(r.Sources) != 2 ||
		!strings.Contains(string(r.Sources[0].Plan), `"shard"`) {
		t.Fatalf("merged version-1 shards: %+v", r)
	}
	code, _, stderr = runMergeForTest("testdata/v1/shard-0.json", "testdata/v1/run.json")
	if code != exitFatal || !strings.Contains(stderr, "testdata/v1/run.json is not a shard") || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("a shard and a plain run: exit %d, stderr %q", code, stderr)
	}
	// The same report twice is refused (it would count the run twice), version 1 too.
	if code, _, stderr = runMergeForTest("testdata/v1/run.json", "testdata/v1/run.json"); code != exitFatal || !strings.Contains(stderr, "are the same run") {
		t.Fatalf("a plain run twice: exit %d, stderr %s", code, stderr)
	}
}

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func runForTest(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run("go-smtp-source", args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// A run with --html writes its page at the end; report renders documents again, names
// the regression of a slower run on stderr, and writes the page on stdout without --html.
func TestReportCommand(t *testing.T) {
	_, addr := startGoSink(t)
	dir := t.TempDir()
	doc, page := filepath.Join(dir, "run.json"), filepath.Join(dir, "run.html")
	code, _, stderr := runForTest("-s", "2", "-m", "20", "--json", doc, "--html", page, addr)
	if code != exitOK {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<title>go-smtp-source report</title>", `id="chart-throughput"`, `id="chart-dist-eod"`, "<b>run.json</b>"} {
		if !bytes.Contains(html, []byte(want)) {
			t.Errorf("the run's page lacks %s", want)
		}
	}

	start := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	fast := writeTestReport(t, dir, "fast.json", start, 10) // eod 1…10 ms
	slow := writeTestReport(t, dir, "slow.json", start, 30) // eod 1…30 ms
	out := filepath.Join(dir, "ab.html")
	code, stdout, stderr := runForTest("report", "--html", out, fast, slow)
	if code != exitOK || stdout != "" {
		t.Fatalf("report: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "go-smtp-source: regression: "+slow+": eod p99 10ms → 30ms (+200.0%)\n") {
		t.Errorf("the regression is not named: %q", stderr)
	}
	if b, err := os.ReadFile(out); err != nil || !bytes.Contains(b, []byte("eod p99 10ms → 30ms (+200.0%)")) {
		t.Errorf("the page does not name the regression (%v)", err)
	}
	code, stdout, stderr = runForTest("report", fast)
	if code != exitOK || stderr != "" || !strings.HasPrefix(stdout, "<!DOCTYPE html>") {
		t.Errorf("report to stdout: exit %d, stderr %q, %d bytes", code, stderr, len(stdout))
	}
}

// Input the report cannot use: one line naming the file and what is wrong, exit 1; a
// command-line mistake: the line and the usage line, exit 2.
func TestReportBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := writeTestReport(t, dir, "good.json", time.Now(), 3)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing file", []string{filepath.Join(dir, "none.json")}, exitFatal, "none.json: open "},
		{"unreadable", []string{dir}, exitFatal, "read report: "},
		{"invalid JSON", []string{write("bad.json", `{"schema": "go-smtp-source/report",`)}, exitFatal, "bad.json: not a go-smtp-source report: "},
		{"wrong schema", []string{write("other.json", `{"schema": "k6/summary", "schema_version": 2}`)}, exitFatal, `schema is "k6/summary", want "go-smtp-source/report"`},
		{"future version", []string{write("v9.json", `{"schema": "go-smtp-source/report", "schema_version": 9}`)}, exitFatal, "unsupported schema version 9"},
		{"second file bad", []string{good, write("empty.json", "")}, exitFatal, "empty.json: not a go-smtp-source report: empty input"},
		{"no file", nil, exitUsage, "no report files"},
		{"bad tolerance", []string{"--tolerance", "-5", good}, exitUsage, `--tolerance: want a percentage above 0: "-5"`},
		{"unwritable output", []string{"--html", filepath.Join(dir, "no", "such", "dir.html"), good}, exitUsage, "cannot write there"},
		{"unknown flag", []string{"--pdf", good}, exitUsage, "unknown flag: --pdf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runForTest(append([]string{"report"}, tc.args...)...)
			lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
			if code != tc.code || stdout != "" || !strings.HasPrefix(lines[0], "go-smtp-source: fatal: report: ") || !strings.Contains(lines[0], tc.want) {
				t.Fatalf("exit %d (want %d), stdout %d bytes, stderr %q (want %q)", code, tc.code, len(stdout), stderr, tc.want)
			}
			if wantLines := map[int]int{exitFatal: 1, exitUsage: 2}[tc.code]; len(lines) != wantLines {
				t.Errorf("%d lines on stderr, want %d: %q", len(lines), wantLines, stderr)
			}
		})
	}
}

// --html's path is checked before any traffic, as --json's.
func TestRunHTMLPathCheckedFirst(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "missing", "run.html")
	code, _, stderr := runForTest("-m", "1", "--html", bad, "127.0.0.1:1")
	if code != exitFatal || stderr != "go-smtp-source: fatal: --html "+bad+": cannot write there: no such file or directory\n" {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = runForTest("-m", "1", "--html", "-", "127.0.0.1:1")
	if code != exitUsage || !strings.Contains(stderr, "--html: give a file") {
		t.Errorf("--html -: exit %d, stderr %q", code, stderr)
	}
}

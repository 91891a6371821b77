package main_test

// Helpers for the differential suite (compat_test.go): which binary is under test,
// smtp-sink dump parsing and normalisation, raw-stream normalisation, readable diffs.

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// compatRunLimit bounds every external run in the suite.
const compatRunLimit = 60 * time.Second

// compatMarker starts every smtp-sink dump record (smtp-sink -S), so records split
// unambiguously whatever the message content holds.
const compatMarker = "=== gss-compat-record ==="

// compatTool is the binary under test.
type compatTool struct {
	path string
	// oracle is true when GSS_UNDER_TEST points at Postfix smtp-source itself: the
	// harness then compares smtp-source with itself, drops go-smtp-source's long
	// options and skips the cases that need them.
	oracle bool
}

// compatUnderTest returns the binary under test: $GSS_UNDER_TEST if set (for example
// /usr/sbin/smtp-source to validate the harness), otherwise ./cmd/go-smtp-source built
// once per test binary. Call it from the top-level test, before t.Parallel sub-tests.
func compatUnderTest(t *testing.T) compatTool {
	t.Helper()
	if p := os.Getenv("GSS_UNDER_TEST"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("GSS_UNDER_TEST: %v", err)
		}
		return compatTool{path: p, oracle: filepath.Base(p) == "smtp-source"}
	}
	return compatTool{path: testpeer.BuildCommand(t, "go-smtp-source")}
}

// args returns the argument list for the binary under test: --compat=3.7 and the
// extension options first (dropped in oracle mode), then the smtp-source options.
func (u compatTool) args(ext []string, args ...string) []string {
	var out []string
	if !u.oracle {
		out = append(out, "--compat=3.7")
		out = append(out, ext...)
	}
	return append(out, args...)
}

// compatCheckClean asserts that a run that should have completed did so: exit status
// 0, no stderr from smtp-source, and from go-smtp-source nothing but its summary
// (nothing at all with --quiet or in oracle mode).
func compatCheckClean(t *testing.T, who string, r testpeer.Result, prog string, summaryAllowed bool) {
	t.Helper()
	if r.ExitCode != 0 {
		t.Errorf("%s: want exit 0, got %s", who, r)
	}
	if r.Stderr == "" {
		return
	}
	if !summaryAllowed {
		t.Errorf("%s: want no stderr, got %q", who, r.Stderr)
		return
	}
	before, _ := compatSplitReport(compatStderrLines(r.Stderr, prog))
	if len(before) > 0 {
		t.Errorf("%s: want nothing on stderr but the summary, got %q before it", who, strings.Join(before, ""))
	}
}

// compatSummaryRe matches go-smtp-source's summary line, the first line of the report
// it prints on stderr at the end ("PROG: 10 messages: 10 accepted, ...").
var compatSummaryRe = regexp.MustCompile(`^PROG: \d+ messages?: `)

// compatSplitReport splits go-smtp-source's stderr lines (program name normalised by
// compatStderrLines) at its summary line: the diagnostics before it are compared with
// smtp-source's; the summary and the report lines after it are go-smtp-source's own and
// are only checked for diagnostics that have no business there. Without a summary line
// everything is "before".
func compatSplitReport(lines []string) (before, report []string) {
	for i, l := range lines {
		if compatSummaryRe.MatchString(l) {
			return lines[:i], lines[i:]
		}
	}
	return lines, nil
}

// compatOursDiagnostics returns go-smtp-source's stderr lines before its summary, for
// comparison with smtp-source's, and reports diagnostics found inside the report.
func compatOursDiagnostics(t *testing.T, tool compatTool, stderr string) []string {
	t.Helper()
	lines := compatStderrLines(stderr, tool.path)
	if tool.oracle {
		return lines
	}
	before, report := compatSplitReport(lines)
	for _, l := range report {
		if strings.HasPrefix(l, "PROG: fatal: ") || strings.HasPrefix(l, "PROG: warning: ") || strings.HasPrefix(l, "panic") {
			t.Errorf("go-smtp-source printed a diagnostic after its summary: %q", l)
		}
	}
	return before
}

// compatStderrLines splits stderr into lines with "PROG: " in place of the program
// name (smtp-source prints argv[0] as given).
func compatStderrLines(s, prog string) []string {
	lines := compatSplitLines(s)
	base := filepath.Base(prog)
	for i, l := range lines {
		for _, p := range []string{prog, base} {
			if rest, ok := strings.CutPrefix(l, p+": "); ok {
				lines[i] = "PROG: " + rest
				break
			}
		}
	}
	return lines
}

var (
	compatDateRe  = regexp.MustCompile(`^Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), ( \d|[1-3]\d) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d [+-]\d{4} \([^()\r\n]*\)(\r?)$`)
	compatMsgIDRe = regexp.MustCompile(`^Message-Id: <[^<>\s]+>(\r?)$`)
	compatRcvdRe  = regexp.MustCompile(`^\tby \S+ (\(\S+\) with \S+ id )[0-9a-f]+;$`)
	compatRDateRe = regexp.MustCompile(`^\t(Mon|Tue|Wed|Thu|Fri|Sat|Sun), `)
)

// compatNormaliseLine replaces the value of a Date or Message-Id header line, if the
// line is one in smtp-source's format; anything else is returned unchanged, so a
// malformed header shows up in the diff. The line has no trailing LF; a trailing CR is
// kept.
func compatNormaliseLine(line string) string {
	if m := compatDateRe.FindStringSubmatch(line); m != nil {
		return "Date: <DATE normalised>" + m[len(m)-1]
	}
	if m := compatMsgIDRe.FindStringSubmatch(line); m != nil {
		return "Message-Id: <MESSAGE-ID normalised>" + m[1]
	}
	return line
}

// compatDump is a parsed smtp-sink -D dump.
type compatDump struct {
	records []string // normalised records, in dump order
	rcpts   []string // with rcptSet: every X-Rcpt-Args value, in dump order
}

// compatParseDump splits a dump written with -S compatMarker into records and
// normalises each: the Received header's smtp-sink id and timestamp, and the Date and
// Message-Id header values. Every record must name sinkName (smtp-sink -h) in its
// Received header. With rcptSet, X-Rcpt-Args values are moved out of the
// records into one list (the line stays as a placeholder, so per-message counts still
// compare).
func compatParseDump(dump, sinkName string, rcptSet bool) (compatDump, error) {
	var d compatDump
	if dump == "" {
		return d, nil
	}
	parts := strings.Split(dump, compatMarker+"\n")
	if parts[0] != "" {
		return d, fmt.Errorf("dump does not start with the record marker: %q", compatFirstN(dump, 200))
	}
	for _, rec := range parts[1:] {
		lines := strings.Split(rec, "\n")
		i := 0
		for i < len(lines) && strings.HasPrefix(lines[i], "X-") {
			if rcptSet && strings.HasPrefix(lines[i], "X-Rcpt-Args: ") {
				d.rcpts = append(d.rcpts, strings.TrimPrefix(lines[i], "X-Rcpt-Args: "))
				lines[i] = "X-Rcpt-Args: <compared as a multiset over the dump>"
			}
			i++
		}
		if i+2 < len(lines) && strings.HasPrefix(lines[i], "Received: ") {
			if !strings.HasPrefix(lines[i+1], "\tby "+sinkName+" (") {
				return d, fmt.Errorf("harness: a record came from another smtp-sink than %s (a shared port?): %q",
					sinkName, lines[i+1])
			}
			lines[i+1] = compatRcvdRe.ReplaceAllString(lines[i+1], "\tby <SINK> ${1}<SINK-ID>;")
			if compatRDateRe.MatchString(lines[i+1+1]) {
				lines[i+2] = "\t<RECEIVED-DATE>"
			}
			i += 3
		}
		for ; i < len(lines); i++ {
			lines[i] = compatNormaliseLine(lines[i])
		}
		d.records = append(d.records, strings.Join(lines, "\n"))
	}
	return d, nil
}

// compatWaitDump waits until the dump file of the sink at addr holds at least n records
// (at most within) and returns its content. A record is written in one piece before the
// reply to "."; smtp-sink is one process with one event loop, so once it greets a new
// connection it is not in the middle of writing a record: the content read after that
// holds every record whole.
func compatWaitDump(path, addr string, n int, within time.Duration) (string, error) {
	var b []byte
	var err error
	if !testpeer.Poll(within, 10*time.Millisecond, func() bool {
		b, err = os.ReadFile(path)
		if os.IsNotExist(err) {
			err = nil
		}
		return err != nil || strings.Count("\n"+string(b), "\n"+compatMarker+"\n") >= n
	}) {
		got := strings.Count("\n"+string(b), "\n"+compatMarker+"\n")
		return string(b), fmt.Errorf("dump %s holds %d record(s) after %v, want %d", path, got, within, n)
	}
	if err != nil {
		return "", err
	}
	if err := compatGreeted(addr); err != nil {
		return "", fmt.Errorf("the sink after its dump: %w", err)
	}
	b, err = os.ReadFile(path)
	return string(b), err
}

// compatGreeted connects to a sink ("host:port" or "unix:PATH") and reads its greeting.
func compatGreeted(addr string) error {
	network, address := "tcp", addr
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, address = "unix", path
	}
	c, err := net.DialTimeout(network, address, 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err == nil && !strings.HasPrefix(line, "220") {
		err = fmt.Errorf("greeting %q", line)
	}
	return err
}

// compatSplitLines splits s into lines that keep their LF, so CR/LF differences show.
func compatSplitLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// compatNormaliseStream normalises a raw client byte stream: Date and Message-Id
// header lines only.
func compatNormaliseStream(b []byte) string {
	lines := compatSplitLines(string(b))
	for i, l := range lines {
		if strings.HasSuffix(l, "\n") {
			lines[i] = compatNormaliseLine(strings.TrimSuffix(l, "\n")) + "\n"
		}
	}
	return strings.Join(lines, "")
}

// compatSortedRecords returns the records sorted, for order-independent comparison.
func compatSorted(in []string) []string {
	out := append([]string(nil), in...)
	sort.Strings(out)
	return out
}

// compatDiff renders a line diff of want (smtp-source) and got (go-smtp-source); each
// line is quoted so CRs, trailing spaces and missing LFs are visible. It returns "" when
// they are equal.
func compatDiff(want, got []string) string {
	p := 0
	for p < len(want) && p < len(got) && want[p] == got[p] {
		p++
	}
	if p == len(want) && p == len(got) {
		return ""
	}
	s := 0
	for s < len(want)-p && s < len(got)-p && want[len(want)-1-s] == got[len(got)-1-s] {
		s++
	}
	a, b := want[p:len(want)-s], got[p:len(got)-s]
	var sb strings.Builder
	fmt.Fprintf(&sb, "first difference at line %d (smtp-source: %d lines, go-smtp-source: %d lines); "+
		"'-' smtp-source only, '+' go-smtp-source only\n", p+1, len(want), len(got))
	for i := max(0, p-3); i < p; i++ {
		fmt.Fprintf(&sb, "  %6d %s\n", i+1, compatQuoteLine(want[i]))
	}
	const maxOut = 60
	printed := 0
	emit := func(prefix string, n int, line string) {
		if printed < maxOut {
			fmt.Fprintf(&sb, "%s %6d %s\n", prefix, n, compatQuoteLine(line))
		} else if printed == maxOut {
			sb.WriteString("  ... (diff truncated)\n")
		}
		printed++
	}
	if len(a) <= 400 && len(b) <= 400 {
		// Longest common subsequence on the differing middle.
		l := make([][]int, len(a)+1)
		for i := range l {
			l[i] = make([]int, len(b)+1)
		}
		for i := len(a) - 1; i >= 0; i-- {
			for j := len(b) - 1; j >= 0; j-- {
				if a[i] == b[j] {
					l[i][j] = l[i+1][j+1] + 1
				} else {
					l[i][j] = max(l[i+1][j], l[i][j+1])
				}
			}
		}
		i, j := 0, 0
		for i < len(a) || j < len(b) {
			switch {
			case i < len(a) && j < len(b) && a[i] == b[j]:
				emit(" ", p+i+1, a[i])
				i++
				j++
			case j == len(b) || i < len(a) && l[i+1][j] >= l[i][j+1]:
				emit("-", p+i+1, a[i])
				i++
			default:
				emit("+", p+j+1, b[j])
				j++
			}
		}
	} else {
		for i := 0; i < len(a) && i < 20; i++ {
			emit("-", p+i+1, a[i])
		}
		if len(a) > 20 {
			fmt.Fprintf(&sb, "- ... %d more smtp-source lines\n", len(a)-20)
		}
		printed = 0
		for j := 0; j < len(b) && j < 20; j++ {
			emit("+", p+j+1, b[j])
		}
		if len(b) > 20 {
			fmt.Fprintf(&sb, "+ ... %d more go-smtp-source lines\n", len(b)-20)
		}
	}
	for i := len(want) - s; i < len(want) && i < len(want)-s+2; i++ {
		fmt.Fprintf(&sb, "  %6d %s\n", i+1, compatQuoteLine(want[i]))
	}
	return sb.String()
}

// compatQuoteLine quotes a line for a diff, eliding the middle of very long ones.
func compatQuoteLine(l string) string {
	if len(l) <= 400 {
		return fmt.Sprintf("%q", l)
	}
	return fmt.Sprintf("%q…(%d bytes in all)…%q", l[:200], len(l), l[len(l)-100:])
}

// compatFirstByteDiff describes the first differing byte of two streams.
func compatFirstByteDiff(want, got string) string {
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	lo := max(0, i-40)
	return fmt.Sprintf("first differing byte at offset %d (smtp-source %d bytes, go-smtp-source %d bytes):\n"+
		"  smtp-source:    %q\n  go-smtp-source: %q", i, len(want), len(got),
		compatFirstN(want[lo:], i-lo+60), compatFirstN(got[lo:], i-lo+60))
}

func compatFirstN(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// compatLog logs a transcript when GSS_COMPAT_LOG is set (with go test -v), to see what
// smtp-source actually sent in a case.
func compatLog(t *testing.T, format string, a ...any) {
	t.Helper()
	if os.Getenv("GSS_COMPAT_LOG") != "" {
		t.Logf(format, a...)
	}
}

// compatCase is one command line run by both programs, each against its own capture
// server, and compared whole: exit status, stdout, stderr's diagnostics in order, the
// number of connections and every byte each connection carried.
//
// In args, "HOST" stands for the server's "127.0.0.1:PORT", "PORT" inside an argument
// for its port, "@name" for a -F file of compatFiles and "@DIR" for a directory.
type compatCase struct {
	name    string
	args    []string
	ext     []string // go-smtp-source's extension options (dropped in oracle mode)
	opts    testpeer.CaptureOptions
	status  int  // smtp-source's exit status, checked to keep the harness honest
	verbose bool // drop smtp-source's Postfix-library -v lines (compatVerboseNoise)
}

// compatRunCases runs each case in parallel.
func compatRunCases(t *testing.T, cases []compatCase) {
	t.Helper()
	source := testpeer.Require(t, "smtp-source")
	tool := compatUnderTest(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			compatRunCase(t, source, tool, tc)
		})
	}
}

func compatRunCase(t *testing.T, source string, tool compatTool, tc compatCase) {
	t.Helper()
	refSrv, gotSrv := testpeer.StartCapture(t, tc.opts), testpeer.StartCapture(t, tc.opts)
	refArgs, refNorm := compatSubstitute(t, tc.args, refSrv.Addr, source)
	gotArgs, gotNorm := compatSubstitute(t, tc.args, gotSrv.Addr, tool.path)
	ref, got := compatRunPair(t, source, refArgs, tool.path, tool.args(tc.ext, gotArgs...))
	if ref.ExitCode != tc.status {
		t.Fatalf("harness: smtp-source should exit %d: %s", tc.status, ref)
	}
	ref.Stderr, got.Stderr = refNorm.Replace(ref.Stderr), gotNorm.Replace(got.Stderr)
	compatCompareRun(t, source, tool, ref, got, tc.verbose)
	compatCompareConns(t, refSrv, gotSrv)
}

// compatSubstitute expands a case's placeholders for a server at addr, and returns
// what puts them back into a program's stderr: the port, the directory and the program
// name (smtp-source names itself in its usage line).
func compatSubstitute(t *testing.T, args []string, addr, prog string) ([]string, *strings.Replacer) {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := make([]string, len(args))
	for i, a := range args {
		switch {
		case a == "HOST":
			a = "127.0.0.1:" + port
		case a == "@DIR":
			a = dir
		case strings.HasPrefix(a, "@"):
			a = compatExpand(t, dir, []string{a})[0]
		default:
			a = strings.ReplaceAll(a, "PORT", port)
		}
		out[i] = a
	}
	return out, strings.NewReplacer(dir, "DIR", ":"+port, ":PORT", "usage: "+prog+" ", "usage: PROG ")
}

// compatRunPair runs smtp-source and the program under test at once (a fatal exit
// sleeps 1 s in smtp-source).
func compatRunPair(t *testing.T, source string, refArgs []string, path string, gotArgs []string) (ref, got testpeer.Result) {
	t.Helper()
	refCh := make(chan testpeer.Result, 1)
	go func() {
		defer close(refCh)
		refCh <- testpeer.Run(t, compatRunLimit, source, refArgs...)
	}()
	got = testpeer.Run(t, compatRunLimit, path, gotArgs...)
	ref, ok := <-refCh
	if !ok {
		t.FailNow()
	}
	return ref, got
}

// compatCompareRun compares how two runs ended: the exit status (smtp-source's 1 after
// its usage line is go-smtp-source's 2, a deliberate difference), stdout byte for byte,
// and stderr's lines before go-smtp-source's summary, the program name normalised.
func compatCompareRun(t *testing.T, source string, tool compatTool, ref, got testpeer.Result, verbose bool) {
	t.Helper()
	want := ref.ExitCode
	if want == 1 && strings.Contains(ref.Stderr, ": fatal: usage: ") && !tool.oracle {
		want = 2
	}
	if got.ExitCode != want {
		t.Errorf("exit status: smtp-source %d, go-smtp-source %d, want %d\nsmtp-source stderr: %q\ngo-smtp-source stderr: %q",
			ref.ExitCode, got.ExitCode, want, ref.Stderr, got.Stderr)
	}
	if got.Stdout != ref.Stdout {
		t.Errorf("stdout:\n  smtp-source:    %q\n  go-smtp-source: %q", ref.Stdout, got.Stdout)
	}
	var refLines []string
	for _, l := range compatStderrLines(ref.Stderr, source) {
		if !verbose || !compatVerboseNoise.MatchString(l) {
			refLines = append(refLines, l)
		}
	}
	gotLines := compatOursDiagnostics(t, tool, got.Stderr)
	if tool.oracle && verbose {
		gotLines = slices.DeleteFunc(gotLines, compatVerboseNoise.MatchString)
	}
	if d := compatDiff(refLines, gotLines); d != "" {
		t.Errorf("stderr differs (program name normalised to PROG; go-smtp-source's summary report at the end is not compared):\n%s", d)
	}
}

// compatCompareConns compares what each client sent: as many connections, and each
// connection's bytes (Date and Message-Id values normalised).
func compatCompareConns(t *testing.T, refSrv, gotSrv *testpeer.CaptureServer) {
	t.Helper()
	_ = refSrv.WaitConns(0, 5*time.Second)
	_ = gotSrv.WaitConns(0, 5*time.Second)
	refConns, gotConns := refSrv.Conns(), gotSrv.Conns()
	if len(gotConns) != len(refConns) {
		t.Errorf("connections: smtp-source %d, go-smtp-source %d", len(refConns), len(gotConns))
	}
	for i := 0; i < len(refConns) && i < len(gotConns); i++ {
		want := compatNormaliseStream(refConns[i].Bytes())
		have := compatNormaliseStream(gotConns[i].Bytes())
		if want != have {
			t.Errorf("connection %d: client byte streams differ (Date and Message-Id values normalised)\n%s\n%s",
				i+1, compatFirstByteDiff(want, have), compatDiff(compatSplitLines(want), compatSplitLines(have)))
		}
	}
}

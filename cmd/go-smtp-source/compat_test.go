package main_test

// Differential tests against Postfix smtp-source (Debian 12: 3.7.11).
//
// TestCompatDump: smtp-source and go-smtp-source (with --compat=3.7) each send to their
// own Postfix `smtp-sink -D dumpfile` with the same flags; the dumps must be equal after
// normalising only the Date and Message-Id header values and the Received header's
// smtp-sink id and timestamp. stdout must be byte-identical (the -c counter), both must
// exit 0, smtp-source prints nothing on stderr and go-smtp-source nothing but its summary.
//
// TestCompatRaw: the same against internal/testpeer's capture server, which records
// every byte the client sends (smtp-sink's dump removes CRs and dot-stuffing, so CR
// handling, dot-stuffing, line layout and command bytes are checked here). Single-session
// runs only, compared per connection, byte for byte, after normalising Date/Message-Id.
//
// TestCompatUsage: bad values and fatal combinations; exit code, stdout and stderr must
// match once the program name is normalised.
//
// Elsewhere: TestCompatReject (compat_reject_test.go: server rejections with and without
// -A), TestCompatVerbose (-v dialogue), TestCompatTargetErrors (unreachable targets),
// TestCompatGetopt (operands and option order).
//
// Deliberate differences that are normalised away, never reported: the Date and
// Message-Id values (ours are unique per message), smtp-sink's Received id and time,
// go-smtp-source's summary line and report at the end of stderr (absent with --quiet), the grouping of -N
// numbers when -s > 1 (RCPT arguments then compare as one multiset over the dump), FIN
// instead of smtp-source's RST on close, and the protocol name ESMTP in the dump when
// ours runs with --ehlo/--pipelining.
//
// Run: go test -run TestCompat ./cmd/go-smtp-source/ (add -v and GSS_COMPAT_LOG=1 to
// see smtp-source's transcripts).
//
// GSS_UNDER_TEST=/path/to/binary replaces the freshly built ./cmd/go-smtp-source; with
// GSS_UNDER_TEST=/usr/sbin/smtp-source the suite compares smtp-source with itself (the
// extension options are then dropped and the cases that need them skipped), which is how
// the harness itself is validated.

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// compatFiles are the -F inputs; a case refers to one as "@name" in its arguments.
var compatFiles = map[string]string{
	// Lines starting with ".", including a lone "." that would end DATA unstuffed.
	"dots": "Subject: dots\n\n.leading dot\n..two dots\n.\nafter a lone dot\n...\n. space\nend\n",
	// A CRLF file: smtp-source keeps the CR and adds its own CRLF ("line\r\r\n").
	"crlf": "Subject: crlf\r\n\r\nline one\r\nline two\r\n.dot crlf\r\n",
	// The final line has no newline; it is still sent.
	"nofinal": "Subject: no final newline\n\nbody\nlast line without newline",
	// An empty file falls back to the "La de da" body, without headers.
	"empty": "",
	// The reference capture's file: dot, CRLF and no final newline together.
	"mixed": "Subject: from file\n\n.leading dot\nline2\r\nlast-no-newline",
	// Bare CRs inside lines, an empty CRLF line, a line of spaces.
	"cr": "a\rb\n\r\n   \nc\r\r\nfrom file\n",
	// Only a newline.
	"newline": "\n",
	// 8-bit bytes, a NUL, a lone CR at the very end.
	"binary": "Subject: 8bit\n\ncaf\xc3\xa9\n\x00nul\n\xff\xfe\n.\x00\nlast\r",
	// Lines far longer than a bufio.Scanner's default 64 KiB token, one dot-stuffed.
	"long": "Subject: long lines\n\n" + strings.Repeat("a", 100_000) + "\n." + strings.Repeat("b", 70_000) + "\nend\n",
}

// compatExpand writes the -F files a case needs into dir and replaces "@name" with
// the file's path.
func compatExpand(t *testing.T, dir string, args []string) []string {
	t.Helper()
	out := make([]string, len(args))
	for i, a := range args {
		if name, ok := strings.CutPrefix(a, "@"); ok {
			content, known := compatFiles[name]
			if !known {
				t.Fatalf("unknown -F file %q", name)
			}
			p := filepath.Join(dir, name+".msg")
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			a = p
		}
		out[i] = a
	}
	return out
}

type compatDumpCase struct {
	name      string
	args      []string // smtp-source options ("@name" is a -F file)
	ext       []string // go-smtp-source extension options (dropped in oracle mode)
	sinkOpts  []string // extra smtp-sink options, e.g. -L
	msgs      int      // transactions each sink must record
	unordered bool     // -s > 1: records compare as a multiset
	rcptSet   bool     // -N with -s > 1: RCPT args compare as one multiset over the dump
	unix      bool     // target unix:/path
	target    string   // target template, "ADDR" is replaced by 127.0.0.1:PORT
	needExt   bool     // needs go-smtp-source's extensions (skipped in oracle mode)
	quiet     bool     // go-smtp-source must print nothing on stderr
	ipv6      bool     // the sinks listen on [::1] (skipped when the host has no IPv6 loopback)
	timed     bool     // -w: both runs must take as long (±0.5 s); smtp-source waits after every message
	esmtp     bool     // ours greets with EHLO (--ehlo/--pipelining): its dump's ESMTP protocol name reads SMTP
}

func TestCompatDump(t *testing.T) {
	source := testpeer.Require(t, "smtp-source")
	testpeer.Require(t, "smtp-sink")
	tool := compatUnderTest(t)

	cases := []compatDumpCase{
		// -m / -s, with and without -d.
		{name: "default", msgs: 1},
		{name: "m5", args: []string{"-m", "5"}, msgs: 5},
		{name: "d-m5", args: []string{"-d", "-m", "5"}, msgs: 5},
		{name: "s3-m10", args: []string{"-s", "3", "-m", "10"}, msgs: 10, unordered: true},
		{name: "d-s3-m10", args: []string{"-d", "-s", "3", "-m", "10"}, msgs: 10, unordered: true},
		{name: "s5-m3", args: []string{"-s", "5", "-m", "3"}, msgs: 3, unordered: true},
		{name: "d-s20-m200", args: []string{"-d", "-s", "20", "-m", "200"}, msgs: 200, unordered: true},
		// getopt: bundled flags and attached values.
		{name: "bundled-ds2m6", args: []string{"-ds2", "-m6"}, msgs: 6, unordered: true},
		// atoi: trailing garbage after a number is ignored.
		{name: "atoi-m2abc", args: []string{"-m", "2abc"}, msgs: 2},
		// -r with and without -N (--compat=3.7 numbering).
		{name: "r3", args: []string{"-r", "3"}, msgs: 1},
		{name: "d-r3-m2", args: []string{"-d", "-r", "3", "-m", "2"}, msgs: 2},
		{name: "N-m2", args: []string{"-N", "-m", "2"}, msgs: 2},
		{name: "N-r3-m2", args: []string{"-N", "-r", "3", "-m", "2"}, msgs: 2},
		{name: "d-N-r3-m2", args: []string{"-d", "-N", "-r", "3", "-m", "2"}, msgs: 2},
		{name: "r4-s3-m9", args: []string{"-r", "4", "-s", "3", "-m", "9"}, msgs: 9, unordered: true},
		{name: "N-r2-s3-m9", args: []string{"-N", "-r", "2", "-s", "3", "-m", "9"}, msgs: 9, unordered: true, rcptSet: true},
		{name: "d-N-r3-s2-m6", args: []string{"-d", "-N", "-r", "3", "-s", "2", "-m", "6"}, msgs: 6, unordered: true, rcptSet: true},
		// -l layouts.
		{name: "l1", args: []string{"-l", "1"}, msgs: 1},
		{name: "l79", args: []string{"-l", "79"}, msgs: 1},
		{name: "l80", args: []string{"-l", "80"}, msgs: 1},
		{name: "l81", args: []string{"-l", "81"}, msgs: 1},
		{name: "l160", args: []string{"-l", "160"}, msgs: 1},
		{name: "l1000-d-m2", args: []string{"-d", "-l", "1000", "-m", "2"}, msgs: 2},
		{name: "l1000000", args: []string{"-l", "1000000"}, msgs: 1},
		// -F files.
		{name: "F-dots", args: []string{"-F", "@dots"}, msgs: 1},
		{name: "F-crlf", args: []string{"-F", "@crlf"}, msgs: 1},
		{name: "F-nofinal", args: []string{"-F", "@nofinal"}, msgs: 1},
		{name: "F-empty", args: []string{"-F", "@empty"}, msgs: 1},
		{name: "F-newline", args: []string{"-F", "@newline"}, msgs: 1},
		{name: "F-mixed-d-m2", args: []string{"-d", "-m", "2", "-F", "@mixed"}, msgs: 2},
		{name: "F-cr", args: []string{"-F", "@cr"}, msgs: 1},
		{name: "F-long-lines-d-m2", args: []string{"-d", "-m", "2", "-F", "@long"}, msgs: 2},
		// Headers and addresses.
		{name: "S", args: []string{"-S", "Hello subject"}, msgs: 1},
		{name: "f-empty-t", args: []string{"-f", "", "-t", "rcpt@example.com"}, msgs: 1},
		{name: "f-t-r2", args: []string{"-f", "sender@example.com", "-t", "rcpt@example.com", "-r", "2"}, msgs: 1},
		{name: "M-hostname", args: []string{"-M", "client.example"}, msgs: 1},
		{name: "M-literal", args: []string{"-M", "[127.0.0.1]"}, msgs: 1},
		{name: "M-ipv6-literal", args: []string{"-M", "[IPv6:::1]"}, msgs: 1},
		{name: "M-f-t-S-N-r3", args: []string{"-M", "client.example", "-f", "s@example.com", "-t", "r@example.com",
			"-S", "all of it", "-N", "-r", "3", "-l", "100"}, msgs: 1},
		// LMTP against smtp-sink -L.
		{name: "L", args: []string{"-L"}, sinkOpts: []string{"-L"}, msgs: 1},
		{name: "L-r3", args: []string{"-L", "-r", "3"}, sinkOpts: []string{"-L"}, msgs: 1},
		{name: "L-d-N-r2-m3", args: []string{"-L", "-d", "-N", "-r", "2", "-m", "3"}, sinkOpts: []string{"-L"}, msgs: 3},
		// Old mode.
		{name: "o-m2", args: []string{"-o", "-m", "2"}, msgs: 2},
		{name: "o-S-l100", args: []string{"-o", "-S", "ignored", "-l", "100"}, msgs: 1},
		{name: "o-L", args: []string{"-o", "-L", "-r", "2"}, sinkOpts: []string{"-L"}, msgs: 1},
		// Unix-domain target.
		{name: "unix", args: []string{"-m", "2"}, unix: true, msgs: 2},
		{name: "unix-d-s2-m4", args: []string{"-d", "-s", "2", "-m", "4"}, unix: true, msgs: 4, unordered: true},
		// Target spellings and options without a wire effect.
		{name: "target-inet", target: "inet:ADDR", msgs: 1},
		{name: "target-brackets", target: "[127.0.0.1]:PORT", msgs: 1},
		{name: "target-inet-brackets", target: "inet:[127.0.0.1]:PORT", msgs: 1},
		{name: "target-4-localhost", args: []string{"-4"}, target: "localhost:PORT", msgs: 1},
		{name: "double-dash", args: []string{"-m", "2", "--"}, msgs: 2},
		{name: "A-C2-T8192", args: []string{"-A", "-C", "2", "-T", "8192"}, msgs: 1},
		// IPv6 loopback (X-Client-Addr: ipv6:::1).
		{name: "ipv6", args: []string{"-m", "2"}, ipv6: true, msgs: 2},
		{name: "ipv6-6-d-m2", args: []string{"-6", "-d", "-m", "2"}, ipv6: true, msgs: 2},
		// -w: a fixed wait after each message, the last one included.
		{name: "w1-d-m2", args: []string{"-w", "1", "-d", "-m", "2"}, msgs: 2, timed: true},
		{name: "w1-s2-m2", args: []string{"-w", "1", "-s", "2", "-m", "2"}, msgs: 2, unordered: true, timed: true},
		// -c: stdout must be byte-identical ("1\r2\r...N\r\n").
		{name: "c-m20-s3", args: []string{"-c", "-m", "20", "-s", "3"}, msgs: 20, unordered: true},
		{name: "c-d-m20-s2", args: []string{"-c", "-d", "-m", "20", "-s", "2"}, msgs: 20, unordered: true},
		{name: "c-m1", args: []string{"-c"}, msgs: 1},
		// EHLO and PIPELINING (ours only): the same messages must arrive; only the
		// protocol name in the dump (ESMTP for SMTP) may differ.
		{name: "ehlo-d-m3", args: []string{"-d", "-m", "3"}, ext: []string{"--ehlo"}, msgs: 3, needExt: true, esmtp: true},
		{name: "pipelining-d-m5-F-dots", args: []string{"-d", "-m", "5", "-F", "@dots"}, ext: []string{"--pipelining"},
			msgs: 5, needExt: true, esmtp: true},
		{name: "pipelining-d-m4-l1000-S", args: []string{"-d", "-m", "4", "-l", "1000", "-S", "piped"}, ext: []string{"--pipelining"},
			msgs: 4, needExt: true, esmtp: true},
		{name: "pipelining-d-N-r3-s10-m100", args: []string{"-d", "-N", "-r", "3", "-s", "10", "-m", "100"},
			ext: []string{"--pipelining"}, msgs: 100, unordered: true, rcptSet: true, needExt: true, esmtp: true},
		{name: "pipelining-s5-m20-r2", args: []string{"-s", "5", "-m", "20", "-r", "2"},
			ext: []string{"--pipelining"}, msgs: 20, unordered: true, needExt: true, esmtp: true},
		{name: "pipelining-L-d-N-r2-m3", args: []string{"-L", "-d", "-N", "-r", "2", "-m", "3"}, sinkOpts: []string{"-L"},
			ext: []string{"--pipelining"}, msgs: 3, needExt: true},
		// More LMTP and unix-socket combinations.
		{name: "L-d-s3-m9", args: []string{"-L", "-d", "-s", "3", "-m", "9"}, sinkOpts: []string{"-L"}, msgs: 9, unordered: true},
		{name: "unix-L-r2-m2", args: []string{"-L", "-r", "2", "-m", "2"}, sinkOpts: []string{"-L"}, unix: true, msgs: 2},
		{name: "d-N-r2-s50-m500", args: []string{"-d", "-N", "-r", "2", "-s", "50", "-m", "500"}, msgs: 500,
			unordered: true, rcptSet: true},
		// --quiet: no summary line at all.
		{name: "quiet-c-d-m5", args: []string{"-c", "-d", "-m", "5"}, ext: []string{"--quiet"}, msgs: 5, needExt: true, quiet: true},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.needExt && tool.oracle {
				t.Skip("needs go-smtp-source's extension options")
			}
			compatRunDumpCase(t, source, tool, tc)
		})
	}
}

func compatRunDumpCase(t *testing.T, source string, tool compatTool, tc compatDumpCase) {
	dir := testpeer.WritableDir(t)
	args := compatExpand(t, dir, tc.args)
	start := func(dump string) (*testpeer.Sink, string) {
		opts := append([]string{"-D", dump, "-S", compatMarker + `\n`}, tc.sinkOpts...)
		return compatStartSink(t, tc.ipv6, tc.unix, opts...)
	}
	target := func(s *testpeer.Sink) string {
		if tc.target == "" || tc.unix {
			return s.Addr
		}
		port := s.Addr[strings.LastIndexByte(s.Addr, ':')+1:]
		return strings.NewReplacer("ADDR", s.Addr, "PORT", port).Replace(tc.target)
	}
	refDump, gotDump := filepath.Join(dir, "smtp-source.dump"), filepath.Join(dir, "go-smtp-source.dump")
	refSink, refName := start(refDump)
	gotSink, gotName := start(gotDump)

	// Both at once: each has its own sink.
	var probe *testpeer.SchedulingProbe
	if tc.timed {
		probe = testpeer.ProbeScheduling(t)
	}
	refCh := make(chan testpeer.Result, 1)
	go func() {
		defer close(refCh)
		refCh <- testpeer.Run(t, compatRunLimit, source, append(append([]string{}, args...), target(refSink))...)
	}()
	got := testpeer.Run(t, compatRunLimit, tool.path, append(tool.args(tc.ext, args...), target(gotSink))...)
	ref, ok := <-refCh
	if !ok {
		t.FailNow()
	}
	compatCheckClean(t, "smtp-source", ref, source, false)
	compatCheckClean(t, "go-smtp-source", got, tool.path, !tool.oracle && !tc.quiet)
	if tc.timed {
		// 500 ms apart at most, plus the worst the machine's scheduling delayed either.
		bound := 500*time.Millisecond + probe.Stop().Worst()
		if d := (got.Elapsed - ref.Elapsed).Abs(); d > bound {
			t.Errorf("run time: smtp-source %v, go-smtp-source %v, %v apart, want at most %v (smtp-source waits -w seconds after every message, the last one included)",
				ref.Elapsed.Round(time.Millisecond), got.Elapsed.Round(time.Millisecond), d.Round(time.Millisecond), bound.Round(time.Millisecond))
		}
	}
	if ref.Stdout != got.Stdout {
		t.Errorf("stdout differs:\n  smtp-source:    %q\n  go-smtp-source: %q", ref.Stdout, got.Stdout)
	}

	refText, err := compatWaitDump(refDump, refSink.Addr, tc.msgs, 10*time.Second)
	if err != nil {
		t.Fatalf("smtp-source: %v (run: %s; sink stderr: %s)", err, ref, refSink.Stderr.String())
	}
	gotText, gotErr := compatWaitDump(gotDump, gotSink.Addr, tc.msgs, 10*time.Second)
	if gotErr != nil {
		t.Errorf("go-smtp-source: %v (sink stderr: %s)", gotErr, gotSink.Stderr.String())
	}
	refD, err := compatParseDump(refText, refName, tc.rcptSet)
	if err != nil {
		t.Fatalf("smtp-source dump: %v", err)
	}
	if tc.esmtp && !tool.oracle {
		gotText = strings.NewReplacer("\nX-Client-Proto: ESMTP\n", "\nX-Client-Proto: SMTP\n",
			") with ESMTP id ", ") with SMTP id ").Replace(gotText)
	}
	gotD, err := compatParseDump(gotText, gotName, tc.rcptSet)
	if err != nil {
		t.Fatalf("go-smtp-source dump: %v", err)
	}
	if len(refD.records) != tc.msgs {
		t.Fatalf("harness: smtp-source's dump holds %d records, want %d", len(refD.records), tc.msgs)
	}
	if len(gotD.records) != tc.msgs {
		t.Errorf("go-smtp-source: the sink recorded %d transactions, want %d", len(gotD.records), tc.msgs)
	}
	refRecs, gotRecs := refD.records, gotD.records
	how := "in order"
	if tc.unordered {
		refRecs, gotRecs = compatSorted(refRecs), compatSorted(gotRecs)
		how = "as a multiset (records sorted)"
	}
	join := func(recs []string) []string {
		var lines []string
		for _, r := range recs {
			lines = append(lines, compatMarker+"\n")
			lines = append(lines, compatSplitLines(r)...)
		}
		return lines
	}
	if d := compatDiff(join(refRecs), join(gotRecs)); d != "" {
		t.Errorf("smtp-sink dumps differ (%s; Date, Message-Id, Received id/time normalised):\n%s", how, d)
	}
	if tc.rcptSet {
		if d := compatDiff(compatSorted(refD.rcpts), compatSorted(gotD.rcpts)); d != "" {
			t.Errorf("the multisets of RCPT TO arguments differ (one per line, sorted):\n%s", d)
		}
	}
}

// compatStartSink starts Postfix smtp-sink with the given options on 127.0.0.1, on
// [::1] (ipv6; the test is skipped when the host has no IPv6 loopback) or on a unix
// socket, and returns it with the name it announces (-h), which the dump check uses to
// prove that every record came from this sink. On TCP it binds port 0 itself (the test
// reads which port from /proc): smtp-sink binds with SO_REUSEPORT, so two sinks handed
// the same port would silently share connections and mix their dumps.
func compatStartSink(t *testing.T, ipv6, unix bool, opts ...string) (*testpeer.Sink, string) {
	t.Helper()
	if unix {
		name := fmt.Sprintf("sink-unix-%d", compatSinkSeq.Add(1))
		return testpeer.StartPostfixSinkUnix(t, append([]string{"-h", name}, opts...)...), name
	}
	listen := "127.0.0.1:0"
	if ipv6 {
		l, err := net.Listen("tcp6", "[::1]:0")
		if err != nil {
			t.Skipf("no IPv6 loopback: %v", err)
		}
		l.Close()
		listen = "[::1]:0"
	}
	name := fmt.Sprintf("sink-%05d", compatSinkSeq.Add(1))
	return testpeer.StartPostfixSinkAt(t, listen, append([]string{"-h", name}, opts...)...), name
}

var compatSinkSeq atomic.Int64

type compatRawCase struct {
	name  string
	args  []string // smtp-source options ("@name" is a -F file)
	lmtp  bool     // capture server answers "." once per RCPT
	conns int      // connections the client must make
}

func TestCompatRaw(t *testing.T) {
	source := testpeer.Require(t, "smtp-source")
	tool := compatUnderTest(t)

	cases := []compatRawCase{
		{name: "default", conns: 1},
		{name: "m2", args: []string{"-m", "2"}, conns: 2},
		{name: "d-m3", args: []string{"-d", "-m", "3"}, conns: 1},
		{name: "l1", args: []string{"-l", "1"}, conns: 1},
		{name: "l79", args: []string{"-l", "79"}, conns: 1},
		{name: "l80", args: []string{"-l", "80"}, conns: 1},
		{name: "l81", args: []string{"-l", "81"}, conns: 1},
		{name: "l160", args: []string{"-l", "160"}, conns: 1},
		{name: "l200", args: []string{"-l", "200"}, conns: 1},
		{name: "l1000", args: []string{"-l", "1000"}, conns: 1},
		{name: "l1000000", args: []string{"-l", "1000000"}, conns: 1},
		{name: "F-dots", args: []string{"-F", "@dots"}, conns: 1},
		{name: "F-crlf", args: []string{"-F", "@crlf"}, conns: 1},
		{name: "F-nofinal", args: []string{"-F", "@nofinal"}, conns: 1},
		{name: "F-empty", args: []string{"-F", "@empty"}, conns: 1},
		{name: "F-newline", args: []string{"-F", "@newline"}, conns: 1},
		{name: "F-mixed-d-m2", args: []string{"-d", "-m", "2", "-F", "@mixed"}, conns: 1},
		{name: "F-cr", args: []string{"-F", "@cr"}, conns: 1},
		{name: "F-long-lines", args: []string{"-F", "@long"}, conns: 1},
		{name: "F-binary", args: []string{"-F", "@binary"}, conns: 1},
		{name: "o", args: []string{"-o"}, conns: 1},
		{name: "o-d-m2-l100", args: []string{"-o", "-d", "-m", "2", "-l", "100"}, conns: 1},
		{name: "L-r3", args: []string{"-L", "-r", "3"}, lmtp: true, conns: 1},
		{name: "L-d-N-r2-m2", args: []string{"-L", "-d", "-N", "-r", "2", "-m", "2"}, lmtp: true, conns: 1},
		{name: "o-L-r2", args: []string{"-o", "-L", "-r", "2"}, lmtp: true, conns: 1},
		{name: "r3", args: []string{"-r", "3"}, conns: 1},
		{name: "N-m2", args: []string{"-N", "-m", "2"}, conns: 2},
		{name: "N-r3-m2", args: []string{"-N", "-r", "3", "-m", "2"}, conns: 2},
		{name: "d-N-r3-m2", args: []string{"-d", "-N", "-r", "3", "-m", "2"}, conns: 1},
		{name: "d-r3-m2", args: []string{"-d", "-r", "3", "-m", "2"}, conns: 1},
		{name: "S", args: []string{"-S", "Hello subject"}, conns: 1},
		{name: "f-empty-t", args: []string{"-f", "", "-t", "rcpt@example.com"}, conns: 1},
		{name: "M-literal", args: []string{"-M", "[127.0.0.1]"}, conns: 1},
		{name: "M-f-t-S-N-r3-l100", args: []string{"-M", "client.example", "-f", "s@example.com",
			"-t", "r@example.com", "-S", "all of it", "-N", "-r", "3", "-l", "100"}, conns: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := compatExpand(t, t.TempDir(), tc.args)
			refSrv := testpeer.StartCapture(t, testpeer.CaptureOptions{LMTP: tc.lmtp})
			gotSrv := testpeer.StartCapture(t, testpeer.CaptureOptions{LMTP: tc.lmtp})
			ref := testpeer.Run(t, compatRunLimit, source, append(append([]string{}, args...), refSrv.Addr)...)
			got := testpeer.Run(t, compatRunLimit, tool.path, append(tool.args(nil, args...), gotSrv.Addr)...)
			compatCheckClean(t, "smtp-source", ref, source, false)
			compatCheckClean(t, "go-smtp-source", got, tool.path, !tool.oracle)
			if err := refSrv.WaitConns(tc.conns, 10*time.Second); err != nil {
				t.Fatalf("smtp-source: %v", err)
			}
			if err := gotSrv.WaitConns(tc.conns, 10*time.Second); err != nil {
				t.Errorf("go-smtp-source: %v", err)
			}
			refConns, gotConns := refSrv.Conns(), gotSrv.Conns()
			if len(refConns) != tc.conns {
				t.Fatalf("harness: smtp-source made %d connections, want %d", len(refConns), tc.conns)
			}
			if len(gotConns) != len(refConns) {
				t.Errorf("go-smtp-source made %d connections, smtp-source %d", len(gotConns), len(refConns))
			}
			for i, c := range refConns {
				compatLog(t, "smtp-source connection %d (%s):\n%s", i+1, c.End(), compatFirstN(string(c.Bytes()), 4000))
			}
			for i := 0; i < len(refConns) && i < len(gotConns); i++ {
				if e := refConns[i].End(); e != "server closed after 221" {
					t.Errorf("harness: smtp-source connection %d ended with %q", i+1, e)
				}
				if e := gotConns[i].End(); e != "server closed after 221" {
					t.Errorf("go-smtp-source connection %d: want QUIT then the server's close, got %q", i+1, e)
				}
				want := compatNormaliseStream(refConns[i].Bytes())
				have := compatNormaliseStream(gotConns[i].Bytes())
				if want != have {
					t.Errorf("connection %d: client byte streams differ (Date and Message-Id values normalised)\n%s\n%s",
						i+1, compatFirstByteDiff(want, have), compatDiff(compatSplitLines(want), compatSplitLines(have)))
				}
			}
		})
	}
}

// TestCompatUsage: fatal values and combinations end both programs the same way:
// same exit code, same stdout, same stderr once the program name is normalised. The
// target is a free port with nothing listening, so a value that is wrongly accepted
// shows up as a different error.
func TestCompatUsage(t *testing.T) {
	source := testpeer.Require(t, "smtp-source")
	tool := compatUnderTest(t)
	cases := []struct {
		name string
		args []string
	}{
		{"l0", []string{"-l", "0"}},
		{"l-negative", []string{"-l", "-5"}},
		{"l-with-F", []string{"-l", "10", "-F", "@dots"}},
		{"F-with-l", []string{"-F", "@dots", "-l", "10"}},
		{"w-with-R", []string{"-w", "1", "-R", "1"}},
		{"m0", []string{"-m", "0"}},
		{"s0", []string{"-s", "0"}},
		{"r0", []string{"-r", "0"}},
		{"F-missing", []string{"-F", "/nonexistent/gss-compat.msg"}},
		{"C0", []string{"-C", "0"}},
		{"R0", []string{"-R", "0"}},
		{"w0", []string{"-w", "0"}},
		{"T0", []string{"-T", "0"}},
		{"M-bad-hostname", []string{"-M", "a..b"}},
		{"M-bad-literal", []string{"-M", "[1.2.3]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := compatExpand(t, t.TempDir(), tc.args)
			target := testpeer.ClosedPort(t)
			// smtp-source sleeps 1 s before every fatal exit: run both at once.
			refCh := make(chan testpeer.Result, 1)
			go func() {
				defer close(refCh)
				refCh <- testpeer.Run(t, compatRunLimit, source, append(append([]string{}, args...), target)...)
			}()
			got := testpeer.Run(t, compatRunLimit, tool.path, append(tool.args(nil, args...), target)...)
			ref, ok := <-refCh
			if !ok {
				t.FailNow()
			}
			if ref.ExitCode == 0 || ref.ExitCode == -1 {
				t.Fatalf("harness: smtp-source should have failed: %s", ref)
			}
			if got.ExitCode != ref.ExitCode {
				t.Errorf("exit code: smtp-source %d, go-smtp-source %d (stderr %q)", ref.ExitCode, got.ExitCode, got.Stderr)
			}
			if got.Stdout != ref.Stdout {
				t.Errorf("stdout: smtp-source %q, go-smtp-source %q", ref.Stdout, got.Stdout)
			}
			norm := func(s, prog string) string {
				lines := strings.SplitAfter(s, "\n")
				for i, l := range lines {
					for _, p := range []string{prog, filepath.Base(prog)} {
						if rest, ok := strings.CutPrefix(l, p+": "); ok {
							lines[i] = "PROG: " + rest
							break
						}
					}
				}
				return strings.Join(lines, "")
			}
			// Postfix's validators add a "warning: valid_…" line with the reason before the
			// fatal one; go-smtp-source prints it too.
			if w, g := norm(ref.Stderr, source), norm(got.Stderr, tool.path); w != g {
				t.Errorf("stderr (program name normalised to PROG):\n  smtp-source:    %q\n  go-smtp-source: %q", w, g)
			}
		})
	}
}

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
	"github.com/go-smtp-source/go-smtp-source/plan"
)

// sinkCounts reads smtp-sink -c's last "sess=%d quit=%d mesg=%d" counter line.
func sinkCounts(t *testing.T, s *testpeer.Sink) (sess, quit, mesg int) {
	t.Helper()
	out := s.Stdout.String()
	i := strings.LastIndex(out, "sess=")
	if i < 0 {
		return 0, 0, 0
	}
	if _, err := fmt.Sscanf(out[i:], "sess=%d quit=%d mesg=%d", &sess, &quit, &mesg); err != nil {
		t.Fatalf("sink counter %q: %v", out[i:], err)
	}
	return
}

var summaryRE = regexp.MustCompile(`(\d+) messages: (\d+) accepted, (\d+) rejected, (\d+) failed, (\d+) not started`)

// summary parses our summary line: planned, accepted, rejected, failed, not started.
func summary(t *testing.T, stderr string) [5]int {
	t.Helper()
	m := summaryRE.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no summary line in stderr:\n%s", stderr)
	}
	var v [5]int
	for i := range v {
		v[i], _ = strconv.Atoi(m[i+1])
	}
	if v[1]+v[2]+v[3]+v[4] != v[0] {
		t.Fatalf("accounting does not add up to planned: %v", v)
	}
	return v
}

// Every message counted exactly at a real sink, at -s 1000: with and without -d, with
// and without PIPELINING. Without -d each message is a connection of its own: 5000
// of them, five per session.
func TestVolumeCountedAtSink(t *testing.T) {
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	for _, args := range [][]string{
		{"-s", "1000", "-m", "5000"},
		{"-d", "-s", "1000", "-m", "10000"},
		{"-d", "-s", "1000", "-m", "10000", "--pipelining"},
		{"-s", "1000", "-m", "5000", "--pipelining", "-r", "2"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			sink := testpeer.StartPostfixSink(t, "-c", "-m", "2000")
			res := testpeer.Run(t, 2*time.Minute, bin, append(args, sink.Addr)...)
			if res.ExitCode != 0 {
				t.Fatalf("go-smtp-source: %v", res)
			}
			want, _ := strconv.Atoi(args[slices.Index(args, "-m")+1])
			if got := summary(t, res.Stderr); got[1] != want {
				t.Fatalf("accepted %d of %d: %s", got[1], want, res.Stderr)
			}
			var mesg int
			if !testpeer.Poll(10*time.Second, 50*time.Millisecond, func() bool {
				_, _, mesg = sinkCounts(t, sink)
				return mesg == want
			}) {
				t.Fatalf("sink counted %d messages, want %d", mesg, want)
			}
		})
	}
}

// Values smtp-source refuses with "fatal:" exit 1 as there; mistakes of form (an unknown
// option, a missing operand) and bad values of our own long options exit 2.
func TestBadCommandLines(t *testing.T) {
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	empty := filepath.Join(t.TempDir(), "msg")
	if err := os.WriteFile(empty, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-w", "1", "-R", "1", "127.0.0.1"}, 1, "fatal: do not use -w and -R options at the same time"},
		{[]string{"-R", "1", "-w", "1", "127.0.0.1"}, 1, "fatal: do not use -w and -R options at the same time"},
		{[]string{"-l", "10", "-F", empty, "127.0.0.1"}, 1, "fatal: -l option cannot be used with -F"},
		{[]string{"-F", empty, "-l", "10", "127.0.0.1"}, 1, "fatal: -l option cannot be used with -F"},
		{[]string{"-m", "0", "127.0.0.1"}, 1, "fatal: bad message count: 0"},
		{[]string{"-m", "-3", "127.0.0.1"}, 1, "fatal: bad message count: -3"},
		{[]string{"-s0", "127.0.0.1"}, 1, "fatal: bad session count: 0"},
		{[]string{"-r", "x", "127.0.0.1"}, 1, "fatal: bad recipient count: x"},
		{[]string{"-l", "0", "127.0.0.1"}, 1, "fatal: bad message length: 0"},
		{[]string{"-C", "0", "127.0.0.1"}, 1, "fatal: bad connection count: 0"},
		{[]string{"-R", "0", "127.0.0.1"}, 1, "fatal: bad random delay: 0"},
		{[]string{"-w", "0", "127.0.0.1"}, 1, "fatal: bad fixed delay: 0"},
		{[]string{"-T", "0", "127.0.0.1"}, 1, "fatal: bad TCP window size: 0"},
		{[]string{"-M", "a..b", "127.0.0.1"}, 1, "fatal: bad hostname: a..b"},
		{[]string{"-M", "[1.2.3]", "127.0.0.1"}, 1, "fatal: bad address literal: [1.2.3]"},
		{[]string{"-x", "127.0.0.1"}, 2, "invalid option -- 'x'"},
		{[]string{}, 2, "fatal: usage: "},
		{[]string{"127.0.0.1", "-m", "2"}, 2, "fatal: usage: "},
		{[]string{"-tls", "-o", "127.0.0.1"}, 2, "fatal: --tls encrypt needs EHLO, and -o sends no greeting"},
		{[]string{"-q", "10", "127.0.0.1"}, 2, "--rate needs -m or --duration to know when to stop"},
		{[]string{"--rate", "0", "-m", "5", "127.0.0.1"}, 2, `--rate: want messages per second above 0: "0"`},
		{[]string{"--stages", "10s", "127.0.0.1"}, 2, `--stages: stage "10s": want DURATION:TARGET`},
		{[]string{"--duration", "5s", "127.0.0.1"}, 2, "--duration needs --rate"},
		{[]string{"--compat=3.8", "127.0.0.1"}, 2, "--compat: want 3.7 or 3.9"},
		{[]string{"--timeout", "soon", "127.0.0.1"}, 2, `--timeout: not a positive duration: "soon"`},
		{[]string{"--source-addr", "nope", "127.0.0.1"}, 2, `--source-addr: not an IP address: "nope"`},
		{[]string{"[127.0.0.1"}, 1, `fatal: [127.0.0.1: missing "]"`},
		{[]string{"[127.0.0.1]x"}, 1, `fatal: [127.0.0.1]x: garbage after "]"`},
		{[]string{"[ipv6:127.0.0.1]:25"}, 1, "fatal: [ipv6:127.0.0.1]:25: malformed IPv6 address"},
		{[]string{"127.0.0.1:25x"}, 1, "fatal: 127.0.0.1:25x: garbage after numerical service"},
		{[]string{":25"}, 1, "fatal: :25: missing host information"},
		{[]string{"::1"}, 1, "fatal: ::1: valid hostname or network address required"},
		{[]string{"unix:/" + strings.Repeat("x", 120)}, 1, "fatal: unix-domain name too long"},
		{[]string{"127.0.0.1:abc"}, 1, "fatal: 127.0.0.1:abc: Servname not supported for ai_socktype"},
		{[]string{"-6", "127.0.0.1:25"}, 1, "fatal: 127.0.0.1:25: Address family for hostname not supported"},
		{[]string{"-F", "/nonexistent/msg", "127.0.0.1"}, 1, "fatal: open /nonexistent/msg: No such file or directory"},
		{[]string{"unix:/nonexistent/sock"}, 1, "fatal: connect: No such file or directory"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			res := testpeer.Run(t, 20*time.Second, bin, tc.args...)
			if res.ExitCode != tc.code || !strings.Contains(res.Stderr, tc.want) {
				t.Fatalf("want exit %d and %q; got %v", tc.code, tc.want, res)
			}
			if strings.Contains(res.Stderr, "goroutine ") || strings.Contains(res.Stderr, "panic") {
				t.Fatalf("stack trace: %s", res.Stderr)
			}
			if lines := strings.Count(res.Stderr, "\n"); lines > 2 {
				t.Fatalf("%d lines of diagnostics, want one (plus the usage line): %s", lines, res.Stderr)
			}
		})
	}
}

func TestConnectFailures(t *testing.T) {
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	target := testpeer.ClosedPort(t)
	res := testpeer.Run(t, 20*time.Second, bin, target)
	if res.ExitCode != 1 || res.Stderr != "" && !strings.HasSuffix(res.Stderr, "fatal: connect: Connection refused\n") {
		t.Fatalf("refused: %v", res)
	}
	// -C 3: two warnings, then the fatal line, as smtp-source.
	res = testpeer.Run(t, 20*time.Second, bin, "-C", "3", target)
	if res.ExitCode != 1 || strings.Count(res.Stderr, "warning: connect: Connection refused\n") != 2 ||
		!strings.Contains(res.Stderr, "fatal: connect: Connection refused\n") {
		t.Fatalf("-C 3: %v", res)
	}
}

// A server that accepts and never says a word ends in a timeout, never a hang.
func TestSilentServerTimesOut(t *testing.T) {
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	res := testpeer.Run(t, 20*time.Second, bin, "--timeout", "1s", "-s", "3", "-m", "5", testpeer.ListenSilent(t))
	if res.ExitCode != 1 || !strings.Contains(res.Stderr, "fatal: timeout while reading server greeting") {
		t.Fatalf("%v", res)
	}
	if res.Elapsed > 10*time.Second {
		t.Fatalf("took %v with a 1 s timeout", res.Elapsed)
	}
	got := summary(t, res.Stderr)
	if got[3] != 3 || got[4] != 2 {
		t.Fatalf("want 3 failed (one per session) and 2 not started: %v", got)
	}
}

// A server that drops the connection mid-dialogue: smtp-source's fatal "lost connection".
func TestLostConnection(t *testing.T) {
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	sink := testpeer.StartPostfixSink(t, "-q", "mail")
	res := testpeer.Run(t, 20*time.Second, bin, sink.Addr)
	if res.ExitCode != 1 || !strings.Contains(res.Stderr, "fatal: lost connection while sending sender") {
		t.Fatalf("%v", res)
	}
}

func TestRejections(t *testing.T) {
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	sink := testpeer.StartPostfixSink(t, "-r", "rcpt")
	res := testpeer.Run(t, 20*time.Second, bin, "-m", "2", sink.Addr)
	if res.ExitCode != 1 || !strings.Contains(res.Stderr, "fatal: recipient rejected: 450 4.3.0 Error: command failed\n") {
		t.Fatalf("without -A: %v", res)
	}
	res = testpeer.Run(t, 20*time.Second, bin, "-A", "-d", "-m", "2", "-v", sink.Addr)
	if res.ExitCode != 0 || strings.Count(res.Stderr, "warning: recipient rejected: 450 4.3.0 Error: command failed\n") != 2 {
		t.Fatalf("with -A: %v", res)
	}
	if got := summary(t, res.Stderr); got[2] != 2 {
		t.Fatalf("want 2 rejected: %v", got)
	}
	// smtp-source's -A -d sequence: RSET after the rejected recipient, next MAIL, RSET, QUIT.
	var cmds []string
	for _, l := range strings.Split(res.Stderr, "\n") {
		if summaryRE.MatchString(l) {
			break // the report follows
		}
		_, rest, ok := strings.Cut(l, ": ")
		if !ok || rest == "" || strings.HasPrefix(rest, "<<<") || strings.HasPrefix(rest, "warning:") || strings.Contains(rest, "messages:") {
			continue
		}
		cmds = append(cmds, strings.Fields(rest)[0])
	}
	if got := strings.Join(cmds, ","); got != "HELO,MAIL,RCPT,RSET,MAIL,RCPT,RSET,QUIT" {
		t.Fatalf("commands %s, want HELO,MAIL,RCPT,RSET,MAIL,RCPT,RSET,QUIT\n%s", got, res.Stderr)
	}
	// 421 under -A: the session closes without QUIT and the next message reconnects.
	sink421 := testpeer.StartPostfixSink(t, "-Q", "mail")
	res = testpeer.Run(t, 20*time.Second, bin, "-A", "-m", "2", sink421.Addr)
	if res.ExitCode != 0 || strings.Count(res.Stderr, "warning: sender rejected: 421 4.0.0 Server closing connection\n") != 2 {
		t.Fatalf("421 with -A: %v", res)
	}
}

func TestLMTPAndUnixSocket(t *testing.T) {
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	sink := testpeer.StartPostfixSinkUnix(t, "-L", "-c")
	res := testpeer.Run(t, 30*time.Second, bin, "-L", "-r", "3", "-d", "-s", "5", "-m", "100", sink.Addr)
	if res.ExitCode != 0 {
		t.Fatalf("%v", res)
	}
	if got := summary(t, res.Stderr); got[1] != 100 {
		t.Fatalf("accepted %v", got)
	}
}

// -c: the counter on stdout, one "N\r" per message, and "\n" at a successful end.
func TestRunningCounter(t *testing.T) {
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	sink := testpeer.StartPostfixSink(t)
	res := testpeer.Run(t, 30*time.Second, bin, "-c", "-s", "5", "-m", "50", sink.Addr)
	var want strings.Builder
	for i := 1; i <= 50; i++ {
		fmt.Fprintf(&want, "%d\r", i)
	}
	want.WriteString("\n")
	if res.ExitCode != 0 || res.Stdout != want.String() {
		t.Fatalf("stdout %q, want %q (%v)", res.Stdout, want.String(), res)
	}
}

// SIGINT stops new messages, lets sessions in flight end, prints the summary with every
// message accounted for, and exits 130.
func TestInterrupt(t *testing.T) {
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	sink := testpeer.StartPostfixSink(t, "-c", "-w", "1") // every DATA reply waits 1 s
	p := testpeer.Start(t, bin, "-s", "20", "-m", "100000", "--grace", "3s", sink.Addr)
	// Interrupted once the sink has taken each session's first message: the sessions are
	// in their second, in flight.
	testpeer.Eventually(t, 20*time.Second, 10*time.Millisecond, "20 messages at the sink", func() bool {
		_, _, mesg := sinkCounts(t, sink)
		return mesg >= 20
	})
	if err := p.Cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	exited, _ := p.Wait(10 * time.Second)
	if !exited {
		t.Fatal("still running 10 s after SIGINT")
	}
	if code := p.Cmd.ProcessState.ExitCode(); code != 130 {
		t.Fatalf("exit %d, want 130; stderr %s", code, p.Stderr.String())
	}
	got := summary(t, p.Stderr.String())
	if got[0] != 100000 || got[1] < 20 || got[4] < 99000 {
		t.Fatalf("accounting %v: want 100000 planned, the in-flight ones finished, the rest not started", got)
	}
}

func TestSessionStagesCLI(t *testing.T) {
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	sink := testpeer.StartPostfixSink(t, "-c")
	res := testpeer.Run(t, time.Minute, bin, "--stages", "1s:10,1s:0", "--stages-of", "sessions", "-d", "-s", "5", sink.Addr)
	if res.ExitCode != 0 {
		t.Fatalf("%v", res)
	}
	got := summary(t, res.Stderr)
	if got[1] == 0 || got[0] != got[1] || res.Elapsed < 2*time.Second {
		t.Fatalf("want a 2 s run with every started message accepted: %v in %v", got, res.Elapsed)
	}
	if !strings.Contains(res.Stderr, "; 5 connections;") {
		t.Fatalf("-s 5 caps the ramp at 5 sessions: %s", res.Stderr)
	}
	for _, bad := range [][]string{
		{"--stages-of", "sessions", sink.Addr},
		{"--stages", "1s:5", "--stages-of", "vus", sink.Addr},
		{"--stages", "1s:5", "--stages-of", "sessions", "--rate", "5", sink.Addr},
	} {
		if res := testpeer.Run(t, 10*time.Second, bin, bad...); res.ExitCode != 2 || !strings.Contains(res.Stderr, "--stages-of") {
			t.Errorf("%v: %v", bad, res)
		}
	}
}

// A full file-descriptor table: one fatal line that says what to do, every message
// accounted for, no hang.
func TestOpenFilesLimit(t *testing.T) {
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	sink := testpeer.StartPostfixSink(t, "-m", "2000")
	res := testpeer.Run(t, 30*time.Second, "/bin/bash", "-c", `ulimit -n 64 && exec "$0" "$@"`, bin, "-d", "-s", "200", "-m", "1000", sink.Addr)
	if res.ExitCode != 1 || !strings.Contains(res.Stderr, "the open-files limit is reached: raise it with ulimit -n, or lower -s") {
		t.Fatalf("%v", res)
	}
	if strings.Count(res.Stderr, "fatal:") != 1 || strings.Contains(res.Stderr, "panic") {
		t.Fatalf("want exactly one fatal line: %s", res.Stderr)
	}
	// Whether a session got connected before the table filled up depends on timing; when
	// one did, the summary's accounting still covers all 1000 messages.
	if summaryRE.MatchString(res.Stderr) {
		if got := summary(t, res.Stderr); got[0] != 1000 {
			t.Fatalf("planned %d", got[0])
		}
	}
}

// The command line's defaults are the plan's: a run given only its target is
// plan.Defaults() to that target, and every flag's default reads as the plan's value.
func TestDefaultsAreThePlans(t *testing.T) {
	inv, _, err := parseOptions([]string{"mx.example"})
	if err != nil {
		t.Fatal(err)
	}
	want := plan.Defaults()
	want.Target = "mx.example"
	if !reflect.DeepEqual(inv.plan, want) {
		t.Errorf("plan of a bare command line:\n got %+v\nwant %+v", inv.plan, want)
	}
	d := plan.Defaults()
	compat, ext := flagSets()
	for flag, value := range map[string]string{
		"sessions": fmt.Sprint(d.Sessions), "messages": fmt.Sprint(d.Messages), "recipients": fmt.Sprint(d.Message.Recipients),
		"connect-tries": fmt.Sprint(d.Connect.Tries), "timeout": flagDuration(d.Session.Timeout), "compat": d.Message.Numbering,
		"grace": flagDuration(d.Grace), "max-connecting": fmt.Sprint(d.Connect.MaxConnecting), "event-loops": fmt.Sprint(d.Local.EventLoops),
		"max-sessions": fmt.Sprint(d.Load.MaxSessions), "drop-after": flagDuration(d.Load.DropAfter), "late-after": flagDuration(d.Load.LateAfter),
		"tls": string(d.TLS.Level), "tls-min-version": d.TLS.MinVersion, "tls-max-version": d.TLS.MaxVersion,
		"max-start-late": flagDuration(d.MaxStartLate),
	} {
		f := compat.Lookup(flag)
		if f == nil {
			f = ext.Lookup(flag)
		}
		if f == nil || f.DefValue != value {
			t.Errorf("--%s: default %v, the plan's is %q", flag, f, value)
		}
	}
}

// A coordinator's plan, and everything it writes, never holds the NATS token: workers
// read their own from their environment.
func TestTokenNotInPlan(t *testing.T) {
	const token = "s3cret-token-for-the-test"
	inv, _, err := parseOptions([]string{"--cluster-workers", "2", "--cluster-listen", "127.0.0.1:0", "--cluster-token", token, "-m", "4", "mx.example"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(inv.plan.JSON()), token) {
		t.Fatalf("the token is in the plan: %s", inv.plan.JSON())
	}
	if inv.cluster.auth.Token != token {
		t.Fatalf("the coordinator lost its token")
	}
}

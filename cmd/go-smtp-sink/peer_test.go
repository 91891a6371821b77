package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// TestPostfixSMTPSourceCountsExact drives go-smtp-sink with the real smtp-source at
// 10,000 messages over 1,000 parallel sessions, one connection per message, and checks
// every counter is exact.
func TestPostfixSMTPSourceCountsExact(t *testing.T) {
	if testing.Short() {
		t.Skip("heavy: 10,000 messages")
	}
	source := testpeer.Require(t, "smtp-source")
	s := startGoSink(t)
	res := testpeer.Run(t, 120*time.Second, source, "-s", "1000", "-m", "10000", "-r", "2", s.Addr)
	if res.ExitCode != 0 {
		t.Fatalf("smtp-source: %v", res)
	}
	st := s.stop(t)
	// +1 session: the readiness probe
	if st.MessagesAccepted != 10000 || st.Quits != 10000 || st.Transactions != 10000 || st.Recipients != 20000 ||
		st.Sessions != 10001 || st.SessionsClosed != 10001 || st.MessagesRejected != 0 || st.MidDataDisconnects != 0 {
		t.Errorf("counters %+v", st)
	}
	if st.SessionsPeak < 2 {
		t.Errorf("peak sessions %d: smtp-source -s 1000 sessions never overlapped", st.SessionsPeak)
	}
}

// TestPostfixSMTPSourceReusedConnections is the same with -d: 10,000 messages over 1,000
// connections held open.
func TestPostfixSMTPSourceReusedConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("heavy: 10,000 messages")
	}
	source := testpeer.Require(t, "smtp-source")
	s := startGoSink(t, "-c")
	res := testpeer.Run(t, 120*time.Second, source, "-d", "-s", "1000", "-m", "10000", s.Addr)
	if res.ExitCode != 0 {
		t.Fatalf("smtp-source: %v", res)
	}
	st := s.stop(t)
	if st.MessagesAccepted != 10000 || st.Transactions != 10000 || st.Sessions != 1001 || st.Quits != 1000 {
		t.Errorf("counters %+v", st)
	}
	if !strings.Contains(s.Stdout.String(), "sess=1001 quit=1000 mesg=10000\r") {
		t.Errorf("-c output does not end with the final counts: %q", tail(s.Stdout.String(), 200))
	}
}

// TestGoSMTPSourceCountsExact drives go-smtp-sink with this project's go-smtp-source.
func TestGoSMTPSourceCountsExact(t *testing.T) {
	if testing.Short() {
		t.Skip("heavy: 10,000 messages")
	}
	source := buildGoSMTPSource(t)
	s := startGoSink(t)
	res := testpeer.Run(t, 120*time.Second, source, "-s", "1000", "-m", "10000", s.Addr)
	if res.ExitCode != 0 {
		t.Fatalf("go-smtp-source: %v", res)
	}
	st := s.stop(t)
	if st.MessagesAccepted != 10000 || st.Transactions != 10000 || st.Sessions != 10001 || st.MidDataDisconnects != 0 {
		t.Errorf("counters %+v", st)
	}
}

// receivedNormaliser removes what legitimately differs between the sinks: the queue id
// and the date in the Received header. (The client port is in no dump line.)
var receivedNormaliser = regexp.MustCompile(`(?m)^(\tby .* id )[0-9a-f]{8};\n\t.*$`)

// clientNormalisers remove what differs between two smtp-source processes, for the runs
// with generated headers: the pid in Message-Id and the Date computed once per process.
var clientNormalisers = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`(?m)^Message-Id: <[0-9a-f]{4}\.`), "Message-Id: <PID."},
	{regexp.MustCompile(`(?m)^Date: .*$`), "Date: DATE"},
}

// normaliseDump normalises the Received line, and with generatedHeaders also the
// client's Message-Id pid and Date.
func normaliseDump(b []byte, generatedHeaders bool) string {
	s := receivedNormaliser.ReplaceAllString(string(b), "${1}ID;\n\tDATE")
	if generatedHeaders {
		for _, n := range clientNormalisers {
			s = n.re.ReplaceAllString(s, n.with)
		}
	}
	return s
}

// TestDumpsMatchPostfixSmtpSink runs the same smtp-source commands against Postfix
// smtp-sink and go-smtp-sink, both with -D, and compares the dump files. The runs without
// generated headers (-F, -o) must match after normalising only the Received line; the runs
// with them also differ in the smtp-source pid and Date, which are normalised too.
func TestDumpsMatchPostfixSmtpSink(t *testing.T) {
	source := testpeer.Require(t, "smtp-source")
	msgFile := filepath.Join(t.TempDir(), "message")
	// dot-stuffing, a CRLF line (kept as CR CR LF by smtp-source), a bare CR, no final newline
	if err := os.WriteFile(msgFile, []byte("Subject: from file\n\n.leading dot\n..two dots\nline2\r\nmid\rcr\nlast-no-newline"), 0o644); err != nil {
		t.Fatal(err)
	}
	sets := []struct {
		name             string
		generatedHeaders bool
		runs             [][]string
	}{
		{"no generated headers", false, [][]string{
			{"-F", msgFile, "-m", "2", "-r", "2"},
			{"-o", "-m", "1", "-f", ""},
			{"-o", "-d", "-m", "2", "-l", "200", "-t", "x@example.com"},
		}},
		{"generated headers", true, [][]string{
			{"-S", "dump me", "-m", "2", "-r", "3"},
			{"-d", "-m", "3", "-N", "-r", "2", "-f", "sender@example.com", "-t", "rcpt@example.com", "-M", "client.example", "-l", "300"},
		}},
	}
	for _, lmtp := range []bool{false, true} {
		for _, set := range sets {
			name := "smtp/" + set.name
			var sinkOpts []string
			if lmtp {
				name, sinkOpts = "lmtp/"+set.name, []string{"-L"}
			}
			t.Run(name, func(t *testing.T) {
				dir := testpeer.WritableDir(t)
				postfixDump, goDump := filepath.Join(dir, "postfix.dump"), filepath.Join(dir, "go.dump")
				pf := testpeer.StartPostfixSink(t, append([]string{"-D", postfixDump}, sinkOpts...)...)
				gs := startGoSink(t, append([]string{"-D", goDump}, sinkOpts...)...)
				for _, run := range set.runs {
					for _, addr := range []string{pf.Addr, gs.Addr} {
						args := append([]string{}, run...)
						if lmtp {
							args = append(args, "-L")
						}
						if res := testpeer.Run(t, 30*time.Second, source, append(args, addr)...); res.ExitCode != 0 {
							t.Fatalf("smtp-source %v %s: %v", args, addr, res)
						}
					}
				}
				pf.Stop()
				gs.stop(t)
				want, err := os.ReadFile(postfixDump)
				if err != nil {
					t.Fatal(err)
				}
				got, err := os.ReadFile(goDump)
				if err != nil {
					t.Fatal(err)
				}
				if len(want) < 300 {
					t.Fatalf("Postfix dump suspiciously short: %q", want)
				}
				if w, g := normaliseDump(want, set.generatedHeaders), normaliseDump(got, set.generatedHeaders); w != g {
					t.Errorf("dumps differ after normalising.\nPostfix smtp-sink:\n%s\ngo-smtp-sink:\n%s\nfirst difference at %d", w, g, firstDiff(w, g))
				}
			})
		}
	}
}

// buildGoSMTPSource builds go-smtp-source from the work tree. Outside CI a tree where it
// does not build (another package half-written) skips the test; in CI it fails.
func buildGoSMTPSource(t *testing.T) string {
	t.Helper()
	sourceBuild.Lock()
	defer sourceBuild.Unlock()
	if sourceBuild.path == "" && sourceBuild.msg == "" {
		dir, err := os.MkdirTemp("", "gss-bin-") // like testpeer.BuildCommand: one build per test binary
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "go-smtp-source")
		cmd := exec.Command("go", "build", "-o", out, "./cmd/go-smtp-source")
		cmd.Dir = testpeer.ModuleRoot(t)
		if b, err := cmd.CombinedOutput(); err != nil {
			sourceBuild.msg = fmt.Sprintf("go-smtp-source does not build here: %v\n%s", err, b)
		} else {
			sourceBuild.path = out
		}
	}
	if sourceBuild.msg != "" {
		if os.Getenv("CI") != "" {
			t.Fatal(sourceBuild.msg)
		}
		t.Skip(sourceBuild.msg)
	}
	return sourceBuild.path
}

// sourceBuild is buildGoSMTPSource's one build for all the tests.
var sourceBuild struct {
	sync.Mutex
	path, msg string
}

func firstDiff(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestUnixSocketDumpMatchesPostfix checks the unix-domain form: X-Client-Addr "local".
func TestUnixSocketDumpMatchesPostfix(t *testing.T) {
	source := testpeer.Require(t, "smtp-source")
	dir := testpeer.WritableDir(t)
	postfixDump, goDump := filepath.Join(dir, "postfix.dump"), filepath.Join(dir, "go.dump")
	pf := testpeer.StartPostfixSinkUnix(t, "-D", postfixDump)
	gs := startGoSinkAt(t, "unix:"+filepath.Join(dir, "go.sock"), "-D", goDump)
	for _, addr := range []string{pf.Addr, gs.Addr} {
		if res := testpeer.Run(t, 30*time.Second, source, "-m", "2", addr); res.ExitCode != 0 {
			t.Fatalf("smtp-source %s: %v", addr, res)
		}
	}
	pf.Stop()
	gs.stop(t)
	want, _ := os.ReadFile(postfixDump)
	got, _ := os.ReadFile(goDump)
	if w, g := normaliseDump(want, true), normaliseDump(got, true); w != g || !strings.Contains(g, "X-Client-Addr: local\n") {
		t.Errorf("unix-socket dumps differ:\n%s\n---\n%s", w, g)
	}
}

func TestMaxMessagesExits(t *testing.T) {
	source := testpeer.Require(t, "smtp-source")
	s := startGoSink(t, "-M", "5")
	res := testpeer.Run(t, 30*time.Second, source, "-m", "5", s.Addr)
	if res.ExitCode != 0 {
		t.Fatalf("smtp-source: %v (go-smtp-sink replies to the last message before it exits)", res)
	}
	exited, err := s.Wait(10 * time.Second)
	if !exited || err != nil {
		t.Fatalf("go-smtp-sink -M 5: exited=%v err=%v", exited, err)
	}
	if st := readStats(t, s.Stats); st.MessagesAccepted != 5 {
		t.Errorf("accepted %d", st.MessagesAccepted)
	}
}

func TestMaxSessionsExits(t *testing.T) {
	source := testpeer.Require(t, "smtp-source")
	s := startGoSink(t, "-n", "3") // the readiness probe is session 1
	if res := testpeer.Run(t, 30*time.Second, source, "-m", "2", s.Addr); res.ExitCode != 0 {
		t.Fatalf("smtp-source: %v", res)
	}
	exited, err := s.Wait(10 * time.Second)
	if !exited || err != nil {
		t.Fatalf("go-smtp-sink -n 3: exited=%v err=%v", exited, err)
	}
	if st := readStats(t, s.Stats); st.SessionsClosed != 3 || st.MessagesAccepted != 2 {
		t.Errorf("counters %+v", st)
	}
}

func TestUsageErrors(t *testing.T) {
	bin := testpeer.BuildCommand(t, "go-smtp-sink")
	for _, args := range [][]string{{}, {"-x", "127.0.0.1:1", "1"}, {"127.0.0.1:1", "1", "-v"}, {"127.0.0.1:1", "0"}} {
		res := testpeer.Run(t, 10*time.Second, bin, args...)
		if res.ExitCode != 1 || !strings.Contains(res.Stderr, "go-smtp-sink: fatal: usage: go-smtp-sink [-468acCeEFLpPv]") {
			t.Errorf("%v: %v", args, res)
		}
	}
	res := testpeer.Run(t, 10*time.Second, bin, "[127.0.0.1:1", "1")
	if res.ExitCode != 1 || !strings.Contains(res.Stderr, `go-smtp-sink: fatal: [127.0.0.1:1: missing "]"`) {
		t.Errorf("bad address: %v", res)
	}
	if res := testpeer.Run(t, 10*time.Second, bin, "-d", "a", "-D", "b", "127.0.0.1:1", "1"); res.ExitCode != 1 ||
		!strings.Contains(res.Stderr, "use only one of -d or -D") {
		t.Errorf("-d with -D: %v", res)
	}
}

// TestIPv6DumpMatchesPostfix checks the IPv6 form: X-Client-Addr "ipv6:::1".
func TestIPv6DumpMatchesPostfix(t *testing.T) {
	if l, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	} else {
		l.Close()
	}
	source := testpeer.Require(t, "smtp-source")
	dir := testpeer.WritableDir(t)
	postfixDump, goDump := filepath.Join(dir, "postfix.dump"), filepath.Join(dir, "go.dump")
	pf := testpeer.StartPostfixSinkAt(t, "[::1]:0", "-D", postfixDump)
	gs := startGoSinkAt(t, "[::1]:0", "-D", goDump)
	for _, addr := range []string{pf.Addr, gs.Addr} {
		if res := testpeer.Run(t, 30*time.Second, source, "-6", "-m", "2", addr); res.ExitCode != 0 {
			t.Fatalf("smtp-source %s: %v", addr, res)
		}
	}
	pf.Stop()
	gs.stop(t)
	want, _ := os.ReadFile(postfixDump)
	got, _ := os.ReadFile(goDump)
	if w, g := normaliseDump(want, true), normaliseDump(got, true); w != g || !strings.Contains(g, "X-Client-Addr: ipv6:::1\n") {
		t.Errorf("IPv6 dumps differ:\n%s\n---\n%s", w, g)
	}
}

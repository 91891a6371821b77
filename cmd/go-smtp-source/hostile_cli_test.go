package main_test

// The hostile-server classes of issue 12 at the command's level (the engine's part is
// engine/hostile_test.go): the exit status, one clear line on stderr, and the --json
// accounting with the error under its phase and cause. Where smtp-source can be run in
// the same case, its behaviour is run too and compared, or, where they differ on
// purpose, asserted as it is (README, "Deliberate differences").

import (
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// cliReport is what these tests read of a --json result.
type cliReport struct {
	Totals struct {
		Planned, Accepted, Rejected, Failed int64
		NotStarted                          int64 `json:"not_started"`
	}
	Counters map[string]int64
	Errors   []struct {
		Key   string
		Count int64
	}
}

func readCLIReport(t *testing.T, file string) cliReport {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("--json: %v", err)
	}
	var r cliReport
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("--json %s: %v", file, err)
	}
	tt := r.Totals
	if tt.Accepted+tt.Rejected+tt.Failed+tt.NotStarted != tt.Planned {
		t.Errorf("--json totals do not add up: %+v", tt)
	}
	return r
}

// errorCount is the count of one error key in a report.
func (r cliReport) errorCount(key string) int64 {
	for _, e := range r.Errors {
		if e.Key == key {
			return e.Count
		}
	}
	return 0
}

// diagnostics are a run's stderr lines before its summary, the program name normalised.
func diagnostics(t *testing.T, tool compatTool, stderr string) []string {
	t.Helper()
	return compatOursDiagnostics(t, tool, stderr)
}

// checkOneFatal: stderr holds one diagnostic, this fatal line.
func checkOneFatal(t *testing.T, tool compatTool, stderr, want string) {
	t.Helper()
	lines := diagnostics(t, tool, stderr)
	if len(lines) != 1 || !regexp.MustCompile("^PROG: fatal: "+want+"\n$").MatchString(lines[0]) {
		t.Errorf("want the one line %q on stderr before the summary, got %q", "PROG: fatal: "+want, lines)
	}
}

// A server trickling "220-" lines every 300 ms never finishes its greeting: --timeout
// bounds the whole step. smtp-source cannot be compared here: its timeout is a fixed
// 300 s per read, which each line resets, so it waits as long as the server trickles.
func TestCLITrickledGreeting(t *testing.T) {
	tool := compatUnderTest(t)
	if tool.oracle {
		t.Skip("--timeout and --json are go-smtp-source's")
	}
	banner := strings.Repeat("220-still here\r\n", 40) + "220 at last\r\n" // 12 s of lines
	srv := testpeer.StartScripted(t, testpeer.ScriptedOptions{LineDelay: 300 * time.Millisecond,
		Script: testpeer.SMTPScript{Replies: map[string]string{"banner": banner}}})
	jsonFile := filepath.Join(t.TempDir(), "r.json")
	res := testpeer.Run(t, 30*time.Second, tool.path, "--timeout", "2", "--json", jsonFile, "-m", "2", srv.Addr)
	if res.ExitCode != 1 || res.Elapsed < 2*time.Second || res.Elapsed > 6*time.Second {
		t.Fatalf("want exit 1 after about 2 s: %s", res)
	}
	checkOneFatal(t, tool, res.Stderr, regexp.QuoteMeta("timeout while reading server greeting"))
	r := readCLIReport(t, jsonFile)
	if r.Totals.Failed != 1 || r.Totals.NotStarted != 1 || r.errorCount("banner:net:timeout") != 1 {
		t.Errorf("--json: %+v, banner:net:timeout %d; want 1 failed, 1 not started, the timeout at the banner",
			r.Totals, r.errorCount("banner:net:timeout"))
	}
}

// DATA answered with 354 and the dot's 250 in one write: the 250 answers no command sent
// yet, a protocol error (fatal with and without -A). smtp-source reads it later as the
// reply to its dot, and the real reply to the dot as the reply to QUIT: it sees nothing
// wrong (asserted, a deliberate difference).
func TestCLIReplyAheadOfItsCommand(t *testing.T) {
	source := testpeer.Require(t, "smtp-source")
	tool := compatUnderTest(t)
	if tool.oracle {
		t.Skip("a deliberate difference")
	}
	script := testpeer.ScriptedOptions{Script: testpeer.SMTPScript{
		Replies: map[string]string{"DATA": "354 go\r\n250 2.0.0 Ok: queued as X\r\n"}}}
	// (With -A -d smtp-source loses track of which reply answers what, and hangs.)
	for _, args := range [][]string{{"-m", "2"}, {"-A", "-m", "2"}} {
		t.Run(strings.Join(args, ""), func(t *testing.T) {
			t.Parallel()
			refSrv, gotSrv := testpeer.StartScripted(t, script), testpeer.StartScripted(t, script)
			jsonFile := filepath.Join(t.TempDir(), "r.json")
			ref, got := compatRunPair(t, source, append(slices.Clone(args), refSrv.Addr),
				tool.path, tool.args([]string{"--json", jsonFile}, append(slices.Clone(args), gotSrv.Addr)...))
			if ref.ExitCode != 0 || ref.Stderr != "" {
				t.Fatalf("harness: smtp-source takes the early 250 for the dot's reply: %s", ref)
			}
			if got.ExitCode != 1 {
				t.Errorf("exit %d, want 1: %s", got.ExitCode, got)
			}
			checkOneFatal(t, tool, got.Stderr, regexp.QuoteMeta("unexpected reply with no command outstanding: 250 2.0.0 Ok: queued as X"))
			r := readCLIReport(t, jsonFile)
			if r.Totals.Failed != 1 || r.Totals.Accepted != 0 || r.errorCount("eod:protocol:unexpected_reply") != 1 {
				t.Errorf("--json: %+v %+v; want the first message failed under eod:protocol:unexpected_reply", r.Totals, r.Errors)
			}
		})
	}
}

// A greeting split mid-line ("220 hos", a pause, "tile ESMTP") is one reply: delivered,
// exit 0, the same bytes as smtp-source's. A proxy in front of a capture server splits
// the server's first write.
func TestCLISplitGreeting(t *testing.T) {
	source := testpeer.Require(t, "smtp-source")
	tool := compatUnderTest(t)
	for _, args := range [][]string{{}, {"-v"}, {"-d", "-m", "3"}} {
		t.Run(strings.Join(args, ""), func(t *testing.T) {
			t.Parallel()
			opts := testpeer.CaptureOptions{Banner: "220 hostile ESMTP"}
			refSrv, gotSrv := testpeer.StartCapture(t, opts), testpeer.StartCapture(t, opts)
			refProxy, gotProxy := splitFirstWrite(t, refSrv.Addr, 7), splitFirstWrite(t, gotSrv.Addr, 7)
			ref, got := compatRunPair(t, source, append(slices.Clone(args), refProxy),
				tool.path, tool.args(nil, append(slices.Clone(args), gotProxy)...))
			if ref.ExitCode != 0 {
				t.Fatalf("harness: smtp-source: %s", ref)
			}
			compatCompareRun(t, source, tool, ref, got, true)
			compatCompareConns(t, refSrv, gotSrv)
		})
	}
}

// splitFirstWrite is a one-connection-at-a-time proxy to upstream that sends the
// server's first at bytes, waits 200 ms (the split the test is about, not a
// synchronisation), then the rest; it returns its address.
func splitFirstWrite(t *testing.T, upstream string, at int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", upstream)
			if err != nil {
				client.Close()
				return
			}
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(server, client); server.Close() }()
			go func() {
				defer wg.Done()
				defer client.Close()
				first := make([]byte, at)
				if _, err := io.ReadFull(server, first); err != nil {
					return
				}
				_, _ = client.Write(first)
				time.Sleep(200 * time.Millisecond)
				_, _ = io.Copy(client, server)
			}()
		}
	}()
	return ln.Addr().String()
}

// QUIT answered with a reset: the message was accepted, the session failed at QUIT. Both
// programs exit 1 with the same line.
func TestCLIResetAtQuit(t *testing.T) {
	source := testpeer.Require(t, "smtp-source")
	tool := compatUnderTest(t)
	script := testpeer.ScriptedOptions{Script: testpeer.SMTPScript{Replies: map[string]string{"QUIT": testpeer.FaultReset}}}
	refSrv, gotSrv := testpeer.StartScripted(t, script), testpeer.StartScripted(t, script)
	jsonFile := filepath.Join(t.TempDir(), "r.json")
	ext := []string{"--json", jsonFile}
	if tool.oracle {
		ext = nil
	}
	ref, got := compatRunPair(t, source, []string{refSrv.Addr}, tool.path, tool.args(ext, gotSrv.Addr))
	if ref.ExitCode != 1 {
		t.Fatalf("harness: smtp-source: %s", ref)
	}
	compatCompareRun(t, source, tool, ref, got, false)
	checkOneFatal(t, tool, got.Stderr, "lost connection while sending message")
	if tool.oracle {
		return
	}
	r := readCLIReport(t, jsonFile)
	if r.Totals.Accepted != 1 || r.Counters["sessions_failed"] != 1 || r.errorCount("quit:net:reset") != 1 {
		t.Errorf("--json: %+v, sessions_failed %d, errors %+v; want 1 accepted, 1 failed session, quit:net:reset",
			r.Totals, r.Counters["sessions_failed"], r.Errors)
	}
}

// A refused connection: one fatal line, as smtp-source's, no report on stderr, and the
// --json file still written: the session failed at connect, the rest never started.
func TestCLIRefusedWithJSON(t *testing.T) {
	source := testpeer.Require(t, "smtp-source")
	tool := compatUnderTest(t)
	if tool.oracle {
		t.Skip("--json is go-smtp-source's")
	}
	target := testpeer.ClosedPort(t)
	jsonFile := filepath.Join(t.TempDir(), "r.json")
	ref, got := compatRunPair(t, source, []string{"-m", "5", target},
		tool.path, tool.args([]string{"--json", jsonFile}, "-m", "5", target))
	if ref.ExitCode != 1 {
		t.Fatalf("harness: smtp-source: %s", ref)
	}
	compatCompareRun(t, source, tool, ref, got, false)
	if got.Stderr != strings.Replace(ref.Stderr, source, tool.path, 1) {
		t.Errorf("stderr: want smtp-source's one line and nothing else, got %q", got.Stderr)
	}
	r := readCLIReport(t, jsonFile)
	if r.Totals.Planned != 5 || r.Totals.Failed != 1 || r.Totals.NotStarted != 4 || r.errorCount("connect:net:refused") != 1 {
		t.Errorf("--json: %+v %+v; want 5 planned, 1 failed, 4 not started, connect:net:refused", r.Totals, r.Errors)
	}
}

// Postfix's smtpd ends a session idle for smtpd_timeout with "421 4.4.2 … Error: timeout
// exceeded". With -d -w 3 it does so during each pause. go-smtp-source reads the 421 when
// it comes: without -A it is fatal, with -A a warning, and the session reconnects for the
// next message, so all three are accepted. smtp-source reads nothing during its pause:
// it sends MAIL into the closed session, takes the 421 for the reply to MAIL, and loses
// that message (README, "Deliberate differences"); both are run here.
func TestCLIPostfixIdleTimeout(t *testing.T) {
	source := testpeer.Require(t, "smtp-source")
	tool := compatUnderTest(t)
	if tool.oracle {
		t.Skip("a deliberate difference")
	}
	ca := testpeer.NewCA(t, "idle test CA")
	leaf := ca.Issue(t, testpeer.LocalhostSpec())
	smtpd := testpeer.StartPostfixSMTPD(t, leaf.CertPEM, leaf.KeyPEM, "smtpd_timeout = 1s")
	timeout := `server closed the session: 421 4\.4\.2 smtpd\.test Error: timeout exceeded`
	t.Run("without -A", func(t *testing.T) {
		t.Parallel()
		jsonFile := filepath.Join(t.TempDir(), "r.json")
		ref, got := compatRunPair(t, source, []string{"-d", "-w", "3", "-m", "3", smtpd.Addr},
			tool.path, tool.args([]string{"--json", jsonFile}, "-d", "-w", "3", "-m", "3", smtpd.Addr))
		if ref.ExitCode != 1 || !strings.Contains(ref.Stderr, "fatal: sender rejected: 421 4.4.2 smtpd.test Error: timeout exceeded") {
			t.Fatalf("harness: smtp-source: %s", ref)
		}
		if got.ExitCode != 1 {
			t.Errorf("exit %d, want 1: %s", got.ExitCode, got)
		}
		checkOneFatal(t, tool, got.Stderr, timeout)
		r := readCLIReport(t, jsonFile)
		if r.Totals.Accepted != 1 || r.Totals.NotStarted != 2 || r.errorCount("session:temp:421:4.4.2") != 1 {
			t.Errorf("--json: %+v %+v; want 1 accepted, 2 not started, session:temp:421:4.4.2", r.Totals, r.Errors)
		}
	})
	t.Run("-A", func(t *testing.T) {
		t.Parallel()
		jsonFile := filepath.Join(t.TempDir(), "r.json")
		ref, got := compatRunPair(t, source, []string{"-A", "-d", "-w", "3", "-m", "3", smtpd.Addr},
			tool.path, tool.args([]string{"--json", jsonFile}, "-A", "-d", "-w", "3", "-m", "3", smtpd.Addr))
		if ref.ExitCode != 0 || strings.Count(ref.Stderr, "warning: sender rejected: 421 4.4.2 smtpd.test Error: timeout exceeded") != 1 {
			t.Fatalf("harness: smtp-source: %s", ref)
		}
		if got.ExitCode != 0 {
			t.Errorf("exit %d, want 0: %s", got.ExitCode, got)
		}
		lines := diagnostics(t, tool, got.Stderr)
		want := regexp.MustCompile("^PROG: warning: " + timeout + "\n$")
		if len(lines) != 2 || !want.MatchString(lines[0]) || !want.MatchString(lines[1]) {
			t.Errorf("want two warnings %q, got %q", want, lines)
		}
		r := readCLIReport(t, jsonFile)
		if r.Totals.Accepted != 3 || r.errorCount("session:temp:421:4.4.2") != 2 {
			t.Errorf("--json: %+v %+v; want 3 accepted, session:temp:421:4.4.2 twice", r.Totals, r.Errors)
		}
	})
}

package main_test

// Class 1: smtp-source ignores SIGPIPE, so a reader that goes away (… | head -1) costs
// it nothing: every message is still sent, the exit status is 0. go-smtp-source must do
// the same, and still write its --json file.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// pipeEnd says which of a child's outputs goes into a pipe whose reader goes away.
type pipeEnd int

const (
	pipeStdout   pipeEnd = iota // … | head -c0: stdout closed before the first write
	pipeStderr                  // … 2>&1 >/dev/null | head -c0: stderr closed likewise
	pipeHeadLine                // … 2>&1 | head -1: both into a pipe closed after one line
)

// runClosedPipe runs path with one of its outputs into a pipe whose reader has gone (or
// goes after the first line); how it ended ("exit status 0", "signal: broken pipe",
// "killed: too slow") and the other output, if separate, are returned.
func runClosedPipe(t *testing.T, end pipeEnd, path string, args ...string) (ended, other string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	cmd := exec.Command(path, args...)
	switch end {
	case pipeStdout:
		cmd.Stdout, cmd.Stderr = w, &buf
		r.Close()
	case pipeStderr:
		cmd.Stdout, cmd.Stderr = &buf, w
		r.Close()
	case pipeHeadLine:
		cmd.Stdout, cmd.Stderr = w, w
		go func() { // head -1
			_, _ = bufio.NewReader(r).ReadString('\n')
			r.Close()
		}()
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return cmd.ProcessState.String(), buf.String()
	case <-time.After(compatRunLimit):
		_ = cmd.Process.Kill()
		<-done
		return "killed: too slow", buf.String()
	}
}

// messagesSeen counts the messages a capture server received over all connections.
func messagesSeen(srv *testpeer.CaptureServer) int {
	n := 0
	for _, c := range srv.Conns() {
		n += bytes.Count(c.Bytes(), []byte("\r\n.\r\n"))
	}
	return n
}

func TestCompatClosedPipe(t *testing.T) {
	source := testpeer.Require(t, "smtp-source")
	tool := compatUnderTest(t)
	for _, tc := range []struct {
		name string
		end  pipeEnd
		args []string
		msgs int
	}{
		{"head-1-v-d-m50", pipeHeadLine, []string{"-v", "-d", "-m", "50"}, 50},
		{"head-1-v-s5-m50", pipeHeadLine, []string{"-v", "-s", "5", "-m", "50"}, 50},
		{"stdout-closed-c-d-m50", pipeStdout, []string{"-c", "-d", "-m", "50"}, 50},
		{"stdout-closed-c-m20", pipeStdout, []string{"-c", "-m", "20"}, 20},
		{"stderr-closed-v-d-m50", pipeStderr, []string{"-v", "-d", "-m", "50"}, 50},
		{"stderr-closed-A-r2", pipeStderr, []string{"-A", "-d", "-m", "10", "-r", "2"}, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			refSrv, gotSrv := testpeer.StartCapture(t, testpeer.CaptureOptions{}), testpeer.StartCapture(t, testpeer.CaptureOptions{})
			jsonFile := filepath.Join(t.TempDir(), "result.json")
			ext := []string{"--json", jsonFile}
			if tool.oracle {
				ext = nil
			}
			refExit, _ := runClosedPipe(t, tc.end, source, append(append([]string{}, tc.args...), refSrv.Addr)...)
			gotExit, other := runClosedPipe(t, tc.end, tool.path, append(tool.args(ext, tc.args...), gotSrv.Addr)...)
			if refExit != "exit status 0" || messagesSeen(refSrv) != tc.msgs {
				t.Fatalf("harness: smtp-source %s, %d messages seen, want exit status 0 and %d", refExit, messagesSeen(refSrv), tc.msgs)
			}
			if gotExit != refExit {
				t.Errorf("go-smtp-source: %s with a closed pipe, smtp-source %s (other output %q)", gotExit, refExit, other)
			}
			if n := messagesSeen(gotSrv); n != tc.msgs {
				t.Errorf("go-smtp-source delivered %d messages, smtp-source %d", n, tc.msgs)
			}
			if strings.Contains(other, "panic") || strings.Contains(other, "goroutine ") {
				t.Errorf("go-smtp-source: %s", other)
			}
			if !tool.oracle {
				checkJSONAccounting(t, jsonFile, int64(tc.msgs), int64(tc.msgs))
			}
		})
	}
}

// checkJSONAccounting reads a --json result and checks its totals: planned messages,
// accepted ones, and planned = accepted + rejected + failed + not started.
func checkJSONAccounting(t *testing.T, jsonFile string, planned, accepted int64) map[string]any {
	t.Helper()
	b, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatalf("--json: %v", err)
	}
	var doc struct {
		Totals struct {
			Planned, Accepted, Rejected, Failed int64
			NotStarted                          int64 `json:"not_started"`
		}
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("--json %s: %v", jsonFile, err)
	}
	tt := doc.Totals
	if tt.Planned != planned || tt.Accepted != accepted || tt.Accepted+tt.Rejected+tt.Failed+tt.NotStarted != tt.Planned {
		t.Errorf("--json totals %+v: want %d planned, %d accepted, all accounted for", tt, planned, accepted)
	}
	var all map[string]any
	_ = json.Unmarshal(b, &all)
	return all
}

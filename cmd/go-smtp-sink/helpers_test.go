package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
	"github.com/go-smtp-source/go-smtp-source/sink"
)

// goSink is a running go-smtp-sink binary.
type goSink struct {
	*testpeer.Process
	Addr  string // host:port
	Stats string // --stats file
}

// startGoSink runs the built go-smtp-sink on a loopback port of its own (port 0; the
// test reads which from /proc) with opts, writing --stats to a temporary file, and waits
// until it accepts connections. The readiness probe is one session with no commands.
func startGoSink(t *testing.T, opts ...string) *goSink {
	t.Helper()
	return startGoSinkAt(t, "127.0.0.1:0", opts...)
}

func startGoSinkAt(t *testing.T, addr string, opts ...string) *goSink {
	t.Helper()
	return startGoSinkBacklog(t, addr, "1024", opts...)
}

// startGoSinkBacklog is startGoSinkAt with the backlog operand given.
func startGoSinkBacklog(t *testing.T, addr, backlog string, opts ...string) *goSink {
	t.Helper()
	bin := testpeer.BuildCommand(t, "go-smtp-sink")
	stats := filepath.Join(t.TempDir(), "stats.json")
	args := append([]string{"--stats", stats}, opts...)
	args = append(args, addr, backlog)
	s := &goSink{Process: testpeer.Start(t, bin, args...), Addr: addr, Stats: stats}
	if strings.HasSuffix(addr, ":0") {
		var others []string // --http's and --metrics-addr's listeners are not the one wanted
		if slices.Contains(opts, "--http") {
			others = append(others, httpAddr(t, s))
		}
		if slices.Contains(opts, "--metrics-addr") {
			others = append(others, metricsListenAddr(t, s))
		}
		s.Addr = testpeer.WaitListening(t, s.Process, 10*time.Second, others...)
	}
	if err := testpeer.WaitAccepting(s.Addr, 10*time.Second); err != nil {
		t.Fatalf("go-smtp-sink %v: %v; stderr: %s", args, err, s.Stderr.String())
	}
	return s
}

// stop ends the sink with SIGTERM, checks it exits 0, and returns its final counters.
func (s *goSink) stop(t *testing.T) sink.Snapshot {
	t.Helper()
	_ = s.Cmd.Process.Signal(syscall.SIGTERM)
	exited, err := s.Wait(10 * time.Second)
	if !exited {
		t.Fatal("go-smtp-sink did not exit within 10s of SIGTERM")
	}
	if err != nil {
		t.Fatalf("go-smtp-sink exit: %v; stderr: %s", err, s.Stderr.String())
	}
	return readStats(t, s.Stats)
}

func readStats(t *testing.T, path string) sink.Snapshot {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	var snap sink.Snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		t.Fatalf("stats %s: %v", b, err)
	}
	return snap
}

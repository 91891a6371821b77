package main

import (
	"encoding/json"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
	"github.com/go-smtp-source/go-smtp-source/sink"
)

// stopGoSinkStats ends a go-smtp-sink started with --stats file by SIGTERM, on which it
// writes its counters, and returns them.
func stopGoSinkStats(t *testing.T, p *testpeer.Process, stats string) sink.Snapshot {
	t.Helper()
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	if exited, _ := p.Wait(10 * time.Second); !exited {
		t.Fatal("go-smtp-sink did not exit within 10s of SIGTERM")
	}
	b, err := os.ReadFile(stats)
	if err != nil {
		t.Fatalf("sink stats: %v", err)
	}
	var snap sink.Snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		t.Fatalf("sink stats %s: %v", b, err)
	}
	return snap
}

// reportCounters returns the counters of a --json result file.
func reportCounters(t *testing.T, jsonFile string) map[string]int64 {
	t.Helper()
	b, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Counters map[string]int64 `json:"counters"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", jsonFile, err)
	}
	return doc.Counters
}

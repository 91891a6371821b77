package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/go-smtp-source/go-smtp-source/engine"
	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// plan describes the run in the result document, so a reader (or merge) knows what was
// asked for.
type plan struct {
	Tool        string   `json:"tool"`
	Args        []string `json:"args"`
	Target      string   `json:"target"`
	Model       string   `json:"model"` // "closed" (smtp-source's -s) or "open" (--rate/--stages)
	Sessions    int      `json:"sessions,omitempty"`
	Messages    int64    `json:"messages"`
	Rate        float64  `json:"rate,omitempty"`
	Stages      string   `json:"stages,omitempty"`
	MaxSessions int      `json:"max_sessions,omitempty"`
	Recipients  int      `json:"recipients"`
	Reuse       bool     `json:"reuse_connection"`
	Pipelining  bool     `json:"pipelining"`
	LMTP        bool     `json:"lmtp"`

	// Shard is a --shard run's place in the plan (shard.go).
	Shard *planShard `json:"shard,omitempty"`
}

func newPlan(args []string, o *options, cfg engine.Config) plan {
	p := plan{
		Tool: "go-smtp-source", Args: args, Target: o.target, Model: "closed",
		Sessions: cfg.Sessions, Messages: cfg.Messages, Recipients: o.recipients,
		Reuse: o.keepConnection, Pipelining: o.pipelining, LMTP: o.lmtp,
	}
	p.Shard = shardPlan(o.cluster.shard)
	if len(cfg.SessionStages) > 0 {
		p.Model, p.Sessions = "closed-ramping", 0
		p.Stages = stagesString(cfg.SessionStages)
	}
	if cfg.Rate > 0 || len(cfg.Stages) > 0 {
		p.Model, p.Sessions, p.Rate, p.MaxSessions = "open", 0, cfg.Rate, cfg.MaxSessions
		p.Stages = stagesString(cfg.Stages)
	}
	return p
}

func stagesString(stages []engine.Stage) string {
	var st []string
	for _, s := range stages {
		st = append(st, fmt.Sprintf("%v:%g", s.Duration, s.Target))
	}
	return strings.Join(st, ",")
}

// writeResults writes the report on stderr (unless quiet) and the --json and --hdr-log
// files. It returns the first file error.
func writeResults(o *options, p plan, res engine.Result, stderr io.Writer) error {
	if res.Metrics == nil {
		return nil
	}
	p.Messages = res.Planned
	totals := metrics.Totals{Planned: res.Planned, Accepted: res.Accepted, Rejected: res.Rejected,
		Failed: res.Failed, NotStarted: res.NotStarted, Sessions: res.Sessions}
	report := metrics.NewReport(p, res.Start, res.Elapsed, totals, res.Metrics, nil)
	report.Intervals = res.Intervals
	if !o.quiet {
		if err := metrics.WriteText(stderr, report); err != nil {
			return err
		}
	}
	if o.jsonFile != "" {
		if err := writeFile(o.jsonFile, report.WriteJSON); err != nil {
			return fmt.Errorf("--json %s: %w", o.jsonFile, err)
		}
	}
	return nil
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// hdrLogWriter writes each second into an HdrHistogram interval log as the run goes.
type hdrLogWriter struct {
	f   *os.File
	log *metrics.IntervalLog
	err error
}

func newHdrLogWriter(path string, start time.Time) (*hdrLogWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	l, err := metrics.NewIntervalLog(f, start)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &hdrLogWriter{f: f, log: l}, nil
}

func (h *hdrLogWriter) interval(start, end time.Time, snap *metrics.Snapshot) {
	if h.err == nil {
		h.err = h.log.Write(start, end, snap)
	}
}

func (h *hdrLogWriter) close() error {
	if err := h.f.Close(); h.err == nil {
		h.err = err
	}
	return h.err
}

// progressPrinter prints one line a second on stderr.
func progressPrinter(c *console) func(engine.Progress) {
	return func(p engine.Progress) {
		c.mu.Lock()
		defer c.mu.Unlock()
		fmt.Fprintf(c.stderr, "%s: %5.0fs  accepted %d  rejected %d  failed %d  %.0f msg/s  in flight %d  eod p99 %v\n",
			c.name, p.Elapsed.Seconds(), p.Accepted, p.Rejected, p.Failed, p.Rate, p.InFlight, p.EODP99.Round(time.Microsecond))
	}
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

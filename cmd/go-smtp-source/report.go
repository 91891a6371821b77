package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/go-smtp-source/go-smtp-source/cluster"
	"github.com/go-smtp-source/go-smtp-source/engine"
	"github.com/go-smtp-source/go-smtp-source/internal/tlsburst"
	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// outputFiles are a local run's --log-messages and --hdr-log files.
type outputFiles struct {
	log  *os.File
	hlog *metrics.IntervalLogFile
}

// openOutputFiles creates the output files and hooks them to the run; a TLS run also
// gives a burst of handshakes' garbage back to the system (tlsburst) before the interval
// log gets the second.
func openOutputFiles(o outputOptions, h *engine.Hooks) (*outputFiles, error) {
	files := &outputFiles{}
	var err error
	if o.logMessages != "" {
		if files.log, err = os.Create(o.logMessages); err != nil {
			return files, fmt.Errorf("--log-messages: %v", err)
		}
		h.MessageLog = files.log
	}
	if o.hdrLog != "" {
		if files.hlog, err = metrics.CreateIntervalLog(o.hdrLog, time.Now()); err != nil {
			return files, fmt.Errorf("--hdr-log: %v", err)
		}
		h.OnInterval = files.hlog.Interval
	}
	if h.TLS != nil {
		h.OnInterval = tlsburst.ReleaseAfterBursts(h.OnInterval)
	}
	return files, nil
}

func (f *outputFiles) closeLog() {
	if f.log != nil {
		f.log.Close()
	}
}

func (f *outputFiles) closeHdrLog() error {
	if f.hlog == nil {
		return nil
	}
	return f.hlog.Close()
}

// writeResults writes the report on stderr (when text, unless quiet) and the --json file.
// It returns the --json file's error. A run that never reached the server (text false) keeps
// smtp-source's one error line on stderr, but its --json is still written: the error
// table is the evidence then.
func writeResults(inv *invocation, res engine.Result, stderr io.Writer, text bool) error {
	if res.Metrics == nil {
		return nil
	}
	about := &metrics.RunInfo{Tool: cluster.Tool, PlanFingerprint: inv.plan.Fingerprint()}
	report := metrics.ResultReport(inv.plan.ForReport(), about, res.Measured())
	if text && !inv.out.quiet {
		// Like every diagnostic, the report on stderr is written for whoever reads it;
		// a reader that went away (EPIPE) does not make the run fail.
		_ = metrics.WriteText(stderr, report)
	}
	if inv.out.jsonFile != "" {
		if err := metrics.WriteReportFile(inv.out.jsonFile, report); err != nil {
			return fmt.Errorf("--json %s: %w", inv.out.jsonFile, err)
		}
	}
	return nil
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

package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/go-smtp-source/go-smtp-source/cluster"
	"github.com/go-smtp-source/go-smtp-source/engine"
	"github.com/go-smtp-source/go-smtp-source/internal/buildinfo"
	"github.com/go-smtp-source/go-smtp-source/internal/tlsburst"
	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/plan"
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

// writeResults writes the report on stderr (when text, unless quiet) and the --json
// document (on stdout for --json -), with the thresholds' verdicts over the run's
// figures; it returns the exit status: code, raised to 99 when a threshold was breached
// and to 1 when a file could not be written. A run that never reached the server (text
// false) keeps smtp-source's one error line on stderr, but its --json is still
// written: the error table is the evidence then.
func writeResults(inv *invocation, res engine.Result, out *console, stdout io.Writer, text bool, code int) int {
	if res.Metrics == nil {
		return code
	}
	report := metrics.ResultReport(inv.plan.ForReport(), runInfo(inv.plan, res.EventLoops), res.Measured())
	inv.e2e.finish(report, out.Warning) // waits up to --e2e-wait for the last deliveries
	breached, err := checkThresholds(report, inv.plan.Thresholds.Exprs)
	if err != nil {
		out.fatalf("%v", err)
		return max(code, exitFatal)
	}
	if text && !inv.out.quiet {
		// Like every diagnostic, the report on stderr is written for whoever reads it;
		// a reader that went away (EPIPE) does not make the run fail.
		out.mu.Lock()
		_ = metrics.WriteText(out.stderr, report)
		out.mu.Unlock()
	}
	if err = writeJSON(inv.out.jsonFile, report, stdout); err != nil {
		out.fatalf("%v", err)
		code = max(code, exitFatal)
	}
	if err = writeRunHTML(inv, report); err != nil {
		out.fatalf("%v", err)
		code = max(code, exitFatal)
	}
	if len(breached) > 0 {
		out.fatalf("threshold breached: %s", metrics.DescribeBreaches(breached))
		if code == exitOK {
			code = exitThreshold
		}
	}
	return code
}

// checkThresholds evaluates the thresholds over a document and records the verdicts in
// it; it returns the breached ones.
func checkThresholds(report *metrics.Report, exprs []string) ([]metrics.Verdict, error) {
	if len(exprs) == 0 {
		return nil, nil
	}
	ts, err := metrics.ParseThresholds(exprs)
	if err != nil {
		return nil, err
	}
	verdicts, err := report.CheckThresholds(ts)
	if err != nil {
		return nil, fmt.Errorf("thresholds: %w", err)
	}
	return metrics.Breached(verdicts), nil
}

// writeJSON writes the document to file: none for "", stdout for "-".
func writeJSON(file string, report *metrics.Report, stdout io.Writer) error {
	switch file {
	case "":
		return nil
	case "-":
		return report.WriteJSON(stdout)
	}
	if err := metrics.WriteReportFile(file, report); err != nil {
		return fmt.Errorf("--json %s: %w", file, err)
	}
	return nil
}

// runInfo is the document's "run": the tool and its version, the plan's fingerprint,
// and the machine the run used (host name, kernel, CPUs, event loops).
func runInfo(p plan.Plan, loops int) *metrics.RunInfo {
	host, _ := os.Hostname()
	var u unix.Utsname
	kernel := ""
	if unix.Uname(&u) == nil {
		kernel = unix.ByteSliceToString(u.Sysname[:]) + " " + unix.ByteSliceToString(u.Release[:])
	}
	return &metrics.RunInfo{Tool: cluster.Tool, PlanFingerprint: p.Fingerprint(), Version: buildinfo.Version(cluster.Tool),
		Host: host, Kernel: kernel, CPUs: runtime.NumCPU(), EventLoops: loops}
}

// liveLine is the live view's line on a terminal: it is rewritten in place every
// second, and cleared before anything else is printed.
type liveLine struct {
	tty   bool
	shown bool
}

// clearLive erases the live line, if one is shown; c.mu is held.
func (c *console) clearLive() { c.live.clear(c.stderr) }

// clear erases the line, if one is shown; its writer's lock is held.
func (l *liveLine) clear(w io.Writer) {
	if l.shown {
		_, _ = io.WriteString(w, "\r\x1b[K")
		l.shown = false
	}
}

// progressPrinter prints the live view on stderr once a second (liveLine.show).
func progressPrinter(c *console, stderr io.Writer) func(engine.Progress) {
	f := c.live.open(stderr)
	return func(p engine.Progress) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.live.show(c.stderr, f, c.name+": "+metrics.FormatLive(p))
	}
}

// open says whether stderr is a terminal, which show rewrites in place; f is the
// terminal, nil otherwise.
func (l *liveLine) open(stderr io.Writer) (f *os.File) {
	f, _ = stderr.(*os.File)
	l.tty = f != nil && isTerminal(f)
	return f
}

// show prints the live line: on a terminal one line rewritten in place (carriage
// return, the line cut to the terminal's width, clear to the end of the line),
// elsewhere one line each time. Its writer's lock is held.
func (l *liveLine) show(w io.Writer, f *os.File, line string) {
	if !l.tty {
		_, _ = io.WriteString(w, line+"\n")
		return
	}
	if width := terminalWidth(f); width > 1 && len(line) >= width {
		line = line[:width-1] // a wrapped line cannot be rewritten in place
	}
	_, _ = io.WriteString(w, "\r"+line+"\x1b[K")
	l.shown = true
}

// terminalWidth is the terminal's width in columns (0 when unknown).
func terminalWidth(f *os.File) int {
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0
	}
	return int(ws.Col)
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

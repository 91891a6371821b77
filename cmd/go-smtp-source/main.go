// Command go-smtp-source is a drop-in replacement for Postfix's smtp-source(1): the same
// options and SMTP traffic, on a gnet event-loop engine, with extensions as long options.
//
// Exit status: 0 when the run completed (even if -A let the server reject messages),
// 1 on a fatal error (a rejection without -A, a lost connection, a timeout, a failed
// connect or lookup), 2 on a command-line error, 98 when --max-errors was exceeded,
// 99 when a --threshold was breached, 130/143 after SIGINT/SIGTERM.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/go-smtp-source/go-smtp-source/engine"
)

const (
	exitOK          = 0
	exitFatal       = 1
	exitUsage       = 2
	exitInterrupted = 130
	exitTerminated  = 143
)

func main() {
	ignoreSIGPIPE()
	os.Exit(run(os.Args[0], os.Args[1:], os.Stdout, os.Stderr))
}

func run(name string, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "merge" {
		return runMerge(name, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "worker" {
		return runWorker(name, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "reconcile" {
		return runReconcile(name, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "report" {
		return runReport(name, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "completion" {
		return runCompletion(name, args[1:], stdout, stderr)
	}
	if wantsVersion(args) {
		printVersion(stdout)
		return exitOK
	}
	inv, help, err := parseOptions(args)
	if help {
		printUsage(stdout, name)
		return exitOK
	}
	if err != nil {
		return reportParseError(name, err, stderr)
	}
	if inv.cluster.coordinating() {
		return runCoordinator(name, inv, stderr)
	}
	if inv.plan.FindMax != nil {
		return runFindMax(name, inv, stdout, stderr)
	}
	return runLocal(name, inv, stdout, stderr)
}

// reportParseError prints a command line's mistake as smtp-source does and returns the
// exit status: getopt's own line as glibc prints it, Postfix's validator warning, the
// fatal line, smtp-source's usage line.
func reportParseError(name string, err error, stderr io.Writer) int {
	var diag []byte
	code := exitFatal
	switch e := err.(type) {
	case *usageError:
		code = exitUsage
		switch {
		case e.fromGetopt:
			fmt.Fprintf(stderr, "%s: %s\n", name, e.msg)
		case e.msg != "":
			// Our own options' words, not smtp-source's: UTF-8 is kept ("0 ≤ i < n").
			diag = append(appendControlFree(append(diag, name+": fatal: "...), e.msg), '\n')
		}
		if e.showUsage {
			diag = appendDiagnostic(diag, name, "fatal: ", fmt.Sprintf(usageLine, name))
		}
	case *fatalError:
		if e.warning != "" {
			diag = appendDiagnostic(diag, name, "warning: ", e.warning)
		}
		diag = appendDiagnostic(diag, name, "fatal: ", e.msg)
	default:
		diag = appendDiagnostic(diag, name, "fatal: ", err.Error())
	}
	_, _ = stderr.Write(diag)
	return code
}

// runLocal runs the plan in this process and reports it.
func runLocal(name string, inv *invocation, stdout, stderr io.Writer) int {
	out := &console{name: name, stdout: bufio.NewWriter(stdout), stderr: stderr, count: inv.out.count, verbose: inv.out.verbose > 0}
	hooks := engine.Hooks{Events: out, Trace: inv.out.verbose > 0, TLS: inv.tls, Credentials: inv.credentials}
	if showProgress(inv.out, stderr) {
		hooks.Progress = progressPrinter(out, stderr)
	}
	files, err := openOutputFiles(inv.out, &hooks)
	defer files.closeLog()
	if err != nil {
		fmt.Fprintf(stderr, "%s: fatal: %v\n", name, err)
		return exitFatal
	}
	if n := openFilesLimit(); n >= 0 && n < 256 { // as Postfix's event_init() warns, before the first connect
		out.warnf("could allocate space for only %d open files", n)
	}
	ctx, interrupted, release := onInterrupt()
	defer release()
	if err := inv.e2e.start(ctx, inv.plan); err != nil {
		out.fatalf("%v", err)
		return exitFatal
	}
	defer inv.e2e.stop()
	hooks.Progress = inv.e2e.live(hooks.Progress)
	if err := inv.metrics.start(name, stderr); err != nil {
		out.fatalf("%v", err)
		return exitFatal
	}
	defer inv.metrics.stop()
	inv.metrics.hook(&hooks)

	res, runErr := engine.Run(ctx, inv.plan, hooks)

	code := exitOK
	switch {
	case errors.Is(runErr, engine.ErrInterrupted):
		code = interrupted.exitStatus()
		out.fatalf("interrupted: %d messages in flight were cut off", res.Failed)
	case runErr != nil:
		code = runStatus(runErr)
		out.fatalf("%v", runErr)
	}
	out.finish(code == exitOK)
	// A run that never reached the server has nothing to summarise beyond its one error line.
	reached := res.Sessions > 0 || code == exitOK
	if !inv.out.quiet && reached {
		out.summary(res)
	}
	if err := files.closeHdrLog(); err != nil {
		out.fatalf("--hdr-log %s: %v", inv.out.hdrLog, err)
		code = max(code, exitFatal)
	}
	if reached || inv.out.jsonFile != "" {
		code = writeResults(inv, res, out, stdout, reached, code)
	}
	inv.metrics.final(res.Metrics)
	inv.metrics.finish(ctx)
	return code
}

// showProgress: --progress, or by default when stderr is a terminal (and not --quiet).
func showProgress(o outputOptions, stderr io.Writer) bool {
	return o.progress || !o.quiet && stderr == io.Writer(os.Stderr) && isTerminal(os.Stderr)
}

// console is where a run's output goes: the -c counter on stdout, diagnostics, the -v
// transcript and the summary on stderr, in smtp-source's "name: …" form. Event loops call
// it concurrently.
type console struct {
	name    string
	mu      sync.Mutex
	stdout  *bufio.Writer
	stderr  io.Writer
	count   bool
	verbose bool
	counter int64
	line    []byte
	live    liveLine // the live view's line on a terminal (report.go)
}

func (c *console) Warning(err error) { c.warnf("%v", err) }

func (c *console) warnf(format string, args ...any) {
	c.diagnostic("warning: ", fmt.Sprintf(format, args...))
}

func (c *console) fatalf(format string, args ...any) {
	c.diagnostic("fatal: ", fmt.Sprintf(format, args...))
}

// diagnostic writes one "name: warning: …" or "name: fatal: …" line, in one write.
func (c *console) diagnostic(level, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearLive()
	c.line = appendDiagnostic(c.line[:0], c.name, level, text)
	_, _ = c.stderr.Write(c.line)
}

// appendDiagnostic appends "name: LEVELtext\n" as Postfix's msg_vprintf() writes it:
// every byte of the text that is not printable ASCII, a TAB and 8-bit bytes included,
// becomes '?' (Postfix's printable()), so a server's or a user's bytes can neither
// forge lines nor reach the terminal raw.
func appendDiagnostic(dst []byte, name, level, text string) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, level...)
	dst = appendPrintable(dst, text)
	return append(dst, '\n')
}

// appendControlFree appends text with its control bytes as '?', so that it stays one
// line, and its other bytes as they are.
func appendControlFree(dst []byte, text string) []byte {
	for i := 0; i < len(text); i++ {
		b := text[i]
		if b < ' ' || b == 0x7f {
			b = '?'
		}
		dst = append(dst, b)
	}
	return dst
}

func appendPrintable[T string | []byte](dst []byte, text T) []byte {
	for i := 0; i < len(text); i++ {
		b := text[i]
		if b < ' ' || b > '~' {
			b = '?'
		}
		dst = append(dst, b)
	}
	return dst
}

func (c *console) Trace(line []byte, fromServer bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearLive()
	c.line = append(c.line[:0], c.name...)
	c.line = append(c.line, ": "...)
	if fromServer {
		c.line = append(c.line, "<<< "...)
	}
	c.line = appendPrintable(c.line, line) // smtp-source's msg_info(): '?' for the rest
	c.line = append(c.line, '\n')
	_, _ = c.stderr.Write(c.line)
}

// DotSent prints smtp-source's running counter: "N\r", flushed at once.
func (c *console) DotSent() {
	if !c.count {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counter++
	fmt.Fprintf(c.stdout, "%d\r", c.counter)
	_ = c.stdout.Flush()
}

// finish ends the counter line; like smtp-source, only a run that completed gets the "\n".
func (c *console) finish(completed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearLive()
	if c.count && completed {
		c.stdout.WriteByte('\n')
	}
	_ = c.stdout.Flush()
}

func (c *console) summary(r engine.Result) {
	secs := r.Elapsed.Seconds()
	rate := r.AchievedRate() // over the sending window, not a drain that may be a stuck tail
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearLive()
	fmt.Fprintf(c.stderr, "%s: %d messages: %d accepted, %d rejected, %d failed, %d not started; %d connections; %.3fs, %.1f msg/s\n",
		c.name, r.Planned, r.Accepted, r.Rejected, r.Failed, r.NotStarted, r.Sessions, secs, rate)
}

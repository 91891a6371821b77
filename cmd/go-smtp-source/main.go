// Command go-smtp-source is a drop-in replacement for Postfix's smtp-source(1): the same
// options and SMTP traffic, on a gnet event-loop engine, with extensions as long options.
//
// Exit status: 0 when the run completed (even if -A let the server reject messages),
// 1 on a fatal error (a rejection without -A, a lost connection, a timeout, a failed
// connect or lookup), 2 on a command-line error, 130/143 after SIGINT/SIGTERM.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/go-smtp-source/go-smtp-source/engine"
	"github.com/go-smtp-source/go-smtp-source/protocol"
)

const (
	exitOK          = 0
	exitFatal       = 1
	exitUsage       = 2
	exitInterrupted = 130
	exitTerminated  = 143
)

func main() {
	os.Exit(run(os.Args[0], os.Args[1:], os.Stdout, os.Stderr))
}

func run(name string, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "merge" {
		return runMerge(name, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "worker" {
		return runWorker(name, args[1:], stdout, stderr)
	}
	opts, help, err := parseOptions(args)
	if help {
		printUsage(os.Stdout, name)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: fatal: %v\n", name, err)
		if ue, ok := err.(*usageError); ok && ue.showUsage {
			fmt.Fprintf(stderr, "%s: "+usageLine+" (-h for help)\n", name, name)
		}
		if _, ok := err.(*fatalError); ok {
			return exitFatal
		}
		return exitUsage
	}
	cfg, err := buildConfig(opts)
	if err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "%s: fatal: %v\n", name, err)
			return exitUsage
		}
		fmt.Fprintf(stderr, "%s: fatal: %v\n", name, err)
		return exitFatal
	}
	if err := applyShard(opts.cluster.shard, &cfg); err != nil {
		fmt.Fprintf(stderr, "%s: fatal: %v\n", name, err)
		return exitUsage
	}
	if opts.cluster.coordinating() {
		return runCoordinator(name, args, opts, cfg, stdout, stderr)
	}
	out := &console{name: name, stdout: bufio.NewWriter(stdout), stderr: stderr, count: opts.count, verbose: opts.verbose > 0}
	cfg.Events = out
	if opts.progress || !opts.quiet && stderr == io.Writer(os.Stderr) && isTerminal(os.Stderr) {
		cfg.Progress = progressPrinter(out)
	}
	if opts.logMessages != "" {
		f, err := os.Create(opts.logMessages)
		if err != nil {
			fmt.Fprintf(stderr, "%s: fatal: --log-messages: %v\n", name, err)
			return exitFatal
		}
		defer f.Close()
		cfg.MessageLog = f
	}

	var hlog *hdrLogWriter
	if opts.hdrLog != "" {
		if hlog, err = newHdrLogWriter(opts.hdrLog, time.Now()); err != nil {
			fmt.Fprintf(stderr, "%s: fatal: --hdr-log: %v\n", name, err)
			return exitFatal
		}
	}
	if hlog != nil {
		cfg.OnInterval = hlog.interval
	}
	releaseAfterHandshakeBursts(&cfg)

	ctx, interrupted, release := onInterrupt()
	defer release()

	res, runErr := engine.Run(ctx, cfg)

	code := exitOK
	switch {
	case errors.Is(runErr, engine.ErrInterrupted):
		code = interrupted.exitStatus()
		out.fatalf("interrupted: %d messages in flight were cut off", res.Failed)
	case runErr != nil:
		code = exitFatal
		out.fatalf("%v", runErr)
	}
	out.finish(code == exitOK)
	// A run that never reached the server has nothing to summarise beyond its one error line.
	if !opts.quiet && (res.Sessions > 0 || code == exitOK) {
		out.summary(res)
	}
	if hlog != nil {
		if err := hlog.close(); err != nil {
			out.fatalf("--hdr-log %s: %v", opts.hdrLog, err)
			if code == exitOK {
				code = exitFatal
			}
		}
	}
	if res.Sessions > 0 || code == exitOK {
		if err := writeResults(opts, newPlan(args, opts, cfg), res, stderr); err != nil {
			out.fatalf("%v", err)
			if code == exitOK {
				code = exitFatal
			}
		}
	}
	return code
}

// buildConfig turns options into the engine's configuration: the message template, the
// protocol behaviour and the target.
func buildConfig(o *options) (engine.Config, error) {
	target, err := engine.ParseTarget(o.target)
	if err != nil {
		return engine.Config{}, &fatalError{msg: err.Error()}
	}
	myhostname := o.hostname
	if myhostname == "" {
		if myhostname, err = os.Hostname(); err != nil {
			return engine.Config{}, fmt.Errorf("gethostname: %w", err)
		}
	}
	defaultAddr := "foo@" + myhostname
	spec := protocol.MessageSpec{
		Sender:           defaultAddr,
		Recipient:        defaultAddr,
		Recipients:       o.recipients,
		NumberRecipients: o.numberRcpts,
		Hostname:         myhostname,
		Headers:          !o.oldMode && o.file == "",
		Subject:          o.subject,
		Date:             protocol.FormatDate(time.Now()),
		PID:              os.Getpid(),
	}
	if o.from != nil {
		spec.Sender = *o.from
	}
	if o.to != nil {
		spec.Recipient = *o.to
	}
	if o.compat == "3.7" {
		spec.Numbering = protocol.NumberingPostfix37
	}
	switch {
	case o.file != "":
		b, err := os.ReadFile(o.file)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				return engine.Config{}, fmt.Errorf("open %s: %s", o.file, capitalizeErr(pe.Err))
			}
			return engine.Config{}, err
		}
		spec.Content = protocol.FileContent(b)
	case o.length > 0:
		spec.Content = protocol.LengthContent(o.length)
	default:
		spec.Content = protocol.DefaultContent()
	}

	pc := protocol.Config{
		Greeting:        protocol.GreetHELO,
		Hostname:        myhostname,
		LMTP:            o.lmtp,
		Pipelining:      o.pipelining,
		ReuseConnection: o.keepConnection,
		AllowReject:     o.allowReject,
		Trace:           o.verbose > 0,
		Template:        protocol.NewTemplate(spec),
	}
	switch {
	case o.oldMode:
		pc.Greeting = protocol.GreetNone
	case o.lmtp:
		pc.Greeting = protocol.GreetLHLO
	case o.ehlo || o.pipelining:
		pc.Greeting = protocol.GreetEHLO
	}
	family := engine.FamilyAny
	if o.ipv4 {
		family = engine.FamilyIPv4
	} else if o.ipv6 {
		family = engine.FamilyIPv6
	}
	cfg := engine.Config{
		Target:         target,
		Family:         family,
		Sessions:       o.sessions,
		Messages:       o.messages,
		Protocol:       pc,
		ConnectTries:   o.connectTries,
		ConnectTimeout: o.connectTimeout,
		Timeout:        o.timeout,
		FixedDelay:     time.Duration(o.fixedDelay) * time.Second,
		RandomDelay:    time.Duration(o.randomDelay) * time.Second,
		SourceAddrs:    o.sourceAddrs,
		WindowSize:     o.windowSize,
		Linger0:        o.linger0,
		Grace:          o.grace,
		EventLoops:     o.eventLoops,
		MaxConnecting:  o.maxConnecting,
		Rate:           o.rate,
		Stages:         rateStages(o),
		SessionStages:  sessionStages(o),
		MaxSessions:    o.maxSessions,
		DropAfter:      o.dropAfter,
		LateAfter:      o.lateAfter,
		NoMetrics:      o.noMetrics,
	}
	return cfg, applyTLS(o.tls, target, &cfg)
}

func rateStages(o *options) []engine.Stage {
	if o.sessionRamp {
		return nil
	}
	return o.stages
}

func sessionStages(o *options) []engine.Stage {
	if !o.sessionRamp {
		return nil
	}
	return o.stages
}

func capitalizeErr(err error) string {
	s := err.Error()
	if s == "" {
		return s
	}
	return string(s[0]-('a'-'A')*boolByte(s[0] >= 'a' && s[0] <= 'z')) + s[1:]
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
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
}

func (c *console) Warning(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.stderr, "%s: warning: %v\n", c.name, err)
}

func (c *console) Trace(line []byte, fromServer bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.line = append(c.line[:0], c.name...)
	c.line = append(c.line, ": "...)
	if fromServer {
		c.line = append(c.line, "<<< "...)
	}
	for _, b := range line { // control characters in server text become '?', as in smtp-source
		if b < ' ' && b != '\t' || b == 0x7f {
			b = '?'
		}
		c.line = append(c.line, b)
	}
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

func (c *console) fatalf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.stderr, "%s: fatal: %s\n", c.name, fmt.Sprintf(format, args...))
}

// finish ends the counter line; like smtp-source, only a run that completed gets the "\n".
func (c *console) finish(completed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.count && completed {
		c.stdout.WriteByte('\n')
	}
	_ = c.stdout.Flush()
}

func (c *console) summary(r engine.Result) {
	secs := r.Elapsed.Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(r.Accepted+r.Rejected) / secs
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.stderr, "%s: %d messages: %d accepted, %d rejected, %d failed, %d not started; %d connections; %.3fs, %.1f msg/s\n",
		c.name, r.Planned, r.Accepted, r.Rejected, r.Failed, r.NotStarted, r.Sessions, secs, rate)
}

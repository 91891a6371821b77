package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/go-smtp-source/go-smtp-source/engine"
	"github.com/go-smtp-source/go-smtp-source/internal/buildinfo"
	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/plan"
)

// Exit statuses of load tests (README, "Exit status").
const (
	exitErrorBudget = 98 // --max-errors was exceeded
	exitThreshold   = 99 // a --threshold was breached (or lost, with --threshold-abort)
)

// addLoadTestFlags adds the options of load tests: the error policy, the hard end,
// thresholds and the capacity search. Every default is the plan's.
func addLoadTestFlags(fs *pflag.FlagSet, d plan.Plan) {
	fm := plan.FindMaxDefaults()
	fs.String("on-error", "", "what a session's failure (timeout, reset, lost connection, refused connect, TLS or protocol error) does: `abort` the run, or continue (fail that message, count it, reconnect after a short backoff, go on; rejections go on as with -A); default abort in smtp-source's closed model, continue with --rate, --duration and --stages")
	fs.String("max-errors", "", "end the run (exit 98) once more than `N` messages, or more than P% of those with an outcome (N%, checked from 100 messages on and at the end), were rejected or failed")
	fs.String("max-duration", "", "hard end of the sending window: at D no message starts, sessions in flight get --grace, then are cut off (--duration and --stages set it too)")
	fs.StringArray("threshold", nil, "pass/fail `EXPR` on the run's figures, repeatable: eod.p99<500ms, latency.p99<2s, errors<1%, rate>=900, accepted>=100000, rcpt:perm:550<10 (a breach exits 99)")
	fs.Bool("threshold-abort", false, "stop the run (exit 99) as soon as a threshold is lost: a count past its limit, or a time, rate or share failing")
	fs.String("threshold-abort-delay", flagDuration(d.Thresholds.AbortDelay), "--threshold-abort fires no earlier than this after the start")
	fs.Bool("find-max", false, "capacity search: open-model steps at rising rates until a --threshold breaks, then bisection; reports the highest rate that held every threshold")
	fs.String("find-max-start", strconv.FormatFloat(fm.Start, 'g', -1, 64), "--find-max: the first step's `rate` (messages/s)")
	fs.String("find-max-factor", strconv.FormatFloat(fm.Factor, 'g', -1, 64), "--find-max: each rising step multiplies the rate by this")
	fs.String("find-max-increment", "", "--find-max: each rising step adds this many messages/s instead")
	fs.String("find-max-step", flagDuration(fm.StepDuration), "--find-max: each step's length")
	fs.Int("find-max-bisect", fm.Bisect, "--find-max: bisection steps after the first step that breaks")
	fs.Int("find-max-steps", fm.MaxSteps, "--find-max: rising steps at most")
	fs.Bool("version", false, "print the version and exit")
}

// parseLoadTest reads the load-test options into the plan and checks the output paths:
// every mistake is found before any traffic.
func parseLoadTest(f flags, inv *invocation) error {
	for _, parse := range []func(flags, *invocation) error{parseErrorPolicy, parseHardEnd, parseThresholds, parseFindMax, checkOutputs} {
		if err := parse(f, inv); err != nil {
			return err
		}
	}
	return nil
}

// parseErrorPolicy reads --on-error and --max-errors.
func parseErrorPolicy(f flags, inv *invocation) error {
	e := &inv.plan.Errors
	switch v := f.str("on-error"); v {
	case "":
	case string(plan.OnErrorAbort), string(plan.OnErrorContinue):
		e.OnError = plan.OnError(v)
	default:
		return usagef("--on-error: want abort or continue, got %q", v)
	}
	v := f.str("max-errors")
	if v == "" {
		return nil
	}
	if pct, ok := strings.CutSuffix(v, "%"); ok {
		p, err := strconv.ParseFloat(pct, 64)
		if err != nil || !(p > 0 && p <= 100) {
			return usagef("--max-errors: want a count or a percentage in (0, 100]: %q", v)
		}
		e.MaxErrorsPercent = p
		return nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return usagef("--max-errors: want a count or a percentage: %q", v)
	}
	if n == 0 {
		return usagef("--max-errors 0: use --on-error abort to stop at the first error")
	}
	e.MaxErrors = n
	return nil
}

// parseHardEnd makes --duration, --max-duration and the stages' length the hard end of
// the sending window.
func parseHardEnd(f flags, inv *invocation) error {
	p := &inv.plan
	switch {
	case f.Changed("max-duration") && f.Changed("duration"):
		return usagef("--duration and --max-duration both set the end; use one")
	case f.Changed("max-duration"):
		d, err := parseDuration("--max-duration", f.str("max-duration"))
		p.MaxDuration = d
		return err
	case f.Changed("duration"):
		d, err := parseDuration("--duration", f.str("duration"))
		p.MaxDuration = d
		return err
	}
	for _, s := range p.Load.Stages {
		p.MaxDuration += s.Duration
	}
	return nil
}

// parseThresholds reads --threshold (each checked now, kept in canonical form) and
// --threshold-abort.
func parseThresholds(f flags, inv *invocation) error {
	th := &inv.plan.Thresholds
	exprs, _ := f.GetStringArray("threshold")
	for _, e := range exprs {
		t, err := metrics.ParseThreshold(e)
		if err != nil {
			return usagef("--threshold: %v", strings.TrimPrefix(err.Error(), "threshold "))
		}
		th.Exprs = append(th.Exprs, t.String())
	}
	th.Abort = f.on("threshold-abort")
	if th.Abort && len(th.Exprs) == 0 {
		return usagef("--threshold-abort needs --threshold")
	}
	var err error
	th.AbortDelay, err = parseDuration("--threshold-abort-delay", f.str("threshold-abort-delay"))
	return err
}

// parseFindMax reads the capacity search: the open model, at the first step's rate.
func parseFindMax(f flags, inv *invocation) error {
	p := &inv.plan
	if !f.on("find-max") {
		return nil
	}
	switch {
	case len(p.Thresholds.Exprs) == 0:
		return usagef("--find-max needs --threshold: a step holds when every threshold passes")
	case f.Changed("rate") || f.Changed("stages") || f.Changed("duration"):
		return usagef("--find-max sets the rate and each step's length: drop --rate, --stages and --duration")
	case f.Changed("cluster-workers"):
		return usagef("--find-max: a capacity search cannot be spread over a cluster yet")
	case inv.out.logMessages != "" || inv.out.hdrLog != "":
		return usagef("--find-max: --log-messages and --hdr-log are a run's; a search is many runs (its --json has every step)")
	}
	fm := plan.FindMaxDefaults()
	fm.Bisect, fm.MaxSteps = f.num("find-max-bisect"), f.num("find-max-steps")
	var err error
	if fm.StepDuration, err = parseDuration("--find-max-step", f.str("find-max-step")); err != nil {
		return err
	}
	if fm.Start, err = positiveNumber("--find-max-start", f.str("find-max-start")); err != nil {
		return err
	}
	if f.Changed("find-max-increment") {
		fm.Factor = 0
		if fm.Increment, err = positiveNumber("--find-max-increment", f.str("find-max-increment")); err != nil {
			return err
		}
	} else if fm.Factor, err = positiveNumber("--find-max-factor", f.str("find-max-factor")); err != nil {
		return err
	}
	p.FindMax = &fm
	p.Load.Model, p.Load.Rate = plan.ModelOpen, fm.Start
	p.Messages = max(1, int64(math.Ceil(fm.Start*fm.StepDuration.Seconds())))
	return nil
}

func positiveNumber(flag, v string) (float64, error) {
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || !(n > 0) || math.IsInf(n, 0) {
		return 0, usagef("%s: want a number above 0: %q", flag, v)
	}
	return n, nil
}

// checkOutputs refuses output paths that cannot be written, before any traffic: a
// missing or unwritable directory, a directory given as a file. --json - is stdout,
// which then carries nothing else (not the -c counter).
func checkOutputs(f flags, inv *invocation) error {
	o := inv.out
	if o.jsonFile == "-" && o.count {
		return usagef("--json - writes the document on stdout, which -c's counter uses too; give --json a file")
	}
	if o.htmlFile == "-" {
		return usagef("--html: give a file; the page of a run is not written on stdout")
	}
	for _, out := range []struct{ flag, path string }{{"--json", o.jsonFile}, {"--hdr-log", o.hdrLog}, {"--log-messages", o.logMessages}, {"--html", o.htmlFile}} {
		if out.path == "" || out.flag == "--json" && out.path == "-" {
			continue
		}
		if err := checkWritable(out.path); err != nil {
			return fatalf("%s %s: %v", out.flag, out.path, err)
		}
	}
	return nil
}

// checkWritable checks that a file can be created at path: its directory exists and
// takes a new file, and path is not a directory.
func checkWritable(path string) error {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return errors.New("is a directory")
	}
	probe, err := os.CreateTemp(filepath.Dir(path), ".go-smtp-source-check-*")
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("cannot write there: %v", err)
	}
	probe.Close()
	return os.Remove(probe.Name())
}

// wantsVersion reports that the command line asks for the version (--version before
// any "--").
func wantsVersion(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "--version":
			return true
		}
	}
	return false
}

func printVersion(w io.Writer) { fmt.Fprintln(w, buildinfo.Version("go-smtp-source")) }

// runStatus is the exit status of a run that ended in err (not an interrupt): its own
// for a breached error budget or a lost threshold, 1 for any other fatal error.
func runStatus(err error) int {
	var be *engine.ErrorBudgetError
	var te *engine.ThresholdError
	switch {
	case errors.As(err, &be):
		return exitErrorBudget
	case errors.As(err, &te):
		return exitThreshold
	}
	return exitFatal
}

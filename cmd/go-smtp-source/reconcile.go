package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/pflag"

	"github.com/go-smtp-source/go-smtp-source/internal/cliflags"

	"github.com/go-smtp-source/go-smtp-source/e2e"
	"github.com/go-smtp-source/go-smtp-source/metrics"
)

const reconcileUsage = "reconcile [--json FILE] [--threshold EXPR]... [--clock-offset D] RUN.json SINK.json..."

// runReconcile is `go-smtp-source reconcile`: it reads a traced run's result document
// and the trace documents of the sinks behind the MTA (go-smtp-sink --trace-file, or a
// saved /trace), reconciles them (what was delivered, late, lost, duplicated; the
// delivery latency), prints the text report on stdout and, with --json, writes the run's
// document with its e2e section reconciled. Exit status: 0, 1 when a document cannot be
// read, reconciled or written, 2 on a command-line error, 99 when a threshold is
// breached.
func runReconcile(name string, args []string, stdout, stderr io.Writer) int {
	fs, jsonOut, exprs, offset, help := reconcileFlags(name)
	err := fs.Parse(args)
	if errors.Is(err, pflag.ErrHelp) || err == nil && *help {
		printReconcileUsage(stdout, name, fs)
		return exitOK
	}
	if err == nil && fs.NArg() < 2 {
		err = errors.New("want the run's document and at least one sink's trace document")
	}
	var thresholds []metrics.Threshold
	if err == nil {
		thresholds, err = metrics.ParseThresholds(*exprs)
	}
	var clock *e2e.Clock
	if err == nil && *offset != "" {
		d, perr := time.ParseDuration(*offset)
		if perr != nil {
			err = fmt.Errorf("--clock-offset: want a duration such as 1.5ms or -200us: %q", *offset)
		}
		clock = &e2e.Clock{Offset: d}
	}
	if err != nil {
		return subcommandUsageError(stderr, name, "reconcile", reconcileUsage, err)
	}
	breached, err := reconcileFiles(fs.Args()[0], fs.Args()[1:], clock, mergeOutput{json: *jsonOut, thresholds: thresholds}, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "%s: fatal: reconcile: %v\n", name, err)
		return exitFatal
	}
	if len(breached) > 0 {
		fmt.Fprintf(stderr, "%s: fatal: threshold breached: %s\n", name, metrics.DescribeBreaches(breached))
		return exitThreshold
	}
	return exitOK
}

// reconcileFlags defines reconcile's options (help and completion read them too).
func reconcileFlags(name string) (fs *pflag.FlagSet, jsonOut *string, exprs *[]string, offset *string, help *bool) {
	fs = pflag.NewFlagSet(name+" reconcile", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	jsonOut = fs.String("json", "", "write the reconciled run document to `FILE` (- for stdout)")
	exprs = fs.StringArray("threshold", nil, "evaluate `EXPR` over the reconciled figures, repeatable (default: the run's plan's thresholds); a breach exits 99")
	offset = fs.String("clock-offset", "", "the sinks' clocks minus the source's, to correct the latencies by (default: the offset the run measured, when it polled one sink; otherwise 0)")
	help = fs.BoolP("help", "h", false, "print this help")
	return fs, jsonOut, exprs, offset, help
}

// reconcileFiles reads the documents, reconciles, evaluates the thresholds and writes
// the results; it returns the breached thresholds.
func reconcileFiles(runFile string, sinkFiles []string, clock *e2e.Clock, o mergeOutput, stdout, stderr io.Writer) ([]metrics.Verdict, error) {
	rep, err := metrics.ReadReportFile(runFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", runFile, err)
	}
	if clock == nil {
		c, _ := e2e.LiveClock(rep) // the zero Clock when the run measured none
		clock = &c
	}
	sources := make([]e2e.Source, 0, len(sinkFiles))
	for _, f := range sinkFiles {
		doc, err := e2e.ReadDocumentFile(f)
		if err != nil {
			return nil, err
		}
		sources = append(sources, e2e.Source{Name: f, Doc: doc, Clock: *clock})
	}
	if err := e2e.Reconcile(rep, sources); err != nil {
		return nil, fmt.Errorf("%s: %v", runFile, err)
	}
	breached, err := mergedThresholds(rep, o.thresholds)
	if err != nil {
		return nil, err
	}
	textOut := stdout
	switch o.json {
	case "":
	case "-":
		textOut = stderr
		if err := rep.WriteJSON(stdout); err != nil {
			return nil, err
		}
	default:
		if err := metrics.WriteReportFile(o.json, rep); err != nil {
			return nil, fmt.Errorf("%s: %v", o.json, err)
		}
	}
	return breached, metrics.WriteText(textOut, rep)
}

func printReconcileUsage(w io.Writer, name string, fs *pflag.FlagSet) {
	fmt.Fprintf(w, "%s\n", cliflags.UsageLine(name, reconcileUsage))
	fmt.Fprintf(w, "Reconciles a traced run (--trace, --e2e-sink; its --json document) with the trace\n")
	fmt.Fprintf(w, "documents of the go-smtp-sinks behind the MTA (--trace-file, or a saved /trace): the\n")
	fmt.Fprintf(w, "messages the MTA accepted that were delivered, delivered late (after the run's wait),\n")
	fmt.Fprintf(w, "lost (their numbers listed) or duplicated, and the delivery latency.\n\n")
	fmt.Fprint(w, subcommandOptions(fs))
}

package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/pflag"

	"github.com/go-smtp-source/go-smtp-source/cluster"
	"github.com/go-smtp-source/go-smtp-source/metrics"
)

const mergeUsage = "merge [--json FILE] [--max-skew DURATION] REPORT.json..."

// runMerge is `go-smtp-source merge`: it reads the JSON reports of several runs (or
// cluster workers), merges them exactly (cluster.MergeReports: shards of one plan are
// checked and give the whole run's document), prints the text summary on stdout and,
// with --json, writes the merged report (to stdout with --json -, the text then going
// to stderr). Exit status: 0, 1 when a report cannot be read or written, 2 on a
// command-line error.
func runMerge(name string, args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet(name+" merge", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	jsonOut := fs.String("json", "", "write the merged report to `FILE` (- for stdout)")
	maxSkew := fs.Duration("max-skew", time.Second, "warn when the reports' start times differ by more than this (negative: never)")
	help := fs.BoolP("help", "h", false, "print this help")
	err := fs.Parse(args)
	if errors.Is(err, pflag.ErrHelp) || err == nil && *help {
		printMergeUsage(stdout, name, fs)
		return exitOK
	}
	if err == nil && fs.NArg() == 0 {
		err = errors.New("no report files")
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: fatal: merge: %v\n", name, err)
		fmt.Fprintf(stderr, "%s: usage: %s %s (-h for help)\n", name, name, mergeUsage)
		return exitUsage
	}
	if err := mergeFiles(name, fs.Args(), *jsonOut, *maxSkew, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "%s: fatal: %v\n", name, err)
		return exitFatal
	}
	return exitOK
}

// mergeFiles reads, merges and writes the reports.
func mergeFiles(name string, files []string, jsonOut string, maxSkew time.Duration, stdout, stderr io.Writer) error {
	reports := make([]*metrics.Report, 0, len(files))
	for _, file := range files {
		r, err := metrics.ReadReportFile(file)
		if err != nil {
			return fmt.Errorf("%s: %v", file, err)
		}
		reports = append(reports, r)
	}
	merged, warnings, err := cluster.MergeReports(reports, maxSkew)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintf(stderr, "%s: warning: %s\n", name, w)
	}
	textOut := stdout
	switch jsonOut {
	case "":
	case "-":
		textOut = stderr
		if err := merged.WriteJSON(stdout); err != nil {
			return err
		}
	default:
		if err := metrics.WriteReportFile(jsonOut, merged); err != nil {
			return fmt.Errorf("%s: %v", jsonOut, err)
		}
	}
	return metrics.WriteText(textOut, merged)
}

func printMergeUsage(w io.Writer, name string, fs *pflag.FlagSet) {
	fmt.Fprintf(w, "usage: %s %s\n\n", name, mergeUsage)
	fmt.Fprintf(w, "Merges the --json reports of several runs exactly: counters and totals are summed,\n")
	fmt.Fprintf(w, "histograms merged bucket by bucket (percentiles are never averaged), intervals\n")
	fmt.Fprintf(w, "aligned on wall-clock seconds, rates computed over the union of the runs' windows.\n\n")
	fmt.Fprint(w, fs.FlagUsages())
}

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/go-smtp-source/go-smtp-source/cluster"
	"github.com/go-smtp-source/go-smtp-source/metrics"
)

const mergeUsage = "merge [--json FILE] [--max-skew DURATION] REPORT.json..."

// runMerge is `go-smtp-source merge`: it reads the JSON reports of several runs (or
// cluster workers), merges them exactly (metrics.Merge), prints the text summary on
// stdout and, with --json, writes the merged report (to stdout with --json -, the text
// then going to stderr). Exit status: 0, 1 when a report cannot be read or written, 2 on
// a command-line error.
func runMerge(name string, args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet(name+" merge", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	jsonOut := fs.String("json", "", "write the merged report to `FILE` (- for stdout)")
	maxSkew := fs.Duration("max-skew", time.Second, "warn when the reports' start times differ by more than this (negative: never)")
	help := fs.BoolP("help", "h", false, "print this help")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			printMergeUsage(stdout, name, fs)
			return exitOK
		}
		fmt.Fprintf(stderr, "%s: fatal: merge: %v\n", name, err)
		fmt.Fprintf(stderr, "%s: usage: %s %s (-h for help)\n", name, name, mergeUsage)
		return exitUsage
	}
	if *help {
		printMergeUsage(stdout, name, fs)
		return exitOK
	}
	files := fs.Args()
	if len(files) == 0 {
		fmt.Fprintf(stderr, "%s: fatal: merge: no report files\n", name)
		fmt.Fprintf(stderr, "%s: usage: %s %s (-h for help)\n", name, name, mergeUsage)
		return exitUsage
	}

	reports := make([]*metrics.Report, 0, len(files))
	for _, file := range files {
		r, err := readReportFile(file)
		if err != nil {
			fmt.Fprintf(stderr, "%s: fatal: %s: %v\n", name, file, err)
			return exitFatal
		}
		reports = append(reports, r)
	}
	merged, warnings, err := cluster.MergeReports(reports, *maxSkew)
	if err != nil {
		fmt.Fprintf(stderr, "%s: fatal: %v\n", name, err)
		return exitFatal
	}
	for _, w := range warnings {
		fmt.Fprintf(stderr, "%s: warning: %s\n", name, w)
	}

	textOut := stdout
	if *jsonOut == "-" {
		textOut = stderr
		if err := merged.WriteJSON(stdout); err != nil {
			fmt.Fprintf(stderr, "%s: fatal: %v\n", name, err)
			return exitFatal
		}
	} else if *jsonOut != "" {
		if err := writeReportFile(*jsonOut, merged); err != nil {
			fmt.Fprintf(stderr, "%s: fatal: %s: %v\n", name, *jsonOut, err)
			return exitFatal
		}
	}
	if err := metrics.WriteText(textOut, merged); err != nil {
		fmt.Fprintf(stderr, "%s: fatal: %v\n", name, err)
		return exitFatal
	}
	return exitOK
}

func printMergeUsage(w io.Writer, name string, fs *pflag.FlagSet) {
	fmt.Fprintf(w, "usage: %s %s\n\n", name, mergeUsage)
	fmt.Fprintf(w, "Merges the --json reports of several runs exactly: counters and totals are summed,\n")
	fmt.Fprintf(w, "histograms merged bucket by bucket (percentiles are never averaged), intervals\n")
	fmt.Fprintf(w, "aligned on wall-clock seconds, rates computed over the union of the runs' windows.\n\n")
	fmt.Fprint(w, fs.FlagUsages())
}

func readReportFile(path string) (*metrics.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := metrics.ReadReport(f)
	if err != nil {
		return nil, err
	}
	r.Origin = path
	return r, nil
}

// writeReportFile writes the report next to path and renames it into place, so that a
// failed write leaves no half a report.
func writeReportFile(path string, r *metrics.Report) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".merge-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := r.WriteJSON(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

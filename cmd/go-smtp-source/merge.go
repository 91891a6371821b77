package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/pflag"

	"github.com/go-smtp-source/go-smtp-source/internal/cliflags"

	"github.com/go-smtp-source/go-smtp-source/cluster"
	"github.com/go-smtp-source/go-smtp-source/metrics"
)

const mergeUsage = "merge [--json FILE] [--max-skew DURATION] [--threshold EXPR]... REPORT.json..."

// runMerge is `go-smtp-source merge`: it reads the JSON reports of several runs (or
// cluster workers), merges them exactly (cluster.MergeReports: shards of one plan are
// checked and give the whole run's document), prints the text summary on stdout and,
// with --json, writes the merged report (to stdout with --json -, the text then going
// to stderr). It refuses a report given twice, warns when the runs' targets differ, and
// evaluates thresholds over the merged figures: --threshold's, or else the merged plan's.
// Exit status: 0, 1 when a report cannot be read or written, 2 on a command-line error,
// 99 when a threshold is breached.
func runMerge(name string, args []string, stdout, stderr io.Writer) int {
	fs, jsonOut, maxSkew, exprs, help := mergeFlags(name)
	err := fs.Parse(args)
	if errors.Is(err, pflag.ErrHelp) || err == nil && *help {
		printMergeUsage(stdout, name, fs)
		return exitOK
	}
	if err == nil && fs.NArg() == 0 {
		err = errors.New("no report files")
	}
	if err != nil {
		return subcommandUsageError(stderr, name, "merge", mergeUsage, err)
	}
	thresholds, err := metrics.ParseThresholds(*exprs)
	if err != nil {
		fmt.Fprintf(stderr, "%s: fatal: merge: --%v\n", name, err)
		return exitUsage
	}
	breached, err := mergeFiles(name, fs.Args(), mergeOutput{*jsonOut, *maxSkew, thresholds}, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "%s: fatal: %v\n", name, err)
		return exitFatal
	}
	if len(breached) > 0 {
		fmt.Fprintf(stderr, "%s: fatal: threshold breached: %s\n", name, metrics.DescribeBreaches(breached))
		return exitThreshold
	}
	return exitOK
}

// mergeFlags defines merge's options (help and completion read them too).
func mergeFlags(name string) (fs *pflag.FlagSet, jsonOut *string, maxSkew *time.Duration, exprs *[]string, help *bool) {
	fs = pflag.NewFlagSet(name+" merge", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	jsonOut = fs.String("json", "", "write the merged report to `FILE` (- for stdout)")
	maxSkew = fs.Duration("max-skew", time.Second, "warn when the reports' start times differ by more than this (negative: never)")
	exprs = fs.StringArray("threshold", nil, "evaluate `EXPR` over the merged figures, repeatable (default: the merged plan's thresholds); a breach exits 99")
	help = fs.BoolP("help", "h", false, "print this help")
	return fs, jsonOut, maxSkew, exprs, help
}

// mergeOutput is what merge does with the merged document.
type mergeOutput struct {
	json       string
	maxSkew    time.Duration
	thresholds []metrics.Threshold
}

// mergeFiles reads, merges and writes the reports; it returns the breached thresholds.
func mergeFiles(name string, files []string, o mergeOutput, stdout, stderr io.Writer) ([]metrics.Verdict, error) {
	reports := make([]*metrics.Report, 0, len(files))
	for _, file := range files {
		r, err := metrics.ReadReportFile(file)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", file, err)
		}
		reports = append(reports, r)
	}
	if err := refuseTwice(reports); err != nil {
		return nil, err
	}
	merged, warnings, err := cluster.MergeReports(reports, o.maxSkew)
	if err != nil {
		return nil, err
	}
	for _, w := range append(targetWarnings(reports), warnings...) {
		fmt.Fprintf(stderr, "%s: warning: %s\n", name, w)
	}
	breached, err := mergedThresholds(merged, o.thresholds)
	if err != nil {
		return nil, err
	}
	textOut := stdout
	switch o.json {
	case "":
	case "-":
		textOut = stderr
		if err := merged.WriteJSON(stdout); err != nil {
			return nil, err
		}
	default:
		if err := metrics.WriteReportFile(o.json, merged); err != nil {
			return nil, fmt.Errorf("%s: %v", o.json, err)
		}
	}
	return breached, metrics.WriteText(textOut, merged)
}

// refuseTwice refuses a run given twice (the same file, or a copy): it would be counted
// twice. The shards of one plan are checked first, for the more precise message ("shard
// 1/3 is present twice").
func refuseTwice(reports []*metrics.Report) error {
	if _, err := cluster.CheckShards(reports); err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	for i, r := range reports {
		for _, seen := range reports[:i] {
			if metrics.SameRun(seen, r) {
				return fmt.Errorf("%s and %s are the same run (same start, duration, totals and producer): give each run once", seen.Origin, r.Origin)
			}
		}
	}
	return nil
}

// mergedThresholds evaluates thresholds over the merged document, recording the
// verdicts in it: the ones given, or else the merged plan's (the shards of one plan
// share theirs). It returns the breached ones.
func mergedThresholds(merged *metrics.Report, given []metrics.Threshold) ([]metrics.Verdict, error) {
	ts := given
	if len(ts) == 0 {
		var p struct {
			Thresholds struct {
				Exprs []string `json:"exprs"`
			} `json:"thresholds"`
		}
		if json.Unmarshal(merged.Plan, &p) == nil && len(p.Thresholds.Exprs) > 0 {
			var err error
			if ts, err = metrics.ParseThresholds(p.Thresholds.Exprs); err != nil {
				return nil, fmt.Errorf("the merged plan's thresholds: %w", err)
			}
		}
	}
	merged.Thresholds = nil
	if len(ts) == 0 {
		return nil, nil
	}
	verdicts, err := merged.CheckThresholds(ts)
	if err != nil {
		return nil, fmt.Errorf("thresholds: %w", err)
	}
	return metrics.Breached(verdicts), nil
}

// targetWarnings says when the runs were aimed at different targets: their figures
// describe different servers.
func targetWarnings(reports []*metrics.Report) []string {
	var first, firstName string
	for _, r := range reports {
		var p struct {
			Target string `json:"target"`
		}
		if json.Unmarshal(r.Plan, &p) != nil || p.Target == "" {
			continue
		}
		if first == "" {
			first, firstName = p.Target, r.Origin
			continue
		}
		if p.Target != first {
			return []string{fmt.Sprintf("the runs' targets differ (%s: %s, %s: %s): the merge mixes different servers", firstName, first, r.Origin, p.Target)}
		}
	}
	return nil
}

// subcommandUsageError reports a subcommand's command-line mistake as the main command
// reports its own: the fatal line, then the usage line; the exit status is 2.
func subcommandUsageError(stderr io.Writer, name, sub, usage string, err error) int {
	fmt.Fprintf(stderr, "%s: fatal: %s: %v\n", name, sub, err)
	fmt.Fprintf(stderr, "%s: usage: %s %s (-h for help)\n", name, name, usage)
	return exitUsage
}

func printMergeUsage(w io.Writer, name string, fs *pflag.FlagSet) {
	fmt.Fprintf(w, "%s\n", cliflags.UsageLine(name, mergeUsage))
	fmt.Fprintf(w, "Merges the --json reports of several runs exactly: counters and totals are summed,\n")
	fmt.Fprintf(w, "histograms merged bucket by bucket (percentiles are never averaged), intervals\n")
	fmt.Fprintf(w, "aligned on wall-clock seconds, rates computed over the union of the runs' windows.\n\n")
	fmt.Fprint(w, subcommandOptions(fs))
}

package main

import (
	"errors"
	"fmt"
	"github.com/go-smtp-source/go-smtp-source/internal/cliflags"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/report"
)

const reportUsage = "report [--html FILE] [--tolerance PERCENT] [--title TEXT] RUN.json [RUN2.json…]"

// runReport is `go-smtp-source report`: it reads the JSON documents of one or more runs
// and writes one self-contained HTML page (to stdout without --html): the charts and
// tables of each run, and with several runs their comparison with the first, the
// baseline, whose regressions it also names on stderr. Exit status: 0, 1 when a document
// cannot be read or the page written, 2 on a command-line error.
// reportFlags defines report's options (the parser's, -h's and completion's).
func reportFlags(name string) (fs *pflag.FlagSet, out, tolerance, title *string, help *bool) {
	fs = pflag.NewFlagSet(name+" report", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	out = fs.String("html", "-", "write the page to `FILE` (- for stdout)")
	tolerance = fs.String("tolerance", strconv.Itoa(int(100*report.DefaultTolerance)), "name a change from the baseline (the first run) larger than `PERCENT`")
	title = fs.String("title", "", "`TEXT` for the page's title (default: go-smtp-source report)")
	help = fs.BoolP("help", "h", false, "print this help")
	return fs, out, tolerance, title, help
}

func runReport(name string, args []string, stdout, stderr io.Writer) int {
	fs, out, tolerance, title, help := reportFlags(name)
	err := fs.Parse(args)
	if errors.Is(err, pflag.ErrHelp) || err == nil && *help {
		fmt.Fprintf(stdout, "%s\n", cliflags.UsageLine(name, reportUsage))
		fmt.Fprint(stdout, "Renders run documents (--json) as one HTML page that needs no network: throughput,\nlatency over time and by percentile, errors, TLS, thresholds, end-to-end delivery, the plan.\nWith several runs, the first is the baseline: overlaid, side by side, regressions named.\n\n")
		fmt.Fprint(stdout, subcommandOptions(fs))
		return exitOK
	}
	tol := 0.0
	if err == nil && fs.NArg() == 0 {
		err = errors.New("no report files")
	}
	if err == nil {
		if tol, err = strconv.ParseFloat(*tolerance, 64); err != nil || !(tol > 0) {
			err = fmt.Errorf("--tolerance: want a percentage above 0: %q", *tolerance)
		}
	}
	if err == nil && *out != "-" {
		if werr := checkWritable(*out); werr != nil {
			err = fmt.Errorf("--html %s: %v", *out, werr)
		}
	}
	if err != nil {
		return subcommandUsageError(stderr, name, "report", reportUsage, err)
	}
	runs := make([]report.Run, 0, fs.NArg())
	for _, file := range fs.Args() {
		r, err := metrics.ReadReportFile(file)
		if err != nil {
			fmt.Fprintf(stderr, "%s: fatal: report: %s: %v\n", name, file, err)
			return exitFatal
		}
		runs = append(runs, report.Run{Name: file, Report: r})
	}
	opt := report.Options{Title: *title, Tolerance: tol / 100}
	if err := writeHTML(*out, runs, opt, stdout); err != nil {
		fmt.Fprintf(stderr, "%s: fatal: report: %v\n", name, err)
		return exitFatal
	}
	for _, r := range runs[min(1, len(runs)):] {
		for _, f := range report.Compare(runs[0], r, opt.Tolerance) {
			if f.Regression {
				fmt.Fprintf(stderr, "%s: regression: %s: %s\n", name, r.Name, f.Text)
			}
		}
	}
	return exitOK
}

// writeHTML renders the page and writes it to file (stdout for "-"), through a
// temporary file renamed into place, so that a failed write leaves no half a page.
func writeHTML(file string, runs []report.Run, opt report.Options, stdout io.Writer) error {
	page, err := report.Render(runs, opt)
	if err != nil {
		return err
	}
	if file == "-" {
		_, err = stdout.Write(page)
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".report-*.html")
	if err != nil {
		return fmt.Errorf("--html %s: %v", file, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(page)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), file)
	}
	if err != nil {
		return fmt.Errorf("--html %s: %v", file, err)
	}
	return nil
}

// writeRunHTML is --html on a run: the page of this run's document, named after its
// --json file when there is one.
func writeRunHTML(inv *invocation, r *metrics.Report) error {
	if inv.out.htmlFile == "" {
		return nil
	}
	name := "this run"
	if inv.out.jsonFile != "" && inv.out.jsonFile != "-" {
		name = filepath.Base(inv.out.jsonFile)
	}
	return writeHTML(inv.out.htmlFile, []report.Run{{Name: name, Report: r}}, report.Options{}, io.Discard)
}

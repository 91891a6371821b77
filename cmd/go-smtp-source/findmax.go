package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/go-smtp-source/go-smtp-source/engine"
	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// runFindMax runs a capacity search (--find-max): a line per step as it ends, then the
// merged report of every step with the steps' table and the highest rate that held
// every threshold. Exit status: 0 when a rate held, 99 when none did, 1 on a fatal
// error, 130/143 after SIGINT/SIGTERM (with the steps so far reported).
func runFindMax(name string, inv *invocation, stdout, stderr io.Writer) int {
	out := &console{name: name, stdout: bufio.NewWriter(stdout), stderr: stderr, verbose: inv.out.verbose > 0}
	hooks := engine.Hooks{Events: out, Trace: inv.out.verbose > 0, TLS: inv.tls, Credentials: inv.credentials}
	if showProgress(inv.out, stderr) {
		hooks.Progress = progressPrinter(out, stderr)
	}
	ctx, interrupted, release := onInterrupt()
	defer release()
	if err := inv.metrics.start(name, stderr); err != nil {
		out.fatalf("%v", err)
		return exitFatal
	}
	defer inv.metrics.finish(ctx) // the steps' seconds, summed
	inv.metrics.hook(&hooks)
	var reports []*metrics.Report
	var steps []metrics.FindMaxStep
	res, err := engine.FindMax(ctx, inv.plan, hooks, func(st engine.FindMaxStep) {
		r := metrics.ResultReport(nil, nil, st.Result.Measured())
		r.Origin = fmt.Sprintf("step %d: %.1f/s", len(reports)+1, st.Rate)
		reports = append(reports, r)
		steps = append(steps, metrics.NewFindMaxStep(st.Rate, r, st.Verdicts, st.Held, st.Err))
		out.note("find-max: %s", describeStep(st))
	})
	code := exitOK
	switch {
	case errors.Is(err, engine.ErrInterrupted):
		code = interrupted.exitStatus()
		out.fatalf("interrupted: the search stopped after %d steps", len(steps))
	case err != nil:
		out.fatalf("%v", err)
		return exitFatal
	case res.Highest == 0:
		code = exitThreshold
		out.fatalf("find-max: no rate held every threshold (the first step, %g/s, broke)", inv.plan.FindMax.Start)
	default:
		out.note("find-max: the highest rate that held every threshold: %.1f messages/s", res.Highest)
	}
	return max(code, writeSearch(inv, out, stdout, reports, &metrics.FindMaxReport{Highest: res.Highest, Steps: steps}))
}

// describeStep is a step's line: its rate, and whether it held or what broke.
func describeStep(st engine.FindMaxStep) string {
	r := st.Result
	line := fmt.Sprintf("%.1f msg/s for %v: achieved %.1f/s, %d accepted, %d failed, %d dropped: ", st.Rate, r.Sending.Round(1e6),
		r.AchievedRate(), r.Accepted, r.Failed, r.Metrics.Counter(metrics.Dropped))
	switch {
	case st.Held:
		return line + "held"
	case st.Err != nil:
		return line + "broke: " + st.Err.Error()
	}
	return line + "broke: " + metrics.DescribeBreaches(metrics.Breached(st.Verdicts))
}

// writeSearch writes the search's document: the exact merge of its steps, with the
// plan, who ran it and the steps' table; text on stderr, --json as for a run.
func writeSearch(inv *invocation, out *console, stdout io.Writer, reports []*metrics.Report, fm *metrics.FindMaxReport) int {
	if len(reports) == 0 {
		return exitOK
	}
	merged, _, err := metrics.Merge(reports, -1)
	if err != nil {
		out.fatalf("%v", err)
		return exitFatal
	}
	merged.Plan, merged.FindMax = inv.plan.ForReport().JSON(), fm
	merged.Run = runInfo(inv.plan, 0)
	if !inv.out.quiet {
		out.mu.Lock()
		err = metrics.WriteText(out.stderr, merged)
		out.mu.Unlock()
	}
	if err == nil {
		err = writeJSON(inv.out.jsonFile, merged, stdout)
	}
	if err == nil {
		err = writeRunHTML(inv, merged)
	}
	if err != nil {
		out.fatalf("%v", err)
		return exitFatal
	}
	return exitOK
}

// note prints one line of information on stderr, in smtp-source's "name: …" form.
func (c *console) note(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearLive()
	fmt.Fprintf(c.stderr, "%s: %s\n", c.name, fmt.Sprintf(format, args...))
}

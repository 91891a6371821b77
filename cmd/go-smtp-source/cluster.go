package main

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/go-smtp-source/go-smtp-source/cluster"
	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/plan"
)

// exitIncomplete is the exit status of a cluster run that lost a worker: its result is
// INCOMPLETE (some messages unaccounted for), whatever --on-worker-loss said.
const exitIncomplete = 3

// coordinatorOutput is where a coordinator's lines go, from its goroutines at once.
type coordinatorOutput struct {
	name   string
	mu     sync.Mutex
	stderr io.Writer
	live   liveLine // the merged live view's line on a terminal (report.go)
}

func (o *coordinatorOutput) say(format string, a ...any) {
	o.printf("%s: cluster: %s\n", o.name, fmt.Sprintf(format, a...))
}

func (o *coordinatorOutput) fatal(format string, a ...any) int {
	o.printf("%s: fatal: %s\n", o.name, fmt.Sprintf(format, a...))
	return exitFatal
}

func (o *coordinatorOutput) writeText(r *metrics.Report) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.live.clear(o.stderr)
	return metrics.WriteText(o.stderr, r)
}

func (o *coordinatorOutput) printf(format string, a ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.live.clear(o.stderr)
	fmt.Fprintf(o.stderr, format, a...)
}

// progressPrinter prints the merged live view as a single run's (liveLine.show).
func (o *coordinatorOutput) progressPrinter() func(cluster.Progress) {
	f := o.live.open(o.stderr)
	return func(p cluster.Progress) {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.live.show(o.stderr, f, o.name+": "+metrics.FormatLive(p))
	}
}

// runCoordinator runs the plan over --cluster-workers workers and reports the exact
// merge of their results.
func runCoordinator(name string, inv *invocation, stderr io.Writer) int {
	out := &coordinatorOutput{name: name, stderr: stderr}
	if inv.plan.Load.Model == plan.ModelRampingSessions {
		out.printf("%s: fatal: --cluster-workers: --stages-of sessions cannot be split yet\n", name)
		return exitUsage
	}
	version, err := cluster.Version()
	if err != nil {
		return out.fatal("%v", err)
	}
	ctx, interrupted, release := onInterrupt()
	defer release()
	if err := inv.e2e.start(ctx, inv.plan); err != nil {
		return out.fatal("%v", err)
	}
	defer inv.e2e.stop()
	co := inv.cluster
	conn, err := cluster.ConnectCoordinator(ctx, co.listen, co.natsURL, co.auth, co.natsWait, func(text string) { out.say("%s", text) })
	if err != nil {
		return max(out.fatal("%v", err), interrupted.exitStatus())
	}
	defer conn.Close()
	if conn.Embedded {
		if conn.Generated != "" {
			out.say("embedded NATS server on %s; token %s", conn.URL, conn.Generated) // on stderr only, never in a file
		} else {
			out.say("embedded NATS server on %s (token as given)", conn.URL)
		}
		out.say("on each worker: GSS_NATS_TOKEN=… %s worker --nats nats://THIS-HOST:PORT", name)
	}
	ccfg := cluster.CoordinatorConfig{Workers: co.workers, Plan: inv.plan, Version: version,
		JoinTimeout: co.joinTimeout, ContinueOnLoss: co.continueLoss, Event: func(text string) { out.say("%s", text) }}
	if showProgress(inv.out, stderr) {
		ccfg.Progress = inv.e2e.live(out.progressPrinter())
	}
	if err := inv.metrics.start(name, stderr); err != nil {
		return out.fatal("%v", err)
	}
	defer inv.metrics.stop()
	inv.metrics.hookCoordinator(&ccfg)
	out.say("waiting for %d workers on %s", co.workers, conn.URL)
	outcome, runErr := cluster.Coordinate(ctx, conn.Conn, ccfg)
	if outcome == nil {
		return out.fatal("%v", runErr)
	}
	code := exitOK
	switch {
	case interrupted.exitStatus() != exitOK:
		code = interrupted.exitStatus()
	case errors.Is(runErr, cluster.ErrWorkerLost):
		code = exitIncomplete
	case runErr != nil:
		code = out.fatal("%v", runErr)
	}
	code = reportCoordinated(inv, outcome, out, code)
	inv.metrics.finish(ctx)
	return code
}

// reportCoordinated prints what the lost workers left unaccounted for (and what they
// sent after, kept apart), then the merged report (text on stderr, --json), and returns
// the exit status. The report is written even when every worker was lost.
func reportCoordinated(inv *invocation, o *cluster.Outcome, out *coordinatorOutput, code int) int {
	for _, w := range o.Workers {
		if w.Lost {
			reportLost(out, w)
		}
	}
	if o.StartSkew > 0 || len(o.Workers) > 0 && !o.StartAt.IsZero() {
		out.say("start %s, measured start skew %v", o.StartAt.UTC().Format(time.RFC3339Nano), o.StartSkew)
	}
	m, err := cluster.MergeOutcome(o, inv.plan)
	for _, e := range m.Unreadable {
		code = max(code, out.fatal("%v", e))
	}
	if err != nil {
		return out.fatal("%v", err)
	}
	if m.Report == nil {
		return max(code, exitFatal)
	}
	for _, w := range m.Warnings {
		out.say("warning: %s", w)
	}
	inv.e2e.finish(m.Report, func(err error) { out.say("warning: %v", err) }) // the coordinator asks the sinks
	if total, err := m.Report.Snapshot(); err == nil {
		inv.metrics.final(total) // --metrics-addr: the merged run's exact totals
	}
	breached, err := checkThresholds(m.Report, inv.plan.Thresholds.Exprs) // over the merged run (report.go)
	if err != nil {
		return out.fatal("%v", err)
	}
	if len(breached) > 0 && code == exitOK {
		defer out.fatal("threshold breached: %s", metrics.DescribeBreaches(breached))
		code = exitThreshold
	}
	if !inv.out.quiet {
		if o.Incomplete {
			out.printf("%s: INCOMPLETE: %d of %d workers delivered their results\n", out.name, m.Delivered, len(o.Workers))
		}
		if err := out.writeText(m.Report); err != nil {
			return out.fatal("%v", err)
		}
	}
	if inv.out.jsonFile != "" {
		if err := metrics.WriteReportFile(inv.out.jsonFile, m.Report); err != nil {
			code = max(code, out.fatal("--json %s: %v", inv.out.jsonFile, err))
		}
	}
	if err := writeRunHTML(inv, m.Report); err != nil {
		code = max(code, out.fatal("%v", err))
	}
	return code
}

// reportLost says what a lost worker left unaccounted for, and what it sent after it
// was declared lost, if that came: never merged.
func reportLost(out *coordinatorOutput, w cluster.WorkerResult) {
	out.printf("%s: INCOMPLETE: worker %s (shard %d) lost, last seen %s: %d of its %d messages unaccounted for (last report: %d accepted, %d rejected, %d failed)\n",
		out.name, w.Name, w.Shard, w.LastSeen.UTC().Format(time.RFC3339Nano), w.Unaccounted(), w.Planned, w.Last.Accepted, w.Last.Rejected, w.Last.Failed)
	switch {
	case w.Late == nil:
	case w.Late.Totals != nil:
		t := w.Late.Totals
		out.printf("%s: INCOMPLETE: worker %s came back after it was lost; its own account, not merged: %d accepted, %d rejected, %d failed, %d not started\n",
			out.name, w.Name, t.Accepted, t.Rejected, t.Failed, t.NotStarted)
	default:
		out.printf("%s: INCOMPLETE: worker %s came back after it was lost, without a readable account (%s); not merged\n", out.name, w.Name, w.Late.Error)
	}
}

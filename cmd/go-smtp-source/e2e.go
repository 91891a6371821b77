package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/go-smtp-source/go-smtp-source/e2e"
	"github.com/go-smtp-source/go-smtp-source/engine"
	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/plan"
)

// defaultE2EWait is --e2e-wait's default.
const defaultE2EWait = 30 * time.Second

// e2eOptions are whom this process asks about the messages it traced (--e2e-sink), and
// how long it waits for the last ones; the trace itself is the plan's.
type e2eOptions struct {
	sinks  []string
	wait   time.Duration
	poller *e2e.Poller     // while a run goes on
	ctx    context.Context // an interrupt ends the wait
}

// addE2EFlags adds the end-to-end options.
func addE2EFlags(fs *pflag.FlagSet) {
	fs.Bool("trace", false, "put a trace header (run id, message number, send time) in every message, for go-smtp-sink --trace behind the MTA; --json records the accepted messages' numbers (go-smtp-source reconcile)")
	fs.String("trace-header", plan.DefaultTraceHeader, "--trace: the header's `name`")
	fs.String("trace-run", "", "--trace: the run `id` the header carries (default: a random one; give every --shard of a run the same)")
	fs.StringArray("e2e-sink", nil, "go-smtp-sink --trace --http `URL` the MTA delivers to (http://HOST:PORT, repeatable; implies --trace): the live view shows what it has seen, and the run ends with what was delivered, late, lost or duplicated")
	fs.String("e2e-wait", flagDuration(defaultE2EWait), "--e2e-sink: at the end, how long to wait for accepted messages not yet delivered (those that come later are late)")
}

// parseE2E reads the end-to-end options: the plan's trace, the sinks to poll.
func parseE2E(f flags, inv *invocation) error {
	o := &inv.e2e
	o.sinks, _ = f.GetStringArray("e2e-sink")
	for _, s := range o.sinks {
		if _, err := e2e.TraceURL(s); err != nil {
			return usagef("--e2e-sink: %v", err)
		}
	}
	var err error
	if o.wait, err = parseWait(f.str("e2e-wait")); err != nil {
		return err
	}
	traced := f.on("trace") || len(o.sinks) > 0
	if !traced {
		if f.Changed("trace-header") || f.Changed("trace-run") || f.Changed("e2e-wait") {
			return usagef("--trace-header, --trace-run and --e2e-wait need --trace or --e2e-sink")
		}
		return checkDeliveryThresholds(inv)
	}
	return traceOptions(f, inv)
}

// traceOptions puts the trace into the plan.
func traceOptions(f flags, inv *invocation) error {
	p := &inv.plan
	switch {
	case p.FindMax != nil:
		return usagef("--trace, --e2e-sink: a capacity search is many runs; trace a run of one rate")
	case p.Shard != nil && !f.Changed("trace-run"):
		return usagef("--shard with --trace: give every shard of the run the same --trace-run ID")
	}
	t := &plan.Trace{Header: f.str("trace-header"), Run: f.str("trace-run")}
	if t.Run == "" {
		var err error
		if t.Run, err = plan.NewTraceRun(); err != nil {
			return fatalf("%v", err)
		}
	}
	if err := plan.CheckTraceHeader(t.Header); err != nil {
		return usagef("--trace-header: %v", err)
	}
	if err := plan.CheckTraceRun(t.Run); err != nil {
		return usagef("--trace-run: %v", err)
	}
	p.Trace = t
	return checkDeliveryThresholds(inv)
}

// checkDeliveryThresholds refuses a threshold on delivery that nothing would measure:
// only the sinks know (a --trace run is reconciled later: `reconcile --threshold`).
func checkDeliveryThresholds(inv *invocation) error {
	if len(inv.e2e.sinks) > 0 {
		return nil
	}
	for _, e := range inv.plan.Thresholds.Exprs {
		t, err := metrics.ParseThreshold(e)
		if err != nil {
			return usagef("--threshold: %v", err)
		}
		if t.Metric.Kind == metrics.KindDelivery || t.Metric.Kind == metrics.KindPhase && t.Metric.Phase == metrics.Delivery {
			return usagef("--threshold %s: only the sinks know: add --e2e-sink (or give it to reconcile)", e)
		}
	}
	return nil
}

func parseWait(v string) (time.Duration, error) {
	if v == "0" || v == "0s" {
		return 0, nil
	}
	return parseDuration("--e2e-wait", v)
}

// start starts polling the sinks, if any (their URLs were checked with the options);
// ctx's end (an interrupt) ends the wait at the end.
func (o *e2eOptions) start(ctx context.Context, p plan.Plan) error {
	o.ctx = ctx
	if len(o.sinks) == 0 || p.Trace == nil {
		return nil
	}
	poller, err := e2e.NewPoller(e2e.Config{Sinks: o.sinks, Run: p.Trace.Run, Header: p.Trace.Header})
	if err != nil {
		return err
	}
	poller.Start()
	o.poller = poller
	return nil
}

// stop ends the polls, if the run did not get to finish.
func (o *e2eOptions) stop() {
	if o.poller != nil {
		o.poller.Stop()
	}
}

// live adds what the sinks have seen to the live view (the line print shows).
func (o *e2eOptions) live(print func(engine.Progress)) func(engine.Progress) {
	if o.poller == nil || print == nil {
		return print
	}
	return func(p engine.Progress) {
		l := o.poller.Live()
		p.Sinks, p.Delivered, p.DeliveryP99 = l.Sinks, l.Delivered, l.DeliveryP99
		print(p)
	}
}

// finish waits for the stragglers and puts what the sinks saw into the report's traced
// run; warn receives what could not be asked. Without sinks it does nothing.
func (o *e2eOptions) finish(report *metrics.Report, warn func(error)) {
	if o.poller == nil {
		return
	}
	if report.E2E == nil || len(report.E2E.Runs) == 0 {
		warn(fmt.Errorf("e2e: the run recorded no accepted messages to look for at the sinks"))
		return
	}
	for i := range report.E2E.Runs {
		run, warnings := o.poller.Finish(o.ctx, report.E2E.Runs[i], o.wait)
		for _, w := range warnings {
			warn(w)
		}
		report.E2E.Runs[i] = run
	}
}

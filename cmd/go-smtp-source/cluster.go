package main

import (
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/go-smtp-source/go-smtp-source/cluster"
	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/plan"
)

// exitIncomplete is the exit status of a cluster run that lost a worker: its result is
// INCOMPLETE (some messages unaccounted for), whatever --on-worker-loss said.
const exitIncomplete = 3

// toolVersion is what coordinator and workers compare: they must be the same build.
func toolVersion() string {
	v := fmt.Sprintf("go-smtp-source proto %d", cluster.ProtocolVersion)
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v += " " + bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" || s.Key == "vcs.modified" {
			v += " " + s.Key + "=" + s.Value
		}
	}
	return v
}

// coordinatorOutput is where a coordinator's lines go, from its goroutines at once.
type coordinatorOutput struct {
	name   string
	mu     sync.Mutex
	stderr io.Writer
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
	return metrics.WriteText(o.stderr, r)
}

func (o *coordinatorOutput) printf(format string, a ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintf(o.stderr, format, a...)
}

// runCoordinator runs the plan over --cluster-workers workers and reports the exact
// merge of their results.
func runCoordinator(name string, inv *invocation, stderr io.Writer) int {
	out := &coordinatorOutput{name: name, stderr: stderr}
	if inv.plan.Load.Model == plan.ModelRampingSessions {
		out.printf("%s: fatal: --cluster-workers: --stages-of sessions cannot be split yet\n", name)
		return exitUsage
	}
	nc, url, stop, err := connectCoordinator(name, inv.cluster, out)
	if err != nil {
		return out.fatal("%v", err)
	}
	defer stop()
	ctx, interrupted, release := onInterrupt()
	defer release()
	co := inv.cluster
	ccfg := cluster.CoordinatorConfig{Workers: co.workers, Plan: inv.plan, Version: toolVersion(),
		JoinTimeout: co.joinTimeout, ContinueOnLoss: co.continueLoss, Event: func(text string) { out.say("%s", text) }}
	if showProgress(inv.out, stderr) {
		ccfg.Progress = func(p cluster.Progress) {
			out.say("%5.0fs  accepted %d  rejected %d  failed %d  %.0f msg/s  in flight %d  workers %d  lost %d",
				p.Elapsed.Seconds(), p.Accepted, p.Rejected, p.Failed, p.Rate, p.InFlight, p.Workers, p.Lost)
		}
	}
	out.say("waiting for %d workers on %s", co.workers, url)
	outcome, runErr := cluster.Coordinate(ctx, nc, ccfg)
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
	return reportCoordinated(inv, outcome, out, code)
}

// connectCoordinator connects to --cluster-nats, or starts the embedded NATS server of
// --cluster-listen (its token given or generated, printed on stderr only: never in a
// file) and connects to it; stop ends both.
func connectCoordinator(name string, co clusterOptions, out *coordinatorOutput) (nc *nats.Conn, url string, stop func(), err error) {
	url, opts := co.natsURL, co.auth.options()
	stop = func() {}
	if co.listen != "" {
		token := co.auth.token
		if token == "" {
			if token, err = cluster.NewToken(); err != nil {
				return nil, "", stop, err
			}
		}
		srv, err := cluster.StartServer(co.listen, token)
		if err != nil {
			return nil, "", stop, err
		}
		url, opts, stop = srv.URL, []nats.Option{nats.Token(token)}, srv.Shutdown
		if co.auth.token == "" {
			out.say("embedded NATS server on %s; token %s", srv.URL, token)
		} else {
			out.say("embedded NATS server on %s (token as given)", srv.URL)
		}
		out.say("on each worker: GSS_NATS_TOKEN=… %s worker --nats nats://THIS-HOST:PORT", name)
	}
	opts = append(opts, nats.Name("go-smtp-source coordinator"), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))
	if nc, err = nats.Connect(url, opts...); err != nil {
		stop()
		return nil, "", func() {}, fmt.Errorf("cluster: NATS %s: %v", url, err)
	}
	shutdown := stop
	return nc, url, func() { nc.Close(); shutdown() }, nil
}

// reportCoordinated prints what the lost workers left unaccounted for, then the merged
// report (text on stderr, --json), and returns the exit status.
func reportCoordinated(inv *invocation, o *cluster.Outcome, out *coordinatorOutput, code int) int {
	for _, w := range o.Workers {
		if w.Lost {
			out.printf("%s: INCOMPLETE: worker %s (shard %d) lost, last seen %s: %d of its %d messages unaccounted for (last report: %d accepted, %d rejected, %d failed)\n",
				out.name, w.Name, w.Shard, w.LastSeen.UTC().Format(time.RFC3339Nano), w.Unaccounted(), w.Planned, w.Last.Accepted, w.Last.Rejected, w.Last.Failed)
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
	if !inv.out.quiet {
		if o.Incomplete {
			out.printf("%s: INCOMPLETE: %d of %d workers delivered their results\n", out.name, m.Delivered, len(o.Workers))
		}
		if err := out.writeText(m.Report); err != nil {
			return out.fatal("%v", err)
		}
	}
	if inv.out.jsonFile != "" {
		if err := writeFile(inv.out.jsonFile, m.Report.WriteJSON); err != nil {
			code = max(code, out.fatal("--json %s: %v", inv.out.jsonFile, err))
		}
	}
	return code
}

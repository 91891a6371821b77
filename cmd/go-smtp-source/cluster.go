package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/go-smtp-source/go-smtp-source/cluster"
	"github.com/go-smtp-source/go-smtp-source/engine"
	"github.com/go-smtp-source/go-smtp-source/metrics"
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

// clusterPlan is the "cluster" object of a coordinated run's plan: who did what, the
// start and its skew, and what a lost worker left unaccounted for.
type clusterPlan struct {
	Run         string          `json:"run"`
	StartAt     time.Time       `json:"start_at"`
	StartSkewNs int64           `json:"start_skew_ns"`
	Incomplete  bool            `json:"incomplete"`
	Aborted     string          `json:"aborted,omitempty"`
	Workers     []clusterWorker `json:"workers"`
}

type clusterWorker struct {
	Name        string `json:"name"`
	Host        string `json:"host"`
	Shard       int    `json:"shard"`
	Planned     int64  `json:"planned"`
	Lost        bool   `json:"lost,omitempty"`
	Unaccounted int64  `json:"unaccounted,omitempty"`
	LastSeen    string `json:"last_seen,omitempty"`
	Error       string `json:"error,omitempty"`
	OffsetNs    int64  `json:"clock_offset_ns"`
	RTTNs       int64  `json:"rtt_ns"`
}

// runCoordinator runs the command line over --cluster-workers workers and reports the
// exact merge of their results.
func runCoordinator(name string, args []string, opts *options, cfg engine.Config, stdout, stderr io.Writer) int {
	co := opts.cluster
	if len(cfg.SessionStages) > 0 {
		fmt.Fprintf(stderr, "%s: fatal: --cluster-workers: --stages-of sessions cannot be split yet\n", name)
		return exitUsage
	}
	var mu sync.Mutex
	say := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stderr, "%s: cluster: %s\n", name, fmt.Sprintf(format, a...))
	}
	fatal := func(format string, a ...any) int {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stderr, "%s: fatal: %s\n", name, fmt.Sprintf(format, a...))
		return exitFatal
	}

	url, natsOpts := co.natsURL, co.auth.options()
	if co.listen != "" {
		token := co.auth.token
		if token == "" {
			var err error
			if token, err = cluster.NewToken(); err != nil {
				return fatal("%v", err)
			}
		}
		srv, err := cluster.StartServer(co.listen, token)
		if err != nil {
			return fatal("%v", err)
		}
		defer srv.Shutdown()
		url, natsOpts = srv.URL, []nats.Option{nats.Token(token)}
		if co.auth.token == "" {
			say("embedded NATS server on %s; token %s", srv.URL, token)
		} else {
			say("embedded NATS server on %s (token as given)", srv.URL)
		}
		say("on each worker: GSS_NATS_TOKEN=… %s worker --nats nats://THIS-HOST:PORT", name)
	}
	natsOpts = append(natsOpts, nats.Name("go-smtp-source coordinator"), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))
	nc, err := nats.Connect(url, natsOpts...)
	if err != nil {
		return fatal("cluster: NATS %s: %v", url, err)
	}
	defer nc.Close()

	ctx, interrupted, release := onInterrupt()
	defer release()

	sessions := int64(cfg.Sessions)
	if cfg.Rate > 0 || len(cfg.Stages) > 0 {
		sessions = int64(cfg.MaxSessions)
	}
	ccfg := cluster.CoordinatorConfig{
		Workers: co.workers, Args: co.planArgs, Fingerprint: co.shard.fingerprint,
		Messages: runMessages(cfg), Sessions: sessions, Version: toolVersion(),
		JoinTimeout: co.joinTimeout, ContinueOnLoss: co.continueLoss,
		Event: func(text string) { say("%s", text) },
	}
	if opts.progress || !opts.quiet && stderr == io.Writer(os.Stderr) && isTerminal(os.Stderr) {
		ccfg.Progress = func(p cluster.Progress) {
			say("%5.0fs  accepted %d  rejected %d  failed %d  %.0f msg/s  in flight %d  workers %d  lost %d",
				p.Elapsed.Seconds(), p.Accepted, p.Rejected, p.Failed, p.Rate, p.InFlight, p.Workers, p.Lost)
		}
	}
	say("waiting for %d workers on %s", co.workers, url)
	out, runErr := cluster.Coordinate(ctx, nc, ccfg)
	if out == nil {
		return fatal("%v", runErr)
	}

	code := exitOK
	switch {
	case interrupted.exitStatus() != exitOK:
		code = interrupted.exitStatus()
	case errors.Is(runErr, cluster.ErrWorkerLost):
		code = exitIncomplete
	case runErr != nil:
		code = exitFatal
		fatal("%v", runErr)
	}

	cp := clusterPlan{Run: out.Run, StartAt: out.StartAt.UTC(), StartSkewNs: int64(out.StartSkew), Incomplete: out.Incomplete, Aborted: out.Aborted}
	var reports []*metrics.Report
	for i := range out.Workers {
		w := &out.Workers[i]
		cw := clusterWorker{Name: w.Name, Host: w.Host, Shard: w.Shard, Planned: w.Planned, Lost: w.Lost, Error: w.Error,
			OffsetNs: w.OffsetNs, RTTNs: int64(w.RTT)}
		if w.Lost {
			cw.Unaccounted = w.Unaccounted()
			cw.LastSeen = w.LastSeen.UTC().Format(time.RFC3339Nano)
			fmt.Fprintf(stderr, "%s: INCOMPLETE: worker %s (shard %d) lost, last seen %s: %d of its %d messages unaccounted for (last report: %d accepted, %d rejected, %d failed)\n",
				name, w.Name, w.Shard, cw.LastSeen, cw.Unaccounted, w.Planned, w.Last.Accepted, w.Last.Rejected, w.Last.Failed)
		}
		cp.Workers = append(cp.Workers, cw)
		if w.Document == nil {
			continue
		}
		r, err := metrics.ReadReport(bytes.NewReader(w.Document))
		if err != nil {
			fatal("worker %s: result document: %v", w.Name, err)
			if code == exitOK {
				code = exitFatal
			}
			continue
		}
		r.Origin = fmt.Sprintf("%s (shard %d)", w.Name, w.Shard)
		reports = append(reports, r)
	}
	if out.StartSkew > 0 || len(out.Workers) > 0 && !out.StartAt.IsZero() {
		say("start %s, measured start skew %v", out.StartAt.UTC().Format(time.RFC3339Nano), out.StartSkew)
	}
	if len(reports) == 0 {
		if code == exitOK {
			code = exitFatal
		}
		return code
	}
	merged, warnings, err := metrics.Merge(reports, -1)
	if err != nil {
		return fatal("%v", err)
	}
	for _, w := range warnings {
		say("warning: %s", w)
	}
	plans := make([]json.RawMessage, len(reports))
	for i, r := range reports {
		plans[i] = r.Plan
	}
	if mp, err := cluster.MergedPlan(plans); err == nil {
		var m map[string]any
		if json.Unmarshal(mp, &m) == nil {
			m["args"] = args
			m["cluster"] = cp
			if b, err := json.Marshal(m); err == nil {
				merged.Plan = b
			}
		}
	}
	if !opts.quiet {
		if out.Incomplete {
			fmt.Fprintf(stderr, "%s: INCOMPLETE: %d of %d workers delivered their results\n", name, len(reports), len(out.Workers))
		}
		if err := metrics.WriteText(stderr, merged); err != nil {
			return fatal("%v", err)
		}
	}
	if opts.jsonFile != "" {
		if err := writeFile(opts.jsonFile, merged.WriteJSON); err != nil {
			fatal("--json %s: %v", opts.jsonFile, err)
			if code == exitOK {
				code = exitFatal
			}
		}
	}
	return code
}

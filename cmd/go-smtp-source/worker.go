package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/pflag"

	"github.com/go-smtp-source/go-smtp-source/cluster"
	"github.com/go-smtp-source/go-smtp-source/engine"
	"github.com/go-smtp-source/go-smtp-source/metrics"
)

const workerUsage = "worker --nats URL [--name NAME] [--weight N] [--allow-target HOST[:PORT],…] [--once] [NATS authentication]"

// runWorker is `go-smtp-source worker`: it joins the runs coordinators announce on NATS,
// one after the other, until SIGINT/SIGTERM (exit 0). Exit status 1 when NATS cannot be
// reached (or refuses the credentials), 2 on a command-line error.
func runWorker(name string, args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet(name+" worker", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	url := fs.String("nats", "", "the NATS server's `URL` (nats://host:4222, tls://…)")
	host, _ := os.Hostname()
	wname := fs.String("name", fmt.Sprintf("%s-%d", host, os.Getpid()), "this worker's `name`, unique in the cluster")
	weight := fs.Int64("weight", 1, "this worker's share of the load relative to the others'")
	allow := fs.StringSlice("allow-target", nil, "refuse plans aimed anywhere but these `HOST[:PORT]`s (and unix:PATHs)")
	grace := fs.Duration("grace", 5*time.Second, "after SIGINT/SIGTERM, how long sessions in flight may finish")
	sourceAddrs := fs.StringSlice("source-addr", nil, "local `addresses` this worker connects from, round-robin (the plan's --source-addr is not passed on: addresses belong to machines)")
	eventLoops := fs.Int("event-loops", 0, "this worker's event loops (default: one per CPU core)")
	once := fs.Bool("once", false, "serve one run, then exit: 0 if it succeeded, 1 if not (for a Kubernetes Job)")
	addNATSAuthFlags(fs, "")
	help := fs.BoolP("help", "h", false, "print this help")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		if err == nil {
			err = fmt.Errorf("unexpected operand %q (a worker takes no test options: it receives the plan)", fs.Arg(0))
		}
		fmt.Fprintf(stderr, "%s: fatal: worker: %v\n", name, err)
		fmt.Fprintf(stderr, "%s: usage: %s %s (-h for help)\n", name, name, workerUsage)
		return exitUsage
	}
	if *help {
		fmt.Fprintf(stdout, "usage: %s %s\n\nServes cluster runs: joins the runs a coordinator (go-smtp-source --cluster-workers N …)\nannounces, runs its shard of each, reports once a second, and stops sending by itself\nwhen the coordinator goes silent.\n\n%s", name, workerUsage, fs.FlagUsages())
		return exitOK
	}
	if *url == "" {
		fmt.Fprintf(stderr, "%s: fatal: worker: --nats URL is required\n", name)
		return exitUsage
	}
	if *weight < 1 {
		fmt.Fprintf(stderr, "%s: fatal: worker: --weight must be at least 1\n", name)
		return exitUsage
	}
	auth, err := parseNATSAuth(fs, "")
	if err != nil {
		fmt.Fprintf(stderr, "%s: fatal: worker: %v\n", name, err)
		return exitUsage
	}
	allowed, err := parseAllowTargets(*allow)
	if err != nil {
		fmt.Fprintf(stderr, "%s: fatal: worker: %v\n", name, err)
		return exitUsage
	}
	var sources []net.IP
	for _, a := range *sourceAddrs {
		ip := net.ParseIP(strings.Trim(a, "[]"))
		if ip == nil {
			fmt.Fprintf(stderr, "%s: fatal: worker: --source-addr: not an IP address: %q\n", name, a)
			return exitUsage
		}
		sources = append(sources, ip)
	}

	var mu sync.Mutex
	say := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stderr, "%s: worker %s: %s\n", name, *wname, fmt.Sprintf(format, a...))
	}
	opts := append(auth.options(), nats.Name("go-smtp-source worker "+*wname), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				say("disconnected from NATS: %v", err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { say("reconnected to NATS") }))
	nc, err := nats.Connect(*url, opts...)
	if err != nil {
		fmt.Fprintf(stderr, "%s: fatal: worker: NATS %s: %v\n", name, *url, err)
		return exitFatal
	}
	defer nc.Close()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	say("connected to %s, waiting for runs", *url)
	err = cluster.Serve(ctx, nc, cluster.WorkerConfig{
		Name: *wname, Host: host, Version: toolVersion(), Weight: *weight, Once: *once,
		Runner: &cliRunner{name: *wname, allowed: allowed, grace: *grace, sources: sources, eventLoops: *eventLoops},
		Event:  func(run, text string) { say("%s", text) },
	})
	if err != nil {
		fmt.Fprintf(stderr, "%s: fatal: worker: %v\n", name, err)
		return exitFatal
	}
	say("stopped")
	return exitOK
}

// allowTarget is one --allow-target entry: a host with an optional port, or a unix path.
type allowTarget struct{ host, port, path string }

func parseAllowTargets(list []string) ([]allowTarget, error) {
	var out []allowTarget
	for _, a := range list {
		if strings.HasPrefix(a, "unix:") {
			out = append(out, allowTarget{path: strings.TrimPrefix(a, "unix:")})
			continue
		}
		t := allowTarget{host: a}
		if h, p, err := net.SplitHostPort(a); err == nil {
			t.host, t.port = h, p
		}
		t.host = strings.Trim(t.host, "[]")
		if t.host == "" {
			return nil, fmt.Errorf("--allow-target: empty host in %q", a)
		}
		out = append(out, t)
	}
	return out, nil
}

// permits reports whether the target is allowed (everything is when the list is empty).
func permits(list []allowTarget, t engine.Target) bool {
	if len(list) == 0 {
		return true
	}
	for _, a := range list {
		if t.Network == "unix" {
			if a.path != "" && a.path == t.Path {
				return true
			}
			continue
		}
		port := t.Port
		if port == "smtp" {
			port = "25"
		}
		if a.path == "" && strings.EqualFold(a.host, t.Host) && (a.port == "" || a.port == port || a.port == t.Port) {
			return true
		}
	}
	return false
}

// cliRunner prepares a shard from the plan's arguments exactly as a --shard run would.
type cliRunner struct {
	name       string
	allowed    []allowTarget
	grace      time.Duration
	sources    []net.IP // --source-addr
	eventLoops int
}

type cliPrepared struct {
	opts *options
	cfg  engine.Config
	args []string
}

func (r *cliRunner) Prepare(plan cluster.Plan, shard int) (cluster.Prepared, error) {
	id := cluster.ShardID{Index: shard, Weights: plan.Weights}
	args := append([]string{"--shard", id.String(), "--quiet"}, plan.Args...)
	o, _, err := parseOptions(args)
	if err != nil {
		return nil, fmt.Errorf("plan arguments %q: %v", plan.Args, err)
	}
	o.jsonFile, o.hdrLog, o.logMessages, o.count, o.verbose, o.progress = "", "", "", false, 0, false
	o.cluster.shard.fingerprint, o.cluster.shard.worker = plan.Fingerprint, r.name
	o.sourceAddrs, o.eventLoops = r.sources, r.eventLoops
	if o.grace <= 0 || o.grace > r.grace {
		o.grace = r.grace
	}
	cfg, err := buildConfig(o)
	if err != nil {
		return nil, err
	}
	if !permits(r.allowed, cfg.Target) {
		return nil, fmt.Errorf("target %s is not in this worker's --allow-target", o.target)
	}
	if err := applyShard(o.cluster.shard, &cfg); err != nil {
		return nil, err
	}
	return &cliPrepared{opts: o, cfg: cfg, args: plan.Args}, nil
}

func (p *cliPrepared) Run(ctx context.Context, startAt time.Time, progress func(cluster.Report)) ([]byte, time.Time, error) {
	cfg := p.cfg
	cfg.StartAt, cfg.MaxStartLate = startAt, 100*time.Millisecond
	cfg.Progress = func(e engine.Progress) {
		progress(cluster.Report{Accepted: e.Accepted, Rejected: e.Rejected, Failed: e.Failed, InFlight: e.InFlight})
	}
	releaseAfterHandshakeBursts(&cfg)
	res, runErr := engine.Run(ctx, cfg)
	if errors.Is(runErr, engine.ErrInterrupted) {
		runErr = fmt.Errorf("stopped: %d messages in flight were cut off", res.Failed)
	}
	if res.Metrics == nil {
		return nil, res.Start, runErr
	}
	pl := newPlan(p.args, p.opts, cfg)
	pl.Messages = res.Planned
	totals := metrics.Totals{Planned: res.Planned, Accepted: res.Accepted, Rejected: res.Rejected,
		Failed: res.Failed, NotStarted: res.NotStarted, Sessions: res.Sessions}
	report := metrics.NewReport(pl, res.Start, res.Elapsed, totals, res.Metrics, nil)
	report.Intervals = res.Intervals
	var buf bytes.Buffer
	if err := report.WriteJSON(&buf); err != nil {
		return nil, res.Start, fmt.Errorf("result document: %w", err)
	}
	return buf.Bytes(), res.Start, runErr
}

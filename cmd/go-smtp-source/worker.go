package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/go-smtp-source/go-smtp-source/internal/cliflags"

	"github.com/go-smtp-source/go-smtp-source/cluster"
	"github.com/go-smtp-source/go-smtp-source/plan"
)

const workerUsage = "worker --nats URL [--name NAME] [--weight N] [--allow-target HOST[:PORT],…] [--once] [--nats-wait DURATION] [NATS authentication]"

// runWorker is `go-smtp-source worker`: it joins the runs coordinators announce on NATS,
// one after the other, until SIGINT/SIGTERM (exit 0), and runs its shard of each plan as
// the coordinator shipped it (cluster.EngineRunner; no command line to parse). A NATS
// server not up yet is waited for (--nats-wait). Exit status 1 when NATS cannot be
// reached in that time (or refuses the credentials), 2 on a command-line error.
func runWorker(name string, args []string, stdout, stderr io.Writer) int {
	fs, w, err := parseWorkerFlags(name, args)
	if err != nil {
		fmt.Fprintf(stderr, "%s: fatal: worker: %v\n", name, err)
		if ue, ok := err.(*usageError); ok && ue.showUsage {
			fmt.Fprintf(stderr, "%s: usage: %s %s (-h for help)\n", name, name, workerUsage)
		}
		return exitUsage
	}
	if w == nil {
		fmt.Fprintf(stdout, "%s\nServes cluster runs: joins the runs a coordinator (go-smtp-source --cluster-workers N …)\nannounces, runs its shard of each, reports once a second, and stops sending by itself\nwhen the coordinator goes silent.\n\n%s", cliflags.UsageLine(name, workerUsage), subcommandOptions(fs))
		return exitOK
	}
	var mu sync.Mutex
	say := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stderr, "%s: worker %s: %s\n", name, w.cfg.Name, fmt.Sprintf(format, a...))
	}
	if w.cfg.Version, err = cluster.Version(); err != nil {
		fmt.Fprintf(stderr, "%s: fatal: worker: %v\n", name, err)
		return exitFatal
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	nc, err := cluster.ConnectWorker(ctx, w.url, w.cfg.Name, w.auth, w.natsWait, func(text string) { say("%s", text) })
	if err != nil {
		if ctx.Err() != nil {
			say("stopped")
			return exitOK
		}
		fmt.Fprintf(stderr, "%s: fatal: worker: NATS %s: %v\n", name, w.url, err)
		return exitFatal
	}
	defer nc.Close()
	say("connected to %s, waiting for runs", w.url)
	w.cfg.Event = func(run, text string) { say("%s", text) }
	if err := cluster.Serve(ctx, nc, w.cfg); err != nil {
		fmt.Fprintf(stderr, "%s: fatal: worker: %v\n", name, err)
		return exitFatal
	}
	say("stopped")
	return exitOK
}

// workerOptions is a parsed worker command line.
type workerOptions struct {
	url      string
	natsWait time.Duration
	auth     cluster.NATSAuth
	cfg      cluster.WorkerConfig
}

// parseWorkerFlags reads the worker's options; a nil *workerOptions (and no error)
// means -h.
func parseWorkerFlags(name string, args []string) (*pflag.FlagSet, *workerOptions, error) {
	d := plan.Defaults()
	fs := pflag.NewFlagSet(name+" worker", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	url := fs.String("nats", "", "the NATS server's `URL` (nats://host:4222, tls://…)")
	host, _ := os.Hostname()
	wname := fs.String("name", fmt.Sprintf("%s-%d", host, os.Getpid()), "this worker's `name`, unique in the cluster")
	weight := fs.Int64("weight", 1, "this worker's share of the load relative to the others'")
	allow := fs.StringSlice("allow-target", nil, "refuse plans aimed anywhere but these `HOST[:PORT]`s (and unix:PATHs)")
	grace := fs.Duration("grace", d.Grace, "after SIGINT/SIGTERM, how long sessions in flight may finish")
	sourceAddrs := fs.StringSlice("source-addr", nil, "local `addresses` this worker connects from, round-robin (the plan's --source-addr is not passed on: addresses belong to machines)")
	eventLoops := fs.Int("event-loops", d.Local.EventLoops, "this worker's event loops (default: one per CPU core)")
	once := fs.Bool("once", false, "serve one run, then exit: 0 if it succeeded, 1 if not (for a Kubernetes Job)")
	natsWait := fs.Duration("nats-wait", cluster.DefaultNATSWait, "how long to wait for a NATS server that is not up yet")
	addNATSAuthFlags(fs, "")
	help := fs.BoolP("help", "h", false, "print this help")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		if err == nil {
			err = fmt.Errorf("unexpected operand %q (a worker takes no test options: it receives the plan)", fs.Arg(0))
		}
		return fs, nil, &usageError{msg: err.Error(), showUsage: true}
	}
	if *help {
		return fs, nil, nil
	}
	switch {
	case *url == "":
		return fs, nil, errors.New("--nats URL is required")
	case *weight < 1:
		return fs, nil, errors.New("--weight must be at least 1")
	case *natsWait < 0:
		return fs, nil, errors.New("--nats-wait must not be negative")
	}
	w := &workerOptions{url: *url, natsWait: *natsWait}
	runner := &cluster.EngineRunner{Name: *wname, Grace: *grace, Credentials: readCredentials}
	var err error
	if w.auth, err = parseNATSAuth(fs, ""); err != nil {
		return fs, nil, err
	}
	if runner.Allowed, err = cluster.ParseAllowList(*allow); err != nil {
		return fs, nil, err
	}
	if runner.Local.SourceAddrs, err = parseSourceAddrs(*sourceAddrs); err != nil {
		return fs, nil, err
	}
	runner.Local.EventLoops = *eventLoops
	w.cfg = cluster.WorkerConfig{Name: *wname, Host: host, Weight: *weight, Once: *once, Runner: runner}
	return fs, w, nil
}

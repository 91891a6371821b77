package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/spf13/pflag"

	"github.com/go-smtp-source/go-smtp-source/cluster"
	"github.com/go-smtp-source/go-smtp-source/engine"
	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/metrics/promexport"
)

// metricsOptions are --metrics-addr and --metrics-linger, and the endpoint while a run
// goes on.
type metricsOptions struct {
	addr   string
	linger time.Duration
	exp    *promexport.Exporter
	server *http.Server
}

// addMetricsFlags adds the Prometheus endpoint's options.
func addMetricsFlags(fs *pflag.FlagSet) {
	fs.String("metrics-addr", "", "serve Prometheus/OpenMetrics metrics at http://`address`/metrics while the run goes (a coordinator: the merged run; port 0: any, the address is printed on stderr)")
	fs.String("metrics-linger", "", "--metrics-addr: after the run, serve until a scrape has read its final figures, for at most this `duration` (default: not at all)")
}

// parseMetrics reads the Prometheus endpoint's options.
func parseMetrics(f flags, inv *invocation) error {
	o := &inv.metrics
	o.addr = f.str("metrics-addr")
	if !f.Changed("metrics-linger") {
		return nil
	}
	if o.addr == "" {
		return usagef("--metrics-linger needs --metrics-addr")
	}
	var err error
	o.linger, err = parseDuration("--metrics-linger", f.str("metrics-linger"))
	return err
}

// start binds the address (a bad one fails before any traffic), serves the exporter on
// it and says where on stderr; nothing without --metrics-addr.
func (o *metricsOptions) start(name string, stderr io.Writer) error {
	if o.addr == "" {
		return nil
	}
	l, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("--metrics-addr: %w", err)
	}
	o.exp = promexport.New()
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", o.exp.Handler())
	o.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = o.server.Serve(l) }() // ends with stop
	fmt.Fprintf(stderr, "%s: metrics: listening on http://%s/metrics\n", name, l.Addr())
	return nil
}

// hook feeds a run's seconds and live figures to the exporter, besides h's own hooks.
func (o *metricsOptions) hook(h *engine.Hooks) {
	if o.exp == nil {
		return
	}
	h.OnInterval = chainInterval(h.OnInterval, o.exp.Interval)
	h.Progress = chainProgress(h.Progress, o.exp.Progress)
}

// hookCoordinator feeds the merged seconds and the merged live view to the exporter.
func (o *metricsOptions) hookCoordinator(c *cluster.CoordinatorConfig) {
	if o.exp == nil {
		return
	}
	c.OnInterval = chainInterval(c.OnInterval, o.exp.Interval)
	c.Progress = chainProgress(c.Progress, o.exp.Progress)
}

func chainInterval(a, b func(start, end time.Time, snap *metrics.Snapshot)) func(start, end time.Time, snap *metrics.Snapshot) {
	if a == nil {
		return b
	}
	return func(start, end time.Time, snap *metrics.Snapshot) { a(start, end, snap); b(start, end, snap) }
}

func chainProgress(a, b func(metrics.Live)) func(metrics.Live) {
	if a == nil {
		return b
	}
	return func(l metrics.Live) { a(l); b(l) }
}

// final sets the exporter to the run's exact totals.
func (o *metricsOptions) final(total *metrics.Snapshot) {
	if o.exp != nil {
		o.exp.Final(total)
	}
}

// finish ends the run's figures (final's, or the last seconds') and, with
// --metrics-linger, serves until a scrape has read them, the linger has passed or ctx
// is done; then the endpoint closes.
func (o *metricsOptions) finish(ctx context.Context) {
	if o.exp == nil {
		return
	}
	o.exp.Final(nil)
	if o.linger > 0 {
		t := time.NewTimer(o.linger)
		select {
		case <-o.exp.Served():
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	o.stop()
}

// stop closes the endpoint (a scrape under way is let finish, for a moment).
func (o *metricsOptions) stop() {
	if o.server == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := o.server.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		_ = o.server.Close()
	}
	o.server = nil
}

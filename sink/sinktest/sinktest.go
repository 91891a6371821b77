// Package sinktest runs go-smtp-sink's server in a test's process, for the tests of the
// packages above sink (sink's own tests cannot import it: it imports sink).
package sinktest

import (
	"context"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/sink"
)

// Start serves cfg until the test ends and returns the server once it accepts
// connections; without cfg.Listen it listens on a loopback port of its own (srv.Addr).
func Start(tb testing.TB, cfg sink.Config) *sink.Server {
	tb.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "tcp4://127.0.0.1:0"
	}
	srv, err := sink.NewServer(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	select {
	case <-srv.Ready():
	case err := <-served:
		tb.Fatalf("sink: %v", err)
	case <-time.After(10 * time.Second):
		tb.Fatal("sink not ready after 10s")
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-served
	})
	return srv
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/go-smtp-source/go-smtp-source/sink"
)

// listenHTTP binds --http's address before the sink starts, so a bad address fails the
// start-up like a bad SMTP address; nil without --http.
func listenHTTP(o *options) (net.Listener, error) {
	return listenOn("--http", o.push.httpListen)
}

// listenMetrics binds --metrics-addr's address, as listenHTTP does; nil without it.
func listenMetrics(o *options) (net.Listener, error) {
	return listenOn("--metrics-addr", o.push.metricsListen)
}

func listenOn(flag, addr string) (net.Listener, error) {
	if addr == "" {
		return nil, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	return l, nil
}

// serveHTTP serves the sink's /stats, /trace and /metrics on l and prints the bound
// address in one line (tests and scripts read it when the port was 0); stop ends it.
func serveHTTP(prog string, l net.Listener, srv *sink.Server, errOut io.Writer) (stop func()) {
	if l == nil {
		return func() {}
	}
	return serve(prog, "http", l, srv.HTTPHandler(), errOut, l.Addr().String())
}

// serveMetrics serves only /metrics on l (--metrics-addr), as serveHTTP does.
func serveMetrics(prog string, l net.Listener, srv *sink.Server, errOut io.Writer) (stop func()) {
	if l == nil {
		return func() {}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", srv.MetricsHandler())
	return serve(prog, "metrics", l, mux, errOut, "http://"+l.Addr().String()+"/metrics")
}

func serve(prog, what string, l net.Listener, h http.Handler, errOut io.Writer, where string) (stop func()) {
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(errOut, "%s: warning: %s: %v\n", prog, what, err)
		}
	}()
	fmt.Fprintf(errOut, "%s: %s: listening on %s\n", prog, what, where)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
		<-done
	}
}

// writeTraceFile saves the trace document (--trace-file), as --stats is saved.
func (m *monitor) writeTraceFile() {
	if m.opts.push.traceFile == "" {
		return
	}
	doc, ok := m.srv.TraceDocument(sink.TraceQuery{})
	if !ok {
		return
	}
	if err := writeFileAtomic(m.opts.push.traceFile, doc.JSON()); err != nil {
		fmt.Fprintf(m.errOut, "%s: warning: trace file: %v\n", m.prog, err)
	}
}

// closeListeners closes the listeners bound before a start-up that failed.
func closeListeners(ls ...net.Listener) {
	for _, l := range ls {
		if l != nil {
			l.Close()
		}
	}
}

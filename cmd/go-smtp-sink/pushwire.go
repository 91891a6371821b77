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
	if o.push.httpListen == "" {
		return nil, nil
	}
	l, err := net.Listen("tcp", o.push.httpListen)
	if err != nil {
		return nil, fmt.Errorf("--http: %w", err)
	}
	return l, nil
}

// serveHTTP serves the sink's /stats, /trace and /metrics on l and prints the bound
// address in one line (tests and scripts read it when the port was 0); stop ends it.
func serveHTTP(prog string, l net.Listener, srv *sink.Server, errOut io.Writer) (stop func()) {
	if l == nil {
		return func() {}
	}
	hs := &http.Server{Handler: srv.HTTPHandler(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(errOut, "%s: warning: http: %v\n", prog, err)
		}
	}()
	fmt.Fprintf(errOut, "%s: http: listening on %s\n", prog, l.Addr())
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

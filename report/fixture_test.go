package report

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/e2e"
	"github.com/go-smtp-source/go-smtp-source/engine"
	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/plan"
	"github.com/go-smtp-source/go-smtp-source/sink"
)

// The tests render a real document: go-smtp-source's engine against go-smtp-sink's, in
// this process on loopback, over STARTTLS, the sink refusing a share of the recipients
// and counting the trace header, an open-model run of a few seconds, its thresholds
// evaluated and its end-to-end section reconciled, as the command does. It is made once
// per test binary and read afresh by each test (metrics.ReadReport checks it too).
var fixture struct {
	once sync.Once
	json []byte
	err  string
}

const (
	fixtureRate     = 150 // messages/s
	fixtureMessages = 450 // 3 s of arrivals
)

var fixtureThresholds = []string{"eod.p99 < 5s", "errors == 0", "delivered >= 1"}

func realReport(t *testing.T) *metrics.Report {
	t.Helper()
	fixture.once.Do(func() { fixture.json, fixture.err = runFixture() })
	if fixture.err != "" {
		t.Fatal(fixture.err)
	}
	r, err := metrics.ReadReport(bytes.NewReader(fixture.json))
	if err != nil {
		t.Fatalf("the fixture's document does not read back: %v", err)
	}
	return r
}

// runFixture runs the fixture and returns its document as JSON, or what went wrong.
func runFixture() ([]byte, string) {
	cert, err := sink.SelfSigned("smtp-sink", time.Now())
	if err != nil {
		return nil, err.Error()
	}
	srv, err := sink.NewServer(sink.Config{
		Listen: "tcp4://127.0.0.1:0", EventLoops: 1, TraceHeader: sink.DefaultTraceHeader,
		TLS:     &tls.Config{Certificates: []tls.Certificate{cert}},
		Rejects: []sink.RejectRule{{Verb: sink.VerbRCPT, Code: 550, Enhanced: "5.1.1", Probability: 0.05}},
		Seed:    7,
	})
	if err != nil {
		return nil, err.Error()
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-served
	}()
	select {
	case <-srv.Ready():
	case err := <-served:
		return nil, "sink: " + err.Error()
	case <-time.After(10 * time.Second):
		return nil, "sink not ready after 10s"
	}
	hs := httptest.NewServer(srv.HTTPHandler())
	defer hs.Close()
	return runSource(srv.Addr().String(), hs.URL)
}

// runSource is the go-smtp-source side of the fixture: the run, then the document.
func runSource(addr, traceURL string) ([]byte, string) {
	p := plan.Defaults()
	p.Target, p.Messages, p.Sessions = addr, fixtureMessages, 20
	p.Load.Model, p.Load.Rate = plan.ModelOpen, fixtureRate
	p.Session.Hostname, p.Session.Greeting, p.Session.AllowReject = "source.test", plan.GreetEHLO, true
	p.TLS.Level = plan.TLSEncrypt
	p.Trace = &plan.Trace{Run: "report-test"}
	p.Thresholds.Exprs = fixtureThresholds
	p = p.WithDefaults()
	poller, err := e2e.NewPoller(e2e.Config{Sinks: []string{traceURL}, Run: p.Trace.Run, Header: sink.DefaultTraceHeader})
	if err != nil {
		return nil, err.Error()
	}
	poller.Start()
	defer poller.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := engine.Run(ctx, p, engine.Hooks{TLS: &tls.Config{InsecureSkipVerify: true}})
	if err != nil || res.Accepted == 0 {
		return nil, fmt.Sprintf("run: %s, %d accepted", errText(err), res.Accepted)
	}
	r := metrics.ResultReport(p.ForReport(), &metrics.RunInfo{Tool: "go-smtp-source", Host: "test"}, res.Measured())
	if r.E2E == nil || len(r.E2E.Runs) != 1 {
		return nil, "the run recorded no trace"
	}
	r.E2E.Runs[0], _ = poller.Finish(ctx, r.E2E.Runs[0], 10*time.Second)
	ts, err := metrics.ParseThresholds(fixtureThresholds)
	if err == nil {
		_, err = r.CheckThresholds(ts)
	}
	var buf bytes.Buffer
	if err == nil {
		err = r.WriteJSON(&buf)
	}
	if err != nil {
		return nil, err.Error()
	}
	return buf.Bytes(), ""
}

func errText(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

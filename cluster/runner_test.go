package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/go-smtp-source/go-smtp-source/engine"
	"github.com/go-smtp-source/go-smtp-source/plan"
	"github.com/go-smtp-source/go-smtp-source/protocol"
	"github.com/go-smtp-source/go-smtp-source/sink"
	"github.com/go-smtp-source/go-smtp-source/sink/sinktest"
)

// startSink is a go-smtp-sink server on a loopback port, counting distinct Message-Ids.
func startSink(t *testing.T) (*sink.Server, string) {
	t.Helper()
	srv := sinktest.Start(t, sink.Config{UniqueHeader: "Message-Id"})
	return srv, srv.Addr().String()
}

// Two workers run a shipped plan with the engine, without a command-line parser: the
// message file travels in the plan, the sink gets every message, and the merged
// document carries the shipped plan (without the file's content), the cluster's outcome
// and every message.
func TestEngineRunnerRunsShippedPlan(t *testing.T) {
	srv := startTestServer(t)
	snk, addr := startSink(t)
	allowed, err := ParseAllowList([]string{addr})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"w0", "w1"} {
		startWorker(t, srv, name, "v", &EngineRunner{Name: name, Allowed: allowed, Grace: time.Second})
	}
	p := plan.Defaults()
	p.Target, p.Messages, p.Sessions = addr, 40, 4
	p.Message.File = plan.NewFile("/coordinator/only/msg.eml", []byte("Subject: shipped\n\nthe coordinator's file\n"))
	cfg := coordConfig(2, 40)
	cfg.Plan = p
	out, err := Coordinate(context.Background(), connect(t, srv, "coord"), cfg)
	if err != nil {
		t.Fatalf("coordinate: %v (%+v)", err, out)
	}
	m, err := MergeOutcome(out, p)
	if err != nil || m.Report == nil || m.Delivered != 2 || len(m.Unreadable) != 0 {
		t.Fatalf("merge: %+v, %v", m, err)
	}
	r := m.Report
	st := snk.Stats().Snapshot()
	wire := int64(len(protocol.FileContent(p.Message.File.Content)))
	// The file's messages carry no Message-Id: every one is the file, as the workers had it from the plan.
	if r.Totals.Accepted != 40 || st.MessagesAccepted != 40 || st.Unique == nil || st.Unique.Missing != 40 || st.Bytes != 40*wire {
		t.Errorf("merged %+v; sink accepted %d, %d bytes (want %d), %+v", r.Totals, st.MessagesAccepted, st.Bytes, 40*wire, st.Unique)
	}
	shipped, err := plan.Decode(r.Plan)
	if err != nil || string(shipped.JSON()) != string(p.ForReport().JSON()) {
		t.Errorf("merged plan %s (%v), want the shipped plan", r.Plan, err)
	}
	if r.Run == nil || !strings.Contains(string(r.Run.Cluster), `"name":"w0"`) || r.Run.PlanFingerprint != p.Fingerprint() {
		t.Errorf("run %+v", r.Run)
	}
	for _, src := range r.Sources {
		sp, err := plan.Decode(src.Plan)
		if err != nil || sp.Shard == nil || src.Run == nil || !strings.HasPrefix(src.Name, src.Run.Worker) {
			t.Errorf("source %s: plan %s (%v), run %+v", src.Name, src.Plan, err, src.Run)
		}
	}
}

// A worker refuses a plan aimed at a target it does not allow, and one that asks for
// AUTH when it has no way to read the secrets.
func TestEngineRunnerRefuses(t *testing.T) {
	allowed, _ := ParseAllowList([]string{"127.0.0.1:2525"})
	p := plan.Defaults()
	p.Target = "127.0.0.1:2526"
	a := Assignment{Plan: p.JSON(), Weights: []int64{1}}
	if _, err := (&EngineRunner{Allowed: allowed}).Prepare(a, 0); err == nil || !strings.Contains(err.Error(), "is not in this worker's --allow-target") {
		t.Errorf("foreign target: %v", err)
	}
	p.Target, p.Auth = "127.0.0.1:2525", &plan.Auth{User: "alice", Insecure: true}
	a.Plan = p.JSON()
	if _, err := (&EngineRunner{}).Prepare(a, 0); err == nil || !strings.Contains(err.Error(), "no credentials") {
		t.Errorf("AUTH without credentials: %v", err)
	}
	a.Plan = []byte(`{"schema_version":1,"target":"x","sesions":1}`)
	if _, err := (&EngineRunner{}).Prepare(a, 0); err == nil || !strings.Contains(err.Error(), "unknown field") {
		t.Errorf("a plan with a misspelt field: %v", err)
	}
	wantErr := errors.New("no password")
	runner := &EngineRunner{Credentials: func(*plan.Auth) ([]protocol.Credential, error) { return nil, wantErr }}
	a.Plan = p.JSON()
	if _, err := runner.Prepare(a, 0); !errors.Is(err, wantErr) {
		t.Errorf("credentials error: %v", err)
	}
}

func TestAllowList(t *testing.T) {
	list, err := ParseAllowList([]string{"mx.example:25", "10.0.0.1", "[::1]:2525", "unix:/run/lmtp"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		target string
		ok     bool
	}{
		{"mx.example", true}, {"MX.example:25", true}, {"mx.example:26", false}, {"10.0.0.1:2525", true},
		{"[::1]:2525", true}, {"[::1]:25", false}, {"unix:/run/lmtp", true}, {"unix:/run/other", false}, {"other", false},
	} {
		target, err := engine.ParseTarget(c.target)
		if err != nil {
			t.Fatal(err)
		}
		if list.Permits(target) != c.ok {
			t.Errorf("%s: permitted %v", c.target, !c.ok)
		}
	}
	if _, err := ParseAllowList([]string{":25"}); err == nil {
		t.Error("an empty host accepted")
	}
}

// A worker whose coordinator is gone when it delivers its final result tries again
// after a pause, not in a loop as fast as the server answers "no responders", until
// the coordinator's grace runs out.
func TestFinalDeliveryPausesWithoutCoordinator(t *testing.T) {
	srv := startTestServer(t)
	coordNC := connect(t, srv, "coord")
	runner := &fakeRunner{messages: 10, pace: time.Millisecond, beforeReturn: coordNC.Close}
	w := startWorker(t, srv, "w0", "v", runner)
	go func() { _, _ = Coordinate(context.Background(), coordNC, coordConfig(1, 10)) }()
	waitFor(t, "giving up", 10*time.Second, func() bool { return w.saw("lost the coordinator before the final result was delivered") })
	connz, err := srv.srv.Connz(&server.ConnzOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range connz.Conns {
		if c.Name == "w0" {
			t.Logf("the worker sent %d messages", c.InMsgs)
			if c.InMsgs > 60 { // join, 8 clock probes, ready, a report per 200 ms and a request per 250 ms for the 1 s grace
				t.Errorf("the worker sent %d messages: it retried without a pause", c.InMsgs)
			}
			return
		}
	}
	t.Fatal("no worker connection")
}

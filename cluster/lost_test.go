package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// rogue is a worker at the protocol level that joins, gets ready and then says nothing
// (a stopped process), so that a test can bring it back when it likes.
type rogue struct {
	t     *testing.T
	nc    *nats.Conn
	run   string
	shard int
	beats chan Heartbeat
}

// joinRogue joins the next announced run as name and goes ready.
func joinRogue(t *testing.T, srv *EmbeddedServer, name string) *rogue {
	t.Helper()
	r := &rogue{t: t, nc: connect(t, srv, name), beats: make(chan Heartbeat, 1024)}
	ann := make(chan *nats.Msg, 16)
	sub, err := r.nc.ChanSubscribe(SubjectAnnounce, ann)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	var a Announce
	select {
	case m := <-ann:
		_ = json.Unmarshal(m.Data, &a)
	case <-time.After(10 * time.Second):
		t.Fatal("no announcement")
	}
	r.run = a.Run
	plans := make(chan *nats.Msg, 1)
	if _, err := r.nc.ChanSubscribe(subject(r.run, "plan"), plans); err != nil {
		t.Fatal(err)
	}
	if _, err := r.nc.Subscribe(subject(r.run, "coord"), func(m *nats.Msg) {
		var hb Heartbeat
		if json.Unmarshal(m.Data, &hb) == nil {
			select {
			case r.beats <- hb:
			default:
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	m, err := r.nc.Request(subject(r.run, "join"), encode(JoinRequest{Worker: name, Host: "test", Version: "v", Weight: 1}), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var jr JoinReply
	if err := json.Unmarshal(m.Data, &jr); err != nil || jr.Reject != "" {
		t.Fatalf("join: %v %+v", err, jr)
	}
	r.shard = jr.Shard
	go func() {
		<-plans
		_ = r.nc.Publish(subject(r.run, fmt.Sprintf("ready.%d", r.shard)), encode(Ready{Shard: r.shard, RTT: time.Millisecond}))
	}()
	return r
}

// awaitFence waits for a heartbeat that names its shard lost.
func (r *rogue) awaitFence(within time.Duration) {
	r.t.Helper()
	deadline := time.After(within)
	for {
		select {
		case hb := <-r.beats:
			if slices.Contains(hb.Lost, r.shard) {
				return
			}
		case <-deadline:
			r.t.Fatal("the lost worker was never fenced")
		}
	}
}

// comeBack delivers a final result as a worker that was stopped would: with an error.
func (r *rogue) comeBack(stop Stop) {
	r.t.Helper()
	f := Final{Shard: r.shard, Parts: 1, Data: []byte(`[1,2,3]`), Error: "stopped: 3 messages in flight were cut off", Stopped: stop}
	if _, err := r.nc.Request(subject(r.run, fmt.Sprintf("final.%d", r.shard)), encode(f), 5*time.Second); err != nil {
		r.t.Fatalf("late final: %v", err)
	}
}

// A worker declared lost is fenced (the heartbeats name it); when it comes back, its
// final result is acknowledged but kept apart, never merged, and its error is not the
// run's: with --on-worker-loss continue the others finish their shards, and the run
// ends INCOMPLETE (ErrWorkerLost), not failed.
func TestLostWorkerComesBack(t *testing.T) {
	srv := startTestServer(t)
	const m = 300
	runner := &fakeRunner{messages: m, pace: 10 * time.Millisecond}
	startWorker(t, srv, "w0", "v", runner)
	startWorker(t, srv, "w1", "v", runner)
	cfg := coordConfig(3, m)
	cfg.ContinueOnLoss = true
	events := make(chan string, 64)
	cfg.Event = func(text string) { events <- text }
	res := coordinateAsync(connect(t, srv, "coord"), cfg)
	r := joinRogue(t, srv, "rogue")
	r.awaitFence(10 * time.Second)
	r.comeBack(StopFenced)
	out := <-res
	if !errors.Is(out.err, ErrWorkerLost) || !out.out.Incomplete || out.out.Aborted != "" {
		t.Fatalf("err %v, incomplete %v, aborted %q", out.err, out.out.Incomplete, out.out.Aborted)
	}
	lost := out.out.Workers[r.shard]
	if !lost.Lost || lost.Document != nil || lost.Error != "" || lost.Late == nil || lost.Late.Error == "" {
		t.Errorf("the lost worker's late result was merged or dropped: %+v", lost)
	}
	for _, w := range out.out.Workers {
		if w.Name != "rogue" && (w.Error != "" || w.Document == nil) {
			t.Errorf("%s did not finish: %+v", w.Name, w)
		}
	}
	if s := out.out.Summary().Workers[r.shard]; s.Late == nil || s.Unaccounted != lost.Planned {
		t.Errorf("summary %+v", s)
	}
	close(events)
	var saw []string
	for e := range events {
		saw = append(saw, e)
	}
	if !slices.ContainsFunc(saw, func(e string) bool { return strings.HasPrefix(e, "late result of lost worker rogue") }) {
		t.Errorf("no late-result event in %q", saw)
	}
}

// A worker that stopped by itself because it heard no fresh heartbeat (it may have been
// declared lost) counts as lost when its result comes, even if the coordinator had not
// declared it yet: its result is kept apart, and the run is aborted (the default), not
// failed.
func TestSelfStoppedWorkerIsLost(t *testing.T) {
	srv := startTestServer(t)
	const m = 300
	runner := &fakeRunner{messages: m, pace: 10 * time.Millisecond}
	w0 := startWorker(t, srv, "w0", "v", runner)
	cfg := coordConfig(2, m)
	cfg.ReportInterval = 2 * time.Second // the coordinator would wait 6 s to declare the rogue lost
	started := make(chan struct{})
	cfg.Event = func(text string) {
		if strings.HasPrefix(text, "all ready") {
			close(started)
		}
	}
	res := coordinateAsync(connect(t, srv, "coord"), cfg)
	r := joinRogue(t, srv, "rogue")
	<-started
	r.comeBack(StopSilent)
	out := <-res
	if !errors.Is(out.err, ErrWorkerLost) || out.out.Aborted == "" {
		t.Fatalf("err %v, aborted %q", out.err, out.out.Aborted)
	}
	if lost := out.out.Workers[r.shard]; !lost.Lost || lost.Document != nil || lost.Late == nil {
		t.Errorf("rogue %+v", lost)
	}
	why := fmt.Sprintf("aborted by the coordinator: worker rogue (shard %d) lost: it stopped by itself", r.shard)
	waitFor(t, "w0 aborted", 5*time.Second, func() bool { return w0.saw(why) })
}

// When every worker is lost the run's report is still made: no totals, and the
// cluster's account of who was lost with what unaccounted for. A run that never started
// has none.
func TestMergeOutcomeAllLost(t *testing.T) {
	o := &Outcome{Run: "r1", StartAt: time.Now().Add(-3 * time.Second), Incomplete: true, Workers: []WorkerResult{
		{Name: "w0", Shard: 0, Planned: 50, Lost: true, Last: Report{Accepted: 20}},
		{Name: "w1", Shard: 1, Planned: 50, Lost: true},
	}}
	m, err := MergeOutcome(o, testPlan(100))
	if err != nil || m.Report == nil || m.Delivered != 0 {
		t.Fatalf("%+v %v", m, err)
	}
	if m.Report.Totals != (metrics.Totals{}) || m.Report.Run == nil {
		t.Fatalf("report %+v", m.Report)
	}
	var s Summary
	if err := json.Unmarshal(m.Report.Run.Cluster, &s); err != nil || !s.Incomplete || len(s.Workers) != 2 ||
		s.Workers[0].Unaccounted != 30 || s.Workers[1].Unaccounted != 50 {
		t.Fatalf("cluster %s (%v)", m.Report.Run.Cluster, err)
	}
	var buf bytes.Buffer
	if err := m.Report.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if _, err := metrics.ReadReport(&buf); err != nil {
		t.Fatalf("the report does not read back: %v", err)
	}
	o.StartAt = time.Time{}
	if m, err := MergeOutcome(o, testPlan(100)); err != nil || m.Report != nil {
		t.Errorf("a run that never started: %+v %v", m, err)
	}
}

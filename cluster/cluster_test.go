package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
	"github.com/go-smtp-source/go-smtp-source/plan"
)

// fakeRunner "sends" its shard's messages at a steady pace and returns a small document
// listing them, so the test can check the split end to end without SMTP.
type fakeRunner struct {
	messages int64
	pace     time.Duration
	hang     atomic.Bool   // Run blocks until its context ends
	skew     time.Duration // the worker's clock is this far ahead: its times are real + skew
	refuse   string
	started  chan time.Time
	sent     atomic.Int64 // messages "sent" by every shard so far
	// beforeReturn runs when the shard has sent its messages, before Run returns.
	beforeReturn func()
}

type fakePrepared struct {
	r     *fakeRunner
	split *plan.Split
	shard int
}

func (f *fakeRunner) Prepare(a Assignment, shard int) (Prepared, error) {
	if f.refuse != "" {
		return nil, errors.New(f.refuse)
	}
	s, err := plan.NewSplit(a.Weights)
	if err != nil {
		return nil, err
	}
	return &fakePrepared{r: f, split: s, shard: shard}, nil
}

func (p *fakePrepared) Run(ctx context.Context, startAt time.Time, live Live) ([]byte, time.Time, error) {
	select {
	case <-time.After(time.Until(startAt.Add(-p.r.skew))):
	case <-ctx.Done():
		return nil, time.Time{}, ctx.Err()
	}
	started := time.Now().Add(p.r.skew) // as the skewed clock reads it
	if p.r.started != nil {
		p.r.started <- started
	}
	sh := p.split.Shard(p.shard)
	var sent []int64
	for i := int64(0); i < sh.Count(p.r.messages); i++ {
		select {
		case <-ctx.Done():
			return nil, started, ctx.Err()
		case <-time.After(p.r.pace):
		}
		if !live.Admit() {
			<-ctx.Done() // the worker stops the run
			return nil, started, ctx.Err()
		}
		sent = append(sent, sh.Global(i))
		p.r.sent.Add(1)
		live.Progress(Report{Accepted: int64(len(sent))})
	}
	if p.r.hang.Load() {
		<-ctx.Done()
		return nil, started, ctx.Err()
	}
	if p.r.beforeReturn != nil {
		p.r.beforeReturn()
	}
	doc, _ := json.Marshal(sent)
	return doc, started, nil
}

func startTestServer(t *testing.T) *EmbeddedServer {
	t.Helper()
	srv, err := StartServer("127.0.0.1:0", "secret")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

// coordination is the result of a Coordinate call.
type coordination struct {
	out *Outcome
	err error
}

// coordinateAsync runs Coordinate over nc on a goroutine; its result comes on the channel.
func coordinateAsync(nc *nats.Conn, cfg CoordinatorConfig) <-chan coordination {
	res := make(chan coordination, 1)
	go func() {
		out, err := Coordinate(context.Background(), nc, cfg)
		res <- coordination{out, err}
	}()
	return res
}

func connect(t *testing.T, srv *EmbeddedServer, name string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(srv.URL, nats.Token(srv.Token), nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

type worker struct {
	name   string
	nc     *nats.Conn
	runner Runner
	cancel context.CancelFunc
	done   chan error
	mu     sync.Mutex
	events []string
}

func startWorker(t *testing.T, srv *EmbeddedServer, name, version string, runner Runner) *worker {
	t.Helper()
	return startWeightedWorker(t, srv, name, version, 1, runner)
}

func startWeightedWorker(t *testing.T, srv *EmbeddedServer, name, version string, weight int64, runner Runner) *worker {
	t.Helper()
	w := &worker{name: name, nc: connect(t, srv, name), runner: runner, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	go func() {
		w.done <- Serve(ctx, w.nc, WorkerConfig{Name: name, Host: "test", Version: version, Weight: weight, Runner: runner,
			Event: func(run, text string) { w.mu.Lock(); w.events = append(w.events, text); w.mu.Unlock() }})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-w.done:
		case <-time.After(10 * time.Second):
			t.Errorf("worker %s did not stop", name)
		}
	})
	return w
}

func (w *worker) saw(text string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.events {
		if strings.Contains(e, text) {
			return true
		}
	}
	return false
}

func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	testpeer.Eventually(t, within, 20*time.Millisecond, what, cond)
}

// testPlan is a plan of messages over 9 sessions to host x.
func testPlan(messages int64) plan.Plan {
	p := plan.Defaults()
	p.Target, p.Messages, p.Sessions = "x", messages, 9
	return p
}

func coordConfig(workers int, messages int64) CoordinatorConfig {
	return CoordinatorConfig{Workers: workers, Plan: testPlan(messages), Version: "v", Lead: 300 * time.Millisecond, ReportInterval: 200 * time.Millisecond, CoordGrace: time.Second,
		JoinTimeout: 10 * time.Second}
}

// Three workers, one of them weighted, split the run exactly; progress is merged live; a
// late and a mismatched worker are refused.
func TestClusterRun(t *testing.T) {
	srv := startTestServer(t)
	const m = 200
	runner := &fakeRunner{messages: m, pace: 25 * time.Millisecond} // long enough for an announcement to reach the late worker
	for i := 0; i < 2; i++ {
		startWorker(t, srv, fmt.Sprintf("w%d", i), "v", runner)
	}
	startWeightedWorker(t, srv, "heavy", "v", 2, runner)
	odd := startWorker(t, srv, "old", "v0", runner)
	cfg := coordConfig(3, m)
	var progress []Progress
	cfg.Progress = func(p Progress) { progress = append(progress, p) }
	var late *worker
	cfg.Event = func(text string) {
		if strings.HasPrefix(text, "all ready") && late == nil {
			late = startWorker(t, srv, "late", "v", runner)
		}
	}
	probe := testpeer.ProbeScheduling(t) // across the shared start
	out, err := Coordinate(context.Background(), connect(t, srv, "coord"), cfg)
	maxSkew := 50*time.Millisecond + probe.Stop().Worst() // plus the worst late wake-up meanwhile
	if err != nil {
		t.Fatalf("coordinate: %v (%+v)", err, out)
	}
	owned := make(map[int64]int)
	for _, w := range out.Workers {
		var sent []int64
		if err := json.Unmarshal(w.Document, &sent); err != nil {
			t.Fatalf("%s: %v", w.Name, err)
		}
		if int64(len(sent)) != w.Planned {
			t.Errorf("%s sent %d, planned %d", w.Name, len(sent), w.Planned)
		}
		for _, g := range sent {
			owned[g]++
		}
	}
	if len(owned) != m {
		t.Errorf("%d distinct messages, want %d", len(owned), m)
	}
	for _, w := range out.Workers {
		if want := map[bool]int64{true: m / 2, false: m / 4}[w.Name == "heavy"]; w.Planned != want {
			t.Errorf("%s planned %d, want %d (weights 1, 1, 2)", w.Name, w.Planned, want)
		}
	}
	for g, n := range owned {
		if n != 1 || g < 0 || g >= m {
			t.Errorf("message %d sent %d times", g, n)
		}
	}
	if out.StartSkew > maxSkew {
		t.Errorf("start skew %v, want at most %v", out.StartSkew, maxSkew)
	}
	if len(progress) == 0 || progress[len(progress)-1].Workers != 3 {
		t.Errorf("progress %+v", progress)
	}
	waitFor(t, "version refusal", 5*time.Second, func() bool { return odd.saw("worker version \"v0\", coordinator \"v\"") })
	if late == nil {
		t.Fatal("no late worker started")
	}
	waitFor(t, "late refusal", 5*time.Second, func() bool { return late.saw("late joiners are refused") })
}

// A worker that goes silent mid-run is lost within three report intervals; the run is
// aborted (the others stop), incomplete, with the lost worker's messages unaccounted for.
func TestClusterWorkerLost(t *testing.T) {
	srv := startTestServer(t)
	const m = 3000
	runner := &fakeRunner{messages: m, pace: 2 * time.Millisecond, started: make(chan time.Time, 3)}
	ws := make([]*worker, 3)
	for i := range ws {
		ws[i] = startWorker(t, srv, fmt.Sprintf("w%d", i), "v", runner)
	}
	cfg := coordConfig(3, m)
	res := coordinateAsync(connect(t, srv, "coord"), cfg)
	<-runner.started
	// Mid-run: a tenth of the messages sent.
	waitFor(t, "a tenth of the messages", 10*time.Second, func() bool { return runner.sent.Load() >= m/10 })
	ws[1].nc.Close() // silent from now on (a SIGKILL, or a cut cable)
	killed := time.Now()
	var r coordination
	select {
	case r = <-res:
	case <-time.After(15 * time.Second):
		t.Fatal("coordinator did not finish after a worker was lost")
	}
	if !errors.Is(r.err, ErrWorkerLost) || !r.out.Incomplete {
		t.Fatalf("err %v, incomplete %v", r.err, r.out.Incomplete)
	}
	var lost WorkerResult
	for _, w := range r.out.Workers {
		if w.Name == "w1" {
			lost = w
		} else if w.Lost {
			t.Errorf("worker %s lost too", w.Name)
		}
	}
	if !lost.Lost || lost.Unaccounted() == 0 {
		t.Errorf("lost worker %+v", lost)
	}
	if d := time.Since(killed); d > 3*cfg.ReportInterval+2*time.Second {
		t.Errorf("took %v to finish", d)
	}
	for _, k := range []int{0, 2} {
		if !ws[k].saw("aborted by the coordinator") {
			t.Errorf("worker %d was not aborted: %v", k, ws[k].events)
		}
	}
}

// A worker whose coordinator goes silent stops by itself within the grace.
func TestClusterCoordinatorLost(t *testing.T) {
	srv := startTestServer(t)
	const m = 100000
	runner := &fakeRunner{messages: m, pace: time.Millisecond, started: make(chan time.Time, 1)}
	w := startWorker(t, srv, "w0", "v", runner)
	coordNC := connect(t, srv, "coord")
	go func() { _, _ = Coordinate(context.Background(), coordNC, coordConfig(1, m)) }()
	<-runner.started
	coordNC.Close()
	lostAt := time.Now()
	waitFor(t, "worker stop", 5*time.Second, func() bool { return w.saw("lost the coordinator") })
	if d := time.Since(lostAt); d > 3*time.Second {
		t.Errorf("stopped after %v (grace 1s)", d)
	}
}

// A plan the worker refuses (say, a target it does not allow) aborts the run before any load.
func TestClusterPlanRefused(t *testing.T) {
	srv := startTestServer(t)
	startWorker(t, srv, "w0", "v", &fakeRunner{messages: 10, refuse: "target mx:25 is not allowed"})
	_, err := Coordinate(context.Background(), connect(t, srv, "coord"), coordConfig(1, 10))
	if err == nil || !strings.Contains(err.Error(), "worker w0 refused the plan: target mx:25 is not allowed") {
		t.Fatalf("err %v", err)
	}
}

// The embedded server requires its token.
func TestEmbeddedServerToken(t *testing.T) {
	srv := startTestServer(t)
	if nc, err := nats.Connect(srv.URL, nats.Token("wrong"), nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Fatal("wrong token accepted")
	} else if !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Errorf("error %v", err)
	}
	if _, err := StartServer("127.0.0.1:0", ""); err == nil {
		t.Error("server without a token started")
	}
}

// The NATS server restarts on the same port mid-run: clients reconnect, cumulative
// reports resume, final results are retried, and the run completes exactly.
func TestClusterSurvivesServerRestart(t *testing.T) {
	srv := startTestServer(t)
	addr := strings.TrimPrefix(srv.URL, "nats://")
	const m = 600
	runner := &fakeRunner{messages: m, pace: 8 * time.Millisecond, started: make(chan time.Time, 3)}
	ws := make([]*worker, 3)
	for i := range ws {
		ws[i] = startWorker(t, srv, fmt.Sprintf("w%d", i), "v", runner)
	}
	cfg := coordConfig(3, m)
	cfg.ReportInterval, cfg.CoordGrace = 500*time.Millisecond, 3*time.Second
	coord := connect(t, srv, "coord")
	res := coordinateAsync(coord, cfg)
	<-runner.started
	// Mid-run: a sixth of the messages sent.
	waitFor(t, "a sixth of the messages", 10*time.Second, func() bool { return runner.sent.Load() >= m/6 })
	srv.Shutdown()
	// Restarted once every client has seen the server go.
	waitFor(t, "every client reconnecting", 10*time.Second, func() bool {
		for _, nc := range []*nats.Conn{coord, ws[0].nc, ws[1].nc, ws[2].nc} {
			if !nc.IsReconnecting() {
				return false
			}
		}
		return true
	})
	again, err := StartServer(addr, "secret")
	if err != nil {
		t.Fatalf("restart on %s: %v", addr, err)
	}
	t.Cleanup(again.Shutdown)
	var r coordination
	select {
	case r = <-res:
	case <-time.After(20 * time.Second):
		t.Fatal("the run did not end after the restart")
	}
	if r.err != nil {
		t.Fatalf("run failed across the restart: %v", r.err)
	}
	owned := make(map[int64]int)
	for _, w := range r.out.Workers {
		var sent []int64
		if err := json.Unmarshal(w.Document, &sent); err != nil {
			t.Fatalf("%s: %v", w.Name, err)
		}
		for _, g := range sent {
			owned[g]++
		}
	}
	for g := int64(0); g < m; g++ {
		if owned[g] != 1 {
			t.Fatalf("message %d sent %d times", g, owned[g])
		}
	}
}

// --on-worker-loss=continue: the others finish their shards; the run is still incomplete.
func TestClusterContinueOnLoss(t *testing.T) {
	srv := startTestServer(t)
	const m = 900
	runner := &fakeRunner{messages: m, pace: 2 * time.Millisecond, started: make(chan time.Time, 3)}
	ws := make([]*worker, 3)
	for i := range ws {
		ws[i] = startWorker(t, srv, fmt.Sprintf("w%d", i), "v", runner)
	}
	cfg := coordConfig(3, m)
	cfg.ContinueOnLoss = true
	res := coordinateAsync(connect(t, srv, "coord"), cfg)
	<-runner.started
	ws[2].nc.Close()
	r := <-res
	if !errors.Is(r.err, ErrWorkerLost) || !r.out.Incomplete || r.out.Aborted != "" {
		t.Fatalf("err %v, incomplete %v, aborted %q", r.err, r.out.Incomplete, r.out.Aborted)
	}
	for _, w := range r.out.Workers {
		if w.Name == "w2" {
			if !w.Lost {
				t.Error("w2 not lost")
			}
			continue
		}
		var sent []int64
		if err := json.Unmarshal(w.Document, &sent); err != nil || int64(len(sent)) != w.Planned {
			t.Errorf("%s: sent %d of %d (%v)", w.Name, len(sent), w.Planned, err)
		}
	}
}

// An interrupted coordinator aborts the workers and still collects their results.
func TestClusterInterrupted(t *testing.T) {
	srv := startTestServer(t)
	runner := &fakeRunner{messages: 100000, pace: time.Millisecond, started: make(chan time.Time, 1)}
	w := startWorker(t, srv, "w0", "v", runner)
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	var out *Outcome
	go func() {
		var err error
		out, err = Coordinate(ctx, connect(t, srv, "coord"), coordConfig(1, 100000))
		res <- err
	}()
	<-runner.started
	cancel()
	select {
	case err := <-res:
		if err == nil || !strings.Contains(out.Aborted, "interrupted") || out.Workers[0].Error == "" {
			t.Errorf("err %v, outcome %+v", err, out)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the interrupted coordinator did not return")
	}
	waitFor(t, "abort", 5*time.Second, func() bool { return w.saw("aborted by the coordinator: the coordinator was interrupted") })
}

// Two workers of one name: the second is refused; the roster then never fills, and the
// run fails at the join timeout.
func TestClusterDuplicateName(t *testing.T) {
	srv := startTestServer(t)
	runner := &fakeRunner{messages: 10, pace: time.Millisecond}
	a := startWorker(t, srv, "same", "v", runner)
	b := startWorker(t, srv, "same", "v", runner)
	cfg := coordConfig(2, 10)
	cfg.JoinTimeout = 2 * time.Second
	var events []string
	cfg.Event = func(text string) { events = append(events, text) }
	_, err := Coordinate(context.Background(), connect(t, srv, "coord"), cfg)
	if err == nil || !strings.Contains(err.Error(), "only 1 of 2 workers joined within 2s") {
		t.Errorf("err %v", err)
	}
	if !a.saw("has joined already") && !b.saw("has joined already") {
		t.Error("no worker was refused as a duplicate")
	}
	if !slices.ContainsFunc(events, func(e string) bool {
		return strings.HasPrefix(e, "refused worker same (test): a worker of that name has joined already")
	}) {
		t.Errorf("the coordinator did not log the duplicate: %q", events)
	}
}

// A worker whose clock is 5 s ahead still starts with the others (its measured offset
// corrects it); a worker whose offset is too uncertain refuses, and the run fails.
func TestClusterSkewedClock(t *testing.T) {
	srv := startTestServer(t)
	const m = 60
	plain := &fakeRunner{messages: m, pace: time.Millisecond}
	ahead := &fakeRunner{messages: m, pace: time.Millisecond, skew: 5 * time.Second}
	startWorker(t, srv, "plain", "v", plain)
	w := &worker{name: "ahead", nc: connect(t, srv, "ahead"), runner: ahead, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		w.done <- Serve(ctx, w.nc, WorkerConfig{Name: "ahead", Version: "v", Runner: ahead, clockSkew: ahead.skew})
	}()
	defer func() { cancel(); <-w.done }()
	probe := testpeer.ProbeScheduling(t) // across the shared start
	out, err := Coordinate(context.Background(), connect(t, srv, "coord"), coordConfig(2, m))
	maxSkew := 50*time.Millisecond + probe.Stop().Worst() // plus the worst late wake-up meanwhile
	if err != nil {
		t.Fatalf("coordinate: %v", err)
	}
	for _, wr := range out.Workers {
		if wr.Name == "ahead" && (wr.OffsetNs > int64(-4900*time.Millisecond) || wr.OffsetNs < int64(-5100*time.Millisecond)) {
			t.Errorf("offset %v, want about -5s", time.Duration(wr.OffsetNs))
		}
	}
	if out.StartSkew > maxSkew {
		t.Errorf("start skew %v with a clock 5 s ahead, want at most %v", out.StartSkew, maxSkew)
	}

	unsure := &worker{name: "unsure", nc: connect(t, srv, "unsure"), done: make(chan error, 1)}
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() {
		unsure.done <- Serve(ctx2, unsure.nc, WorkerConfig{Name: "unsure", Version: "v", Runner: plain, MaxClockUncertainty: time.Nanosecond})
	}()
	defer func() { cancel2(); <-unsure.done }()
	cancel() // only "plain" and "unsure" serve the next run
	<-w.done
	w.done <- nil
	_, err = Coordinate(context.Background(), connect(t, srv, "coord2"), coordConfig(2, m))
	if err == nil || !strings.Contains(err.Error(), "worker unsure refused the plan: clock offset too uncertain") {
		t.Errorf("err %v", err)
	}
}

// A final result larger than the server's payload limit arrives in acknowledged parts.
func TestClusterFinalInParts(t *testing.T) {
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true,
		Authorization: "secret", MaxPayload: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	es := &EmbeddedServer{srv: srv, Token: "secret", URL: "nats://" + srv.Addr().String()}
	const m = 20000
	runner := &fakeRunner{messages: m}
	for i := 0; i < 2; i++ {
		startWorker(t, es, fmt.Sprintf("w%d", i), "v", runner)
	}
	out, err := Coordinate(context.Background(), connect(t, es, "coord"), coordConfig(2, m))
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, w := range out.Workers {
		if len(w.Document) < 3*(16<<10) {
			t.Errorf("%s: a document of %d bytes does not test parts", w.Name, len(w.Document))
		}
		var sent []int64
		if err := json.Unmarshal(w.Document, &sent); err != nil {
			t.Fatalf("%s: %v", w.Name, err)
		}
		total += len(sent)
	}
	if total != m {
		t.Errorf("%d messages in the documents, want %d", total, m)
	}
	// A plan too large for the server's messages (a big message file) is refused before
	// anything is announced.
	big := coordConfig(2, m)
	big.Plan.Message.File = plan.NewFile("big.eml", make([]byte, 16<<10))
	if _, err := Coordinate(context.Background(), connect(t, es, "coord2"), big); err == nil || !strings.Contains(err.Error(), "too many for the NATS server's 16384-byte messages") {
		t.Errorf("a plan larger than a message: %v", err)
	}
}

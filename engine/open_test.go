package engine

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/plan"
)

// stallServer is a minimal SMTP sink (goroutine per connection; it is the test's peer,
// not the thing measured) whose every reply waits while a stall is on.
type stallServer struct {
	ln         net.Listener
	stallFrom  atomic.Int64 // unix ns; replies in [from, until) wait until `until`
	stallUntil atomic.Int64
	accepted   atomic.Int64
	wg         sync.WaitGroup

	idMu sync.Mutex
	ids  []string // Message-Id header values, in arrival order
}

func newStallServer(t *testing.T) *stallServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &stallServer{ln: ln}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

func (s *stallServer) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go s.session(c)
	}
}

func (s *stallServer) reply(w *bufio.Writer, line string) bool {
	now := time.Now().UnixNano()
	if from, until := s.stallFrom.Load(), s.stallUntil.Load(); now >= from && now < until {
		time.Sleep(time.Duration(until - now))
	}
	w.WriteString(line)
	return w.Flush() == nil
}

func (s *stallServer) session(c net.Conn) {
	defer s.wg.Done()
	defer c.Close()
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	if !s.reply(w, "220 stall ESMTP\r\n") {
		return
	}
	inData := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		if inData {
			if id, ok := strings.CutPrefix(line, "Message-Id: "); ok {
				s.idMu.Lock()
				s.ids = append(s.ids, id)
				s.idMu.Unlock()
			}
			if line == "." {
				inData = false
				s.accepted.Add(1)
				if !s.reply(w, "250 2.0.0 Ok: queued as Q1\r\n") {
					return
				}
			}
			continue
		}
		var out string
		switch strings.ToUpper(strings.SplitN(line, " ", 2)[0]) {
		case "DATA":
			inData, out = true, "354 go\r\n"
		case "QUIT":
			s.reply(w, "221 bye\r\n")
			return
		default:
			out = "250 ok\r\n"
		}
		if !s.reply(w, out) {
			return
		}
	}
}

// The open model keeps its arrivals while the server stalls: latency measured from the
// intended start shows the stall (coordinated omission corrected), service time from the
// actual start does not, and the queued messages are counted late, none dropped.
func TestOpenModelCoordinatedOmission(t *testing.T) {
	srv := newStallServer(t)
	cfg := config(t, srv.ln.Addr().String(), 0, 1500)
	cfg.Load.Model, cfg.Load.Rate = plan.ModelOpen, 500 // 3 s of arrivals
	cfg.Load.MaxSessions = 10
	cfg.Load.DropAfter = 5 * time.Second
	cfg.Session.Reuse = true
	start := time.Now()
	srv.stallFrom.Store(start.Add(time.Second).UnixNano())
	srv.stallUntil.Store(start.Add(2 * time.Second).UnixNano())
	probe := testpeer.ProbeScheduling(t)
	res, err := runTest(context.Background(), cfg)
	sched := probe.Stop()
	if err != nil {
		t.Fatal(err)
	}
	checkAccounting(t, res)
	if res.Accepted != 1500 || srv.accepted.Load() != 1500 {
		t.Fatalf("accepted %d (server %d), want 1500: %+v", res.Accepted, srv.accepted.Load(), res)
	}
	m := res.Metrics
	corrected, uncorrected := m.Quantile(metrics.Latency, 0.99), m.Quantile(metrics.ServiceTime, 0.99)
	if corrected < 700*time.Millisecond {
		t.Errorf("corrected latency p99 %v does not show the 1 s stall", corrected)
	}
	// The machine's own stalls, measured meanwhile, lengthen service times and make more
	// messages late (500 a second of them): the upper bounds allow what they explain.
	if bound := 100*time.Millisecond + sched.Worst(); uncorrected > bound {
		t.Errorf("uncorrected service time p99 %v shows the stall (only the 10 sessions in flight waited; at most %v)", uncorrected, bound)
	}
	lateBound := 700 + int64(500*sched.Worst().Seconds())
	if late := m.Counter(metrics.Late); late < 300 || late > lateBound {
		t.Errorf("late %d, want about the 500 messages due during the stall (300 to %d)", late, lateBound)
	}
	if m.Counter(metrics.Dropped) != 0 {
		t.Errorf("dropped %d", m.Counter(metrics.Dropped))
	}
	if lag := m.Quantile(metrics.ScheduleLag, 0.99); lag < 500*time.Millisecond {
		t.Errorf("schedule lag p99 %v", lag)
	}
}

// Messages that wait longer than DropAfter for a session are dropped: counted, never
// sent, and part of "not started".
func TestOpenModelDrops(t *testing.T) {
	srv := newStallServer(t)
	cfg := config(t, srv.ln.Addr().String(), 0, 600)
	cfg.Load.Model, cfg.Load.Rate = plan.ModelOpen, 600 // 1 s of arrivals
	cfg.Load.MaxSessions = 2
	cfg.Load.DropAfter = 100 * time.Millisecond
	srv.stallFrom.Store(time.Now().UnixNano())
	srv.stallUntil.Store(time.Now().Add(700 * time.Millisecond).UnixNano())
	res, err := runTest(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkAccounting(t, res)
	dropped := res.Metrics.Counter(metrics.Dropped)
	if dropped < 200 || res.NotStarted != dropped || res.Accepted != 600-dropped {
		t.Fatalf("dropped %d: %+v", dropped, res)
	}
}

// A constant rate sends what it should in the time it should, and every interval of the
// series carries its share.
func TestOpenModelRate(t *testing.T) {
	srv := newStallServer(t)
	cfg := config(t, srv.ln.Addr().String(), 0, 3000)
	cfg.Load.Model, cfg.Load.Rate = plan.ModelOpen, 1000
	cfg.Load.DropAfter = 30 * time.Second // a message late on a busy machine is still sent, late
	start := time.Now()
	probe := testpeer.ProbeScheduling(t)
	res, err := runTest(context.Background(), cfg)
	elapsed := time.Since(start)
	sched := probe.Stop()
	if err != nil {
		t.Fatal(err)
	}
	checkAccounting(t, res)
	// The machine's stalls (measured meanwhile) delay the end by at most what they add up
	// to, and move as many messages as they lasted (1000 a second) out of an interval into
	// a later one, where the schedule catches up: the bounds allow what they explain.
	stall := sched.Worst()
	if bound := 4*time.Second + stall; res.Accepted != 3000 || elapsed < 2900*time.Millisecond || elapsed > bound {
		t.Fatalf("accepted %d in %v, want 3000 in about 3 s (at most %v)", res.Accepted, elapsed, bound)
	}
	// Every whole interval of the series shows the rate: count over the interval's length.
	for i := 1; i+1 < len(res.Intervals); i++ { // the first and last are parts of a second
		iv := res.Intervals[i]
		secs := float64(iv.DurationNs) / 1e9
		slack := 1000 * stall.Seconds() / secs
		if rate := float64(iv.Counters["messages_accepted"]) / secs; rate < 850-slack || rate > 1150+slack {
			t.Errorf("interval %d: %.0f messages/s, want about 1000 (850 to 1150, ± %.0f for the stalls)", i, rate, slack)
		}
	}
	if p := res.Metrics.Count(metrics.Latency); p != 3000 {
		t.Errorf("latency samples %d", p)
	}
}

// Without -d the open model opens a connection per message, reusing slots.
func TestOpenModelNewConnectionPerMessage(t *testing.T) {
	srv := newStallServer(t)
	cfg := config(t, srv.ln.Addr().String(), 0, 400)
	cfg.Load.Model, cfg.Load.Rate = plan.ModelOpen, 2000
	cfg.Load.MaxSessions = 50
	res, err := runTest(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkAccounting(t, res)
	if res.Accepted != 400 || res.Sessions != 400 {
		t.Fatalf("%+v", res)
	}
	if res.Metrics.Count(metrics.Quit) != 400 {
		t.Fatalf("QUIT count %d", res.Metrics.Count(metrics.Quit))
	}
}

// Session stages (closed model): the number of sessions follows the ramp and the run
// ends with the stages.
func TestSessionRamp(t *testing.T) {
	srv := newStallServer(t)
	cfg := config(t, srv.ln.Addr().String(), 0, 0)
	cfg.Sessions, cfg.Load.Model = 0, plan.ModelRampingSessions // no cap beyond the stages
	cfg.Load.Stages = []plan.Stage{{Duration: time.Second, Target: 20}, {Duration: time.Second, Target: 20}, {Duration: time.Second, Target: 0}}
	cfg.Session.Reuse = true
	var mu sync.Mutex
	var inFlight []int64
	cfg.Progress = func(p Progress) {
		mu.Lock()
		inFlight = append(inFlight, p.InFlight)
		mu.Unlock()
	}
	start := time.Now()
	res, err := runTest(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkAccounting(t, res)
	if el := time.Since(start); el < 3*time.Second || el > 5*time.Second {
		t.Fatalf("ran %v, want the 3 s of stages", el)
	}
	if res.Accepted == 0 || res.Accepted != res.Planned || res.Accepted != srv.accepted.Load() {
		t.Fatalf("%+v (server %d)", res, srv.accepted.Load())
	}
	mu.Lock()
	defer mu.Unlock()
	// The plateau holds 20 sessions, never more.
	peak := int64(0)
	for _, n := range inFlight {
		peak = max(peak, n)
	}
	if len(inFlight) < 2 || peak < 15 || peak > 20 {
		t.Fatalf("sessions in flight per second %v, want a peak of about 20 and never above", inFlight)
	}
	if res.Sessions > 40 {
		t.Fatalf("%d connections: sessions were not kept while the target held", res.Sessions)
	}
}

// Three shards of one run, each sending only its own messages under their global numbers:
// together they send every message of the run exactly once.
func TestShardsCoverTheRunOnce(t *testing.T) {
	srv := newStallServer(t)
	const total = 100
	for i := int64(0); i < 3; i++ {
		cfg := config(t, srv.ln.Addr().String(), 4, total)
		cfg.Shard = &plan.Shard{Index: int(i), Weights: []int64{1, 1, 1}}
		res, err := runTest(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkAccounting(t, res)
		split, _ := plan.EqualSplit(3)
		if want := split.Shard(int(i)).Count(total); res.Planned != want || res.Accepted != want {
			t.Fatalf("shard %d: %+v, want %d", i, res, want)
		}
	}
	seen := map[int64]bool{}
	srv.idMu.Lock()
	defer srv.idMu.Unlock()
	for _, id := range srv.ids {
		// <pid.slot.seq@host>, hex
		parts := strings.Split(strings.TrimSuffix(strings.TrimPrefix(id, "<"), "@vm>"), ".")
		seq, err := strconv.ParseInt(parts[2], 16, 64)
		if err != nil || seen[seq] || seq < 1 || seq > total {
			t.Fatalf("Message-Id %s: seq %d (err %v, seen %v)", id, seq, err, seen[seq])
		}
		seen[seq] = true
	}
	if len(seen) != total {
		t.Fatalf("%d distinct messages, want %d", len(seen), total)
	}
}

// A shared start time: the run waits for it, and refuses to start when it has passed.
func TestStartAt(t *testing.T) {
	srv := newStallServer(t)
	cfg := config(t, srv.ln.Addr().String(), 1, 1)
	// A second ahead: the run's set-up (event loops, dialer) takes a few milliseconds
	// on a quiet machine and, seen under load, more than 300.
	cfg.StartAt = time.Now().Add(time.Second)
	probe := testpeer.ProbeScheduling(t)
	res, err := runTest(context.Background(), cfg)
	late := 50*time.Millisecond + probe.Stop().Worst() // plus the worst late wake-up meanwhile
	if err != nil || res.Start.Before(cfg.StartAt) || res.Start.Sub(cfg.StartAt) > late {
		t.Fatalf("started at %v for %v (at most %v late): %v", res.Start, cfg.StartAt, late, err)
	}
	cfg.StartAt = time.Now().Add(-time.Second)
	if res, err := runTest(context.Background(), cfg); !errors.Is(err, ErrMissedStart) || res.NotStarted != 1 {
		t.Fatalf("late start: %+v %v", res, err)
	}
}

package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/plan"
	"github.com/go-smtp-source/go-smtp-source/sink"
)

// events records what a run reports, from any goroutine.
type events struct {
	mu       sync.Mutex
	warnings []string
	repeated int // warnings not passed on, counted by *RepeatedWarning
	dots     int
}

func (e *events) Warning(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var rw *RepeatedWarning
	if errors.As(err, &rw) {
		e.repeated += int(rw.Count)
		return
	}
	e.warnings = append(e.warnings, err.Error())
}

// count is the warnings reported, shown or counted.
func (e *events) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.warnings) + e.repeated
}
func (e *events) Trace([]byte, bool) {}
func (e *events) DotSent() {
	e.mu.Lock()
	e.dots++
	e.mu.Unlock()
}

// testRun is a test's plan and hooks.
type testRun struct {
	plan.Plan
	Hooks
}

// config is a plan of messages over sessions (left at the default, 1, when 0) to addr,
// from a@x to b@y as host vm, with a 10 s timeout.
func config(t *testing.T, addr string, sessions int, messages int64) *testRun {
	t.Helper()
	p := plan.Defaults()
	p.Target, p.Messages = addr, messages
	if sessions > 0 {
		p.Sessions = sessions
	}
	from, to := "a@x", "b@y"
	p.Message.From, p.Message.To, p.Session.Hostname = &from, &to, "vm"
	p.Session.Timeout, p.Connect.Timeout = 10*time.Second, 10*time.Second
	return &testRun{Plan: p}
}

// resolved is the engine's form of a default plan to target, for the tests that set the
// protocol machine's configuration themselves (runConfig).
func resolved(tb testing.TB, target Target) Config {
	tb.Helper()
	p := plan.Defaults()
	p.Target = "127.0.0.1:25" // replaced by target below
	cfg, err := newConfig(p, Hooks{})
	if err != nil {
		tb.Fatal(err)
	}
	cfg.Target = target
	return cfg
}

func runTest(ctx context.Context, r *testRun) (Result, error) { return Run(ctx, r.Plan, r.Hooks) }

func checkAccounting(t *testing.T, r Result) {
	t.Helper()
	if r.Accepted+r.Rejected+r.Failed+r.NotStarted != r.Planned {
		t.Fatalf("accounting does not add up: %+v", r)
	}
}

func TestRunAgainstPostfixSink(t *testing.T) {
	sink := testpeer.StartPostfixSink(t, "-m", "1000")
	for _, tc := range []struct {
		name  string
		tweak func(*testRun)
	}{
		{"new connection per message", func(*testRun) {}},
		{"-d", func(c *testRun) { c.Session.Reuse = true }},
		{"-d --pipelining", func(c *testRun) {
			c.Session.Reuse, c.Session.Pipelining, c.Session.Greeting = true, true, plan.GreetEHLO
		}},
		{"two source addresses", func(c *testRun) { c.Local.SourceAddrs = []net.IP{net.ParseIP("127.0.0.2"), net.ParseIP("127.0.0.3")} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(t, sink.Addr, 50, 1000)
			ev := &events{}
			cfg.Events = ev
			tc.tweak(cfg)
			res, err := runTest(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			checkAccounting(t, res)
			if res.Accepted != 1000 || ev.dots != 1000 {
				t.Fatalf("accepted %d, dots %d: %+v", res.Accepted, ev.dots, res)
			}
			if res.Metrics.Count(metrics.EOD) != 1000 || res.Metrics.Count(metrics.Banner) != res.Sessions {
				t.Fatalf("phases not delivered: eod %d, banner %d", res.Metrics.Count(metrics.EOD), res.Metrics.Count(metrics.Banner))
			}
		})
	}
}

// A server that closes every connection at once: the run stops with smtp-source's
// "lost connection" and still accounts for every message.
func TestRunLostConnections(t *testing.T) {
	res, err := runTest(context.Background(), config(t, testpeer.ListenClosing(t), 10, 100))
	if err == nil || !strings.Contains(err.Error(), "lost connection while reading server greeting") {
		t.Fatalf("err %v", err)
	}
	checkAccounting(t, res)
	if res.Failed == 0 || res.Accepted != 0 {
		t.Fatalf("%+v", res)
	}
}

// Cancelling the context stops new messages; sessions in flight finish within the grace
// period; the rest are not started.
func TestRunInterrupted(t *testing.T) {
	// The end-of-data reply waits a second (go-smtp-sink's timer, to the millisecond:
	// smtp-sink -w 1 waits until a whole second of the clock, which may come at once).
	var sinkCfg sink.Config
	sinkCfg.Delays[sink.VerbDot] = sink.Delay{Duration: time.Second}
	srv := startSinkServer(t, sinkCfg)
	cfg := config(t, srv.Addr().String(), 10, 1000)
	cfg.Grace = 5 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	probe := testpeer.ProbeScheduling(t)
	go func() { // cancelled once every session waits for its end-of-data reply: 10 messages in flight
		testpeer.Poll(20*time.Second, time.Millisecond, func() bool { return srv.Stats().Snapshot().DelaysInjected >= 10 })
		cancel()
	}()
	start := time.Now()
	res, err := runTest(ctx, cfg)
	elapsed := time.Since(start)
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("err %v", err)
	}
	checkAccounting(t, res)
	// About 1 s; 4 s plus the worst the machine's scheduling delayed anything meanwhile.
	bound := 4*time.Second + probe.Stop().Worst()
	if res.Accepted != 10 || res.NotStarted != 990 || elapsed > bound {
		t.Fatalf("want the 10 in-flight messages finished and 990 not started within ~1 s (at most %v): %+v after %v", bound, res, elapsed)
	}
}

// When the grace period runs out, sessions still waiting are cut off and count as failed.
func TestRunGraceExpires(t *testing.T) {
	cfg := config(t, testpeer.ListenSilent(t), 5, 50)
	cfg.Grace = 200 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	res, err := runTest(ctx, cfg)
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("err %v", err)
	}
	checkAccounting(t, res)
	if res.Failed != 5 || res.NotStarted != 45 {
		t.Fatalf("%+v", res)
	}
}

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct{ in, network, host, port, err string }{
		{"127.0.0.1", "tcp", "127.0.0.1", "smtp", ""},
		{"inet:host.example:2525", "tcp", "host.example", "2525", ""},
		{"[127.0.0.1]:2525", "tcp", "127.0.0.1", "2525", ""},
		{"inet:[::1]:2525", "tcp", "::1", "2525", ""},
		{"[IPv6:::1]:25", "tcp", "::1", "25", ""},
		{"::1:2525", "tcp", "::1", "2525", ""},
		{"host:", "tcp", "host", "smtp", ""},
		{"unix:/run/x.sock", "unix", "", "", ""},
		{"::1", "", "", "", "valid hostname or network address required"},
		{"[127.0.0.1", "", "", "", `missing "]"`},
		{"[127.0.0.1]x", "", "", "", `garbage after "]"`},
		{"[ipv6:127.0.0.1]:25", "", "", "", "malformed IPv6 address"},
		{"127.0.0.1:25x", "", "", "", "garbage after numerical service"},
		{":25", "", "", "", "missing host information"},
		{"inet:", "", "", "", "missing host information"},
		// Postfix's host_port() and valid_hostname/valid_hostaddr, as smtp-source 3.7.
		{"[localhost]:2525", "tcp", "localhost", "2525", ""},
		{"[::]:2525", "tcp", "::", "2525", ""},
		{"[ipv6:::ffff:127.0.0.1]:25", "tcp", "::ffff:127.0.0.1", "25", ""},
		{"127.0.0.010:25", "tcp", "127.0.0.010", "25", ""},
		{"inet:inet:127.0.0.1:25", "", "", "", "valid hostname or network address required"},
		{"127.1:25", "", "", "", "valid hostname or network address required"},
		{"[127.1]:25", "", "", "", "valid hostname or network address required"},
		{"[]:25", "", "", "", "valid hostname or network address required"},
		{"127.0.0.1:87036", "", "", "", "out-of-range port number"},
		{"127.0.0.1:0021500", "tcp", "127.0.0.1", "0021500", ""},
	} {
		got, err := ParseTarget(tc.in)
		if tc.err != "" {
			// smtp-source echoes the operand without its "inet:" prefix.
			if err == nil || err.Error() != fmt.Sprintf("%s: %s", strings.TrimPrefix(tc.in, "inet:"), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got.Network != tc.network || got.Host != tc.host || got.Port != tc.port {
			t.Errorf("%s: %+v %v", tc.in, got, err)
		}
	}
}

// An open-model plan given by its stages alone is split over the messages the stages
// produce, and its shard gets its share of the session cap.
func TestShardOfStages(t *testing.T) {
	p := config(t, "127.0.0.1", 1, 0).Plan
	p.Load.Model, p.Load.Stages = plan.ModelOpen, []plan.Stage{{Duration: 2 * time.Second, Target: 100}}
	p.Shard = &plan.Shard{Index: 1, Weights: []int64{1, 1}}
	cfg, err := newConfig(p, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Messages != 100 || cfg.Shard.Count(cfg.Messages) != 50 || cfg.MaxSessions != 500 {
		t.Errorf("messages %d, shard owns %d, max sessions %d", cfg.Messages, cfg.Shard.Count(cfg.Messages), cfg.MaxSessions)
	}
	p.Sessions, p.Load = 3, plan.Defaults().Load
	p.Messages, p.Shard = 2, &plan.Shard{Index: 0, Weights: []int64{1, 1, 1}}
	if _, err := newConfig(p, Hooks{}); err == nil || !strings.Contains(err.Error(), "would own none of the 2 messages") {
		t.Errorf("a shard without messages: %v", err)
	}
}

// A plan is refused before anything starts when it is invalid, or names AUTH
// credentials the hooks do not bring.
func TestRunRefusesPlan(t *testing.T) {
	cfg := config(t, "127.0.0.1", 1, 1)
	cfg.Message.Recipients = 0
	if _, err := runTest(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "plan: message.recipients") {
		t.Errorf("invalid plan: %v", err)
	}
	cfg = config(t, "127.0.0.1", 1, 1)
	cfg.Auth = &plan.Auth{User: "alice", Insecure: true}
	if _, err := runTest(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "none were given") {
		t.Errorf("AUTH without credentials: %v", err)
	}
}

package engine

import (
	"context"
	"crypto/tls"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/protocol"
)

// hostile is a run against a scripted misbehaving server and what it must end in: the
// one-line error (what go-smtp-source prints after "fatal:"), every message accounted
// for, and the errors filed under the phase and cause they belong to.
type hostile struct {
	name     string
	server   testpeer.ScriptedOptions
	addr     string // instead of a scripted server
	sessions int    // default 1
	messages int64  // default 1
	tweak    func(*Config)

	err    string           // the run's error, exactly; "" for none
	counts string           // outcomes(Result): "Na Nr Nf N-" (accepted, rejected, failed, not started)
	keys   map[string]int64 // the error keys, exactly ("*:aborted": see abortedIn)
	// abortedIn: the phases in which a message cut off by the run's end may have been,
	// when that depends on scheduling; its key is then counted as "*:aborted".
	abortedIn []string
	failed    int64 // sessions_failed
	warnings  int
	within    time.Duration // the run must end within this (default 10 s)
}

func (h hostile) run(t *testing.T) (Result, *events) {
	t.Helper()
	addr := h.addr
	if addr == "" {
		addr = testpeer.StartScripted(t, h.server).Addr
	}
	tr := config(t, addr, max(1, h.sessions), max(1, h.messages))
	tr.Plan.Session.Timeout, tr.Plan.Connect.Timeout = 2*time.Second, 2*time.Second
	cfg, err := newConfig(tr.Plan, tr.Hooks)
	if err != nil {
		t.Fatal(err)
	}
	ev := &events{}
	cfg.Events = ev
	if h.tweak != nil {
		h.tweak(&cfg)
	}
	start := time.Now()
	res, err := runConfig(context.Background(), cfg)
	elapsed := time.Since(start)
	switch {
	case h.err == "" && err != nil:
		t.Fatalf("error %v, want none", err)
	case h.err != "" && err == nil:
		t.Fatalf("no error, want %q", h.err)
	case h.err != "" && (err.Error() != h.err || strings.ContainsAny(err.Error(), "\r\n")):
		t.Fatalf("error %q, want the one line %q", err, h.err)
	}
	if within := cmp(h.within, 10*time.Second); elapsed > within {
		t.Fatalf("the run took %v, want at most %v", elapsed, within)
	}
	checkAccounting(t, res)
	if got := outcomes(res); got != h.counts {
		t.Fatalf("outcomes %s, want %s (%+v)", got, h.counts, res)
	}
	if got, want := fmt.Sprint(sortedKeys(anyAborted(errorKeyCounts(res.Metrics), h.abortedIn))), fmt.Sprint(sortedKeys(h.keys)); got != want {
		t.Fatalf("error keys %s, want %s", got, want)
	}
	if got := res.Metrics.Counter(metrics.SessionsFailed); got != h.failed {
		t.Fatalf("sessions_failed %d, want %d", got, h.failed)
	}
	if len(ev.warnings) != h.warnings {
		t.Fatalf("warnings %q, want %d", ev.warnings, h.warnings)
	}
	return res, ev
}

func cmp(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// errorKeys lists a snapshot's error keys with their counts, sorted.
func errorKeys(s *metrics.Snapshot) string { return fmt.Sprint(sortedKeys(errorKeyCounts(s))) }

func errorKeyCounts(s *metrics.Snapshot) map[string]int64 {
	m := map[string]int64{}
	for _, e := range s.Errors() {
		m[e.Key] = e.Count
	}
	return m
}

// anyAborted counts the keys PHASE:aborted with PHASE in phases as "*:aborted".
func anyAborted(keys map[string]int64, phases []string) map[string]int64 {
	for _, p := range phases {
		if n, ok := keys[p+":aborted"]; ok {
			delete(keys, p+":aborted")
			keys["*:aborted"] += n
		}
	}
	return keys
}

func sortedKeys(m map[string]int64) []string {
	var out []string
	for k, n := range m {
		out = append(out, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(out)
	return out
}

func script(replies map[string]string) testpeer.ScriptedOptions {
	return testpeer.ScriptedOptions{Script: testpeer.SMTPScript{Replies: replies}}
}

// Class 1: replies larger than one read (gnet reads 16 KiB at a time) are whole once
// their last read is in; one over the 64 KiB limit is too long, not malformed.
func TestHostileLongReplies(t *testing.T) {
	caps := strings.Repeat("250-X-"+strings.Repeat("x", 990)+"\r\n", 60) // 60 KiB, legal
	for _, h := range []hostile{
		{name: "a 60 KiB EHLO reply", server: testpeer.ScriptedOptions{Script: testpeer.SMTPScript{EhloCaps: caps}},
			tweak: func(c *Config) { c.Protocol.Greeting = protocol.GreetEHLO }, messages: 2, counts: "2a 0r 0f 0-", keys: nil},
		{name: "a 70 KiB EHLO reply", server: testpeer.ScriptedOptions{Script: testpeer.SMTPScript{EhloCaps: caps + caps[:10*1000]}},
			tweak: func(c *Config) { c.Protocol.Greeting = protocol.GreetEHLO }, messages: 2,
			err: "reply too long: more than 65536 bytes", counts: "0a 0r 1f 1-", keys: map[string]int64{"helo:protocol:too_long": 1}, failed: 1},
	} {
		t.Run(h.name, func(t *testing.T) { h.run(t) })
	}
}

// Class 1: an EHLO reply sent line by line still announces PIPELINING: the envelope
// goes out in one write, before any of its replies.
func TestHostileEhloLineByLine(t *testing.T) {
	var trace traceEvents
	h := hostile{server: testpeer.ScriptedOptions{Script: testpeer.SMTPScript{EhloCaps: "250-SIZE 1000\r\n250-PIPELINING\r\n250-DSN\r\n"},
		LineDelay: 30 * time.Millisecond},
		tweak: func(c *Config) {
			c.Protocol.Greeting, c.Protocol.Pipelining, c.Protocol.Trace = protocol.GreetEHLO, true, true
			c.Events = &trace
		}, counts: "1a 0r 0f 0-"}
	h.run(t)
	want := "MAIL FROM:<a@x>|RCPT TO:<b@y>|DATA|<<< 250 2.1.0 Ok"
	if !strings.Contains(strings.Join(trace.lines(), "|"), want) {
		t.Fatalf("the envelope was not pipelined:\n%s", strings.Join(trace.lines(), "\n"))
	}
}

// traceEvents keeps the -v transcript (and counts warnings like events).
type traceEvents struct {
	events
	trace []string
}

func (e *traceEvents) Trace(line []byte, fromServer bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if fromServer {
		e.trace = append(e.trace, "<<< "+string(line))
	} else {
		e.trace = append(e.trace, string(line))
	}
}

func (e *traceEvents) lines() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.trace...)
}

// Class 2: the timeout bounds each step: a server trickling a continuation line every
// 100 ms does not keep a 500 ms timeout from firing.
func TestHostileTrickle(t *testing.T) {
	banner := strings.Repeat("220-still here\r\n", 40) + "220 at last\r\n" // 4 s of lines
	h := hostile{server: testpeer.ScriptedOptions{Script: testpeer.SMTPScript{Replies: map[string]string{"banner": banner}},
		LineDelay: 100 * time.Millisecond},
		tweak:    func(c *Config) { c.Timeout = 500 * time.Millisecond },
		messages: 2, within: 1500 * time.Millisecond,
		err: "timeout while reading server greeting", counts: "0a 0r 1f 1-", keys: map[string]int64{"banner:net:timeout": 1}, failed: 1}
	h.run(t)
}

// Class 3: a reply can only answer a command sent before it: one too many, or one ahead
// of its command, is a protocol error (fatal even with -A), not the answer to the next
// command.
func TestHostileUnsolicitedReplies(t *testing.T) {
	allow := func(c *Config) { c.Protocol.AllowReject = true }
	lmtp := func(c *Config) {
		c.Protocol.LMTP, c.Protocol.Greeting, c.Protocol.ReuseConnection = true, protocol.GreetLHLO, true
	}
	for _, h := range []hostile{
		{name: "a reply with the banner", server: script(map[string]string{"banner": "220 sim\r\n250 early\r\n"}),
			err: "unexpected reply with no command outstanding: 250 early", counts: "0a 0r 1f 0-",
			keys: map[string]int64{"helo:protocol:unexpected_reply": 1}, failed: 1},
		{name: "-A: a flood of 250s to MAIL", server: script(map[string]string{"MAIL": strings.Repeat("250 2.1.0 Ok\r\n", 8)}),
			tweak: allow, messages: 5,
			err: "unexpected reply with no command outstanding: 250 2.1.0 Ok", counts: "0a 0r 1f 4-",
			keys: map[string]int64{"rcpt:protocol:unexpected_reply": 1}, failed: 1},
		{name: "before DATA's body: the dot's 250 with the 354", server: script(map[string]string{"DATA": "354 go\r\n250 2.0.0 Ok: queued as X\r\n"}),
			tweak: allow, messages: 2,
			err: "unexpected reply with no command outstanding: 250 2.0.0 Ok: queued as X", counts: "0a 0r 1f 1-",
			keys: map[string]int64{"eod:protocol:unexpected_reply": 1}, failed: 1},
		{name: "after DATA: two replies to the dot", server: script(map[string]string{".": "250 2.0.0 Ok\r\n250 2.0.0 again\r\n"}),
			tweak: allow, messages: 2,
			err: "unexpected reply with no command outstanding: 250 2.0.0 again", counts: "1a 0r 0f 1-",
			keys: map[string]int64{"quit:protocol:unexpected_reply": 1}, failed: 1},
		{name: "LMTP -d: one reply too many after the dot", server: testpeer.ScriptedOptions{Script: testpeer.SMTPScript{LMTP: true,
			Replies: map[string]string{".": "250 2.0.0 Ok\r\n250 2.0.0 extra\r\n"}}},
			tweak: lmtp, messages: 3,
			err: "unexpected reply with no command outstanding: 250 2.0.0 extra", counts: "1a 0r 1f 1-",
			keys: map[string]int64{"mail:protocol:unexpected_reply": 1}, failed: 1},
	} {
		t.Run(h.name, func(t *testing.T) { h.run(t) })
	}
}

// Class 4: an error that ends the run with no message open is still filed and counted:
// the QUIT answered with a reset, a close or silence, a reply between messages.
func TestHostileQuitFaults(t *testing.T) {
	for _, h := range []hostile{
		{name: "reset at QUIT", server: script(map[string]string{"QUIT": testpeer.FaultReset}),
			err: "lost connection while sending message", counts: "1a 0r 0f 0-", keys: map[string]int64{"quit:net:reset": 1}, failed: 1},
		{name: "close at QUIT", server: script(map[string]string{"QUIT": testpeer.FaultClose}),
			err: "lost connection while sending message", counts: "1a 0r 0f 0-", keys: map[string]int64{"quit:net:eof": 1}, failed: 1},
		{name: "silence at QUIT", server: script(map[string]string{"QUIT": testpeer.FaultSilent}),
			tweak: func(c *Config) { c.Timeout = 300 * time.Millisecond }, within: 2 * time.Second,
			err: "timeout while sending message", counts: "1a 0r 0f 0-", keys: map[string]int64{"quit:net:timeout": 1}, failed: 1},
		// The reply comes 100 ms into the pause between messages, and the next message
		// 1 s in: a loop kept off the CPU for most of that second (seen under load with
		// a 500 ms pause) would send MAIL before it read the reply.
		{name: "a reply between messages", server: testpeer.ScriptedOptions{IdleAfter: 100 * time.Millisecond, IdleReply: "250 hello\r\n"},
			tweak:    func(c *Config) { c.Protocol.ReuseConnection, c.FixedDelay = true, time.Second },
			messages: 2,
			err:      "unexpected reply with no command outstanding: 250 hello", counts: "1a 0r 0f 1-",
			keys: map[string]int64{"session:protocol:unexpected_reply": 1}, failed: 1},
	} {
		t.Run(h.name, func(t *testing.T) { h.run(t) })
	}
}

// Class 5: a 421 between messages (Postfix's idle timeout) closes the session. Without
// -A it stops the run, as smtp-source's "sender rejected: 421" does; with -A it is a
// warning, and the session reconnects for the messages left. No message is charged for
// it: the server never saw one.
func TestHostileIdle421(t *testing.T) {
	idle := testpeer.ScriptedOptions{IdleAfter: 100 * time.Millisecond,
		IdleReply: "421 4.4.2 sim Error: timeout exceeded\r\n"}
	pause := func(allow bool) func(*Config) {
		return func(c *Config) {
			c.Protocol.ReuseConnection, c.Protocol.AllowReject, c.FixedDelay = true, allow, 400*time.Millisecond
		}
	}
	const text = "server closed the session: 421 4.4.2 sim Error: timeout exceeded"
	for _, h := range []hostile{
		{name: "-d -w, without -A", server: idle, tweak: pause(false), messages: 3,
			err: text, counts: "1a 0r 0f 2-", keys: map[string]int64{"session:temp:421:4.4.2": 1}},
		{name: "-d -w -A", server: idle, tweak: pause(true), messages: 3,
			counts: "3a 0r 0f 0-", keys: map[string]int64{"session:temp:421:4.4.2": 2}, warnings: 2},
		{name: "open model -d -A", server: idle, messages: 3, tweak: func(c *Config) {
			c.Rate, c.MaxSessions, c.Protocol.ReuseConnection, c.Protocol.AllowReject = 4, 1, true, true
		}, counts: "3a 0r 0f 0-", keys: map[string]int64{"session:temp:421:4.4.2": 2}, warnings: 2},
	} {
		t.Run(h.name, func(t *testing.T) {
			res, ev := h.run(t)
			if h.warnings > 0 && (ev.warnings[0] != text || res.Sessions != 3) {
				t.Fatalf("warning %q, %d connections; want %q and 3", ev.warnings[0], res.Sessions, text)
			}
		})
	}
}

// Class 6: errors under the phase they happened in, with their cause.
func TestHostileErrorKeys(t *testing.T) {
	startTLS := func(c *Config) {
		c.Protocol.Greeting, c.Protocol.TLS = protocol.GreetEHLO, protocol.TLSRequired
		c.TLS = &tls.Config{ServerName: "sim"}
	}
	tlsServer := func(fault string) testpeer.ScriptedOptions {
		return testpeer.ScriptedOptions{Script: testpeer.SMTPScript{OfferTLS: true}, AfterStartTLS: fault}
	}
	auth := func(c *Config) {
		c.Protocol.Greeting = protocol.GreetEHLO
		c.Protocol.Auth = &protocol.AuthConfig{Mechanism: "LOGIN", Insecure: true,
			Credentials: protocol.NewRoundRobin([]protocol.Credential{{User: "u", Password: "p"}})}
	}
	authServer := func(reply string) testpeer.ScriptedOptions {
		return testpeer.ScriptedOptions{Script: testpeer.SMTPScript{AuthMechs: "LOGIN", AuthBeforeTLS: true,
			Replies: map[string]string{"AUTH": reply}}}
	}
	short := func(c *Config) { c.Timeout = 300 * time.Millisecond }
	for _, h := range []hostile{
		{name: "reset during the TLS handshake", server: tlsServer(testpeer.FaultReset), tweak: startTLS,
			err: "lost connection while performing the TLS handshake", counts: "0a 0r 1f 0-",
			keys: map[string]int64{"tls_handshake:net:reset": 1}, failed: 1},
		{name: "silence during the TLS handshake", server: tlsServer(testpeer.FaultSilent),
			tweak: func(c *Config) { startTLS(c); short(c) }, within: 2 * time.Second,
			err: "TLS handshake failed (timeout): context deadline exceeded", counts: "0a 0r 1f 0-",
			keys: map[string]int64{"tls_handshake:tls:timeout": 1}, failed: 1},
		{name: "an AUTH exchange that never ends", server: authServer("334 VXNlcm5hbWU6\r\n"), tweak: auth,
			err: `AUTH LOGIN: unexpected challenge 3: "VXNlcm5hbWU6"`, counts: "0a 0r 1f 0-",
			keys: map[string]int64{"auth:protocol:bad_challenge": 1}, failed: 1},
		{name: "an AUTH exchange that stops", server: authServer(testpeer.FaultSilent),
			tweak: func(c *Config) { auth(c); short(c) }, within: 2 * time.Second,
			err: "timeout while sending AUTH", counts: "0a 0r 1f 0-", keys: map[string]int64{"auth:net:timeout": 1}, failed: 1},
		{name: "silence at the banner", server: script(map[string]string{"banner": testpeer.FaultSilent}), tweak: short,
			within: 2 * time.Second,
			err:    "timeout while reading server greeting", counts: "0a 0r 1f 0-", keys: map[string]int64{"banner:net:timeout": 1}, failed: 1},
		{name: "reset at MAIL", server: script(map[string]string{"MAIL": testpeer.FaultReset}),
			err: "lost connection while sending sender", counts: "0a 0r 1f 0-", keys: map[string]int64{"mail:net:reset": 1}, failed: 1},
		{name: "close at RCPT", server: script(map[string]string{"RCPT": testpeer.FaultClose}),
			err: "lost connection while sending recipient", counts: "0a 0r 1f 0-", keys: map[string]int64{"rcpt:net:eof": 1}, failed: 1},
		{name: "a malformed banner", server: script(map[string]string{"banner": "22 hi\r\n"}),
			err: `malformed reply: "22 hi"`, counts: "0a 0r 1f 0-", keys: map[string]int64{"banner:protocol:malformed": 1}, failed: 1},
		{name: "a message cut off by another session's fatal error", sessions: 2, messages: 2,
			server: testpeer.ScriptedOptions{Scripts: []testpeer.SMTPScript{
				{Replies: map[string]string{"MAIL": testpeer.FaultSilent}},
				{Replies: map[string]string{"RCPT": "550 5.1.1 no such user\r\n"}},
			}},
			err: "recipient rejected: 550 5.1.1 no such user", counts: "0a 1r 1f 0-",
			// The silent session is cut off wherever it stands when the other one's
			// rejection comes: usually waiting for MAIL's reply, but on a busy machine
			// still before it (its connect, banner or HELO).
			keys:      map[string]int64{"rcpt:perm:550:5.1.1": 1, "*:aborted": 1},
			abortedIn: []string{"connect", "banner", "helo", "mail"}},
	} {
		t.Run(h.name, func(t *testing.T) { h.run(t) })
	}
}

// Class 7: no connection made: the Result still holds the accounting and the error that
// a --json report needs.
func TestHostileNoConnection(t *testing.T) {
	for _, h := range []hostile{
		{name: "connection refused", addr: testpeer.ClosedPort(t), messages: 3,
			err: "connect: Connection refused", counts: "0a 0r 1f 2-", keys: map[string]int64{"connect:net:refused": 1}, failed: 1},
		{name: "a blackhole", addr: testpeer.ListenBlackhole(t), messages: 3,
			tweak:  func(c *Config) { c.ConnectTimeout = 300 * time.Millisecond },
			within: 2 * time.Second,
			err:    "connect: Connection timed out", counts: "0a 0r 1f 2-", keys: map[string]int64{"connect:net:timeout": 1}, failed: 1},
	} {
		t.Run(h.name, func(t *testing.T) {
			res, _ := h.run(t)
			if res.Metrics == nil || res.Start.IsZero() || res.Planned != 3 {
				t.Fatalf("no report to write: %+v", res)
			}
		})
	}
}

// Class 7: a reset as soon as the server accepts reaches the client either as the
// connect's own error or as the first read's; both are filed under their phase.
func TestHostileResetAtAccept(t *testing.T) {
	h := hostile{server: script(map[string]string{"banner": testpeer.FaultReset}), messages: 3,
		err: "lost connection while reading server greeting", counts: "0a 0r 1f 2-", keys: map[string]int64{"banner:net:reset": 1}, failed: 1}
	connect := h
	connect.err, connect.keys = "connect: Connection reset by peer", map[string]int64{"connect:net:reset": 1}
	for i := 0; i < 5; i++ {
		srv := testpeer.StartScripted(t, h.server)
		res, err := runTest(context.Background(), config(t, srv.Addr, 1, 3))
		if err == nil {
			t.Fatal("no error")
		}
		want := h
		if err.Error() == connect.err {
			want = connect
		}
		checkAccounting(t, res)
		if err.Error() != want.err || outcomes(res) != want.counts || errorKeys(res.Metrics) != fmt.Sprint(sortedKeys(want.keys)) ||
			res.Metrics.Counter(metrics.SessionsFailed) != 1 || res.Metrics == nil {
			t.Fatalf("error %q, outcomes %s, keys %s, sessions_failed %d", err, outcomes(res), errorKeys(res.Metrics),
				res.Metrics.Counter(metrics.SessionsFailed))
		}
	}
}

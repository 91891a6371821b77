package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// counterSource hands out messages 1..total.
type counterSource struct{ claimed, total int64 }

func (s *counterSource) Claim() (int64, bool) {
	if s.claimed >= s.total {
		return 0, false
	}
	s.claimed++
	return s.claimed, true
}
func (s *counterSource) Exhausted() bool { return s.claimed >= s.total }

// recorder is an Observer that keeps everything.
type recorder struct {
	phases   []string
	outcomes map[int64]Outcome
	errs     map[int64]string
	warnings []string
	trace    []string
	dots     int
	last     int64
	bad      string
}

func newRecorder() *recorder {
	return &recorder{outcomes: map[int64]Outcome{}, errs: map[int64]string{}}
}

func (r *recorder) Phase(p Phase, _ int64, start, end int64, code int) {
	if end < start || start < r.last-1000 {
		r.bad = fmt.Sprintf("phase %v: start %d end %d", p, start, end)
	}
	r.phases = append(r.phases, fmt.Sprintf("%v:%d", p, code))
}
func (r *recorder) DotSent(int64) { r.dots++ }
func (r *recorder) MessageDone(seq int64, o Outcome, err error, _ *Reply) {
	if _, dup := r.outcomes[seq]; dup {
		r.bad = fmt.Sprintf("message %d reported twice", seq)
	}
	r.outcomes[seq] = o
	if err != nil {
		r.errs[seq] = err.Error()
	}
}
func (r *recorder) Warning(err error) { r.warnings = append(r.warnings, err.Error()) }
func (r *recorder) Trace(line []byte, srv bool) {
	if srv {
		r.trace = append(r.trace, "<<< "+string(line))
	} else {
		r.trace = append(r.trace, string(line))
	}
}

type scenario struct {
	cfg      Config
	spec     MessageSpec
	messages int64
	server   testpeer.SMTPScript
}

type run struct {
	client   string // every byte the client sent
	steps    []Step
	rec      *recorder
	err      error
	sessions int
	// STARTTLS: how many handshakes the driver ran, and the bytes that followed a 220
	// (the driver refuses them, like the engine).
	handshakes int
	injected   []byte
}

// drive runs a scenario to the end: sessions are reconnected as the engine would, server
// bytes are delivered in random chunks (chunk ≤ maxChunk), and time advances 1000 ns per
// delivery.
func drive(t *testing.T, sc scenario, rng *rand.Rand, maxChunk int) run {
	t.Helper()
	src := &counterSource{total: sc.messages}
	sc.spec.Date = "Sat, 28 Nov 2026 17:40:54 +0000 (UTC)"
	if sc.spec.Hostname == "" {
		sc.spec.Hostname = "vm"
	}
	if sc.cfg.Hostname == "" {
		sc.cfg.Hostname = "vm"
	}
	if sc.spec.Content == nil {
		sc.spec.Content = DefaultContent()
	}
	sc.cfg.Template = NewTemplate(sc.spec)
	sc.cfg.Source = src
	rec := newRecorder()
	d := &driver{t: t, sc: &sc, rng: rng, maxChunk: maxChunk, c: NewClient(&sc.cfg, rec, 1)}
	d.res.rec = rec
	var all bytes.Buffer
	var carried int64 // a message the server closed the session before seeing
	for guard := 0; guard < 1000; guard++ {
		seq, ok := carried, carried != 0
		if !ok {
			seq, ok = src.Claim()
		}
		if !ok {
			break
		}
		srv := sc.server.Session() // a fresh connection
		step := d.session(seq, srv)
		all.Write(srv.Seen.Bytes())
		if step == StepFatal {
			d.res.err = d.c.Err()
			break
		}
		carried, _ = d.c.Unstarted()
		if d.c.OutOfMessages() {
			break
		}
	}
	d.c.Release()
	d.res.client = all.String()
	if rec.bad != "" {
		t.Fatal(rec.bad)
	}
	return d.res
}

// driver runs a scenario's connections as the engine would, in memory.
type driver struct {
	t        *testing.T
	sc       *scenario
	rng      *rand.Rand
	maxChunk int
	c        *Client
	now      int64
	res      run
}

// session runs one connection for message seq to its end: server bytes are delivered
// in random chunks (chunk ≤ maxChunk), and time advances 1000 ns per delivery.
func (d *driver) session(seq int64, srv *testpeer.ScriptSession) Step {
	c := d.c
	d.res.sessions++
	d.now += 1000
	c.Start(seq, d.now)
	inbox := []byte(srv.Banner())
	var buffered []byte
	step := StepRead
	if d.sc.cfg.ImplicitTLS {
		d.now += 1000
		c.TLSDone(d.now)
		srv.TLS = true
		d.res.handshakes++
	}
	for step == StepRead || step == StepPause || step == StepStartTLS {
		if step == StepStartTLS {
			if len(buffered) > 0 || len(inbox) > 0 {
				d.res.injected = append(append(d.res.injected, buffered...), inbox...)
				c.Fail(errors.New("injected"))
				return StepFatal
			}
			srv.TLS = true
			d.res.handshakes++
			d.now += 1000
			c.TLSDone(d.now)
			step = StepRead
		}
		if step == StepPause {
			step = c.Resume(d.now)
		}
		if out := d.flush(); len(out) > 0 {
			inbox = append(inbox, srv.Input(out)...)
		}
		if step == StepPause {
			continue
		}
		if len(inbox) == 0 {
			d.t.Fatalf("deadlock: client waits, server has nothing to say; client so far:\n%s", srv.Seen.String())
		}
		n := min(1+d.rng.Intn(d.maxChunk), len(inbox))
		buffered = append(buffered, inbox[:n]...)
		inbox = inbox[n:]
		d.now += 1000
		used, st := c.Feed(buffered, d.now)
		buffered = buffered[used:]
		step = st
		d.res.steps = append(d.res.steps, st)
	}
	srv.Input(d.flush()) // the final Output (QUIT) is flushed by the engine before closing
	return step
}

// flush hands the client's output over, as the engine's write does.
func (d *driver) flush() []byte {
	var out []byte
	for _, b := range d.c.Output(nil) {
		out = append(out, b...)
	}
	d.c.Flushed(0)
	return out
}

// transcriptScenario maps one of the shared transcripts onto a scenario.
func transcriptScenario(tr testpeer.Transcript) scenario {
	cfg := Config{LMTP: tr.Client.LMTP, Pipelining: tr.Client.Pipelining, ReuseConnection: tr.Client.ReuseConnection,
		AllowReject: tr.Client.AllowReject, ImplicitTLS: tr.Client.ImplicitTLS}
	switch tr.Client.TLS {
	case "may":
		cfg.TLS = TLSMay
	case "required":
		cfg.TLS = TLSRequired
	}
	if tr.Client.AuthMech != "" {
		cfg.Auth = &AuthConfig{Mechanism: tr.Client.AuthMech, Insecure: tr.Client.AuthInsecure,
			Credentials: NewRoundRobin([]Credential{{User: testpeer.TranscriptUser, Password: testpeer.TranscriptPass}})}
	}
	switch tr.Client.Greeting {
	case "EHLO":
		cfg.Greeting = GreetEHLO
	case "LHLO":
		cfg.Greeting = GreetLHLO
	case "none":
		cfg.Greeting = GreetNone
	}
	spec := MessageSpec{Sender: "foo@vm", Recipient: "foo@vm", Recipients: max(1, tr.Message.Recipients),
		Headers: !tr.Message.NoHeaders, PID: 0x1eb4}
	if tr.Message.Numbering37 {
		spec.Numbering = NumberingPostfix37
	}
	return scenario{cfg: cfg, spec: spec, messages: int64(tr.Messages), server: tr.Server}
}

// TestClientTranscripts runs the shared transcripts (internal/testpeer; the engine runs
// them too, over a socket) in whole reads, then in random chunkings down to one byte.
func TestClientTranscripts(t *testing.T) {
	for _, tc := range testpeer.ClientTranscripts {
		t.Run(tc.Name, func(t *testing.T) {
			sc := transcriptScenario(tc)
			rng := rand.New(rand.NewSource(1))
			for _, maxChunk := range []int{1 << 20, 1, 2, 3, 7, 16} {
				for rep := 0; rep < 20; rep++ {
					res := drive(t, sc, rng, maxChunk)
					if res.client != tc.Want {
						t.Fatalf("chunk %d (err %v): client sent\n%q\nwant\n%q", maxChunk, res.err, res.client, tc.Want)
					}
					var got string
					for seq := int64(1); seq <= int64(len(tc.Outcomes)); seq++ {
						o, ok := res.rec.outcomes[seq]
						if !ok {
							got += "-"
							continue
						}
						got += o.String()[:1]
					}
					if got != tc.Outcomes || len(res.rec.outcomes) != len(tc.Outcomes) {
						t.Fatalf("outcomes %q (%v), want %q", got, res.rec.outcomes, tc.Outcomes)
					}
					if len(res.rec.warnings) != tc.Warnings {
						t.Fatalf("warnings %q, want %d", res.rec.warnings, tc.Warnings)
					}
					if tc.Fatal == "" && res.err != nil || tc.Fatal != "" && (res.err == nil || res.err.Error() != tc.Fatal) {
						t.Fatalf("fatal error %v, want %q", res.err, tc.Fatal)
					}
					if maxChunk == 1<<20 {
						break
					}
				}
			}
		})
	}
}

func TestClientPhasesAndTrace(t *testing.T) {
	sc := scenario{cfg: Config{Trace: true}, spec: MessageSpec{Sender: "a@x", Recipient: "b@y", Recipients: 2, Numbering: NumberingPostfix37, Headers: true, Hostname: "vm"}, messages: 1}
	res := drive(t, sc, rand.New(rand.NewSource(2)), 1<<20)
	wantPhases := "banner:220 helo:250 mail:250 rcpt:250 rcpt:250 data:354 eod:250 quit:221"
	if got := strings.Join(res.rec.phases, " "); got != wantPhases {
		t.Fatalf("phases %q, want %q", got, wantPhases)
	}
	wantTrace := []string{"<<< 220 sim ESMTP", "HELO vm", "<<< 250 sim", "MAIL FROM:<a@x>", "<<< 250 2.1.0 Ok",
		"RCPT TO:<2b@y>", "<<< 250 2.1.5 Ok", "RCPT TO:<b@y>", "<<< 250 2.1.5 Ok", "DATA", "<<< 354 go", ".",
		"<<< 250 2.0.0 Ok: queued as X", "QUIT", "<<< 221 2.0.0 Bye"}
	if got := strings.Join(res.rec.trace, "|"); got != strings.Join(wantTrace, "|") {
		t.Fatalf("trace\n%q\nwant\n%q", res.rec.trace, wantTrace)
	}
	if res.rec.dots != 1 {
		t.Fatalf("dots %d", res.rec.dots)
	}
}

func TestClientProtocolErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		replies []string // fed one after another; the last must be fatal
		want    string
		outcome Outcome
	}{
		{"malformed code", []string{"22 hi\r\n"}, "malformed reply", Failed},
		{"endless line", []string{strings.Repeat("2", MaxReplyLine+10)}, "reply too long", Failed},
		{"reply while idle between messages", []string{"220 hi\r\n", "250 hi\r\n", "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 queued\r\n", "250 ok\r\n"}, "unexpected reply with no command outstanding: 250 ok", Accepted},
		{"reply ahead of its command", []string{"220 hi\r\n", "250 hi\r\n250 ok\r\n"}, "unexpected reply with no command outstanding: 250 ok", Failed},
		{"354 with the reply to the dot", []string{"220 hi\r\n", "250 hi\r\n", "250 ok\r\n", "250 ok\r\n", "354 go\r\n250 queued\r\n"}, "unexpected reply with no command outstanding: 250 queued", Failed},
		{"421 while idle between messages, without -A", []string{"220 hi\r\n", "250 hi\r\n", "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 queued\r\n", "421 4.4.2 mx Error: timeout exceeded\r\n"}, "server closed the session: 421 4.4.2 mx Error: timeout exceeded", Accepted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := MessageSpec{Sender: "a", Recipient: "b", Recipients: 1, Content: DefaultContent()}
			cfg := Config{ReuseConnection: true, PauseBetween: true, Template: NewTemplate(spec), Source: &counterSource{total: 2}}
			rec := newRecorder()
			c := NewClient(&cfg, rec, 0)
			seq, _ := cfg.Source.Claim()
			c.Start(seq, 0)
			var step Step
			for i, r := range tc.replies {
				_, step = c.Feed([]byte(r), int64(i+1))
				c.Flushed(int64(i + 1))
				if i < len(tc.replies)-1 && step == StepFatal {
					t.Fatalf("reply %d fatal: %v", i, c.Err())
				}
			}
			if step != StepFatal || !strings.Contains(c.Err().Error(), tc.want) {
				t.Fatalf("step %v err %v, want fatal %q", step, c.Err(), tc.want)
			}
			if o, ok := rec.outcomes[1]; !ok || o != tc.outcome || len(rec.outcomes) != 1 {
				t.Fatalf("outcomes %v, want message 1 %v", rec.outcomes, tc.outcome)
			}
		})
	}
}

// A message cycle on a kept connection allocates nothing: headers and commands go into
// the pooled buffer, the body is shared.
func TestClientSteadyStateAllocations(t *testing.T) {
	spec := MessageSpec{Sender: "a@x", Recipient: "b@y", Recipients: 3, NumberRecipients: true, Headers: true, Hostname: "vm", Date: "d", Content: DefaultContent()}
	src := &counterSource{total: 1 << 40}
	cfg := Config{ReuseConnection: true, Template: NewTemplate(spec), Source: src}
	c := NewClient(&cfg, nopObserver{}, 0)
	seq, _ := src.Claim()
	c.Start(seq, 0)
	feed := func(s []byte) {
		if _, step := c.Feed(s, 1); step != StepRead {
			t.Fatalf("step %v: %v", step, c.Err())
		}
		c.Flushed(0)
	}
	feed([]byte("220 x\r\n"))
	feed([]byte("250 x\r\n"))
	cycle := [][]byte{[]byte("250 ok\r\n"), []byte("250 ok\r\n"), []byte("250 ok\r\n"), []byte("250 ok\r\n"),
		[]byte("354 go\r\n"), []byte("250 queued\r\n")}
	message := func() {
		for _, r := range cycle {
			feed(r)
		}
	}
	for i := 0; i < 10; i++ { // warm the buffer up to its working size
		message()
	}
	allocs := testing.AllocsPerRun(1000, message)
	if allocs != 0 {
		t.Fatalf("%.1f allocations per message, want 0", allocs)
	}
}

type nopObserver struct{}

func (nopObserver) Phase(Phase, int64, int64, int64, int)     {}
func (nopObserver) DotSent(int64)                             {}
func (nopObserver) MessageDone(int64, Outcome, error, *Reply) {}
func (nopObserver) Warning(error)                             {}
func (nopObserver) Trace([]byte, bool)                        {}

// session is a Client on one connection with the observer that records it, fed one read
// at a time, its output handed over after each read as the engine does.
type session struct {
	t   *testing.T
	c   *Client
	rec *recorder
	src *counterSource
}

func newSession(t *testing.T, cfg Config, messages int64) *session {
	spec := MessageSpec{Sender: "a", Recipient: "b", Recipients: 1, Content: DefaultContent()}
	src := &counterSource{total: messages}
	cfg.Template, cfg.Source = NewTemplate(spec), src
	rec := newRecorder()
	s := &session{t: t, c: NewClient(&cfg, rec, 1), rec: rec, src: src}
	seq, _ := src.Claim()
	s.c.Start(seq, 0)
	return s
}

// read feeds one read's bytes (all consumed unless a reply is split) and returns the step.
func (s *session) read(p string) Step {
	n, step := s.c.Feed([]byte(p), 1)
	if rest := p[n:]; rest != "" && step == StepRead && strings.Contains(rest, "\n") {
		s.t.Fatalf("%q left unconsumed", rest)
	}
	return step
}

// handOver flushes the output and returns it.
func (s *session) handOver() string {
	var out []byte
	for _, b := range s.c.Output(nil) {
		out = append(out, b...)
	}
	s.c.Flushed(0)
	return string(out)
}

// A reply whose first bytes arrived before its command went out answers no command,
// even when its end arrives after: it was sent ahead of the command.
func TestClientReplySplitAroundItsCommand(t *testing.T) {
	s := newSession(t, Config{}, 1)
	held := "220 hi\r\n25"
	n, step := s.c.Feed([]byte(held), 1)
	if step != StepRead || n != len("220 hi\r\n") {
		t.Fatalf("step %v, consumed %d", step, n)
	}
	if out := s.handOver(); out != "HELO \r\n" {
		t.Fatalf("sent %q", out)
	}
	if step := s.read("250 sim\r\n"); step != StepFatal ||
		s.c.Err().Error() != "unexpected reply with no command outstanding: 250 sim" {
		t.Fatalf("step %v, err %v", step, s.c.Err())
	}
	// The same bytes when the reply starts after the hand-over: its answer.
	s = newSession(t, Config{}, 1)
	s.read("220 hi\r\n")
	s.handOver()
	if n, step := s.c.Feed([]byte("25"), 2); n != 0 || step != StepRead {
		t.Fatalf("consumed %d, step %v", n, step)
	}
	if step := s.read("250 sim\r\n"); step != StepRead || s.handOver() != "MAIL FROM:<a>\r\n" {
		t.Fatalf("step %v, err %v", step, s.c.Err())
	}
}

// A 421 that answers no command is the server closing the session.
func TestClientServerClosing(t *testing.T) {
	const bye = "421 4.4.2 mx Error: timeout exceeded\r\n"
	const text = "server closed the session: 421 4.4.2 mx Error: timeout exceeded"
	greet := []string{"220 hi\r\n", "250 hi\r\n", "250 ok\r\n", "250 ok\r\n", "354 go\r\n"}
	for _, tc := range []struct {
		name      string
		cfg       Config
		reads     []string // the last one holds the 421
		step      Step
		where     string // the error key's phase; "" for no error
		outcomes  string // messages 1 and 2: a, r, f or - (not reported)
		unstarted int64
		warnings  int
	}{
		{"idle between messages, -A", Config{ReuseConnection: true, PauseBetween: true, AllowReject: true},
			append(greet, "250 queued\r\n", bye), StepClose, "session", "a-", 0, 1},
		{"idle between messages", Config{ReuseConnection: true, PauseBetween: true},
			append(greet, "250 queued\r\n", bye), StepFatal, "session", "a-", 0, 0},
		{"with the dot's reply, the next MAIL not sent, -A", Config{ReuseConnection: true, AllowReject: true},
			append(greet, "250 queued\r\n"+bye), StepClose, "mail", "a-", 2, 1},
		{"with the dot's reply, the next MAIL not sent", Config{ReuseConnection: true},
			append(greet, "250 queued\r\n"+bye), StepFatal, "mail", "a-", 2, 0},
		{"with the MAIL reply, the RCPT not sent, -A", Config{AllowReject: true},
			[]string{"220 hi\r\n", "250 hi\r\n", "250 ok\r\n" + bye}, StepClose, "rcpt", "r-", 0, 1},
		{"with the dot's reply, QUIT not sent", Config{},
			append(greet, "250 queued\r\n"+bye), StepDone, "", "a-", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSession(t, tc.cfg, 2)
			var step Step
			for i, r := range tc.reads {
				if step = s.read(r); i < len(tc.reads)-1 && step != StepRead && step != StepPause {
					t.Fatalf("read %d: step %v, %v", i, step, s.c.Err())
				}
				if i < len(tc.reads)-1 {
					s.handOver()
				}
			}
			if step != tc.step || s.c.OutputLen() != 0 {
				t.Fatalf("step %v, want %v; %d bytes left to send", step, tc.step, s.c.OutputLen())
			}
			var re *ReplyError
			switch err := s.c.Err(); {
			case tc.where == "" && err != nil:
				t.Fatalf("err %v", err)
			case tc.where != "" && (!errors.As(err, &re) || re.Where() != tc.where || err.Error() != text):
				t.Fatalf("err %v (%+v), want %q at %s", err, re, text, tc.where)
			}
			got := ""
			for seq := int64(1); seq <= 2; seq++ {
				if o, ok := s.rec.outcomes[seq]; ok {
					got += o.String()[:1]
				} else {
					got += "-"
				}
			}
			if seq, _ := s.c.Unstarted(); got != tc.outcomes || seq != tc.unstarted || len(s.rec.warnings) != tc.warnings {
				t.Fatalf("outcomes %q, unstarted %d, warnings %q; want %q, %d, %d", got, seq, s.rec.warnings,
					tc.outcomes, tc.unstarted, tc.warnings)
			}
		})
	}
}

// DotSent is reported when the dot is handed over, never for a body the server's close
// kept from going out.
func TestClientDotSentAtHandOver(t *testing.T) {
	s := newSession(t, Config{AllowReject: true}, 1)
	for _, r := range []string{"220 hi\r\n", "250 hi\r\n", "250 ok\r\n", "250 ok\r\n"} {
		s.read(r)
		s.handOver()
	}
	if s.read("354 go\r\n"); s.rec.dots != 0 {
		t.Fatal("DotSent before the hand-over")
	}
	if s.handOver(); s.rec.dots != 1 {
		t.Fatalf("%d DotSent after it", s.rec.dots)
	}
	s = newSession(t, Config{AllowReject: true}, 1)
	for _, r := range []string{"220 hi\r\n", "250 hi\r\n", "250 ok\r\n", "250 ok\r\n"} {
		s.read(r)
		s.handOver()
	}
	if step := s.read("354 go\r\n421 4.3.2 shutting down\r\n"); step != StepClose || s.handOver() != "" || s.rec.dots != 0 {
		t.Fatalf("step %v, dots %d", step, s.rec.dots)
	}
	if s.rec.outcomes[1] != Rejected {
		t.Fatalf("outcome %v", s.rec.outcomes[1])
	}
}

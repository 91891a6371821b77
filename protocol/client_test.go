package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"
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

// simServer answers like smtp-sink, with configurable replies per command, and records
// every byte the client sent. It understands pipelined input.
type simServer struct {
	replies  map[string]string // command verb (or "." / "banner") → reply; default below
	lmtp     bool
	seen     bytes.Buffer
	pending  []byte
	inData   bool
	rcpts    int
	ehloCaps string
	closed   bool
	tls      tlsSim // STARTTLS and AUTH (starttls_test.go)
}

func (s *simServer) reply(verb, def string) string {
	if r, ok := s.replies[verb]; ok {
		return r
	}
	return def
}

func (s *simServer) banner() string { return s.reply("banner", "220 sim ESMTP\r\n") }

// input consumes client bytes and returns the server's replies to complete lines.
func (s *simServer) input(p []byte) string {
	s.seen.Write(p)
	s.pending = append(s.pending, p...)
	var out strings.Builder
	for {
		i := bytes.Index(s.pending, []byte("\r\n"))
		if i < 0 {
			return out.String()
		}
		line := string(s.pending[:i])
		s.pending = s.pending[i+2:]
		if s.inData {
			if line == "." {
				s.inData = false
				r := s.reply(".", "250 2.0.0 Ok: queued as X\r\n")
				if s.lmtp {
					out.WriteString(strings.Repeat(r, s.rcpts))
				} else {
					out.WriteString(r)
				}
				s.rcpts = 0
			}
			continue
		}
		if s.tls.authMech != "" {
			out.WriteString(s.authContinue(line))
			continue
		}
		verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
		switch verb {
		case "STARTTLS":
			out.WriteString(s.startTLS())
		case "AUTH":
			out.WriteString(s.authStart(line))
		case "HELO":
			out.WriteString(s.reply("HELO", "250 sim\r\n"))
		case "EHLO", "LHLO":
			out.WriteString(s.reply(verb, "250-sim\r\n"+s.ehloCaps+s.tlsCaps()+"250 8BITMIME\r\n"))
		case "MAIL":
			out.WriteString(s.reply("MAIL", "250 2.1.0 Ok\r\n"))
		case "RCPT":
			r := s.reply("RCPT", "250 2.1.5 Ok\r\n")
			if strings.HasPrefix(r, "2") {
				s.rcpts++
			}
			out.WriteString(r)
		case "DATA":
			r := s.reply("DATA", "354 go\r\n")
			if strings.HasPrefix(r, "354") {
				s.inData = true
			}
			out.WriteString(r)
		case "RSET":
			s.rcpts = 0
			out.WriteString(s.reply("RSET", "250 2.0.0 Ok\r\n"))
		case "QUIT":
			out.WriteString("221 2.0.0 Bye\r\n")
			s.closed = true
		default:
			out.WriteString("500 5.5.1 unknown\r\n")
		}
	}
}

type scenario struct {
	cfg      Config
	spec     MessageSpec
	messages int64
	server   simServer
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
	c := NewClient(&sc.cfg, rec, 1)
	var res run
	res.rec = rec
	now := int64(0)
	var all bytes.Buffer
	for guard := 0; guard < 1000; guard++ {
		seq, ok := src.Claim()
		if !ok {
			break
		}
		res.sessions++
		srv := sc.server // copy: a fresh connection
		srv.replies = sc.server.replies
		srv.seen = bytes.Buffer{}
		now += 1000
		c.Start(seq, now)
		inbox := []byte(srv.banner())
		var buffered []byte
		step := StepRead
		if sc.cfg.ImplicitTLS {
			now += 1000
			c.TLSDone(now)
			res.handshakes++
		}
		for step == StepRead || step == StepPause || step == StepStartTLS {
			if step == StepStartTLS {
				if len(buffered) > 0 || len(inbox) > 0 {
					res.injected = append(append(res.injected, buffered...), inbox...)
					c.Fail(errors.New("injected"))
					step = StepFatal
					break
				}
				srv.tls.active = true
				res.handshakes++
				now += 1000
				c.TLSDone(now)
				step = StepRead
			}
			if step == StepPause {
				step = c.Resume(now)
			}
			var out []byte
			for _, b := range c.Output(nil) {
				out = append(out, b...)
			}
			c.Flushed()
			if len(out) > 0 {
				inbox = append(inbox, srv.input(out)...)
			}
			if step == StepPause {
				continue
			}
			if len(inbox) == 0 {
				t.Fatalf("deadlock: client waits, server has nothing to say; client so far:\n%s", srv.seen.String())
			}
			n := 1 + rng.Intn(maxChunk)
			if n > len(inbox) {
				n = len(inbox)
			}
			buffered = append(buffered, inbox[:n]...)
			inbox = inbox[n:]
			now += 1000
			used, st := c.Feed(buffered, now)
			buffered = buffered[used:]
			step = st
			res.steps = append(res.steps, st)
		}
		// The final Output (QUIT) is flushed by the engine before closing.
		for _, b := range c.Output(nil) {
			srv.input(b)
		}
		c.Flushed()
		all.Write(srv.seen.Bytes())
		if step == StepFatal {
			res.err = c.Err()
			break
		}
		if c.OutOfMessages() {
			break
		}
	}
	c.Release()
	res.client = all.String()
	if rec.bad != "" {
		t.Fatal(rec.bad)
	}
	return res
}

const defaultMessage = "From: <foo@vm>\r\nTo: <foo@vm>\r\nDate: Sat, 28 Nov 2026 17:40:54 +0000 (UTC)\r\n" +
	"Message-Id: <%s>\r\n\r\n" +
	"La de da de da 1.\r\nLa de da de da 2.\r\nLa de da de da 3.\r\nLa de da de da 4.\r\n.\r\n"

func msg(id string) string { return fmt.Sprintf(defaultMessage, id) }

func TestClientTranscripts(t *testing.T) {
	base := MessageSpec{Sender: "foo@vm", Recipient: "foo@vm", Recipients: 1, Headers: true, PID: 0x1eb4}
	tests := []struct {
		name     string
		sc       scenario
		want     string
		outcomes string // per message, in order: a=accepted r=rejected f=failed
		warnings int
		fatal    string
	}{
		{
			name:     "smtp-source default",
			sc:       scenario{spec: base, messages: 1},
			want:     "HELO vm\r\nMAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\nDATA\r\n" + msg("1eb4.0001.0001@vm") + "QUIT\r\n",
			outcomes: "a",
		},
		{
			name: "-d: two messages on one connection, no RSET",
			sc:   scenario{cfg: Config{ReuseConnection: true}, spec: base, messages: 2},
			want: "HELO vm\r\nMAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\nDATA\r\n" + msg("1eb4.0001.0001@vm") +
				"MAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\nDATA\r\n" + msg("1eb4.0001.0002@vm") + "QUIT\r\n",
			outcomes: "aa",
		},
		{
			name: "without -d: a connection per message",
			sc:   scenario{spec: base, messages: 2},
			want: "HELO vm\r\nMAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\nDATA\r\n" + msg("1eb4.0001.0001@vm") + "QUIT\r\n" +
				"HELO vm\r\nMAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\nDATA\r\n" + msg("1eb4.0001.0002@vm") + "QUIT\r\n",
			outcomes: "aa",
		},
		{
			name: "-r 3, Postfix 3.7 numbering counts down",
			sc: scenario{spec: func() MessageSpec {
				s := base
				s.Recipients, s.Numbering, s.Headers = 3, NumberingPostfix37, false
				return s
			}(), messages: 1},
			want: "HELO vm\r\nMAIL FROM:<foo@vm>\r\nRCPT TO:<3foo@vm>\r\nRCPT TO:<2foo@vm>\r\nRCPT TO:<foo@vm>\r\nDATA\r\n" +
				"La de da de da 1.\r\nLa de da de da 2.\r\nLa de da de da 3.\r\nLa de da de da 4.\r\n.\r\nQUIT\r\n",
			outcomes: "a",
		},
		{
			name: "-o: no HELO, no headers",
			sc: scenario{cfg: Config{Greeting: GreetNone}, spec: func() MessageSpec {
				s := base
				s.Headers = false
				return s
			}(), messages: 1},
			want: "MAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\nDATA\r\n" +
				"La de da de da 1.\r\nLa de da de da 2.\r\nLa de da de da 3.\r\nLa de da de da 4.\r\n.\r\nQUIT\r\n",
			outcomes: "a",
		},
		{
			name: "LMTP: one reply per accepted recipient after the dot",
			sc: scenario{cfg: Config{Greeting: GreetLHLO, LMTP: true}, spec: func() MessageSpec {
				s := base
				s.Recipients, s.Numbering, s.Headers = 3, NumberingPostfix37, false
				return s
			}(), messages: 1, server: simServer{lmtp: true}},
			want: "LHLO vm\r\nMAIL FROM:<foo@vm>\r\nRCPT TO:<3foo@vm>\r\nRCPT TO:<2foo@vm>\r\nRCPT TO:<foo@vm>\r\nDATA\r\n" +
				"La de da de da 1.\r\nLa de da de da 2.\r\nLa de da de da 3.\r\nLa de da de da 4.\r\n.\r\nQUIT\r\n",
			outcomes: "a",
		},
		{
			name: "PIPELINING with -d: envelope in one write, next envelope after the dot",
			sc: scenario{cfg: Config{Greeting: GreetEHLO, Pipelining: true, ReuseConnection: true}, spec: func() MessageSpec {
				s := base
				s.Recipients = 2
				s.Headers = false
				return s
			}(), messages: 2, server: simServer{ehloCaps: "250-PIPELINING\r\n"}},
			want: "EHLO vm\r\nMAIL FROM:<foo@vm>\r\nRCPT TO:<foo0@vm>\r\nRCPT TO:<foo1@vm>\r\nDATA\r\n" +
				"La de da de da 1.\r\nLa de da de da 2.\r\nLa de da de da 3.\r\nLa de da de da 4.\r\n.\r\n" +
				"MAIL FROM:<foo@vm>\r\nRCPT TO:<foo2@vm>\r\nRCPT TO:<foo3@vm>\r\nDATA\r\n" +
				"La de da de da 1.\r\nLa de da de da 2.\r\nLa de da de da 3.\r\nLa de da de da 4.\r\n.\r\nQUIT\r\n",
			outcomes: "aa",
		},
		{
			name: "--pipelining without the server's PIPELINING: one command at a time",
			sc: scenario{cfg: Config{Greeting: GreetEHLO, Pipelining: true, ReuseConnection: true}, spec: func() MessageSpec {
				s := base
				s.Headers = false
				return s
			}(), messages: 1},
			want: "EHLO vm\r\nMAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\nDATA\r\n" +
				"La de da de da 1.\r\nLa de da de da 2.\r\nLa de da de da 3.\r\nLa de da de da 4.\r\n.\r\nQUIT\r\n",
			outcomes: "a",
		},
		{
			name:     "rejected recipient without -A is fatal",
			sc:       scenario{spec: base, messages: 2, server: simServer{replies: map[string]string{"RCPT": "450 4.3.0 Error: command failed\r\n"}}},
			want:     "HELO vm\r\nMAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\n",
			outcomes: "r",
			fatal:    "recipient rejected: 450 4.3.0 Error: command failed",
		},
		{
			name: "-A -d: rejected recipient, RSET, next message",
			sc:   scenario{cfg: Config{AllowReject: true, ReuseConnection: true}, spec: base, messages: 2, server: simServer{replies: map[string]string{"RCPT": "450 4.3.0 Error: command failed\r\n"}}},
			want: "HELO vm\r\nMAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\nRSET\r\n" +
				"MAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\nRSET\r\nQUIT\r\n",
			outcomes: "rr",
			warnings: 2,
		},
		{
			name: "-A: 421 to MAIL closes without QUIT",
			sc:   scenario{cfg: Config{AllowReject: true}, spec: base, messages: 2, server: simServer{replies: map[string]string{"MAIL": "421 4.0.0 Server closing connection\r\n"}}},
			want: "HELO vm\r\nMAIL FROM:<foo@vm>\r\n" +
				"HELO vm\r\nMAIL FROM:<foo@vm>\r\n",
			outcomes: "rr",
			warnings: 2,
		},
		{
			name:     "-A: DATA rejected, RSET",
			sc:       scenario{cfg: Config{AllowReject: true}, spec: base, messages: 1, server: simServer{replies: map[string]string{"DATA": "500 5.3.0 Error: command failed\r\n"}}},
			want:     "HELO vm\r\nMAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\nDATA\r\nRSET\r\nQUIT\r\n",
			outcomes: "r",
			warnings: 1,
		},
		{
			name:     "-A: end of data rejected, next step is QUIT",
			sc:       scenario{cfg: Config{AllowReject: true}, spec: base, messages: 1, server: simServer{replies: map[string]string{".": "554 5.7.1 no\r\n"}}},
			want:     "HELO vm\r\nMAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\nDATA\r\n" + msg("1eb4.0001.0001@vm") + "QUIT\r\n",
			outcomes: "r",
			warnings: 1,
		},
		{
			name:     "-A: banner rejection is a warning and HELO follows",
			sc:       scenario{cfg: Config{AllowReject: true}, spec: base, messages: 1, server: simServer{replies: map[string]string{"banner": "450 busy\r\n"}}},
			want:     "HELO vm\r\nMAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\nDATA\r\n" + msg("1eb4.0001.0001@vm") + "QUIT\r\n",
			outcomes: "a",
			warnings: 1,
		},
		{
			name:     "banner rejection without -A is fatal",
			sc:       scenario{spec: base, messages: 1, server: simServer{replies: map[string]string{"banner": "554 go away\r\n"}}},
			want:     "",
			outcomes: "r",
			fatal:    "rejected at server banner: 554 go away",
		},
		{
			name: "-A PIPELINING: rejected MAIL consumes the owed replies, then RSET",
			sc: scenario{cfg: Config{AllowReject: true, Greeting: GreetEHLO, Pipelining: true}, spec: base, messages: 1,
				server: simServer{ehloCaps: "250-PIPELINING\r\n", replies: map[string]string{"MAIL": "550 5.1.0 no\r\n", "RCPT": "503 5.5.1 need MAIL\r\n", "DATA": "503 5.5.1 need RCPT\r\n"}}},
			want:     "EHLO vm\r\nMAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\nDATA\r\nRSET\r\nQUIT\r\n",
			outcomes: "r",
			warnings: 1,
		},
		{
			name: "-A PIPELINING: server accepts DATA after every RCPT failed: empty message ended, RSET",
			sc: scenario{cfg: Config{AllowReject: true, Greeting: GreetEHLO, Pipelining: true}, spec: base, messages: 1,
				server: simServer{ehloCaps: "250-PIPELINING\r\n", replies: map[string]string{"RCPT": "550 5.1.1 unknown\r\n"}}},
			want:     "EHLO vm\r\nMAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\nDATA\r\n.\r\nRSET\r\nQUIT\r\n",
			outcomes: "r",
			warnings: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewSource(1))
			// Every transcript in whole reads, then in random chunkings down to one byte.
			for _, maxChunk := range []int{1 << 20, 1, 2, 3, 7, 16} {
				for rep := 0; rep < 20; rep++ {
					res := drive(t, tc.sc, rng, maxChunk)
					if res.client != tc.want {
						t.Fatalf("chunk %d (err %v): client sent\n%q\nwant\n%q", maxChunk, res.err, res.client, tc.want)
					}
					var got string
					for seq := int64(1); seq <= int64(len(tc.outcomes)); seq++ {
						o, ok := res.rec.outcomes[seq]
						if !ok {
							got += "-"
							continue
						}
						got += o.String()[:1]
					}
					if got != tc.outcomes || len(res.rec.outcomes) != len(tc.outcomes) {
						t.Fatalf("outcomes %q (%v), want %q", got, res.rec.outcomes, tc.outcomes)
					}
					if len(res.rec.warnings) != tc.warnings {
						t.Fatalf("warnings %q, want %d", res.rec.warnings, tc.warnings)
					}
					if tc.fatal == "" && res.err != nil || tc.fatal != "" && (res.err == nil || res.err.Error() != tc.fatal) {
						t.Fatalf("fatal error %v, want %q", res.err, tc.fatal)
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
		{"reply while idle between messages", []string{"220 hi\r\n", "250 hi\r\n", "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 queued\r\n", "421 timeout\r\n"}, "unexpected reply", Accepted},
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
				c.Flushed()
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
		c.Flushed()
	}
	feed([]byte("220 x\r\n"))
	feed([]byte("250 x\r\n"))
	cycle := []byte("250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n")
	dot := []byte("250 queued\r\n")
	for i := 0; i < 10; i++ { // warm the buffer up to its working size
		feed(cycle)
		feed(dot)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		feed(cycle)
		feed(dot)
	})
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

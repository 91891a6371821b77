package engine

import (
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/protocol"
)

// hotPath is one slot of a real runner with its event loop's recorder, on a kept
// connection (-d) that has been greeted: what the event loop runs per message, without
// the sockets. The server's replies are fed from byte strings and the machine's output is
// taken as flush takes it.
type hotPath struct {
	r   *runner
	s   *slot
	rec *metrics.Recorder
}

func newHotPath(tb testing.TB, pipelining bool) *hotPath {
	tb.Helper()
	return newHotPathSpec(tb, pipelining, protocol.MessageSpec{Sender: "a@x", Recipient: "b@y", Recipients: 1, Headers: true,
		Hostname: "vm", Date: "d", PID: 1, Content: protocol.DefaultContent()})
}

// newHotPathSpec is newHotPath for messages of spec.
func newHotPathSpec(tb testing.TB, pipelining bool, spec protocol.MessageSpec) *hotPath {
	tb.Helper()
	return newHotPathESMTP(tb, pipelining, spec, nil)
}

// newHotPathESMTP is newHotPathSpec with the service extensions e (nil: none), which the
// server announces (PIPELINING only when pipelining).
func newHotPathESMTP(tb testing.TB, pipelining bool, spec protocol.MessageSpec, e *protocol.ESMTP) *hotPath {
	tb.Helper()
	target, err := ParseTarget("127.0.0.1:25")
	if err != nil {
		tb.Fatal(err)
	}
	cfg := resolved(tb, target)
	cfg.Sessions, cfg.Messages, cfg.Timeout = 1, 1<<50, time.Minute
	cfg.Protocol = protocol.Config{Hostname: "vm", Template: protocol.NewTemplate(spec), ReuseConnection: true}
	if pipelining {
		cfg.Protocol.Pipelining, cfg.Protocol.Greeting = true, protocol.GreetEHLO
	}
	if e != nil {
		e.Prepare(cfg.Protocol.Template)
		cfg.Protocol.ESMTP, cfg.Protocol.Greeting = e, protocol.GreetEHLO
	}
	r := newRunner(cfg, nil, cfg.Messages, nil, false)
	tb.Cleanup(r.release)
	r.epoch = time.Now()
	h := &hotPath{r: r, s: r.addSlot(), rec: metrics.NewRecorder()}
	h.s.rec = h.rec
	seq, ok := h.s.take()
	if !ok {
		tb.Fatal("no message to take")
	}
	h.s.client.Start(seq, r.now())
	h.feed(tb, []byte("220 x ESMTP\r\n"))
	switch {
	case e != nil:
		h.feed(tb, []byte("250-x\r\n250-PIPELINING\r\n250-SIZE\r\n250-CHUNKING\r\n250 8BITMIME\r\n"))
	case pipelining:
		h.feed(tb, []byte("250-x\r\n250-PIPELINING\r\n250 8BITMIME\r\n"))
	default:
		h.feed(tb, []byte("250 x\r\n"))
	}
	return h
}

// messageEach sends one message, the server's replies one read each: for BDAT in chunks,
// whose count varies with the message's size.
func (h *hotPath) messageEach(tb testing.TB, reply []byte) {
	for before := h.s.accepted; h.s.accepted == before; {
		h.feed(tb, reply)
	}
}

// feed hands the machine one read's worth of replies, then writes what it answers.
func (h *hotPath) feed(tb testing.TB, replies []byte) {
	s := h.s
	n, step := s.client.Feed(replies, h.r.now())
	if step != protocol.StepRead || n != len(replies) {
		tb.Fatalf("step %v, %d bytes of %q consumed: %v", step, n, replies, s.client.Err())
	}
	s.vec = s.client.Output(s.vec[:0])
	clear(s.vec)
	s.client.Flushed(0)
}

// messageReplies is one message's replies, as the reads deliver them.
func messageReplies(pipelining bool) [][]byte {
	reads := []string{"250 2.1.0 Ok\r\n", "250 2.1.5 Ok\r\n", "354 go\r\n", "250 2.0.0 Ok: queued as X\r\n"}
	if pipelining {
		reads = []string{"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n", "250 2.0.0 Ok: queued as X\r\n"}
	}
	return replyReads(reads)
}

// bdatReplies is one message's replies when it goes out pipelined in one BDAT chunk: one
// read.
func bdatReplies() [][]byte {
	return replyReads([]string{"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok: queued as X\r\n"})
}

func replyReads(reads []string) [][]byte {
	out := make([][]byte, len(reads))
	for i, r := range reads {
		out[i] = []byte(r)
	}
	return out
}

// BenchmarkHotPathMessage is the protocol machine plus the recording of one message (its
// phases, counters, outcome) per iteration: ns/op is ns per message.
func BenchmarkHotPathMessage(b *testing.B) {
	for _, pipelining := range []bool{false, true} {
		name := "-d"
		if pipelining {
			name = "-d --pipelining"
		}
		b.Run(name, func(b *testing.B) {
			h := newHotPath(b, pipelining)
			replies := messageReplies(pipelining)
			b.ReportAllocs()
			for b.Loop() {
				for _, r := range replies {
					h.feed(b, r)
				}
			}
			b.StopTimer()
			if got := h.s.accepted; got < int64(b.N) {
				b.Fatalf("%d messages accepted after %d", got, b.N)
			}
		})
	}
}

// TestHotPathAllocations: a message on a kept connection, the machine's work and its
// recording together, allocates nothing once the slot is warm.
func TestHotPathAllocations(t *testing.T) {
	for _, pipelining := range []bool{false, true} {
		h := newHotPath(t, pipelining)
		replies := messageReplies(pipelining)
		message := func() {
			for _, r := range replies {
				h.feed(t, r)
			}
		}
		message() // warm: the first message sizes the slot's buffers
		if n := testing.AllocsPerRun(1000, message); n != 0 {
			t.Errorf("pipelining=%v: %.2f allocations per message, want 0", pipelining, n)
		}
		if h.s.accepted < 1001 {
			t.Errorf("pipelining=%v: %d messages accepted, want ≥ 1001", pipelining, h.s.accepted)
		}
	}
}

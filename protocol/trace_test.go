package protocol

import (
	"bytes"
	"strings"
	"testing"
)

func TestTraceHeader(t *testing.T) {
	spec := MessageSpec{Recipient: "b@y", Recipients: 1, Headers: true, Hostname: "vm", Date: "D", PID: 1, Content: DefaultContent()}
	plain := NewTemplate(spec)
	if plain.Traced() || len(plain.AppendTraceHeader(nil, 1, 1)) != 0 {
		t.Fatalf("an untraced template writes a trace header")
	}
	spec.Trace = &TraceSpec{Header: "X-GSS-Trace", Run: "run-1.a"}
	traced := NewTemplate(spec)
	traced.SetTraceEpoch(1_800_000_000_000_000_000)
	if got := string(traced.AppendTraceHeader([]byte("x"), 42, 5)); got != "xX-GSS-Trace: run-1.a 42 1800000000000000005\r\n" {
		t.Errorf("%q", got)
	}
	if !bytes.Equal(traced.Body(), plain.Body()) || !bytes.Equal(traced.AppendHeaders(nil, 3, 1), plain.AppendHeaders(nil, 3, 1)) {
		t.Errorf("the trace changed the other headers or the body")
	}
	buf := make([]byte, 0, 128)
	if n := testing.AllocsPerRun(100, func() { buf = traced.AppendTraceHeader(buf[:0], 1<<40, 1<<50) }); n != 0 {
		t.Errorf("%v allocations per trace header", n)
	}
}

// A traced client puts the header first in every message, stamped with the time the
// content goes out (the epoch plus the now of the 354 that asked for it), and still
// allocates nothing per message.
func TestTracedClient(t *testing.T) {
	spec := MessageSpec{Sender: "a@x", Recipient: "b@y", Recipients: 1, Headers: true, Hostname: "vm", Date: "d",
		Content: DefaultContent(), Trace: &TraceSpec{Header: "X-T", Run: "r"}}
	tmpl := NewTemplate(spec)
	tmpl.SetTraceEpoch(1000)
	src := &counterSource{total: 1 << 40}
	cfg := Config{ReuseConnection: true, Template: tmpl, Source: src}
	c := NewClient(&cfg, nopObserver{}, 0)
	seq, _ := src.Claim()
	c.Start(seq, 0)
	var sent bytes.Buffer
	now := int64(0)
	feed := func(s string) {
		now += 10
		if _, step := c.Feed([]byte(s), now); step != StepRead {
			t.Fatalf("step %v: %v", step, c.Err())
		}
		for _, b := range c.Output(nil) {
			sent.Write(b)
		}
		c.Flushed(0)
	}
	message := func() {
		for _, r := range []string{"250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 queued\r\n"} {
			feed(r)
		}
	}
	feed("220 x\r\n")
	feed("250 x\r\n")
	message()
	message()
	out := sent.String()
	for _, want := range []string{"DATA\r\nX-T: r 1 1050\r\nFrom: <a@x>\r\n", "DATA\r\nX-T: r 2 1090\r\nFrom: <a@x>\r\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in %q", want, out)
		}
	}
	cycle := [][]byte{[]byte("250 ok\r\n"), []byte("250 ok\r\n"), []byte("354 go\r\n"), []byte("250 queued\r\n")}
	quiet := func() {
		for _, r := range cycle {
			now += 10
			c.Feed(r, now)
			c.Flushed(0)
		}
	}
	for range 10 { // warm the buffer up to its working size
		quiet()
	}
	allocs := testing.AllocsPerRun(1000, quiet)
	if allocs != 0 {
		t.Errorf("%.1f allocations per traced message, want 0", allocs)
	}
}

package engine

import (
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// gnetProbe runs one check per OnTraffic on the client side of a gnet connection.
type gnetProbe struct {
	gnet.BuiltinEventEngine
	checks  chan func(gnet.Conn) error
	results chan error
}

func (p *gnetProbe) OnTraffic(c gnet.Conn) gnet.Action {
	p.results <- (<-p.checks)(c)
	return gnet.None
}

func peekIs(c gnet.Conn, want string) error {
	buf, err := c.Peek(-1)
	if err != nil || string(buf) != want {
		return fmt.Errorf("Peek(-1) = %q, %v; want %q", buf, err, want)
	}
	if n := c.InboundBuffered(); n != len(want) {
		return fmt.Errorf("InboundBuffered() = %d, want %d", n, len(want))
	}
	return nil
}

// peekDiscardSteps are the reads of TestGnetPeekDiscard: what the server sends, and what
// OnTraffic then checks and does.
var peekDiscardSteps = []struct {
	send  string
	check func(gnet.Conn) error
}{
	{"abc", func(c gnet.Conn) error { return peekIs(c, "abc") }}, // left unconsumed
	{"def", func(c gnet.Conn) error {
		if err := peekIs(c, "abcdef"); err != nil {
			return err
		}
		if buf, err := c.Peek(7); buf != nil || !errors.Is(err, io.ErrShortBuffer) {
			return fmt.Errorf("Peek(7) of 6 = %q, %v; want io.ErrShortBuffer", buf, err)
		}
		if n, err := c.Discard(1); n != 1 || err != nil {
			return fmt.Errorf("Discard(1) = %d, %v", n, err)
		}
		if err := peekIs(c, "bcdef"); err != nil {
			return err
		}
		if n, _ := c.Discard(0); n != 5 || c.InboundBuffered() != 0 {
			return fmt.Errorf("Discard(0) = %d, %d left; gnet's Discard(0) no longer drops everything: see readPlain", n, c.InboundBuffered())
		}
		return nil
	}},
	{"ghi", func(c gnet.Conn) error {
		if err := peekIs(c, "ghi"); err != nil {
			return err
		}
		if n, _ := c.Discard(-1); n != 3 || c.InboundBuffered() != 0 {
			return fmt.Errorf("Discard(-1) = %d, %d left", n, c.InboundBuffered())
		}
		return nil
	}},
	{"jkl", func(c gnet.Conn) error {
		if err := peekIs(c, "jkl"); err != nil {
			return err
		}
		if n, _ := c.Discard(3); n != 3 || c.InboundBuffered() != 0 {
			return fmt.Errorf("Discard(3) of 3 = %d, %d left", n, c.InboundBuffered())
		}
		return nil
	}},
	{"mno", func(c gnet.Conn) error { return peekIs(c, "mno") }},
}

// TestGnetPeekDiscard pins down what the engine's plain read path (readPlain) relies on
// and what it avoids, so that a gnet upgrade that changes either fails here:
//   - Peek(-1) returns every byte buffered: what earlier callbacks left unconsumed, then
//     the new read; bytes left unconsumed when OnTraffic returns are kept for the next;
//   - Peek(n) beyond what is buffered fails with io.ErrShortBuffer and consumes nothing;
//   - Discard(n) for 0 < n < buffered drops n bytes; Discard(len) drops them all;
//   - Discard(0), and any n <= 0, drops everything buffered (not nothing): the engine
//     never asks gnet to keep part of its buffer.
func TestGnetPeekDiscard(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	probe := &gnetProbe{checks: make(chan func(gnet.Conn) error, 1), results: make(chan error, 1)}
	cli, err := gnet.NewClient(probe, gnet.WithLogger(silentLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.Start(); err != nil {
		t.Fatal(err)
	}
	defer cli.Stop()
	if _, err := cli.Dial("tcp", ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for i, step := range peekDiscardSteps {
		probe.checks <- step.check
		if _, err := srv.Write([]byte(step.send)); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-probe.results:
			if err != nil {
				t.Fatalf("read %d (%q): %v", i+1, step.send, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("read %d (%q): no OnTraffic within 10s", i+1, step.send)
		}
	}
}

package tlsconn

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// loopConn is the part of a gnet.Conn the wire uses on the loop: what arrived (in).
type loopConn struct {
	gnet.Conn
	in []byte
}

func (c *loopConn) Read(p []byte) (int, error) {
	n := copy(p, c.in)
	c.in = c.in[n:]
	return n, nil
}
func (c *loopConn) InboundBuffered() int  { return len(c.in) }
func (c *loopConn) LocalAddr() net.Addr   { return nil }
func (c *loopConn) RemoteAddr() net.Addr  { return nil }
func (c *loopConn) arrive(records []byte) { c.in = append(c.in, records...) }

// TestWireReadsPendingFirst: records that came with the handshake's last flight (fed to
// the handshake, not read by it) reach crypto/tls before gnet's buffer once the session
// is on the loop, also when one record is split between the two, one record per Read.
func TestWireReadsPendingFirst(t *testing.T) {
	first := record([]byte("EHLO client\r\n"))
	second := record([]byte("MAIL FROM:<a@b>\r\n"))
	third := record([]byte("RCPT TO:<c@d>\r\n"))
	gc := &loopConn{}
	w := newWire(gc)
	w.feed(append(bytes.Clone(first), second[:9]...))
	w.toLoop()
	gc.arrive(append(bytes.Clone(second[9:]), third...))
	var got [][]byte
	var rec []byte
	for range 20 {
		p := make([]byte, 64)
		n, err := w.Read(p)
		if err == errWouldBlock {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rec = append(rec, p[:n]...)
		if w.framer.atRecordStart() {
			got = append(got, rec)
			rec = nil
		}
	}
	want := [][]byte{first, second, third}
	if len(got) != len(want) || len(rec) != 0 {
		t.Fatalf("read %d records (%d bytes left over), want %d", len(got), len(rec), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("record %d: %q, want %q", i, got[i], want[i])
		}
	}
	if w.pending != nil || len(gc.in) != 0 {
		t.Fatalf("left %d pending and %d gnet bytes", len(w.pending), len(gc.in))
	}
}

// TestWireClosedFailsAfterFed: once closed, the handshake's reads hand out what the loop
// fed and then fail at once, never waiting (Close and CloseDuringHandshake rely on it).
func TestWireClosedFailsAfterFed(t *testing.T) {
	w := newWire(&loopConn{})
	w.feed([]byte("alert"))
	_ = w.Close()
	got, err := io.ReadAll(readerFunc(w.Read))
	if string(got) != "alert" || err != net.ErrClosed {
		t.Fatalf("read %q, %v; want the fed bytes, then net.ErrClosed", got, err)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// asyncConn is a loopConn whose AsyncWrites wait in a queue until the test runs them, as
// on a busy event loop, and whose Wake is a signal.
type asyncConn struct {
	loopConn
	mu      sync.Mutex
	queued  [][]byte
	done    []gnet.AsyncCallback
	written []byte
	woken   chan struct{}
}

func (c *asyncConn) Peek(n int) ([]byte, error) { return c.in, nil }
func (c *asyncConn) Discard(n int) (int, error) { c.in = c.in[n:]; return n, nil }
func (c *asyncConn) AsyncWrite(b []byte, cb gnet.AsyncCallback) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.queued, c.done = append(c.queued, b), append(c.done, cb)
	return nil
}
func (c *asyncConn) Wake(gnet.AsyncCallback) error { close(c.woken); return nil }

// runQueued does the queued writes, as the loop would.
func (c *asyncConn) runQueued() {
	c.mu.Lock()
	queued, done := c.queued, c.done
	c.queued, c.done = nil, nil
	c.mu.Unlock()
	for i, b := range queued {
		c.written = append(c.written, b...)
		_ = done[i](c, nil)
	}
}

// clientHello is what a crypto/tls client configured by cfg sends first.
func clientHello(t *testing.T, cfg *tls.Config) []byte {
	t.Helper()
	cside, sside := net.Pipe()
	defer cside.Close()
	go func() { _ = tls.Client(cside, cfg).Handshake() }()
	buf := make([]byte, 4096)
	n, err := sside.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	sside.Close()
	return buf[:n]
}

// TestHandshakeEndAfterItsWrites: a handshake that ended is reported only once the writes
// it queued are done — a server refusing the client's versions has queued its alert, and
// the loop that closes on the failure must not drop it — also to an OnTraffic that comes
// before the Wake behind them (the one that fed the ClientHello, say).
func TestHandshakeEndAfterItsWrites(t *testing.T) {
	ca := testpeer.NewCA(t, "queued CA")
	gc := &asyncConn{woken: make(chan struct{})}
	c := Server(gc, &tls.Config{Certificates: []tls.Certificate{ca.Issue(t, testpeer.LocalhostSpec()).TLS},
		MinVersion: tls.VersionTLS13})
	c.StartHandshake(5 * time.Second)
	gc.in = clientHello(t, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12})
	c.Feed()
	select {
	case <-gc.woken: // the goroutine has ended
	case <-time.After(10 * time.Second):
		t.Fatal("the handshake did not end")
	}
	if done, err := c.HandshakeDone(); done {
		t.Fatalf("reported the end (%v) while its alert was still queued", err)
	}
	gc.runQueued()
	done, err := c.HandshakeDone()
	if !done || err == nil {
		t.Fatalf("after its writes: done %v, err %v", done, err)
	}
	// An alert record (21) of two bytes: fatal (2), protocol_version (70).
	if w := gc.written; len(w) != 7 || w[0] != 21 || !bytes.Equal(w[3:], []byte{0, 2, 2, 70}) {
		t.Fatalf("wrote %x, want the fatal protocol_version alert", w)
	}
}

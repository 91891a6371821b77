package tlsconn

import (
	"bytes"
	"io"
	"net"
	"testing"

	"github.com/panjf2000/gnet/v2"
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

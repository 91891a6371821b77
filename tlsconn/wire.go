package tlsconn

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// wouldBlock is what the adapter's Read returns on the event loop when gnet has no byte
// buffered. Temporary() is true, so crypto/tls returns it without storing it as the
// connection's permanent error, and keeps a partly read record (Go's crypto/tls
// conn.go, readRecordOrCCS).
type wouldBlock struct{}

func (wouldBlock) Error() string   { return "tlsconn: would block" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

var errWouldBlock net.Error = wouldBlock{}

// wire is the net.Conn that crypto/tls reads and writes: a gnet connection seen through
// two modes. Before the handshake ends it belongs to the handshake goroutine: Read blocks
// until the loop feeds bytes, Write copies and queues an AsyncWrite. Once onLoop is set,
// only the event loop calls it: Read takes what gnet has buffered or returns
// errWouldBlock, Write collects the records for one gnet write.
type wire struct {
	gc     gnet.Conn
	la, ra net.Addr

	mu      sync.Mutex
	cond    sync.Cond // L is &mu; signalled when pending grows or the wire closes
	pending []byte    // bytes fed by the loop and not yet read by crypto/tls
	framer  recordFramer
	closed  bool
	onLoop  bool

	// queued counts AsyncWrites not yet done. While any is, the loop queues its writes
	// behind them, so records never overtake the handshake's last flight.
	queued atomic.Int32
	// out, on the loop: records written by crypto/tls, not yet handed to gnet. It comes
	// from outBufs at the first record and goes back at flush, which ends every call on
	// the loop, so a parked session holds no write buffer.
	out *[]byte
}

// outBufs hold the records of one flush; shared by all connections.
var outBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func newWire(gc gnet.Conn) *wire {
	w := &wire{gc: gc, la: gc.LocalAddr(), ra: gc.RemoteAddr()}
	w.cond.L = &w.mu
	return w
}

// feed appends what the loop read to the handshake's input.
func (w *wire) feed(b []byte) {
	w.mu.Lock()
	w.pending = append(w.pending, b...)
	w.mu.Unlock()
	w.cond.Signal()
}

func (w *wire) Read(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.onLoop {
		if len(w.pending) > 0 {
			return w.framer.take(p, pendingSource{w}), nil
		}
		if w.gc.InboundBuffered() == 0 {
			return 0, errWouldBlock // gnet would say io.ErrShortBuffer, which tls makes sticky
		}
		return w.framer.take(p, w.gc), nil
	}
	for len(w.pending) == 0 && !w.closed {
		w.cond.Wait()
	}
	if len(w.pending) == 0 {
		return 0, net.ErrClosed
	}
	return w.framer.take(p, pendingSource{w}), nil
}

// toLoop hands the wire to the event loop: the handshake is over.
func (w *wire) toLoop() {
	w.mu.Lock()
	w.onLoop = true
	w.mu.Unlock()
}

// idle reports that nothing has arrived that crypto/tls has not been given. Event loop
// only, after the handshake.
func (w *wire) idle() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending) == 0 && w.gc.InboundBuffered() == 0
}

func (w *wire) Write(p []byte) (int, error) {
	if w.onLoop {
		if w.out == nil {
			w.out = outBufs.Get().(*[]byte)
		}
		*w.out = append(*w.out, p...)
		return len(p), nil
	}
	return w.asyncWrite(append([]byte(nil), p...), len(p)) // crypto/tls reuses p
}

// asyncWrite hands b to the loop behind the writes already queued.
func (w *wire) asyncWrite(b []byte, n int) (int, error) {
	w.queued.Add(1)
	if err := w.gc.AsyncWrite(b, w.written); err != nil {
		w.queued.Add(-1)
		return 0, err
	}
	return n, nil
}

func (w *wire) written(gnet.Conn, error) error {
	w.queued.Add(-1)
	return nil
}

// flush hands the records collected on the loop to gnet in one write (gnet copies what
// the socket does not take at once).
func (w *wire) flush() error {
	if w.out == nil {
		return nil
	}
	bp := w.out
	w.out = nil
	var err error
	if out := *bp; len(out) > 0 {
		if w.queued.Load() > 0 {
			_, err = w.asyncWrite(append([]byte(nil), out...), len(out))
		} else {
			_, err = w.gc.Write(out) // gnet copies what the socket does not take at once
		}
	}
	if cap(*bp) <= maxPooledOut {
		*bp = (*bp)[:0]
		outBufs.Put(bp)
	}
	return err
}

// maxPooledOut bounds the buffers outBufs keeps: one that a large message body grew past
// this is left to the collector.
const maxPooledOut = 64 << 10

// Close unblocks a handshake waiting for bytes; it does not close the gnet connection.
func (w *wire) Close() error {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.cond.Broadcast()
	return nil
}

func (w *wire) LocalAddr() net.Addr  { return w.la }
func (w *wire) RemoteAddr() net.Addr { return w.ra }

// Deadlines are not used: the handshake is bounded by its context (which closes the
// wire), and records are read without blocking.
func (w *wire) SetDeadline(time.Time) error      { return nil }
func (w *wire) SetReadDeadline(time.Time) error  { return nil }
func (w *wire) SetWriteDeadline(time.Time) error { return nil }

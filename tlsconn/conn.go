package tlsconn

import (
	"context"
	"crypto/tls"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// maxPlaintext is the most plaintext one TLS record carries (RFC 8446 §5.1).
const maxPlaintext = 16 << 10

// Conn is one TLS session over a gnet connection, client or server side.
type Conn struct {
	gc gnet.Conn
	w  *wire
	tc *tls.Conn

	handshaking bool // on the loop: StartHandshake called, HandshakeDone not yet true
	drained     bool // on the loop: the last read left crypto/tls no decrypted byte
	input            // on the loop: decrypted bytes not consumed yet (input.go)

	mu    sync.Mutex     // between the loop and the handshake goroutine: the fields below
	state handshakeState // where the handshake goroutine is
	hsErr error          // how the handshake ended, once state is handshakeOver
	// cut and cutLoop, set with handshakeCut: what the goroutine reports to once it ends.
	cut     func(error)
	cutLoop gnet.EventLoop
}

// handshakeState is where the handshake goroutine is, as the loop sees it (under mu).
type handshakeState uint8

const (
	// handshakeRunning: the goroutine is running the handshake and owns tc.
	handshakeRunning handshakeState = iota
	// handshakeOver: it has ended (hsErr) and woken the connection; the loop owns tc.
	handshakeOver
	// handshakeCut: the loop closed the connection while it ran; when it ends, the
	// goroutine works out why the handshake ended and reports it to cut on cutLoop.
	handshakeCut
)

// Client starts the client side of TLS over gc. cfg is not modified and may be shared.
func Client(gc gnet.Conn, cfg *tls.Config) *Conn {
	w := newWire(gc)
	return &Conn{gc: gc, w: w, tc: tls.Client(w, cfg)}
}

// Server starts the server side of TLS over gc. cfg is not modified and may be shared.
func Server(gc gnet.Conn, cfg *tls.Config) *Conn {
	w := newWire(gc)
	return &Conn{gc: gc, w: w, tc: tls.Server(w, cfg)}
}

// StartHandshake runs the handshake on a goroutine that ends with it, within timeout.
// When it is over the goroutine wakes the connection (gnet calls OnTraffic), where
// HandshakeDone reports the result. Call it on the event loop, once.
func (c *Conn) StartHandshake(timeout time.Duration) {
	c.handshaking = true
	go c.handshake(timeout)
}

// handshake is the handshake goroutine.
func (c *Conn) handshake(timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	err := c.tc.HandshakeContext(ctx) // on timeout: context.DeadlineExceeded
	cancel()
	c.mu.Lock()
	state := c.state
	if state == handshakeRunning {
		c.hsErr, c.state = err, handshakeOver
	}
	c.mu.Unlock()
	switch state {
	case handshakeRunning:
		_ = c.gc.Wake(nil) // OnTraffic: HandshakeDone
	case handshakeCut:
		c.report(c.whyCut(err)) // tc is still the goroutine's: the loop has let go of it
	case handshakeOver:
		panic("tlsconn: handshake goroutine ran twice")
	}
}

// Handshaking reports that the handshake has started and HandshakeDone has not yet
// reported its end. Event loop only.
func (c *Conn) Handshaking() bool { return c.handshaking }

// Feed hands what gnet has buffered to the handshake. Event loop only, while
// Handshaking; OnTraffic calls it with every arrival.
func (c *Conn) Feed() {
	if buf, _ := c.gc.Peek(-1); len(buf) > 0 {
		c.w.feed(buf)
		_, _ = c.gc.Discard(len(buf))
	}
}

// HandshakeDone reports whether the handshake has ended, and its error. From the call
// that first reports it ended without error, records are read and written on the event
// loop. Event loop only.
func (c *Conn) HandshakeDone() (bool, error) {
	if !c.handshaking {
		return true, c.hsErr
	}
	c.mu.Lock()
	over, err := c.state == handshakeOver, c.hsErr
	c.mu.Unlock()
	// The handshake's last writes (its last flight, or the alert of a failure, which the
	// owner answers with a close) may still wait in the loop's queue, when this OnTraffic
	// came before the Wake behind them: that Wake reports the end, once they are written.
	if !over || c.w.queued.Load() > 0 {
		return false, nil
	}
	c.handshaking = false
	if err == nil {
		c.w.toLoop()
	}
	return true, err
}

// Write encrypts p and writes the records through gnet in one write. Event loop only,
// after the handshake.
func (c *Conn) Write(p []byte) (int, error) {
	n, err := c.tc.Write(p)
	if ferr := c.w.flush(); err == nil {
		err = ferr
	}
	return n, err
}

// Writev encrypts the buffers in order and writes all the records through gnet in one
// write. Buffers that fit in one record together are sealed as one (one AEAD pass and
// header instead of one per buffer). Event loop only, after the handshake.
func (c *Conn) Writev(bufs [][]byte) (int, error) {
	if len(bufs) > 1 {
		size := 0
		for _, b := range bufs {
			size += len(b)
		}
		if size <= maxPlaintext {
			bp := joinBufs.Get().(*[]byte)
			joined := (*bp)[:0]
			for _, b := range bufs {
				joined = append(joined, b...)
			}
			n, err := c.Write(joined)
			*bp = joined[:0]
			joinBufs.Put(bp)
			return n, err
		}
	}
	total := 0
	var err error
	for _, b := range bufs {
		var n int
		n, err = c.tc.Write(b)
		total += n
		if err != nil {
			break
		}
	}
	if ferr := c.w.flush(); err == nil {
		err = ferr
	}
	return total, err
}

// joinBufs hold Writev's buffers joined into one record's plaintext; shared by all
// connections, held only during a call.
var joinBufs = sync.Pool{New: func() any { b := make([]byte, 0, maxPlaintext); return &b }}

// ConnectionState is the TLS session's state (version, cipher suite, resumption, the
// peer's certificates). Event loop only, after the handshake.
func (c *Conn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }

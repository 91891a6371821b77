package tlsconn

import (
	"context"
	"crypto/tls"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// Conn is one TLS session over a gnet connection, client or server side.
type Conn struct {
	gc gnet.Conn
	w  *wire
	tc *tls.Conn

	// rec seals and opens the records of a TLS 1.3 session after the handshake, in place
	// of crypto/tls (records13); nil: crypto/tls does. takeOver says whether to try: not
	// for a client with a session cache, which needs crypto/tls to take the tickets.
	rec      *records13
	takeOver bool
	isClient bool

	handshaking bool          // on the loop: StartHandshake called, HandshakeDone not yet true
	drained     bool          // on the loop: the last Read left crypto/tls no decrypted byte
	done        atomic.Bool   // set by the handshake goroutine when it has finished
	finished    chan struct{} // closed with done
	hsErr       error         // written before done is set
}

// Client starts the client side of TLS over gc. cfg is not modified and may be shared.
func Client(gc gnet.Conn, cfg *tls.Config) *Conn {
	w := newWire(gc)
	return &Conn{gc: gc, w: w, tc: tls.Client(w, cfg), isClient: true, takeOver: cfg.ClientSessionCache == nil}
}

// Server starts the server side of TLS over gc. cfg is not modified and may be shared.
func Server(gc gnet.Conn, cfg *tls.Config) *Conn {
	w := newWire(gc)
	return &Conn{gc: gc, w: w, tc: tls.Server(w, cfg), takeOver: true}
}

// StartHandshake runs the handshake on a goroutine that ends with it, within timeout.
// When it is over the goroutine wakes the connection (gnet calls OnTraffic), where
// HandshakeDone reports the result. Call it on the event loop, once.
func (c *Conn) StartHandshake(timeout time.Duration) {
	c.handshaking = true
	c.finished = make(chan struct{})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		err := c.tc.HandshakeContext(ctx) // on timeout: context.DeadlineExceeded
		cancel()
		c.hsErr = err
		c.done.Store(true)
		close(c.finished)
		_ = c.gc.Wake(nil) // a no-op when the connection has closed meanwhile
	}()
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
	if !c.done.Load() {
		return false, nil
	}
	c.handshaking = false
	if c.hsErr == nil {
		c.toLoop()
	}
	return true, c.hsErr
}

// toLoop moves the session, its handshake over, to the event loop, and its TLS 1.3
// records to records13 when it can.
func (c *Conn) toLoop() {
	c.w.mu.Lock()
	c.w.onLoop = true
	c.w.mu.Unlock()
	if c.takeOver && c.w.framer.atRecordStart() {
		c.rec = takeOver13(c.tc, c.isClient)
	}
}

// Read decrypts into p what has arrived. It returns 0 and no error when no complete
// record is buffered yet; io.EOF after the peer's close_notify. Event loop only, after
// the handshake.
func (c *Conn) Read(p []byte) (int, error) {
	if c.rec != nil {
		n, err := c.rec.read(c.w, p)
		if ferr := c.w.flush(); ferr != nil && err == nil { // a KeyUpdate reply
			err = ferr
		}
		return n, err
	}
	if c.drained && c.w.idle() {
		return 0, nil // crypto/tls holds at most part of a record (recordFramer)
	}
	n, err := c.tc.Read(p)
	if ferr := c.w.flush(); ferr != nil && err == nil { // a KeyUpdate reply, for example
		err = ferr
	}
	// crypto/tls returns the wire's error as it is (readFromUntil, atLeastReader), so a
	// type assertion does; errors.As cost 2% of a TLS run's CPU here.
	if _, ok := err.(wouldBlock); ok {
		err = nil
	}
	// crypto/tls copies out min(len(p), what it decrypted): a short Read drained it.
	c.drained = n < len(p) && err == nil
	return n, err
}

// Write encrypts p and writes the records through gnet in one write. Event loop only,
// after the handshake.
func (c *Conn) Write(p []byte) (int, error) {
	n, err := c.seal(p)
	if ferr := c.w.flush(); err == nil {
		err = ferr
	}
	return n, err
}

// Writev encrypts the buffers in order and writes all the records through gnet in one
// write. Buffers that fit in one record together are sealed as one (one AEAD pass and
// header instead of one per buffer). Event loop only, after the handshake.
func (c *Conn) Writev(bufs [][]byte) (int, error) {
	if c.rec != nil {
		n, err := c.rec.writev(c.w, bufs)
		if ferr := c.w.flush(); err == nil {
			err = ferr
		}
		return n, err
	}
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
		n, err = c.seal(b)
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

// seal encrypts p into records for the next flush.
func (c *Conn) seal(p []byte) (int, error) {
	if c.rec != nil {
		return c.rec.write(c.w, p)
	}
	return c.tc.Write(p)
}

// joinBufs hold Writev's buffers joined into one record's plaintext; shared by all
// connections, held only during a call.
var joinBufs = sync.Pool{New: func() any { b := make([]byte, 0, maxPlaintext); return &b }}

// ConnectionState is the TLS session's state (version, cipher suite, resumption, the
// peer's certificates). Event loop only, after the handshake.
func (c *Conn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }

// Close ends the TLS session's use of the connection: a handshake in progress fails at
// once. It neither sends close_notify nor closes the gnet connection; call it from
// OnClose. Safe on any goroutine, more than once.
func (c *Conn) Close() { _ = c.w.Close() }

// CloseDuringHandshake is Close for a connection that closed while the handshake was in
// progress (OnClose): the handshake first reads what the loop already fed it — often the
// peer's alert, which says why the peer hung up — and its error is returned, waiting at
// most d for it. When the handshake had succeeded (the close came before the loop heard
// of it), what arrived after it is read for an alert: in TLS 1.3 a server refuses a client
// certificate only after the client's handshake is over. It returns nil when no handshake
// was in progress, or nothing explains the close.
func (c *Conn) CloseDuringHandshake(d time.Duration) error {
	if !c.handshaking {
		c.Close()
		return nil
	}
	c.handshaking = false
	c.Close() // the handshake still reads what was fed before it sees the close
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.finished:
	case <-t.C:
		return context.DeadlineExceeded
	}
	if c.hsErr != nil {
		return c.hsErr
	}
	c.toLoop()
	var scratch [512]byte
	for {
		n, err := c.Read(scratch[:])
		if err != nil || n == 0 {
			return err
		}
	}
}

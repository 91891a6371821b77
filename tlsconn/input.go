package tlsconn

import "sync"

// input is a session's decrypted bytes that its owner has not consumed yet. They are
// kept in a buffer from plainBufs, held only while some are left: a parked session holds
// none.
type input struct {
	buf  *[]byte // nil when all is consumed
	data []byte  // (*buf)[:n]: decrypted, the first off bytes consumed
	off  int
	err  error // the first read error (io.EOF: the peer's close_notify)
}

const (
	// plainBufSize is a pooled plaintext buffer: two records.
	plainBufSize = 2 * maxPlaintext
	// minRead is the least room a read is given; below it the buffer is compacted or grown.
	minRead = 4 << 10
)

// plainBufs hold decrypted input not consumed yet; shared by all connections.
var plainBufs = sync.Pool{New: func() any { b := make([]byte, plainBufSize); return &b }}

// Input decrypts what has arrived and returns the plaintext not consumed yet, valid until
// the next Consume, Input or Close; nil when there is none. err is the first read error
// (io.EOF after the peer's close_notify, a tls.AlertError, …): the owner processes the
// plaintext that came before it, then ends the session. Event loop only, after the
// handshake.
func (c *Conn) Input() ([]byte, error) {
	in := &c.input
	if in.buf == nil && c.drained && c.w.idle() {
		return nil, in.err // nothing new, and crypto/tls holds at most part of a record
	}
	for in.err == nil {
		if in.buf == nil {
			in.buf = plainBufs.Get().(*[]byte)
			in.data, in.off = (*in.buf)[:0], 0
		}
		if cap(in.data)-len(in.data) < minRead {
			in.makeRoom()
		}
		n, err := c.read(in.data[len(in.data):cap(in.data)])
		in.data = in.data[:len(in.data)+n]
		if err != nil {
			in.err = err
		}
		if n == 0 {
			break
		}
	}
	if in.off >= len(in.data) {
		in.release()
		return nil, in.err
	}
	return in.data[in.off:], in.err
}

// Consume drops the first n bytes of what Input returned. Event loop only.
func (c *Conn) Consume(n int) {
	in := &c.input
	if in.buf == nil || n <= 0 {
		return
	}
	in.off += n
	if in.off >= len(in.data) {
		in.release()
	}
}

// Buffered is the plaintext decrypted and not consumed yet. Event loop only.
func (c *Conn) Buffered() int { return len(c.input.data) - c.input.off }

// read decrypts into p what has arrived. It returns 0 and no error when no complete
// record is buffered yet; io.EOF after the peer's close_notify.
func (c *Conn) read(p []byte) (int, error) {
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
	// crypto/tls copies out min(len(p), what it decrypted): a short read drained it.
	c.drained = n < len(p) && err == nil
	return n, err
}

// makeRoom moves the unconsumed bytes to the front, and grows the buffer when that is not
// enough (a burst larger than the buffer, decrypted at once).
func (in *input) makeRoom() {
	if in.off > 0 {
		n := copy(in.data, in.data[in.off:])
		in.data, in.off = in.data[:n], 0
	}
	if cap(in.data)-len(in.data) < minRead {
		grown := make([]byte, len(in.data), 2*cap(in.data))
		copy(grown, in.data)
		in.data = grown
		*in.buf = grown[:cap(grown)]
	}
}

// release gives the buffer back, keeping the pool to buffers of the usual size.
func (in *input) release() {
	if in.buf == nil {
		return
	}
	if cap(*in.buf) == plainBufSize {
		plainBufs.Put(in.buf)
	}
	in.buf, in.data, in.off = nil, nil, 0
}

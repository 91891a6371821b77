package sink

import (
	"crypto/tls"
	"sync"

	"github.com/panjf2000/gnet/v2"

	"github.com/go-smtp-source/go-smtp-source/tlsconn"
)

// tlsTransport is a connection after its TLS handshake: records are decrypted on the
// event loop into a plaintext buffer from the server's pool, held only while it has
// unprocessed bytes, so an idle TLS session keeps no plaintext buffer.
type tlsTransport struct {
	c    gnet.Conn
	tc   *tlsconn.Conn
	pool *sync.Pool // of *[]byte, plainBufSize each (larger after a growth)
	buf  *[]byte    // nil when empty
	data []byte     // (*buf)[:n]: decrypted, the first off bytes consumed
	off  int
	err  error // the first read or write error (io.EOF: close_notify)
}

const (
	// plainBufSize is a pooled plaintext buffer: two TLS records.
	plainBufSize = 32 << 10
	// minRead is the least room a Read is given; below it the buffer is compacted or grown.
	minRead = 4 << 10
)

func newPlainPool() *sync.Pool {
	return &sync.Pool{New: func() any { b := make([]byte, plainBufSize); return &b }}
}

func (t *tlsTransport) input() []byte {
	// Read until crypto/tls has nothing more: it may hold decrypted bytes that gnet no
	// longer counts, and records that came with the handshake's last flight are held by
	// tlsconn, so one Read is always tried. Each pass takes at least one byte of finite
	// input, or stops.
	for t.err == nil {
		if t.buf == nil {
			t.buf = t.pool.Get().(*[]byte)
			t.data, t.off = (*t.buf)[:0], 0
		}
		if cap(t.data)-len(t.data) < minRead {
			t.makeRoom()
		}
		n, err := t.tc.Read(t.data[len(t.data):cap(t.data)])
		t.data = t.data[:len(t.data)+n]
		if err != nil {
			t.err = err
		}
		if n == 0 {
			break
		}
	}
	if t.buf == nil || t.off >= len(t.data) {
		t.release()
		return nil
	}
	return t.data[t.off:]
}

// makeRoom moves the unconsumed bytes to the front, and grows the buffer when that is not
// enough (a burst larger than the buffer, decrypted at once).
func (t *tlsTransport) makeRoom() {
	if t.off > 0 {
		n := copy(t.data, t.data[t.off:])
		t.data, t.off = t.data[:n], 0
	}
	if cap(t.data)-len(t.data) < minRead {
		grown := make([]byte, len(t.data), 2*cap(t.data))
		copy(grown, t.data)
		t.data = grown
		*t.buf = grown[:cap(grown)]
	}
}

func (t *tlsTransport) consume(n int) {
	if t.buf == nil {
		return
	}
	t.off += n
	if t.off >= len(t.data) {
		t.release()
	}
}

func (t *tlsTransport) release() {
	if t.buf != nil {
		t.pool.Put(t.buf)
		t.buf, t.data, t.off = nil, nil, 0
	}
}

func (t *tlsTransport) write(p []byte) {
	if t.err != nil {
		return
	}
	if _, err := t.tc.Write(p); err != nil {
		t.err = err
	}
}

func (t *tlsTransport) failed() error { return t.err }

func (t *tlsTransport) pendingInput() int {
	return t.c.InboundBuffered() + len(t.data) - t.off
}

func (t *tlsTransport) pendingOutput() int { return t.c.OutboundBuffered() }

// countHandshake adds a completed handshake to the counters.
func (s *Stats) countHandshake(st tls.ConnectionState) {
	s.tlsHandshakes.Add(1)
	if st.DidResume {
		s.tlsResumed.Add(1)
	}
	switch st.Version {
	case tls.VersionTLS12:
		s.tls12.Add(1)
	case tls.VersionTLS13:
		s.tls13.Add(1)
	}
	if len(st.VerifiedChains) > 0 {
		s.tlsClientCerts.Add(1)
	}
}

// tlsTraceLine is the -v line for a completed handshake.
func tlsTraceLine(st tls.ConnectionState) string {
	line := "TLS established: " + tls.VersionName(st.Version) + " " + tls.CipherSuiteName(st.CipherSuite)
	if st.DidResume {
		line += " (resumed)"
	}
	if len(st.PeerCertificates) > 0 {
		line += " client certificate " + st.PeerCertificates[0].Subject.CommonName
	}
	return line
}

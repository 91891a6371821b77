package sink

import (
	"crypto/tls"
	"slices"

	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"

	"github.com/go-smtp-source/go-smtp-source/tlsconn"
)

// tlsTransport is a connection after its TLS handshake: records are decrypted on the
// event loop into a pooled plaintext buffer, held only while it has unprocessed bytes,
// so an idle TLS session keeps no plaintext buffer.
type tlsTransport struct {
	c     gnet.Conn
	tc    *tlsconn.Conn
	plain *bytebufferpool.ByteBuffer // nil when empty
	off   int                        // bytes of plain already consumed
	err   error                      // the first read or write error (io.EOF: close_notify)
}

// readChunk is how much plaintext one Read may add: a TLS record's worth.
const readChunk = 16 << 10

func (t *tlsTransport) input() []byte {
	// Always try once: records that came with the handshake's last flight are held by
	// tlsconn, not gnet. Each pass takes at least one byte of finite input, or stops.
	for t.err == nil {
		if t.plain == nil {
			t.plain = bytebufferpool.Get()
		}
		b := slices.Grow(t.plain.B, readChunk)
		n, err := t.tc.Read(b[len(b) : len(b)+readChunk])
		t.plain.B = b[:len(b)+n]
		if err != nil {
			t.err = err
		}
		if n == 0 {
			break
		}
	}
	if t.plain == nil || t.off >= len(t.plain.B) {
		t.release()
		return nil
	}
	return t.plain.B[t.off:]
}

func (t *tlsTransport) consume(n int) {
	if t.plain == nil {
		return
	}
	t.off += n
	if t.off >= len(t.plain.B) {
		t.release()
	}
}

func (t *tlsTransport) release() {
	if t.plain != nil {
		t.plain.Reset()
		bytebufferpool.Put(t.plain)
		t.plain, t.off = nil, 0
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
	n := t.c.InboundBuffered()
	if t.plain != nil {
		n += len(t.plain.B) - t.off
	}
	return n
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

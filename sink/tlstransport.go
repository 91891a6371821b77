package sink

import (
	"crypto/tls"

	"github.com/panjf2000/gnet/v2"

	"github.com/go-smtp-source/go-smtp-source/tlsconn"
)

// tlsTransport is a connection after its TLS handshake: tlsconn decrypts records on the
// event loop into a pooled plaintext buffer, held only while it has unprocessed bytes, so
// an idle TLS session keeps no plaintext buffer.
type tlsTransport struct {
	c   gnet.Conn
	tc  *tlsconn.Conn
	err error // the first read or write error (io.EOF: close_notify)
}

func (t *tlsTransport) input() []byte {
	in, err := t.tc.Input()
	if err != nil && t.err == nil {
		t.err = err
	}
	return in
}

func (t *tlsTransport) consume(n int) { t.tc.Consume(n) }

func (t *tlsTransport) write(p []byte) {
	if t.err != nil {
		return
	}
	if _, err := t.tc.Write(p); err != nil {
		t.err = err
	}
}

func (t *tlsTransport) failed() error { return t.err }

func (t *tlsTransport) pendingInput() int { return t.c.InboundBuffered() + t.tc.Buffered() }

func (t *tlsTransport) pendingOutput() int { return t.c.OutboundBuffered() }

// countHandshake adds a completed handshake to the counters.
func (s *Stats) countHandshake(st tls.ConnectionState) {
	tlsconn.CountHandshake(st, true, func(c tlsconn.Counter) {
		switch c {
		case tlsconn.Handshakes:
			s.tlsHandshakes.Add(1)
		case tlsconn.Resumed:
			s.tlsResumed.Add(1)
		case tlsconn.Version12:
			s.tls12.Add(1)
		case tlsconn.Version13:
			s.tls13.Add(1)
		case tlsconn.ClientCertificates:
			s.tlsClientCerts.Add(1)
		case tlsconn.Version10, tlsconn.Version11: // below crypto/tls's minimum for a server (TLS 1.2)
		}
	})
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

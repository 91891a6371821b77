package sink

import "github.com/panjf2000/gnet/v2"

// transport carries a session's bytes between the event loop and Session.Feed. The
// plain transport is gnet's own buffers. This is the extension point for TLS: a TLS
// transport (STARTTLS, implicit TLS; see tlsconn/) decrypts into a pooled plaintext
// buffer that input returns, and encrypts what write is given, while the loop code in
// server.go stays the same.
type transport interface {
	// input is the client's unprocessed bytes; valid until consume or the callback ends.
	input() []byte
	// consume drops the first n bytes of input (n > 0).
	consume(n int)
	// write sends replies; the transport copies what it cannot send at once.
	write(p []byte)
	// pendingInput and pendingOutput are the bytes buffered each way, for the limits.
	pendingInput() int
	pendingOutput() int
	// failed is the error that ended the transport (io.EOF: the peer's close_notify);
	// the connection closes once the input before it is processed.
	failed() error
}

// plainTransport is a connection without TLS: gnet's inbound and outbound buffers.
type plainTransport struct{ c gnet.Conn }

func (t plainTransport) input() []byte {
	in, _ := t.c.Peek(-1) // everything buffered: cannot fail
	return in
}

func (t plainTransport) consume(n int) {
	if n > 0 {
		_, _ = t.c.Discard(n) // Discard(0) would drop everything
	}
}

func (t plainTransport) write(p []byte) {
	_, _ = t.c.Write(p) // a failed write closes the conn; OnClose does the accounting
}

func (t plainTransport) pendingInput() int  { return t.c.InboundBuffered() }
func (t plainTransport) pendingOutput() int { return t.c.OutboundBuffered() }
func (t plainTransport) failed() error      { return nil }

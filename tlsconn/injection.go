package tlsconn

import (
	"fmt"

	"github.com/panjf2000/gnet/v2"
)

// InjectionError reports plaintext that arrived after STARTTLS and before the TLS
// handshake: bytes a man in the middle may have injected into the session that the
// handshake is about to protect (the STARTTLS command injection of CVE-2011-0411). Such
// bytes must be refused, never read as the first commands or replies after TLS.
type InjectionError struct {
	Role     string // "server" when the client found them after the 220, "client" when the server found them after STARTTLS
	Buffered int    // how many bytes
}

func (e *InjectionError) Error() string {
	return fmt.Sprintf("STARTTLS: %d bytes of plaintext from the %s followed the STARTTLS exchange before the TLS handshake (refused: STARTTLS injection)", e.Buffered, e.Role)
}

// CheckNothingBuffered returns an *InjectionError when gnet holds bytes from the peer
// after the STARTTLS exchange, on the event loop just before Client or Server. peerRole
// names the peer: "server" on the client side, "client" on the server side.
func CheckNothingBuffered(gc gnet.Conn, peerRole string) error {
	if n := gc.InboundBuffered(); n > 0 {
		return &InjectionError{Role: peerRole, Buffered: n}
	}
	return nil
}

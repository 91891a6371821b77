// Package tlsconn runs crypto/tls over a gnet connection, for the client (go-smtp-source)
// and the server (go-smtp-sink), without a goroutine per established TLS session.
//
// The standard crypto/tls cannot resume a handshake that returned an error, so the
// handshake runs on a short-lived goroutine of its own that reads through a blocking
// adapter fed by the event loop (Feed, from OnTraffic). Once it is over, every record is
// read and written through crypto/tls on the event loop: the adapter's Read then returns
// a temporary net.Error when gnet has nothing buffered, which crypto/tls returns without
// making it sticky, keeping any partial record for the next call (see
// TestTemporaryReadErrorIsRetried, which fails if a Go release changes that). The adapter
// hands crypto/tls one record at a time (recordFramer), so a read that could only say
// "would block" is skipped. All that follows a handshake — KeyUpdate, tickets, alerts,
// limits — is crypto/tls's own; tlsconn never looks inside a tls.Conn.
//
// Life of a Conn, all calls but the goroutine's on the connection's event loop:
//
//	c := tlsconn.Client(gc, cfg) // or Server
//	c.StartHandshake(timeout)    // the goroutine; it calls gc.Wake when done
//	// OnTraffic, while c.Handshaking():
//	c.Feed()                     // hand gnet's inbound bytes to the handshake
//	done, err := c.HandshakeDone()
//	// afterwards, in OnTraffic:
//	in, err := c.Input()         // all plaintext decrypted and not consumed yet
//	c.Consume(n)                 // what the protocol used of it
//	c.Write(p) / c.Writev(bufs)  // records written through gnet, one write per call
//	// OnClose:
//	c.Close()                    // or c.CloseDuringHandshake(cut): why a handshake was cut short
//
// Neither Close nor CloseDuringHandshake waits for the handshake goroutine: the close
// makes its reads fail once it has read what was fed, and CloseDuringHandshake's cut
// runs on the event loop when the goroutine has ended, as HandshakeDone would have.
//
// STARTTLS: the side that sends or receives the STARTTLS exchange's last line calls
// CheckNothingBuffered before Client/Server — plaintext that follows it before the
// handshake is refused (CVE-2011-0411). The server writes its 220 with gnet's Write first;
// the handshake's writes are queued behind it.
package tlsconn

// Package tlsconn runs crypto/tls over a gnet connection, for the client (go-smtp-source)
// and the server (go-smtp-sink), without a goroutine per established TLS session.
//
// The standard crypto/tls cannot resume a handshake that returned an error, so the
// handshake runs on a short-lived goroutine of its own that reads through a blocking
// adapter fed by the event loop (Feed, from OnTraffic). Once it is over, every record is
// read and written on the event loop: the adapter's Read then returns a temporary
// net.Error when gnet has nothing buffered, which crypto/tls returns without making it
// sticky, keeping any partial record for the next call (see TestTemporaryReadErrorIsRetried,
// which fails if a Go release changes that).
//
// A TLS 1.3 session then leaves crypto/tls's record layer, built for a blocking conn shared
// by goroutines, for records13, built for one event loop: it takes over the traffic
// secrets and sequence numbers crypto/tls reached (takeOver13, by reflection — crypto/tls
// exports neither — and only when nothing is left half-read), seals and opens records in
// place in gnet's buffers, and handles what may follow a handshake: KeyUpdate, tickets (a
// client with a session cache stays on crypto/tls, which stores them), alerts, and
// crypto/tls's limits. TestTakeOver13 fails if a Go release stops the takeover. TLS 1.2
// sessions stay on crypto/tls.
//
// Life of a Conn, all calls but the goroutine's on the connection's event loop:
//
//	c := tlsconn.Client(gc, cfg) // or Server
//	c.StartHandshake(timeout)    // the goroutine; it calls gc.Wake when done
//	// OnTraffic, while c.Handshaking():
//	c.Feed()                     // hand gnet's inbound bytes to the handshake
//	done, err := c.HandshakeDone()
//	// afterwards, in OnTraffic:
//	n, err := c.Read(p)          // n == 0, err == nil: nothing decrypted yet
//	c.Write(p) / c.Writev(bufs)  // records written through gnet, one write per call
//	// OnClose:
//	c.Close()                    // or err := c.CloseDuringHandshake(d): why a handshake was cut short
//
// STARTTLS: the side that sends or receives the STARTTLS exchange's last line calls
// CheckNothingBuffered before Client/Server — plaintext that follows it before the
// handshake is refused (CVE-2011-0411). The server writes its 220 with gnet's Write first;
// the handshake's writes are queued behind it.
package tlsconn

// Package sink is the engine of go-smtp-sink: an SMTP/LMTP sink that accepts mail and
// throws it away, counting what it saw, optionally dumping each message in Postfix
// smtp-sink's dump format, and injecting delays and faults on request.
//
// The package is split in two layers:
//
//   - Session (session.go, data.go, auth.go) is a sans-I/O server-side SMTP machine: bytes
//     in, replies out, plus a Result telling the driver to carry on, wait (an injected
//     delay), start TLS (STARTTLS) or close. It never touches a socket or reads a clock, so
//     tests and the fuzzer drive it with byte strings.
//   - Server (server.go, conn.go) drives one Session per connection on gnet event loops, one
//     loop per core, with no goroutine per connection and pooled reply buffers. TLS
//     (STARTTLS and implicit, tlsconn/) sits between the loop and Session.Feed as a
//     transport (transport.go, tlstransport.go): the handshake runs on a goroutine that
//     ends with it, records are read and written on the loop.
//
// The package never prints, never exits and reads no flags: a Config goes in; errors,
// Stats and an optional trace callback come out.
package sink

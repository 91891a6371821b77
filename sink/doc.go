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
// # The far end that pushes back
//
// Besides smtp-sink's faults (-f, -r, -q, -Q: every occurrence), the sink refuses like real
// receivers do (pushback.go), each refusal counted in Stats by kind and by the error key
// go-smtp-source files the reply under (metrics.ReplyErrorKey: "rcpt:perm:550:5.3.0",
// "eod:temp:451:4.3.0", "mail:temp:421:4.7.0"), so a test matches the two exactly:
//
//   - Config.Rejects (--reject rcpt=550:5%,.=451:2%): a fraction of a command's occurrences
//     get the given code, drawn per occurrence from a stream seeded by Config.Seed;
//     ":delivered" on the end of data takes the message before refusing it (a duplicate
//     in the making). MAIL, RCPT and DATA are refused only when their sequence is right.
//   - Config.Greylist: the first RCPT of a (client address, sender, recipient) triplet gets
//     "450 4.7.1"; the same triplet passes once Delay has gone by. A table capped in size,
//     with expiry.
//   - Config.RateLimits: token buckets (GCRA) on MAIL per client address or per connection:
//     "451 4.7.1" refuses the transaction and keeps the session, so a client that keeps
//     asking gets exactly the rate; with Close, "421 4.7.0" and the connection closes, as
//     MTAs do for connection-rate excess (the client pays a reconnect per refusal).
//   - Config.MaxPerConnection: the first MAIL over the count gets "452 4.5.3" (Postfix's
//     "too many recipients", which clients take as "go on in another session"), the next
//     "421 4.7.0" and the connection closes.
//   - Config.Tarpit: every reply waits min(Max, PerSession × (open connections − Above)).
//
// Delays, the tarpit's included, never block a loop: the session leaves the command
// unconsumed and a timer wakes the connection.
//
// # Trace
//
// With Config.TraceHeader (--trace) each accepted message's header
//
//	X-GSS-Trace: <run-id> <global-seq> <send-time-unix-ns>
//
// is accounted for per run id (trace.go): the sequence numbers seen (a paged bitset, one
// bit per number up to TraceMaxSeq), duplicates, and the delivery latency (arrival minus
// send time) in the metrics package's HDR histograms with a per-second series.
// Server.TraceDocument returns it as a TraceDocument (schema "go-smtp-sink/trace",
// metrics/SCHEMA.md); a malformed header is counted, never trusted.
//
// # HTTP
//
// Server.HTTPHandler serves /stats (the Snapshot), /trace (the TraceDocument) and /metrics
// (Prometheus, through client_golang; read from the loops' counters at scrape time, so the
// loops pay nothing for it).
//
// The package never prints, never exits and reads no flags: a Config goes in; errors,
// Stats, the trace document and an optional -v trace callback come out.
package sink

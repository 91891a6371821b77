// Package tlsconn runs crypto/tls over a gnet connection, for the client (go-smtp-source)
// and the server (go-smtp-sink), without a goroutine per established TLS session.
package tlsconn

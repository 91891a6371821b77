package tlsconn

import (
	"crypto/tls"
	"net"
	"testing"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// memSwitchConn is a net.Pipe end during the handshake, then an in-memory queue, so that a
// benchmark measures crypto/tls's record layer and not the pipe's goroutine handoffs.
type memSwitchConn struct {
	net.Conn
	mem     bool
	in, out *[]byte
}

func (m *memSwitchConn) Read(p []byte) (int, error) {
	if !m.mem {
		return m.Conn.Read(p)
	}
	n := copy(p, *m.in)
	*m.in = (*m.in)[n:]
	return n, nil
}

func (m *memSwitchConn) Write(p []byte) (int, error) {
	if !m.mem {
		return m.Conn.Write(p)
	}
	*m.out = append(*m.out, p...)
	return len(p), nil
}

// BenchmarkRecordLayer: one SMTP command sealed by one side and opened by the other, TLS
// 1.3 with AES-128-GCM: crypto/tls's record layer against records13.
//
//	go test -run '^$' -bench RecordLayer ./tlsconn
func BenchmarkRecordLayer(b *testing.B) {
	cmd := []byte("MAIL FROM:<sender@example.com>\r\n")
	b.Run("crypto-tls", func(b *testing.B) {
		ca := testpeer.NewCA(b, "bench CA")
		p1, p2 := net.Pipe()
		var q1, q2 []byte
		c1 := &memSwitchConn{Conn: p1, in: &q2, out: &q1}
		c2 := &memSwitchConn{Conn: p2, in: &q1, out: &q2}
		server := tls.Server(c2, &tls.Config{Certificates: []tls.Certificate{ca.Issue(b, testpeer.LocalhostSpec()).TLS}})
		client := tls.Client(c1, &tls.Config{RootCAs: ca.Pool, ServerName: "localhost"})
		errc := make(chan error, 1)
		go func() { errc <- server.Handshake() }()
		if err := client.Handshake(); err != nil {
			b.Fatal(err)
		}
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
		c1.mem, c2.mem = true, true
		q2 = q2[:0] // the server's ticket, which the client never reads here
		buf := make([]byte, 256)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := client.Write(cmd); err != nil {
				b.Fatal(err)
			}
			if n, err := server.Read(buf); err != nil || n != len(cmd) {
				b.Fatal(n, err)
			}
			q1 = q1[:0]
		}
	})
	b.Run("records13", func(b *testing.B) {
		send := newRecordPair(b, tls.TLS_AES_128_GCM_SHA256, true)
		recv := newRecordPair(b, tls.TLS_AES_128_GCM_SHA256, false)
		recv.r.in = send.peerIn // recv opens what send seals
		buf := make([]byte, 256)
		wire := make([]byte, 0, 256)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := send.r.write(send.w, cmd); err != nil {
				b.Fatal(err)
			}
			_ = send.w.flush()
			recv.gc.in = append(wire[:0], send.gc.out...)
			send.gc.out = send.gc.out[:0]
			if n, err := recv.r.read(recv.w, buf); err != nil || n != len(cmd) {
				b.Fatal(n, err)
			}
		}
	})
}

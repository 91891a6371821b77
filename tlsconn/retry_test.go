package tlsconn

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// flakyConn, once armed, answers every other Read with a temporary net.Error and the
// others with one byte at most: the worst the event loop can hand crypto/tls.
type flakyConn struct {
	net.Conn
	mu         sync.Mutex
	armed      bool
	calls      int
	wouldBlock int
}

func (f *flakyConn) Read(p []byte) (int, error) {
	f.mu.Lock()
	armed := f.armed
	if armed {
		f.calls++
		if f.calls%2 == 1 {
			f.wouldBlock++
			f.mu.Unlock()
			return 0, errWouldBlock
		}
	}
	f.mu.Unlock()
	if armed && len(p) > 1 {
		p = p[:1]
	}
	return f.Conn.Read(p)
}

// TestTemporaryReadErrorIsRetried is the guard the package stands on: after the
// handshake, crypto/tls must return a temporary net.Error from the underlying Read
// without making it the connection's permanent error, and must keep the part of a
// record read before it. If a Go release changes this, records can no longer be read on
// the event loop: this test fails, and the fix is to keep the handshake goroutine's
// blocking Read for the whole session (never set wire.onLoop).
func TestTemporaryReadErrorIsRetried(t *testing.T) {
	ca := testpeer.NewCA(t, "retry CA")
	leaf := ca.Issue(t, testpeer.LocalhostSpec())
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			cside, sside := net.Pipe()
			defer cside.Close()
			defer sside.Close()
			flaky := &flakyConn{Conn: cside}
			client := tls.Client(flaky, &tls.Config{RootCAs: ca.Pool, ServerName: "localhost",
				MinVersion: version, MaxVersion: version})
			server := tls.Server(sside, &tls.Config{Certificates: []tls.Certificate{leaf.TLS},
				MinVersion: version, MaxVersion: version})
			want := strings.Repeat("250-a line of a long multi-line reply\r\n", 300) + "250 end\r\n"
			serverErr := make(chan error, 1)
			go func() {
				if err := server.Handshake(); err != nil {
					serverErr <- err
					return
				}
				for i := 0; i < len(want); i += 1000 { // many records
					end := min(i+1000, len(want))
					if _, err := server.Write([]byte(want[i:end])); err != nil {
						serverErr <- err
						return
					}
				}
				serverErr <- nil
			}()
			if err := client.Handshake(); err != nil {
				t.Fatal(err)
			}
			flaky.mu.Lock()
			flaky.armed = true
			flaky.mu.Unlock()
			var got bytes.Buffer
			buf := make([]byte, 256)
			temporary := 0
			for got.Len() < len(want) {
				n, err := client.Read(buf)
				got.Write(buf[:n])
				if err != nil {
					var ne net.Error
					if !errors.As(err, &ne) || !ne.Temporary() {
						t.Fatalf("after %d bytes: %v (not the temporary error we returned)", got.Len(), err)
					}
					// Conn.Read recognises it with a type assertion, not errors.As.
					if _, ok := err.(wouldBlock); !ok {
						t.Fatalf("after %d bytes: crypto/tls wrapped the temporary error: %T %v", got.Len(), err, err)
					}
					temporary++
					if temporary > 10*len(want) {
						t.Fatal("no progress")
					}
				}
			}
			if got.String() != want {
				t.Fatalf("plaintext differs after %d temporary errors", temporary)
			}
			if temporary < 100 {
				t.Fatalf("only %d temporary errors reached the reader: the test did not exercise mid-record retries", temporary)
			}
			if err := <-serverErr; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestOtherReadErrorIsSticky records the contrast that makes errWouldBlock's Temporary()
// necessary: gnet's own io.ErrShortBuffer would end the TLS session.
func TestOtherReadErrorIsSticky(t *testing.T) {
	ca := testpeer.NewCA(t, "sticky CA")
	leaf := ca.Issue(t, testpeer.LocalhostSpec())
	cside, sside := net.Pipe()
	defer cside.Close()
	defer sside.Close()
	sc := &stickyConn{Conn: cside}
	client := tls.Client(sc, &tls.Config{RootCAs: ca.Pool, ServerName: "localhost"})
	server := tls.Server(sside, &tls.Config{Certificates: []tls.Certificate{leaf.TLS}})
	go func() {
		if server.Handshake() == nil {
			_, _ = server.Write([]byte("hello"))
		}
	}()
	if err := client.Handshake(); err != nil {
		t.Fatal(err)
	}
	sc.fail = true
	if _, err := client.Read(make([]byte, 10)); !errors.Is(err, io.ErrShortBuffer) {
		t.Fatalf("first read: %v", err)
	}
	sc.fail = false
	if _, err := client.Read(make([]byte, 10)); !errors.Is(err, io.ErrShortBuffer) {
		t.Fatalf("second read: %v, want the first error again (sticky)", err)
	}
}

type stickyConn struct {
	net.Conn
	fail bool
}

func (s *stickyConn) Read(p []byte) (int, error) {
	if s.fail {
		return 0, io.ErrShortBuffer
	}
	return s.Conn.Read(p)
}

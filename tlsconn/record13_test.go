package tlsconn

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// loopConn is the part of a gnet.Conn the record layer uses on the loop: what arrived
// (in) and what was written (out).
type loopConn struct {
	gnet.Conn
	in, out []byte
}

func (c *loopConn) Peek(n int) ([]byte, error) {
	if n < 0 {
		return c.in, nil
	}
	if n > len(c.in) {
		return c.in, io.ErrShortBuffer
	}
	return c.in[:n], nil
}
func (c *loopConn) Discard(n int) (int, error)  { c.in = c.in[n:]; return n, nil }
func (c *loopConn) InboundBuffered() int        { return len(c.in) }
func (c *loopConn) Write(b []byte) (int, error) { c.out = append(c.out, b...); return len(b), nil }
func (c *loopConn) LocalAddr() net.Addr         { return nil }
func (c *loopConn) RemoteAddr() net.Addr        { return nil }
func (c *loopConn) arrive(records ...[]byte)    { c.in = append(c.in, bytes.Join(records, nil)...) }
func (c *loopConn) takeOut() []byte             { out := c.out; c.out = nil; return out }

var (
	secretA = bytes.Repeat([]byte{0xa1}, 32) // the peer's writing secret: our reading one
	secretB = bytes.Repeat([]byte{0xb2}, 32) // ours
)

// recordPair is a records13 on a loopConn and the peer's two directions.
type recordPair struct {
	r        *records13
	w        *wire
	gc       *loopConn
	peerOut  trafficKeys // seals what arrives
	peerIn   trafficKeys // opens what we write
	isClient bool
}

func newRecordPair(t testing.TB, suite uint16, isClient bool) *recordPair {
	t.Helper()
	mk := func(secret []byte) trafficKeys {
		k, err := newTrafficKeys(suite, secret, 0)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	gc := &loopConn{}
	return &recordPair{
		r:       &records13{in: mk(secretA), out: mk(secretB), isClient: isClient},
		w:       newWire(gc),
		gc:      gc,
		peerOut: mk(secretA), peerIn: mk(secretB),
	}
}

// sealInner is a record the peer sends: inner is the whole inner plaintext (content,
// content type, padding).
func sealInner(k *trafficKeys, outerType byte, inner []byte) []byte {
	size := len(inner) + aeadOverhead
	rec := []byte{outerType, 3, 3, byte(size >> 8), byte(size)}
	nonce := k.nonce()
	k.seq++
	return k.aead.Seal(rec, nonce, inner, rec[:5])
}

func (p *recordPair) peerRecord(typ byte, content []byte, padding int) []byte {
	inner := append(append(bytes.Clone(content), typ), make([]byte, padding)...)
	return sealInner(&p.peerOut, recordTypeApplicationData, inner)
}

// readAll reads until no whole record is left or an error, in buffers of size n.
func (p *recordPair) readAll(n int) ([]byte, error) {
	var got []byte
	buf := make([]byte, n)
	for {
		k, err := p.r.read(p.w, buf)
		got = append(got, buf[:k]...)
		if err != nil || k == 0 {
			_ = p.w.flush()
			return got, err
		}
	}
}

// peerOpen decrypts the records we wrote, each as (inner content type, content).
func (p *recordPair) peerOpen(t *testing.T) [][2][]byte {
	t.Helper()
	var got [][2][]byte
	out := p.gc.takeOut()
	for len(out) > 0 {
		rec, err := wholeRecord(out, len(out))
		if err != nil || rec == nil {
			t.Fatalf("our output is not whole records: %x", out)
		}
		out = out[len(rec):]
		pt, err := p.peerIn.aead.Open(nil, p.peerIn.nonce(), rec[5:], rec[:5])
		if err != nil {
			t.Fatalf("the peer cannot open our record %d: %v", p.peerIn.seq, err)
		}
		p.peerIn.seq++
		i := len(pt) - 1
		for pt[i] == 0 {
			i--
		}
		got = append(got, [2][]byte{{pt[i]}, pt[:i]})
	}
	return got
}

// TestRecords13Read: what records13 makes of each kind of record a peer may send after
// the handshake, and which alert it answers a fault with.
func TestRecords13Read(t *testing.T) {
	nst := []byte{typeNewSessionTicket, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8}
	keyUpdate := func(requested byte) []byte { return []byte{typeKeyUpdate, 0, 0, 1, requested} }
	tests := []struct {
		name     string
		isClient bool
		send     func(p *recordPair) [][]byte
		want     string
		wantErr  string // in the error's text; "" for none
		alert    byte   // the alert we send, 0 for none
		after    func(t *testing.T, p *recordPair)
	}{
		{name: "data with padding", send: func(p *recordPair) [][]byte {
			return [][]byte{p.peerRecord(recordTypeApplicationData, []byte("250 ok\r\n"), 100),
				p.peerRecord(recordTypeApplicationData, []byte("354 go\r\n"), 0)}
		}, want: "250 ok\r\n354 go\r\n"},
		{name: "sixteen empty records", send: func(p *recordPair) [][]byte {
			var recs [][]byte
			for range maxUselessRecords {
				recs = append(recs, p.peerRecord(recordTypeApplicationData, nil, 0))
			}
			return append(recs, p.peerRecord(recordTypeApplicationData, []byte("x"), 0))
		}, want: "x"},
		{name: "seventeen empty records", send: func(p *recordPair) [][]byte {
			var recs [][]byte
			for range maxUselessRecords + 1 {
				recs = append(recs, p.peerRecord(recordTypeApplicationData, nil, 0))
			}
			return recs
		}, wantErr: "too many non-advancing records", alert: alertUnexpectedMessage},
		{name: "only padding", send: func(p *recordPair) [][]byte {
			return [][]byte{sealInner(&p.peerOut, recordTypeApplicationData, make([]byte, 10))}
		}, wantErr: "unexpected message", alert: alertUnexpectedMessage},
		{name: "tampered", send: func(p *recordPair) [][]byte {
			rec := p.peerRecord(recordTypeApplicationData, []byte("250 ok\r\n"), 0)
			rec[7] ^= 1
			return [][]byte{rec}
		}, wantErr: "local error: tls: bad record MAC", alert: alertBadRecordMAC},
		{name: "change_cipher_spec after the handshake", send: func(p *recordPair) [][]byte {
			return [][]byte{{20, 3, 3, 0, 1, 1}}
		}, wantErr: "unexpected message", alert: alertUnexpectedMessage},
		{name: "record version 3.1", send: func(p *recordPair) [][]byte {
			rec := p.peerRecord(recordTypeApplicationData, []byte("x"), 0)
			rec[2] = 1
			return [][]byte{rec}
		}, wantErr: "protocol version", alert: alertProtocolVersion},
		{name: "ciphertext over 2^14+256", send: func(p *recordPair) [][]byte {
			return [][]byte{{recordTypeApplicationData, 3, 3, 0x41, 0x01}} // before it all arrived
		}, wantErr: "record overflow", alert: alertRecordOverflow},
		{name: "plaintext over 2^14", send: func(p *recordPair) [][]byte {
			return [][]byte{p.peerRecord(recordTypeApplicationData, make([]byte, maxPlaintext+1), 0)}
		}, wantErr: "record overflow", alert: alertRecordOverflow},
		{name: "close_notify", send: func(p *recordPair) [][]byte {
			return [][]byte{p.peerRecord(recordTypeApplicationData, []byte("221 bye\r\n"), 0),
				p.peerRecord(recordTypeAlert, []byte{1, alertCloseNotify}, 0)}
		}, want: "221 bye\r\n", wantErr: "EOF", after: func(t *testing.T, p *recordPair) {
			if _, err := p.r.read(p.w, make([]byte, 10)); err != io.EOF {
				t.Errorf("read after close_notify: %v, want EOF again", err)
			}
		}},
		{name: "user_canceled is ignored", send: func(p *recordPair) [][]byte {
			return [][]byte{p.peerRecord(recordTypeAlert, []byte{1, alertUserCanceled}, 0),
				p.peerRecord(recordTypeApplicationData, []byte("x"), 0)}
		}, want: "x"},
		{name: "fatal alert", send: func(p *recordPair) [][]byte {
			return [][]byte{p.peerRecord(recordTypeAlert, []byte{2, 40}, 0)}
		}, wantErr: "remote error: tls: handshake failure"},
		{name: "alert of three bytes", send: func(p *recordPair) [][]byte {
			return [][]byte{p.peerRecord(recordTypeAlert, []byte{2, 40, 0}, 0)}
		}, wantErr: "unexpected message", alert: alertUnexpectedMessage},
		{name: "unknown content type", send: func(p *recordPair) [][]byte {
			return [][]byte{p.peerRecord(24, []byte("x"), 0)}
		}, wantErr: "unexpected message", alert: alertUnexpectedMessage},
		{name: "client ignores tickets, one split over two records", isClient: true, send: func(p *recordPair) [][]byte {
			return [][]byte{p.peerRecord(recordTypeHandshake, append(bytes.Clone(nst), nst[:5]...), 0),
				p.peerRecord(recordTypeHandshake, nst[5:], 0),
				p.peerRecord(recordTypeApplicationData, []byte("220 ready\r\n"), 0)}
		}, want: "220 ready\r\n"},
		{name: "server refuses a ticket", send: func(p *recordPair) [][]byte {
			return [][]byte{p.peerRecord(recordTypeHandshake, nst, 0)}
		}, wantErr: "unexpected handshake message of type 4", alert: alertUnexpectedMessage},
		{name: "data inside a split handshake message", isClient: true, send: func(p *recordPair) [][]byte {
			return [][]byte{p.peerRecord(recordTypeHandshake, nst[:5], 0),
				p.peerRecord(recordTypeApplicationData, []byte("x"), 0)}
		}, wantErr: "unexpected message", alert: alertUnexpectedMessage},
		{name: "handshake message over 64 KiB", isClient: true, send: func(p *recordPair) [][]byte {
			return [][]byte{p.peerRecord(recordTypeHandshake, []byte{typeNewSessionTicket, 1, 0, 1}, 0)}
		}, wantErr: "error decoding message", alert: alertDecodeError},
		{name: "empty handshake record", send: func(p *recordPair) [][]byte {
			return [][]byte{p.peerRecord(recordTypeHandshake, nil, 0)}
		}, wantErr: "unexpected message", alert: alertUnexpectedMessage},
		{name: "key update", send: func(p *recordPair) [][]byte {
			first := p.peerRecord(recordTypeHandshake, keyUpdate(0), 0)
			_ = p.peerOut.update()
			return [][]byte{first, p.peerRecord(recordTypeApplicationData, []byte("after"), 0)}
		}, want: "after", after: func(t *testing.T, p *recordPair) {
			if out := p.peerOpen(t); len(out) != 0 {
				t.Errorf("answered a KeyUpdate that asked for none: %q", out)
			}
		}},
		{name: "key update requested", send: func(p *recordPair) [][]byte {
			first := p.peerRecord(recordTypeHandshake, keyUpdate(1), 0)
			_ = p.peerOut.update()
			return [][]byte{first, p.peerRecord(recordTypeApplicationData, []byte("after"), 0)}
		}, want: "after", after: func(t *testing.T, p *recordPair) {
			out := p.peerOpen(t) // under our old key
			if len(out) != 1 || out[0][0][0] != recordTypeHandshake || !bytes.Equal(out[0][1], keyUpdate(0)) {
				t.Fatalf("answer to update_requested: %q, want one KeyUpdate(update_not_requested)", out)
			}
			if _, err := p.r.write(p.w, []byte("new key")); err != nil {
				t.Fatal(err)
			}
			_ = p.w.flush()
			_ = p.peerIn.update()
			if out := p.peerOpen(t); len(out) != 1 || string(out[0][1]) != "new key" {
				t.Fatalf("after our update: %q", out)
			}
		}},
		{name: "key update not at the end of its record", send: func(p *recordPair) [][]byte {
			return [][]byte{p.peerRecord(recordTypeHandshake, append(keyUpdate(0), nst...), 0)}
		}, wantErr: "unexpected message", alert: alertUnexpectedMessage},
		{name: "key update with value 2", send: func(p *recordPair) [][]byte {
			return [][]byte{p.peerRecord(recordTypeHandshake, keyUpdate(2), 0)}
		}, wantErr: "error decoding message", alert: alertDecodeError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newRecordPair(t, tls.TLS_AES_128_GCM_SHA256, tt.isClient)
			p.gc.arrive(tt.send(p)...)
			got, err := p.readAll(64)
			if string(got) != tt.want {
				t.Errorf("read %q, want %q", got, tt.want)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("error %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one with %q", err, tt.wantErr)
			}
			if tt.alert != 0 {
				out := p.peerOpen(t)
				if len(out) != 1 || out[0][0][0] != recordTypeAlert || !bytes.Equal(out[0][1], []byte{2, tt.alert}) {
					t.Fatalf("sent %q, want the fatal alert %d", out, tt.alert)
				}
				var a tls.AlertError
				if !errors.As(err, &a) || byte(a) != tt.alert {
					t.Errorf("error %v does not carry alert %d", err, tt.alert)
				}
			} else if tt.after == nil {
				if out := p.gc.takeOut(); len(out) != 0 {
					t.Errorf("sent %x, want nothing", out)
				}
			}
			if tt.after != nil {
				tt.after(t, p)
			}
		})
	}
}

// requestKeyUpdate sends a KeyUpdate that asks the peer to update its keys too (RFC 8446
// §4.6.3), which nothing of ours does on its own: the tests check that both sides follow
// a key change either way.
func requestKeyUpdate(c *Conn) error {
	if c.rec == nil {
		return errors.New("requestKeyUpdate: the session is not on records13")
	}
	if err := c.rec.seal(c.w, recordTypeHandshake, []byte{typeKeyUpdate, 0, 0, 1, 1}); err != nil {
		return err
	}
	if err := c.rec.out.update(); err != nil {
		return err
	}
	return c.w.flush()
}

// TestTakeOver13 fails when a Go release changes what takeOver13 reads from crypto/tls:
// TLS 1.3 sessions would then quietly stay on crypto/tls's slower record layer. Both sides
// of a session must take over, and the session go on (TestManyConcurrentHandshakes checks
// the same at scale, and TLS 1.2 staying with crypto/tls).
func TestTakeOver13(t *testing.T) {
	ca := testpeer.NewCA(t, "takeover CA")
	srv := startLineServerOf(t, serverConfig(t, ca), false)
	cli := newGnetClient(t)
	ccfg := &tls.Config{RootCAs: ca.Pool, ServerName: "localhost"}
	cs := runSessions(t, cli, srv.addr, 1, func() *clientSession { return &clientSession{cfg: ccfg, lines: 3} })[0]
	if err := resultOf(cs); err != nil {
		t.Fatal(err)
	}
	if !cs.records13 || srv.records13.Load() != 1 {
		t.Fatalf("records13: client %v, server sessions %d: takeOver13 no longer reads this Go's crypto/tls (%s)",
			cs.records13, srv.records13.Load(), runtime.Version())
	}
}

// TestKeyUpdateOnTheLoop: a client on records13 asks for a key update in the middle of a
// session; the server updates and answers with its own KeyUpdate, and the session goes on
// under the new keys both ways — against records13 and against crypto/tls's server.
func TestKeyUpdateOnTheLoop(t *testing.T) {
	ca := testpeer.NewCA(t, "keyupdate CA")
	scfg := serverConfig(t, ca)
	cli := newGnetClient(t)
	ccfg := &tls.Config{RootCAs: ca.Pool, ServerName: "localhost"}
	for _, server := range []struct {
		name string
		addr string
	}{{"records13", startLineServer(t, scfg, true)}, {"crypto/tls", startStandardEchoServer(t, scfg)}} {
		t.Run(server.name, func(t *testing.T) {
			for i, cs := range runSessions(t, cli, server.addr, 10, func() *clientSession {
				return &clientSession{cfg: ccfg, implicit: true, lines: 6, keyUpdateAt: 2}
			}) {
				if err := resultOf(cs); err != nil {
					t.Fatalf("session %d: %v", i, err)
				}
				if !cs.records13 {
					t.Fatalf("session %d: not on records13", i)
				}
			}
		})
	}
}

// TestOpenSSLClient: OpenSSL's s_client, a TLS 1.3 stack that is not Go's, against the
// records13 server with each TLS 1.3 cipher suite; mid-session it sends a KeyUpdate that
// asks for ours ("K"), and the echo must go on under the new keys both ways.
func TestOpenSSLClient(t *testing.T) {
	openssl := testpeer.Require(t, "openssl")
	ca := testpeer.NewCA(t, "openssl CA")
	srv := startLineServerOf(t, serverConfig(t, ca), true)
	for i, suite := range []uint16{tls.TLS_AES_128_GCM_SHA256, tls.TLS_AES_256_GCM_SHA384, tls.TLS_CHACHA20_POLY1305_SHA256} {
		t.Run(tls.CipherSuiteName(suite), func(t *testing.T) {
			p, stdin := testpeer.StartInteractive(t, openssl, "s_client", "-connect", srv.addr, "-tls1_3",
				"-ciphersuites", tls.CipherSuiteName(suite), "-servername", "localhost")
			waitFor := func(text string) { t.Helper(); waitForPeer(t, p, "s_client", text) }
			waitFor("Cipher is " + tls.CipherSuiteName(suite))
			for _, line := range []string{"line a\n", "K\n", "line b\n", "line c\n"} {
				if _, err := io.WriteString(stdin, line); err != nil {
					t.Fatal(err)
				}
				if line != "K\n" {
					waitFor("ok " + line)
				} else {
					waitFor("KEYUPDATE")
				}
			}
			_ = stdin.Close()
			if exited, err := p.Wait(10 * time.Second); !exited || err != nil {
				t.Fatalf("s_client: exited %v, %v\n%s", exited, err, p.Output())
			}
			if got := srv.records13.Load(); got != int32(i+1) {
				t.Fatalf("%d server sessions on records13, want %d", got, i+1)
			}
		})
	}
}

// waitForPeer fails the test when the peer has not written text within 10 s.
func waitForPeer(t *testing.T, p *testpeer.Process, name, text string) {
	t.Helper()
	if !p.WaitOutput(text, 10*time.Second) {
		t.Fatalf("no %q from %s; it printed:\n%s", text, name, p.Output())
	}
}

// FuzzRecords13: records13 reading any sequence of well-sealed records — whatever their
// inner content types, padding, handshake messages and alerts — never panics, returns
// only application data and in order (a prefix of what the records carried), and keeps
// its first error. The input is a list of inner plaintexts, each after a length byte;
// seeds in testdata/fuzz/FuzzRecords13 (data, a ticket split over two records, a
// KeyUpdate, an alert).
func FuzzRecords13(f *testing.F) {
	f.Fuzz(func(t *testing.T, stream []byte, isClient bool) {
		p := newRecordPair(t, tls.TLS_AES_128_GCM_SHA256, isClient)
		var want []byte
		for len(stream) > 0 {
			n := min(int(stream[0]), len(stream)-1)
			inner := stream[1 : 1+n]
			stream = stream[1+n:]
			p.gc.arrive(sealInner(&p.peerOut, recordTypeApplicationData, inner))
			if i := bytes.LastIndexFunc(inner, func(r rune) bool { return r != 0 }); i >= 0 && inner[i] == recordTypeApplicationData {
				want = append(want, inner[:i]...)
			}
		}
		got, err := p.readAll(7)
		if !bytes.HasPrefix(want, got) {
			t.Fatalf("read %q, not a prefix of the application data %q", got, want)
		}
		if err != nil {
			if _, again := p.r.read(p.w, make([]byte, 7)); again != err {
				t.Fatalf("error %v, then %v", err, again)
			}
		}
	})
}

// TestRecords13ReadsPendingFirst: records that came with the handshake's last flight (fed
// to the handshake, not read by it) are read before gnet's buffer, also when one record is
// split between the two.
func TestRecords13ReadsPendingFirst(t *testing.T) {
	p := newRecordPair(t, tls.TLS_AES_128_GCM_SHA256, false)
	first := p.peerRecord(recordTypeApplicationData, []byte("EHLO client\r\n"), 0)
	second := p.peerRecord(recordTypeApplicationData, []byte("MAIL FROM:<a@b>\r\n"), 3)
	third := p.peerRecord(recordTypeApplicationData, []byte("RCPT TO:<c@d>\r\n"), 0)
	p.w.pending = append(bytes.Clone(first), second[:9]...)
	p.gc.arrive(second[9:], third)
	got, err := p.readAll(8)
	if err != nil || string(got) != "EHLO client\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n" {
		t.Fatalf("read %q, %v", got, err)
	}
	if p.w.pending != nil || len(p.gc.in) != 0 {
		t.Fatalf("left %d pending and %d gnet bytes", len(p.w.pending), len(p.gc.in))
	}
}

// TestOpenSSLServer: the records13 client against OpenSSL's s_server, which sends its
// tickets after the handshake and, mid-session, a KeyUpdate that asks for ours ("K"); the
// test types the server's side of the echo.
func TestOpenSSLServer(t *testing.T) {
	openssl := testpeer.Require(t, "openssl")
	ca := testpeer.NewCA(t, "openssl server CA")
	certFile, keyFile := ca.Issue(t, testpeer.LocalhostSpec()).WriteFiles(t, t.TempDir(), "server")
	addr := fmt.Sprintf("127.0.0.1:%d", testpeer.FreePort(t))
	p, stdin := testpeer.StartInteractive(t, openssl, "s_server", "-accept", addr, "-naccept", "1",
		"-cert", certFile, "-key", keyFile, "-tls1_3")
	waitFor := func(text string) { t.Helper(); waitForPeer(t, p, "s_server", text) }
	waitFor("ACCEPT")
	cs := &clientSession{cfg: &tls.Config{RootCAs: ca.Pool, ServerName: "localhost"}, implicit: true, lines: 3,
		result: make(chan error, 1)}
	if _, err := newGnetClient(t).DialContext("tcp", addr, cs); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		waitFor(fmt.Sprintf("line %d\n", i))
		if i == 1 {
			if _, err := io.WriteString(stdin, "K\n"); err != nil {
				t.Fatal(err)
			}
			waitFor("SSL_do_handshake -> 1") // what s_server prints once the KeyUpdate is sent
		}
		if _, err := fmt.Fprintf(stdin, "ok line %d\n", i); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-cs.result:
		if err != nil {
			t.Fatalf("client: %v\ns_server printed:\n%s", err, p.Output())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("client did not finish; s_server printed:\n%s", p.Output())
	}
	if !cs.records13 {
		t.Fatal("the client session was not on records13")
	}
}

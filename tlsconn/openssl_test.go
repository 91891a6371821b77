package tlsconn

import (
	"crypto/tls"
	"fmt"
	"io"
	"regexp"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// TestOpenSSLClient: OpenSSL's s_client, a TLS 1.3 stack that is not Go's, against the
// tlsconn server with each TLS 1.3 cipher suite; mid-session it sends a KeyUpdate that
// asks for ours ("K"), which crypto/tls answers on the event loop, and the echo must go on
// under the new keys both ways.
func TestOpenSSLClient(t *testing.T) {
	openssl := testpeer.Require(t, "openssl")
	ca := testpeer.NewCA(t, "openssl CA")
	srv := startLineServerOf(t, serverConfig(t, ca), true)
	for _, suite := range []uint16{tls.TLS_AES_128_GCM_SHA256, tls.TLS_AES_256_GCM_SHA384, tls.TLS_CHACHA20_POLY1305_SHA256} {
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

// TestOpenSSLServer: the tlsconn client against OpenSSL's s_server, which sends its
// tickets after the handshake (a client without a session cache ignores them) and,
// mid-session, a KeyUpdate that asks for ours ("K"); the test types the server's side of
// the echo.
func TestOpenSSLServer(t *testing.T) {
	openssl := testpeer.Require(t, "openssl")
	ca := testpeer.NewCA(t, "openssl server CA")
	certFile, keyFile := ca.Issue(t, testpeer.LocalhostSpec()).WriteFiles(t, t.TempDir(), "server")
	p, stdin := testpeer.StartInteractive(t, openssl, "s_server", "-accept", "127.0.0.1:0", "-naccept", "1",
		"-cert", certFile, "-key", keyFile, "-tls1_3")
	waitFor := func(text string) { t.Helper(); waitForPeer(t, p, "s_server", text) }
	var accept []string // s_server binds port 0 and says where it listens: "ACCEPT 127.0.0.1:PORT"
	acceptRE := regexp.MustCompile(`ACCEPT (\S+)\n`)
	testpeer.Eventually(t, 10*time.Second, 10*time.Millisecond, "s_server's ACCEPT line", func() bool {
		accept = acceptRE.FindStringSubmatch(p.Output())
		return accept != nil
	})
	addr := accept[1]
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
}

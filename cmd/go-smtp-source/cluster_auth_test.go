package main

import (
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// A NATS server that wants TLS with a client certificate and a user and password: the
// worker and the coordinator connect with their TLS and user options, the password from
// $GSS_NATS_PASSWORD, and run a test; a wrong password is refused.
func TestClusterNATSUserAndTLS(t *testing.T) {
	dir := t.TempDir()
	ca := testpeer.NewCA(t, "nats test CA")
	srvCert := ca.Issue(t, testpeer.LocalhostSpec())
	client := ca.Issue(t, testpeer.LeafSpec{CommonName: "gss", Client: true})
	caFile := ca.WriteFile(t, dir, "ca.pem")
	certFile, keyFile := client.WriteFiles(t, dir, "client-")
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true,
		Users:     []*server.User{{Username: "gss", Password: "s3cret"}},
		TLS:       true,
		TLSVerify: true,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{srvCert.TLS}, ClientCAs: ca.Pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12},
	})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	url := "tls://" + srv.Addr().String()
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	tlsArgs := []string{"--tls-ca", caFile, "--tls-cert", certFile, "--tls-key", keyFile}

	t.Setenv("GSS_NATS_PASSWORD", "wrong")
	r := testpeer.Run(t, 15*time.Second, bin, append([]string{"worker", "--nats", url, "--user", "gss"}, tlsArgs...)...)
	if r.ExitCode != 1 || !strings.Contains(strings.ToLower(r.Stderr), "authorization violation") {
		t.Errorf("wrong password: exit %d, stderr %q", r.ExitCode, r.Stderr)
	}

	t.Setenv("GSS_NATS_PASSWORD", "s3cret")
	s := startCountingSink(t)
	w := testpeer.Start(t, bin, append([]string{"worker", "--once", "--nats", url, "--user", "gss"}, tlsArgs...)...)
	waitStderr(t, w, "waiting for runs", 10*time.Second)
	cargs := []string{"--cluster-nats", url, "--cluster-user", "gss", "--cluster-tls-ca", caFile, "--cluster-tls-cert", certFile,
		"--cluster-tls-key", keyFile, "--cluster-workers", "1", "--quiet", "-m", "20", "-s", "2", s.addr}
	if r := testpeer.Run(t, 30*time.Second, bin, cargs...); r.ExitCode != 0 {
		t.Fatalf("coordinator over TLS: exit %d, stderr %s", r.ExitCode, r.Stderr)
	}
	if code := waitExit(t, w, 10*time.Second); code != 0 {
		t.Errorf("worker --once: exit %d: %s", code, w.Stderr.String())
	}
	if st := s.stop(t); st.MessagesAccepted != 20 {
		t.Errorf("sink accepted %d, want 20", st.MessagesAccepted)
	}
}

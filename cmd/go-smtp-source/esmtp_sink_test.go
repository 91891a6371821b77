package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-smtp-source/go-smtp-source/internal/sinktest"
	"github.com/go-smtp-source/go-smtp-source/sink"
)

// startESMTPSink runs go-smtp-sink's engine in this process, dumping every message to
// one file; it returns the address and the server.
func startESMTPSink(t *testing.T, dump string, proxy bool) (string, *sink.Server) {
	t.Helper()
	srv := sinktest.Start(t, sink.Config{EventLoops: 1, DumpFile: dump, ProxyProtocol: proxy})
	return srv.Addr().String(), srv
}

// TestESMTPAtGoSMTPSink: go-smtp-sink takes the ESMTP options' traffic, counts each
// extension in its stats and keeps the parameters in its dumps.
func TestESMTPAtGoSMTPSink(t *testing.T) {
	dump := filepath.Join(t.TempDir(), "dump")
	addr, srv := startESMTPSink(t, dump, false)
	code, stderr := runCLI(t, "-s", "2", "-m", "10", "-r", "2", "-d", "--pipelining", "--mail-size", "--smtputf8",
		"--8bitmime", "always", "--dsn-ret", "FULL", "--dsn-notify", "FAILURE", "--xclient", "ADDR=192.0.2.0/28,NAME=c.example",
		"--bdat=100", "-l", "250", "--timeout", "30s", addr)
	if got := summary(t, stderr); code != 0 || got[1] != 10 {
		t.Fatalf("exit %d, %v\n%s", code, got, stderr)
	}
	st := srv.Stats().Snapshot()
	want := sink.ESMTPCounts{MailSize: 10, Body8BitMIME: 10, SMTPUTF8: 10, DSNMail: 10, DSNRcpt: 20, XClient: 2}
	if st.ESMTP != want || st.MessagesAccepted != 10 || st.BDATChunks < 30 {
		t.Fatalf("esmtp %+v (want %+v), accepted %d, BDAT chunks %d", st.ESMTP, want, st.MessagesAccepted, st.BDATChunks)
	}
	b, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"SMTPUTF8", "RET=FULL", "ENVID=", "NOTIFY=FAILURE", "ORCPT=rfc822;"} {
		if !strings.Contains(string(b), s) {
			t.Fatalf("%s not in the dump:\n%.2000s", s, b)
		}
	}
}

// With --proxy-protocol on both sides, go-smtp-sink takes each session's client from its
// PROXY header (v1 and v2): counted, and the dump's client is the header's.
func TestProxyProtocolAtGoSMTPSink(t *testing.T) {
	for _, v := range []string{"v1", "v2"} {
		dump := filepath.Join(t.TempDir(), "dump")
		addr, srv := startESMTPSink(t, dump, true)
		code, stderr := runCLI(t, "-s", "2", "-m", "6", "--proxy-protocol", v, "--proxy-source", "192.0.2.1,2001:db8::5", "--timeout", "30s", addr)
		if got := summary(t, stderr); code != 0 || got[1] != 6 {
			t.Fatalf("%s: exit %d, %v\n%s", v, code, got, stderr)
		}
		if n := srv.Stats().Snapshot().ESMTP.ProxyHeaders; n != 6 {
			t.Fatalf("%s: %d PROXY headers counted, want 6", v, n)
		}
		b, err := os.ReadFile(dump)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(string(b), "[192.0.2.1]") < 3 || strings.Count(string(b), "[ipv6:2001:db8::5]") < 3 || strings.Contains(string(b), "127.0.0.1") {
			t.Fatalf("%s: dump clients:\n%.3000s", v, b)
		}
	}
}

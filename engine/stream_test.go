package engine

import (
	"bytes"
	"context"
	"crypto/tls"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
	"github.com/go-smtp-source/go-smtp-source/plan"
	"github.com/go-smtp-source/go-smtp-source/protocol"
)

// Bodies larger than a window go out window by window, byte for byte what -l renders,
// with or without -d and PIPELINING (the next envelope rides behind the last window).
func TestStreamedBody(t *testing.T) {
	for _, tc := range []bodyRun{
		{"a connection per message", false, false, 0, 6},
		{"-d", true, false, 0, 3},
		{"-d --pipelining", true, true, 0, 3},
		{"-d -T 4096", true, false, 4096, 3},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.arrivesWhole(t, 3*streamWindow+12345, 6) })
	}
}

// bodyRun is a way of sending -l bodies to a capturing server: with or without -d and
// PIPELINING, over a socket buffer of window bytes (-T; 0 for the default), on conns
// connections.
type bodyRun struct {
	name        string
	reuse, pipe bool
	window      int
	conns       int
}

// arrivesWhole sends msgs messages of length bytes over 3 sessions and checks that the
// server received each body whole, byte for byte what -l renders, and the accounting.
func (tc bodyRun) arrivesWhole(t *testing.T, length, msgs int) {
	t.Helper()
	want := append(protocol.LengthContent(length), ".\r\n"...)
	srv := testpeer.StartCapture(t, testpeer.CaptureOptions{})
	cfg := config(t, srv.Addr, 3, int64(msgs))
	cfg.Message.Length = length
	cfg.Session.Reuse, cfg.Session.Pipelining, cfg.Connect.WindowSize = tc.reuse, tc.pipe, tc.window
	if tc.pipe {
		cfg.Session.Greeting = plan.GreetEHLO
	}
	res, err := runTest(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkAccounting(t, res)
	if err := srv.WaitConns(tc.conns, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	got := 0
	for _, c := range srv.Conns() {
		got += bytes.Count(c.Bytes(), want)
	}
	if res.Accepted != int64(msgs) || got != msgs {
		t.Fatalf("accepted %d, %d whole bodies at the server, want %d", res.Accepted, got, msgs)
	}
}

// Over TLS too, window by window through the TLS record layer.
func TestStreamedBodyOverTLS(t *testing.T) {
	f := newTLSFixture(t)
	srv := testpeer.StartTLSServer(t, testpeer.TLSServerConfig{RequireTLS: true,
		TLS: &tls.Config{Certificates: []tls.Certificate{f.good.TLS}}})
	cfg := tlsConfig(t, srv.Addr, 2, 4, protocol.TLSRequired, &tls.Config{InsecureSkipVerify: true})
	cfg.Message.Length = 2*streamWindow + 1
	res, err := runTest(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkAccounting(t, res)
	if res.Accepted != 4 || srv.Messages.Load() != 4 {
		t.Fatalf("accepted %d, server got %d", res.Accepted, srv.Messages.Load())
	}
}

func TestCutWindow(t *testing.T) {
	rest := [][]byte{[]byte("abc"), []byte("defgh"), []byte("ij")}
	var got []string
	for len(rest) > 0 {
		var win [][]byte
		win, rest = cutWindow(nil, rest, 4)
		got = append(got, string(bytes.Join(win, nil)))
	}
	if want := []string{"abcd", "efgh", "ij"}; !equalStrings(got, want) {
		t.Fatalf("windows %q, want %q", got, want)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

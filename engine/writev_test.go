package engine

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
	"github.com/go-smtp-source/go-smtp-source/plan"
	"github.com/go-smtp-source/go-smtp-source/protocol"
)

// A body under a stream window goes out in one write; with -T 4096 the socket takes only
// part of it, and gnet must send the rest, in order, before anything that follows (the
// next envelope, with PIPELINING): every body arrives whole.
func TestPartialWrites(t *testing.T) {
	const length = 200 << 10 // under a window, well over what a 4096-byte send buffer takes at once
	want := append(protocol.LengthContent(length), ".\r\n"...)
	for _, tc := range []struct {
		name string
		pipe bool
	}{{"-d", false}, {"-d --pipelining", true}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := testpeer.StartCapture(t, testpeer.CaptureOptions{})
			cfg := config(t, srv.Addr, 3, 12)
			cfg.Message.Length = length
			cfg.Session.Reuse, cfg.Session.Pipelining, cfg.Connect.WindowSize = true, tc.pipe, 4096
			if tc.pipe {
				cfg.Session.Greeting = plan.GreetEHLO
			}
			res, err := runTest(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			checkAccounting(t, res)
			if err := srv.WaitConns(3, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			got := 0
			for _, c := range srv.Conns() {
				got += bytes.Count(c.Bytes(), want)
			}
			if res.Accepted != 12 || got != 12 {
				t.Fatalf("accepted %d, %d whole bodies at the server, want 12", res.Accepted, got)
			}
		})
	}
}

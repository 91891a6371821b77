package main

import (
	"net/netip"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/sink"
	"github.com/go-smtp-source/go-smtp-source/sink/sinktest"
)

// Both ways of running the floor deliver exactly the messages asked for, each session
// ending with QUIT, to go-smtp-sink.
func TestFloorDelivers(t *testing.T) {
	for _, mode := range []struct {
		name string
		run  func(*client, int, netip.AddrPort) error
	}{{"raw", (*client).run}, {"gnet", (*client).runGnet}} {
		t.Run(mode.name, func(t *testing.T) {
			srv := sinktest.Start(t, sink.Config{EventLoops: 1})
			addr := netip.MustParseAddrPort(srv.Addr().String())
			c := &client{epoch: time.Now(), planned: 500}
			if err := mode.run(c, 7, addr); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for snap := srv.Stats().Snapshot(); snap.Quits < 7; snap = srv.Stats().Snapshot() {
				if time.Now().After(deadline) {
					t.Fatalf("sink saw %d QUITs of 7", snap.Quits)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if snap := srv.Stats().Snapshot(); snap.MessagesAccepted != 500 {
				t.Errorf("sink accepted %d messages, want 500", snap.MessagesAccepted)
			}
		})
	}
}

package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// waitBacklogs waits until ss shows exactly sockets listening sockets, each with the
// backlog. The sink accepts as soon as its first socket listens; with one SO_REUSEPORT
// socket per event loop, the others get the backlog a moment later.
func waitBacklogs(t *testing.T, sockets, backlog int, args ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, out := testpeer.ListenBacklogs(t, args...)
		if len(got) == sockets && !slices.ContainsFunc(got, func(n int) bool { return n != backlog }) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ss %q: backlogs %v, want %d listening socket(s) with backlog %d:\n%s", args, got, sockets, backlog, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBacklogOperandApplied checks that the backlog operand is every listening socket's
// listen(2) backlog, as in smtp-sink: each event loop's SO_REUSEPORT socket for TCP
// (IPv4 and IPv6), the one socket for unix: and for -u (bound before dropping root, the
// loops share it). Two backlogs, so that neither is the kernel's default by chance.
func TestBacklogOperandApplied(t *testing.T) {
	testpeer.ListenBacklogs(t, "-ltnH") // skips without ss
	type listenCase struct {
		name    string
		operand func(t *testing.T) (addr string, ssArgs []string)
		opts    []string
		sockets int
	}
	tcp := func(host string) func(t *testing.T) (string, []string) {
		return func(t *testing.T) (string, []string) {
			port := testpeer.FreePort(t)
			if host != "127.0.0.1" {
				l, err := net.Listen("tcp6", "[::1]:0")
				if err != nil {
					t.Skipf("no IPv6 loopback: %v", err)
				}
				port = l.Addr().(*net.TCPAddr).Port
				l.Close()
			}
			return net.JoinHostPort(host, strconv.Itoa(port)), []string{"-ltnH", fmt.Sprintf("sport = :%d", port)}
		}
	}
	cases := []listenCase{
		{"ipv4", tcp("127.0.0.1"), []string{"--loops", "2"}, 2},
		{"ipv6", tcp("::1"), []string{"--loops", "2"}, 2},
		{"unix", func(t *testing.T) (string, []string) {
			path := filepath.Join(t.TempDir(), "sink.sock")
			return "unix:" + path, []string{"-lxH", "src " + path}
		}, []string{"--loops", "2"}, 1},
	}
	if os.Geteuid() == 0 {
		cases = append(cases, listenCase{"ipv4 -u nobody", tcp("127.0.0.1"), []string{"--loops", "2", "-u", "nobody"}, 1})
	}
	for _, c := range cases {
		for _, backlog := range []int{7, 100} {
			t.Run(fmt.Sprintf("%s/%d", c.name, backlog), func(t *testing.T) {
				addr, ssArgs := c.operand(t)
				s := startGoSinkBacklog(t, addr, strconv.Itoa(backlog), c.opts...)
				waitBacklogs(t, c.sockets, backlog, ssArgs...)
				s.Stop() // by PID; the stats file is not the point (nobody cannot write it)
			})
		}
	}
}

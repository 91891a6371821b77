package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// waitBacklogs waits until ss shows exactly sockets listening sockets, each with the
// backlog. The sink accepts as soon as its first socket listens; with one SO_REUSEPORT
// socket per event loop, the others get the backlog a moment later.
func waitBacklogs(t *testing.T, sockets, backlog int, args ...string) {
	t.Helper()
	var got []int
	var out string
	if !testpeer.Poll(5*time.Second, 20*time.Millisecond, func() bool {
		got, out = testpeer.ListenBacklogs(t, args...)
		return len(got) == sockets && !slices.ContainsFunc(got, func(n int) bool { return n != backlog })
	}) {
		t.Fatalf("ss %q: backlogs %v, want %d listening socket(s) with backlog %d:\n%s", args, got, sockets, backlog, out)
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
	// A port of the test's: on port 0 the sink binds one socket, not one per loop.
	tcp := func(host string) func(t *testing.T) (string, []string) {
		return func(t *testing.T) (string, []string) {
			if host != "127.0.0.1" {
				l, err := net.Listen("tcp6", "[::1]:0")
				if err != nil {
					t.Skipf("no IPv6 loopback: %v", err)
				}
				l.Close()
			}
			port := testpeer.FixedPort(t, host)
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
				if _, port, err := net.SplitHostPort(addr); err == nil && !strings.HasPrefix(addr, "unix:") {
					n, _ := strconv.Atoi(port)
					if alone, err := testpeer.SoleListener(s.Cmd.Process.Pid, n); !alone || err != nil {
						t.Fatalf("another program listens on %s too (%v): its sockets would count", addr, err)
					}
				}
				waitBacklogs(t, c.sockets, backlog, ssArgs...)
				s.Stop() // by PID; the stats file is not the point (nobody cannot write it)
			})
		}
	}
}

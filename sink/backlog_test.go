package sink

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// TestServerBacklog checks that Ready comes after every listening socket has the
// configured backlog: each event loop's own SO_REUSEPORT socket, or the one unix socket.
func TestServerBacklog(t *testing.T) {
	t.Parallel()
	for _, backlog := range []int{7, 100} {
		t.Run(fmt.Sprintf("tcp/%d", backlog), func(t *testing.T) {
			t.Parallel()
			// A port of the test's: on port 0 the sink binds one socket, not one per loop.
			port := testpeer.FixedPort(t, "127.0.0.1")
			startServer(t, func(c *Config) {
				c.Listen, c.EventLoops, c.Backlog = fmt.Sprintf("tcp4://127.0.0.1:%d", port), 2, backlog
			})
			if alone, err := testpeer.SoleListener(os.Getpid(), port); !alone || err != nil {
				t.Fatalf("another program listens on port %d too (%v): its sockets would count", port, err)
			}
			got, _ := testpeer.ListenBacklogs(t, "-ltnH", fmt.Sprintf("sport = :%d", port))
			if len(got) != 2 || got[0] != backlog || got[1] != backlog {
				t.Errorf("backlogs of the listening sockets on port %d: %v; want two (one per loop) of %d", port, got, backlog)
			}
		})
		t.Run(fmt.Sprintf("unix/%d", backlog), func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "sink.sock")
			startServer(t, func(c *Config) { c.Listen, c.Backlog = "unix://"+path, backlog })
			got, _ := testpeer.ListenBacklogs(t, "-lxH", "src "+path)
			if len(got) != 1 || got[0] != backlog {
				t.Errorf("backlogs of the listening sockets on %s: %v; want one of %d", path, got, backlog)
			}
		})
	}
}

package sink

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// listenBacklogs runs ss (iproute2) with args and returns the Send-Q column of every
// LISTEN line: for a listening socket ss reports its backlog there. Without ss the test
// is skipped.
func listenBacklogs(t *testing.T, args ...string) []int {
	t.Helper()
	ss, err := exec.LookPath("ss")
	if err != nil {
		t.Skip("ss (iproute2) not installed: cannot read the listening sockets' backlogs")
	}
	out, err := exec.Command(ss, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ss %q: %v: %s", args, err, out)
	}
	var backlogs []int
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		// TCP lines start with the state; unix lines with the socket type (u_str).
		i := slices.Index(f, "LISTEN")
		if i < 0 || i+2 >= len(f) {
			continue
		}
		n, err := strconv.Atoi(f[i+2])
		if err != nil {
			t.Fatalf("ss %q: Send-Q %q in %q", args, f[i+2], line)
		}
		backlogs = append(backlogs, n)
	}
	return backlogs
}

// TestServerBacklog checks that Ready comes after every listening socket has the
// configured backlog: each event loop's own SO_REUSEPORT socket, or the one unix socket.
func TestServerBacklog(t *testing.T) {
	t.Parallel()
	for _, backlog := range []int{7, 100} {
		t.Run(fmt.Sprintf("tcp/%d", backlog), func(t *testing.T) {
			t.Parallel()
			port := testpeer.FreePort(t)
			startServer(t, func(c *Config) {
				c.Listen, c.EventLoops, c.Backlog = fmt.Sprintf("tcp4://127.0.0.1:%d", port), 2, backlog
			})
			got := listenBacklogs(t, "-ltnH", fmt.Sprintf("sport = :%d", port))
			if len(got) != 2 || got[0] != backlog || got[1] != backlog {
				t.Errorf("backlogs of the listening sockets on port %d: %v; want two (one per loop) of %d", port, got, backlog)
			}
		})
		t.Run(fmt.Sprintf("unix/%d", backlog), func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "sink.sock")
			startServer(t, func(c *Config) { c.Listen, c.Backlog = "unix://"+path, backlog })
			got := listenBacklogs(t, "-lxH", "src "+path)
			if len(got) != 1 || got[0] != backlog {
				t.Errorf("backlogs of the listening sockets on %s: %v; want one of %d", path, got, backlog)
			}
		})
	}
}

//go:build !linux

package sink

import (
	"errors"

	"golang.org/x/sys/unix"
)

// canFindLoopSockets: without /proc/self/fd the event loops' own SO_REUSEPORT sockets
// cannot be found, so a backlog makes the loops share one socket (see Server.Serve).
const canFindLoopSockets = false

func relistenLoopSockets(unix.Sockaddr, int) (int, error) { return 0, errors.ErrUnsupported }

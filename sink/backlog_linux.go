package sink

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// canFindLoopSockets: relistenLoopSockets works here.
const canFindLoopSockets = true

// relistenLoopSockets gives the backlog to every SO_REUSEPORT stream socket of this
// process that is listening on addr, and returns how many there were. With
// WithReusePort gnet binds one such socket per event loop, the engine's own for loop 0
// and the others after OnBoot, and exposes none but the first (Engine.Dup), so they
// are found among the process's descriptors. Another SO_REUSEPORT listener of this
// process on the same address would get the backlog too.
func relistenLoopSockets(addr unix.Sockaddr, backlog int) (int, error) {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		// Work on a duplicate: the number may be closed and reused meanwhile, the
		// duplicate's socket stays the one that was checked.
		dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			continue
		}
		found := isReusePortListener(dup, addr)
		if found {
			err = unix.Listen(dup, listenBacklog(backlog))
		}
		unix.Close(dup)
		if !found {
			continue
		}
		if err != nil {
			return n, os.NewSyscallError("listen", err)
		}
		n++
	}
	return n, nil
}

// isReusePortListener reports whether fd is a listening SO_REUSEPORT stream socket
// bound to addr.
func isReusePortListener(fd int, addr unix.Sockaddr) bool {
	for _, opt := range []int{unix.SO_ACCEPTCONN, unix.SO_REUSEPORT} {
		if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, opt); err != nil || v == 0 {
			return false
		}
	}
	if typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); err != nil || typ != unix.SOCK_STREAM {
		return false
	}
	sa, err := unix.Getsockname(fd)
	return err == nil && sameSockaddr(sa, addr)
}

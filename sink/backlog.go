package sink

import (
	"math"
	"os"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// maxEventLoops is gnet's limit on event loops (WithNumEventLoop is capped at it).
const maxEventLoops = 256

// listenBacklog is the backlog as listen(2) takes it (an int in C; the kernel caps it
// at net.core.somaxconn anyway).
func listenBacklog(backlog int) int { return min(backlog, math.MaxInt32) }

// relisten gives the engine's listening socket (the one gnet binds before OnBoot) the
// backlog: gnet listens with somaxconn and has no option for it, but listen(2) on a
// socket that is already listening only changes its backlog, as smtp-sink's listen(fd,
// backlog) sets it. It returns the socket's bound address.
func relisten(eng gnet.Engine, backlog int) (unix.Sockaddr, error) {
	fd, err := eng.Dup()
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	if err := unix.Listen(fd, listenBacklog(backlog)); err != nil {
		return nil, os.NewSyscallError("listen", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return nil, os.NewSyscallError("getsockname", err)
	}
	return sa, nil
}

// sameSockaddr reports whether two bound addresses are the same.
func sameSockaddr(a, b unix.Sockaddr) bool {
	switch a := a.(type) {
	case *unix.SockaddrInet4:
		b, ok := b.(*unix.SockaddrInet4)
		return ok && a.Port == b.Port && a.Addr == b.Addr
	case *unix.SockaddrInet6:
		b, ok := b.(*unix.SockaddrInet6)
		return ok && a.Port == b.Port && a.Addr == b.Addr && a.ZoneId == b.ZoneId
	case *unix.SockaddrUnix:
		b, ok := b.(*unix.SockaddrUnix)
		return ok && a.Name == b.Name
	}
	return false
}

package engine

import (
	"unsafe"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// writePlain writes vec to the connection. When gnet holds nothing for the socket, the
// bytes go straight to its descriptor with a raw writev: gnet's Writev makes the same
// call through the runtime's blocking-syscall bookkeeping (entersyscall, exitsyscall),
// which a non-blocking write does not need (its effect: benchmarks/README.md, issue 18's
// section). Whatever the socket does not take at once, and every error, goes to gnet's
// Writev: it buffers the rest and waits for EPOLLOUT, or closes the connection with the
// error, exactly as if it had written all. With bytes already in gnet's buffer the new
// ones must queue behind them, so gnet writes those too.
func (s *slot) writePlain(c gnet.Conn, vec [][]byte) error {
	if c.OutboundBuffered() == 0 {
		n, ok := s.rawWritev(c.Fd(), vec)
		if ok {
			vec = advance(vec, n)
			if len(vec) == 0 {
				return nil
			}
		}
	}
	_, err := c.Writev(vec)
	return err
}

// rawWritev writes vec to fd with one writev(2) and reports how much went out; ok is
// false when the call failed (EAGAIN included), nothing having been written.
func (s *slot) rawWritev(fd int, vec [][]byte) (n int, ok bool) {
	iov := s.iov[:0]
	for _, b := range vec {
		if len(b) == 0 {
			continue
		}
		v := unix.Iovec{Base: &b[0]}
		v.SetLen(len(b))
		iov = append(iov, v)
	}
	if len(iov) == 0 {
		return 0, true
	}
	r, _, errno := unix.RawSyscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	clear(iov) // the pointers would keep pooled buffers alive
	s.iov = iov[:0]
	if errno != 0 {
		return 0, false
	}
	return int(r), true
}

// advance drops the first n bytes of vec, in place.
func advance(vec [][]byte, n int) [][]byte {
	for len(vec) > 0 && n >= len(vec[0]) {
		n -= len(vec[0])
		vec = vec[1:]
	}
	if len(vec) > 0 {
		vec[0] = vec[0][n:]
	}
	return vec
}

package testpeer

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// A peer binds port 0 itself and the test asks the kernel which port it got: binding a
// port a test chose (a port free a moment ago) races with every other process, and two
// servers that bind with SO_REUSEPORT (smtp-sink, go-smtp-sink) both succeed on the same
// port and silently share its connections.

// ListeningAddrs is the TCP addresses ("host:port") that process pid listens on: its
// file descriptors' socket inodes, looked up among the kernel's listening sockets. A
// child process that inherited the sockets shares them.
func ListeningAddrs(pid int) ([]string, error) {
	inodes, err := socketInodes(pid)
	if err != nil {
		return nil, err
	}
	all, err := listeners()
	if err != nil {
		return nil, err
	}
	var addrs []string
	for _, l := range all {
		if inodes[l.inode] {
			addrs = append(addrs, l.addr)
		}
	}
	slices.Sort(addrs)
	return slices.Compact(addrs), nil
}

// socketInodes is the inodes of the sockets among a process's file descriptors.
func socketInodes(pid int) (map[string]bool, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	inodes := make(map[string]bool)
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // closed since
		}
		if inode, ok := strings.CutPrefix(target, "socket:["); ok {
			inodes[strings.TrimSuffix(inode, "]")] = true
		}
	}
	return inodes, nil
}

// WaitListening waits until process p listens on a TCP address other than those in
// except (a second listener it was told about, such as an HTTP endpoint), and returns
// it. A process that listens on more than one such address fails the test: ask for the
// one wanted by excluding the others.
func WaitListening(t testing.TB, p *Process, within time.Duration, except ...string) string {
	t.Helper()
	var addrs []string
	var err error
	found := Poll(within, 5*time.Millisecond, func() bool {
		if p.Exited() {
			return true
		}
		addrs, err = ListeningAddrs(p.Cmd.Process.Pid)
		addrs = slices.DeleteFunc(addrs, func(a string) bool { return slices.Contains(except, a) })
		return err == nil && len(addrs) > 0
	})
	switch {
	case p.Exited():
		t.Fatalf("%s exited before it listened: %s", p.Cmd.Path, p.Output())
	case !found:
		t.Fatalf("%s listens on no TCP address after %v (%v): %s", p.Cmd.Path, within, err, p.Output())
	case len(addrs) > 1:
		t.Fatalf("%s listens on %v: which one is wanted?", p.Cmd.Path, addrs)
	}
	return addrs[0]
}

// ClosedPort returns a loopback TCP address that refuses connections: a socket bound to
// it that never listens, held until the test ends, so that no other process can take the
// port meanwhile (as one could a port found free and released).
func ClosedPort(t testing.TB) string {
	t.Helper()
	return closedPort(t, unix.AF_INET, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}})
}

// ClosedPort6 is ClosedPort on [::1]; the test is skipped without an IPv6 loopback.
func ClosedPort6(t testing.TB) string {
	t.Helper()
	return closedPort(t, unix.AF_INET6, &unix.SockaddrInet6{Addr: [16]byte{15: 1}})
}

func closedPort(t testing.TB, family int, sa unix.Sockaddr) string {
	t.Helper()
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("closed port: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, sa); err != nil {
		if family == unix.AF_INET6 {
			t.Skipf("no IPv6 loopback: %v", err)
		}
		t.Fatalf("closed port: bind: %v", err)
	}
	bound, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatalf("closed port: %v", err)
	}
	switch a := bound.(type) {
	case *unix.SockaddrInet4:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
	case *unix.SockaddrInet6:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
	}
	t.Fatalf("closed port: bound to %T", bound)
	return ""
}

var (
	fixedPortsMu sync.Mutex
	fixedPorts   = map[int]bool{}
)

// FixedPort returns a loopback port for a server that must be told its port, for what
// port 0 cannot do: a server whose event loops each bind an SO_REUSEPORT socket to it
// (with port 0 each would draw its own), or one restarted on the same address. The port
// is below the ephemeral range (32768-60999), so no port-0 server and no connection's
// local port holds it, this test binary has not handed it out before, and nothing is
// bound to it right now. Once the server listens, SoleListener checks that it is alone
// on it: another program may have been told the same port.
func FixedPort(t testing.TB, host string) int {
	t.Helper()
	fixedPortsMu.Lock()
	defer fixedPortsMu.Unlock()
	for range 500 {
		p := 20000 + rand.IntN(12000)
		if fixedPorts[p] {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err != nil {
			continue
		}
		l.Close()
		fixedPorts[p] = true
		return p
	}
	t.Fatalf("no free loopback port in 20000-31999 on %s", host)
	return 0
}

// SoleListener reports whether every socket listening on TCP port port (any address)
// belongs to process pid, and that there is at least one.
func SoleListener(pid, port int) (bool, error) {
	mine, err := socketInodes(pid)
	if err != nil {
		return false, err
	}
	all, err := listeners()
	if err != nil {
		return false, err
	}
	var ours, theirs int
	for _, l := range all {
		switch {
		case l.port != port:
		case mine[l.inode]:
			ours++
		default:
			theirs++
		}
	}
	return ours > 0 && theirs == 0, nil
}

// BoundAddr is the address ("host:port") a gnet server's listening socket is bound to,
// for a test server started on port 0; call it from OnBoot.
func BoundAddr(eng gnet.Engine) (string, error) {
	fd, err := eng.Dup()
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return "", err
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port)), nil
	case *unix.SockaddrInet6:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port)), nil
	}
	return "", fmt.Errorf("listening socket bound to %T", sa)
}

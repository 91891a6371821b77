package testpeer

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ListeningAddrs finds the sockets this process listens on, and only those: not one
// bound and never listening (ClosedPort).
func TestListeningAddrs(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	closed := ClosedPort(t)
	addrs, err := ListeningAddrs(os.Getpid())
	if err != nil || !slices.Contains(addrs, l.Addr().String()) || slices.Contains(addrs, closed) {
		t.Fatalf("ListeningAddrs = %v, %v; want %s among them, not %s", addrs, err, l.Addr(), closed)
	}
}

// SoleListener tells a port this process listens on alone from one it shares through
// SO_REUSEPORT with another program (this test binary again, as a child).
func TestSoleListener(t *testing.T) {
	if port := os.Getenv("TESTPEER_SHARE_PORT"); port != "" { // the child
		l, err := reusePortListen("127.0.0.1:" + port)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		fmt.Println("listening")
		time.Sleep(30 * time.Second) // until the parent stops it
		return
	}
	l, err := reusePortListen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	if alone, err := SoleListener(os.Getpid(), port); !alone || err != nil {
		t.Fatalf("SoleListener on %d = %v, %v; want alone", port, alone, err)
	}
	t.Setenv("TESTPEER_SHARE_PORT", strconv.Itoa(port))
	p := Start(t, os.Args[0], "-test.run=^TestSoleListener$", "-test.v")
	if !p.WaitOutput("listening", 10*time.Second) {
		t.Fatalf("child: %s", p.Output())
	}
	if alone, err := SoleListener(os.Getpid(), port); alone || err != nil {
		t.Fatalf("SoleListener on %d = %v, %v; want shared with pid %d", port, alone, err, p.Cmd.Process.Pid)
	}
}

func reusePortListen(addr string) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) }); err != nil {
			return err
		}
		return serr
	}}
	return lc.Listen(context.Background(), "tcp", addr)
}

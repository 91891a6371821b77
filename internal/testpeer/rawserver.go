package testpeer

import (
	"net"
	"sync"
	"testing"
)

// ListenSilent starts a TCP listener on loopback that accepts connections and never says
// a word (a server that hangs); the connections are closed when the test ends. It returns
// the address.
func ListenSilent(t testing.TB) string {
	t.Helper()
	return listenRaw(t, false)
}

// ListenClosing starts a TCP listener on loopback that closes every connection as soon
// as it accepts it (a server that drops clients). It returns the address.
func ListenClosing(t testing.TB) string {
	t.Helper()
	return listenRaw(t, true)
}

func listenRaw(t testing.TB, closeAtOnce bool) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var mu sync.Mutex
	var held []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if closeAtOnce {
				c.Close()
				continue
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

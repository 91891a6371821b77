package cluster

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// A worker (or a coordinator) started before its NATS server waits for it, says so,
// and connects when it comes up; credentials the server refuses are not waited on.
func TestDialWaitsForNATS(t *testing.T) {
	// The address is told before anything listens on it: a testpeer.FixedPort, which no
	// port-0 server is given meanwhile.
	addr := fmt.Sprintf("127.0.0.1:%d", testpeer.FixedPort(t, "127.0.0.1"))
	var mu sync.Mutex
	var events []string
	said := func(text string) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range events {
			if strings.Contains(e, text) {
				return true
			}
		}
		return false
	}
	type result struct {
		err error
	}
	done := make(chan result, 1)
	go func() {
		nc, err := ConnectWorker(context.Background(), "nats://"+addr, "w0", NATSAuth{Token: "secret"}, 30*time.Second, func(text string) {
			mu.Lock()
			events = append(events, text)
			mu.Unlock()
		})
		if err == nil {
			nc.Close()
		}
		done <- result{err}
	}()
	waitFor(t, "the waiting line", 10*time.Second, func() bool { return said("is not reachable yet") })
	srv, err := StartServer(addr, "secret")
	if err != nil {
		t.Fatalf("server on %s: %v", addr, err)
	}
	t.Cleanup(srv.Shutdown)
	select {
	case r := <-done:
		if r.err != nil || !said("is up: connected after") {
			t.Fatalf("err %v, events %q", r.err, events)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not connect once the server was up")
	}
	began := time.Now()
	if _, err := ConnectWorker(context.Background(), srv.URL, "w1", NATSAuth{Token: "wrong"}, 30*time.Second, func(string) {}); err == nil ||
		!strings.Contains(strings.ToLower(err.Error()), "authorization") || time.Since(began) > 5*time.Second {
		t.Errorf("wrong token: %v after %v", err, time.Since(began))
	}
	// Nothing comes up: the wait ends at its bound, with the reason.
	closed := "nats://" + testpeer.ClosedPort(t)
	if _, err := ConnectWorker(context.Background(), closed, "w2", NATSAuth{}, 700*time.Millisecond, func(string) {}); err == nil || !strings.Contains(err.Error(), "not reachable within 700ms") {
		t.Errorf("no server: %v", err)
	}
}

package main

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/go-smtp-source/go-smtp-source/internal/gnetlog"
)

// gnetFloor runs the sessions on gnet's event loops: gnet reads, the session parses and
// answers with gnet's Write.
type gnetFloor struct {
	gnet.BuiltinEventEngine
	c    *client
	done sync.WaitGroup
	mu   sync.Mutex
	err  error // the first session's error
}

func (c *client) runGnet(n int, addr netip.AddrPort) error {
	g := &gnetFloor{c: c}
	cli, err := gnet.NewClient(g, gnet.WithNumEventLoop(min(runtime.NumCPU(), n)),
		gnet.WithReadBufferCap(16<<10), gnet.WithTCPNoDelay(gnet.TCPNoDelay), gnet.WithLogger(gnetlog.Silent{}))
	if err != nil {
		return err
	}
	if err := cli.Start(); err != nil {
		return err
	}
	defer cli.Stop()
	for i := 0; i < n; i++ {
		nc, err := net.Dial("tcp", addr.String())
		if err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		g.done.Add(1)
		if _, err := cli.EnrollContext(nc, &session{in: make([]byte, 0, 512)}); err != nil {
			return err
		}
	}
	g.done.Wait()
	return g.err
}

func (g *gnetFloor) OnOpen(conn gnet.Conn) ([]byte, gnet.Action) {
	conn.Context().(*session).conn = conn
	return nil, gnet.None
}

func (g *gnetFloor) OnTraffic(conn gnet.Conn) gnet.Action {
	s := conn.Context().(*session)
	buf, _ := conn.Next(-1)
	s.in = append(s.in, buf...)
	closed, err := g.c.consume(s, time.Since(g.c.epoch))
	if err != nil {
		g.fail(err)
	}
	if closed || s.state == stDone {
		return gnet.Close
	}
	return gnet.None
}

func (g *gnetFloor) OnClose(conn gnet.Conn, err error) gnet.Action {
	if s := conn.Context().(*session); s.state != stDone {
		g.fail(fmt.Errorf("connection closed in state %d: %v", s.state, err))
	}
	g.done.Done()
	return gnet.None
}

func (g *gnetFloor) fail(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err == nil {
		g.err = err
	}
}

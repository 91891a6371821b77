package tlsconn

import (
	"context"

	"github.com/panjf2000/gnet/v2"
)

// Close ends the TLS session's use of the connection and gives back its plaintext
// buffer: a handshake in progress fails at once, having read what the loop fed it. It
// neither sends close_notify nor closes the gnet connection, and never waits. Event loop
// only (OnClose), more than once.
func (c *Conn) Close() {
	_ = c.w.Close()
	c.input.release()
}

// CloseDuringHandshake is Close for a connection that closed while the handshake may
// still be running (OnClose), for an owner that wants to know why the handshake was cut
// short. It never waits. When a handshake was in progress it returns true, and cut is
// called later, once, on the connection's event loop (gnet's EventLoop.Execute, the
// loop the connection was on), with why the handshake ended: its error, which often is
// the alert the peer sent before hanging up, read from what the loop had fed it — or,
// when the handshake had succeeded before the loop heard of it, an alert the peer sent
// after it (in TLS 1.3 a server refuses a client certificate only after the client's
// handshake is over). net.ErrClosed says that nothing but the close explains it.
//
// It returns false, and cut is never called, when no handshake was in progress. Nor is
// cut called when the event loop stops before the handshake goroutine ends (gnet's
// Stop): an owner waiting for cut then finishes on its own once the loops have stopped.
func (c *Conn) CloseDuringHandshake(cut func(error)) bool {
	if !c.handshaking {
		c.Close()
		return false
	}
	c.handshaking = false
	c.Feed() // anything gnet still holds: the handshake reads it before it sees the close
	c.mu.Lock()
	state := c.state
	if state == handshakeRunning {
		c.state, c.cut, c.cutLoop = handshakeCut, cut, c.gc.EventLoop()
	}
	hsErr := c.hsErr
	c.mu.Unlock()
	c.Close() // wakes the goroutine, if it waits for bytes, once it has read what was fed
	switch state {
	case handshakeRunning:
		// The goroutine reports when it ends.
	case handshakeOver:
		// It ended before the loop heard of it: tc is the loop's, and with the wire
		// closed, reading what was fed never waits.
		c.cut, c.cutLoop = cut, c.gc.EventLoop()
		c.report(c.whyCut(hsErr))
	case handshakeCut:
		panic("tlsconn: CloseDuringHandshake called twice")
	}
	return true
}

// whyCut is why a handshake that ended with err was cut short by the close: err, or,
// when the handshake had succeeded, the first error reading what arrived after it (an
// alert, or net.ErrClosed once nothing is left). Only tc's owner calls it, after Close:
// the wire then hands out what was fed and fails, never waiting.
func (c *Conn) whyCut(err error) error {
	if err != nil {
		return err
	}
	var scratch [512]byte
	for {
		if _, err := c.tc.Read(scratch[:]); err != nil {
			return err
		}
	}
}

// report calls cut with err on cutLoop. When the loop has stopped, it does not.
func (c *Conn) report(err error) {
	cut := c.cut
	_ = c.cutLoop.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		cut(err)
		return nil
	}))
}

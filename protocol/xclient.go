package protocol

import (
	"fmt"
	"strings"
	"sync/atomic"
)

// XClient is the XCLIENT command (Postfix's XCLIENT_README) every session sends after
// EHLO when the server announces XCLIENT: ADDR= the next address of the rotation, and
// the other attributes as given. The server answers with a new 220 greeting, and the
// session greets again.
type XClient struct {
	Addrs AddrList // ADDR=, one per session in turn; empty: no ADDR
	attrs []byte   // " NAME=… HELO=…", as they go out

	next atomic.Uint64
}

// xclientAttrs are the attribute names Postfix's smtpd takes.
var xclientAttrs = []string{"ADDR", "NAME", "PORT", "PROTO", "HELO", "LOGIN", "DESTADDR", "DESTPORT"}

// ParseXClient reads "ADDR=192.0.2.0/24,NAME=client.example,HELO=x": ATTR=value pairs
// separated by commas. ADDR takes an address list (ParseAddrList): an item without '='
// continues the previous attribute's value ("ADDR=192.0.2.1,192.0.2.9,NAME=x").
func ParseXClient(s string) (*XClient, error) {
	var names, values []string
	for item := range strings.SplitSeq(s, ",") {
		name, value, ok := strings.Cut(item, "=")
		if !ok {
			if len(names) == 0 {
				return nil, fmt.Errorf("%q: want ATTR=value", item)
			}
			values[len(values)-1] += "," + item
			continue
		}
		name = strings.ToUpper(strings.TrimSpace(name))
		if !knownXClientAttr(name) {
			return nil, fmt.Errorf("%q: not an XCLIENT attribute (%s)", name, strings.Join(xclientAttrs, ", "))
		}
		names, values = append(names, name), append(values, value)
	}
	x := &XClient{}
	for i, name := range names {
		if name == "ADDR" {
			l, err := ParseAddrList(values[i])
			if err != nil {
				return nil, fmt.Errorf("ADDR: %w", err)
			}
			x.Addrs = l
			continue
		}
		if values[i] == "" {
			return nil, fmt.Errorf("%s: empty value", name)
		}
		x.attrs = append(x.attrs, " "+name+"="...)
		from := len(x.attrs)
		x.attrs = appendXtextInPlace(append(x.attrs, values[i]...), from)
	}
	if x.Addrs.Len() == 0 && len(x.attrs) == 0 {
		return nil, fmt.Errorf("%q: no attribute", s)
	}
	return x, nil
}

func knownXClientAttr(name string) bool {
	for _, a := range xclientAttrs {
		if a == name {
			return true
		}
	}
	return false
}

// sendXClient sends XCLIENT with the next address of the rotation.
func (c *Client) sendXClient(now int64) {
	x := c.cfg.ESMTP.XClient
	start := len(c.out.B)
	c.out.B = append(c.out.B, "XCLIENT"...)
	if x.Addrs.Len() > 0 {
		a := x.Addrs.At(x.next.Add(1) - 1)
		c.out.B = append(c.out.B, " ADDR="...)
		if !a.Is4() {
			c.out.B = append(c.out.B, "IPV6:"...)
		}
		c.out.B = a.AppendTo(c.out.B)
	}
	c.out.B = append(c.out.B, x.attrs...)
	c.traceSent(c.out.B[start:])
	c.out.B = append(c.out.B, '\r', '\n')
	c.push(PhaseXClient, now, 0)
}

// xclientDue reports that XCLIENT is to be sent now: once per connection, after the
// first EHLO, when the server announces it.
func (c *Client) xclientDue() bool {
	e := c.cfg.ESMTP
	if e == nil || e.XClient == nil || c.xclientSent || !c.caps.Has(ExtXClient) {
		return false
	}
	c.xclientSent = true
	return true
}

// onXClient: 220 is the server's new greeting, for the client the XCLIENT names (Postfix's
// smtpd); smtp-sink answers 250. Either way the session greets again. A refusal is a
// rejection; with -A the session goes on as itself.
func (c *Client) onXClient(t *txn, r *Reply, now int64) Step {
	if r.Positive() {
		c.sendGreeting(PhaseHelo, now)
		return StepRead
	}
	if step, stop := c.rejected(t, "XCLIENT rejected", r); stop {
		return step
	}
	return c.afterGreeting(now)
}

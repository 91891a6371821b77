package protocol

import "strconv"

// BDAT (RFC 3030 CHUNKING): the message goes out in chunks of counted octets, without
// dot-stuffing and without the final dot. Each chunk but the last is timed as PhaseBDAT;
// the last one's reply is the message's acceptance and is timed as PhaseEOD, like the
// dot's. With PIPELINING every chunk goes in the envelope's write; without, each waits
// for the previous chunk's reply.

// bdatState is the message being sent with BDAT on this connection.
type bdatState struct {
	// own is the message's own bytes (the trace header, the headers, a templated file's
	// content) and body the body that follows them, in plain form (message_plain.go),
	// rendered once per message into buffers reused across messages.
	own    []byte
	body   [][]byte
	pieces [][]byte // the scratch a body made per message is cut into
	total  int      // own bytes and body
	off    int      // octets already handed to BDAT commands
}

// sendDataCommand starts the message's content: BDAT when this session uses it, DATA
// otherwise.
func (c *Client) sendDataCommand(now int64, t *txn) {
	if !c.esmtp.bdat {
		c.command(PhaseData, now, t.seq, cmdData)
		return
	}
	var n int
	c.bdat.own, c.bdat.body, n = c.cfg.ESMTP.appendPlain(c.cfg.Template, c.bdat.own[:0], &c.bdat.pieces, t.seq, c.slot, now)
	c.bdat.total, c.bdat.off = len(c.bdat.own)+n, 0
	if c.pipelining {
		for c.bdat.off < c.bdat.total {
			c.sendChunk(now, t)
		}
		return
	}
	c.sendChunk(now, t)
}

// sendChunk sends the next chunk. A message that fits one chunk goes out without a
// copy of its body: its own bytes, then the body's pieces; a larger one is copied chunk
// by chunk into the output buffer.
func (c *Client) sendChunk(now int64, t *txn) {
	n := c.bdat.total - c.bdat.off
	if chunk := c.cfg.ESMTP.Chunk; chunk > 0 && n > chunk {
		n = chunk
	}
	last := c.bdat.off+n == c.bdat.total
	start := len(c.out.B)
	c.out.B = append(c.out.B, "BDAT "...)
	c.out.B = strconv.AppendInt(c.out.B, int64(n), 10)
	if last {
		c.out.B = append(c.out.B, " LAST"...)
	}
	c.traceSent(c.out.B[start:])
	c.out.B = append(c.out.B, '\r', '\n')
	if c.bdat.off == 0 && last && c.body == nil {
		c.out.B = append(c.out.B, c.bdat.own...)
		c.bodyAt = len(c.out.B)
		c.body, c.bodyLen = c.bdat.body, c.bdat.total-len(c.bdat.own)
	} else {
		c.out.B = c.appendMessageRange(c.out.B, c.bdat.off, n)
	}
	c.bdat.off += n
	if !last {
		c.push(PhaseBDAT, now, t.seq)
		return
	}
	c.push(PhaseEOD, now, t.seq)
	c.dotSeq = t.seq
}

// appendMessageRange appends n octets of the message from offset off: its own bytes,
// then the body's pieces.
func (c *Client) appendMessageRange(dst []byte, off, n int) []byte {
	pieces := c.bdat.body
	for i := -1; i < len(pieces) && n > 0; i++ {
		p := c.bdat.own
		if i >= 0 {
			p = pieces[i]
		}
		if off >= len(p) {
			off -= len(p)
			continue
		}
		k := min(n, len(p)-off)
		dst = append(dst, p[off:off+k]...)
		n -= k
		off = 0
	}
	return dst
}

// onBDATChunk: a chunk before the last was answered.
func (c *Client) onBDATChunk(t *txn, r *Reply, now int64) Step {
	if !r.Positive() && t.rejected == nil {
		if step, stop := c.rejected(t, "data rejected", r); stop {
			return step
		}
		t.rejected = rejection(PhaseBDAT, "data rejected", r)
		if !c.pipelining {
			c.endRejected(t, now)
		}
		return StepRead
	}
	if !c.pipelining && t.rejected == nil {
		c.sendChunk(now, t)
	}
	return StepRead
}

// onBDATLast: the last chunk was answered, the message's outcome. A transaction whose
// envelope (or an earlier chunk) already failed ends with RSET: the reply only confirms.
func (c *Client) onBDATLast(t *txn, r *Reply, now int64) Step {
	viable := t.mailOK && t.rcptAccepted > 0 && t.rejected == nil
	switch {
	case !viable:
		c.endRejected(t, now)
		return StepRead
	case r.Positive():
		c.finish(t, Accepted, nil)
	default:
		if step, stop := c.rejected(t, "end of data rejected", r); stop {
			return step
		}
		t.rejected = rejection(PhaseEOD, "end of data rejected", r)
		c.finish(t, Rejected, t.rejected)
	}
	return c.afterMessage(now)
}

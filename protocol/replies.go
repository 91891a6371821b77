package protocol

// The replies to each command, in smtp-source's terms (its read_banner, helo_done,
// mail_done, rcpt_done, data_done, dot_done, rset_done), extended with PIPELINING and
// LMTP. Each returns what the driver does next; rejected applies -A.

func (c *Client) onBanner(r *Reply, now int64) Step {
	if !r.Positive() {
		err := rejection(PhaseBanner, "rejected at server banner", r)
		if !c.cfg.AllowReject {
			return c.fatalRejected(err)
		}
		c.obs.Warning(err) // smtp-source goes on to HELO, even after 421
	}
	if c.cfg.Greeting == GreetNone {
		c.beginMessage(now)
		return StepRead
	}
	c.sendGreeting(PhaseHelo, now)
	return StepRead
}

func (c *Client) onGreeting(t *txn, r *Reply, now int64) Step {
	if !r.Positive() {
		if step, stop := c.rejected(t, c.cfg.Greeting.command()+" rejected", r); stop {
			return step
		}
	} else if c.cfg.Greeting != GreetHELO {
		c.caps = ParseCapabilities(r)
		c.pipelining = c.cfg.Pipelining && c.caps.Has(ExtPipelining)
		c.esmtp = c.cfg.ESMTP.negotiate(&c.caps, c.cfg.LMTP)
	}
	return c.afterGreeting(now)
}

func (c *Client) onMail(t *txn, r *Reply, now int64) Step {
	if r.Positive() {
		t.mailOK = true
		if !c.pipelining {
			c.sendRcpt(now, t)
		}
		return StepRead
	}
	if step, stop := c.rejected(t, "sender rejected", r); stop {
		return step
	}
	t.rejected = rejection(PhaseMail, "sender rejected", r)
	if !c.pipelining {
		c.endRejected(t, now)
	}
	return StepRead
}

func (c *Client) onRcpt(t *txn, r *Reply, now int64) Step {
	t.rcptReplies++
	switch {
	case r.Positive() && t.mailOK:
		t.rcptAccepted++
	case !r.Positive() && t.mailOK:
		if step, stop := c.rejected(t, "recipient rejected", r); stop {
			return step
		}
		if t.rcptAccepted == 0 && t.rcptReplies == c.cfg.Template.RecipientsOf(t.seq) {
			t.rejected = rejection(PhaseRcpt, "recipient rejected", r)
		}
	}
	if c.pipelining {
		return StepRead // DATA's reply decides
	}
	switch {
	case t.rcptReplies < c.cfg.Template.RecipientsOf(t.seq):
		c.sendRcpt(now, t)
	case t.rcptAccepted > 0:
		c.sendDataCommand(now, t)
	default:
		c.endRejected(t, now)
	}
	return StepRead
}

func (c *Client) onData(t *txn, r *Reply, now int64) Step {
	viable := t.mailOK && t.rcptAccepted > 0 && t.rejected == nil
	switch {
	case r.Code == 354 && viable:
		c.sendMessage(now, t)
	case r.Code == 354:
		// A pipelined DATA the server accepted though the envelope failed (RFC 2920
		// §3.1): end the empty message at once; its reply is ignored, then RSET.
		t.dataAborted = true
		c.command(PhaseEOD, now, t.seq, cmdDot)
	case !viable:
		// The envelope already failed in the pipeline; this reply only confirms it.
		c.endRejected(t, now)
	default:
		if step, stop := c.rejected(t, "data rejected", r); stop {
			return step
		}
		t.rejected = rejection(PhaseData, "data rejected", r)
		c.endRejected(t, now)
	}
	return StepRead
}

func (c *Client) onEOD(t *txn, r *Reply, now int64) Step {
	if t.dataAborted {
		c.endRejected(t, now)
		return StepRead
	}
	t.eodReplies++
	if r.Positive() {
		t.eodAccepted++
	} else {
		if step, stop := c.rejected(t, "end of data rejected", r); stop {
			return step
		}
		t.rejected = rejection(PhaseEOD, "end of data rejected", r)
	}
	if c.cfg.LMTP && t.eodReplies < t.rcptAccepted {
		return StepRead
	}
	if t.eodAccepted > 0 {
		c.finish(t, Accepted, nil)
	} else {
		c.finish(t, Rejected, t.rejected)
	}
	return c.afterMessage(now)
}

func (c *Client) onRset(t *txn, r *Reply, now int64) Step {
	if !r.Positive() {
		if step, stop := c.rejected(t, "rset rejected", r); stop {
			return step
		}
	}
	return c.afterMessage(now)
}

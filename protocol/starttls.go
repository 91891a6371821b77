package protocol

import "errors"

// TLSPolicy is when the client asks for STARTTLS, in the words of Postfix's
// smtp_tls_security_level (none; may; encrypt, verify and secure all require it — what
// differs between those is the certificate check, which is the driver's).
type TLSPolicy uint8

const (
	TLSNone     TLSPolicy = iota // never
	TLSMay                       // when the server offers it; plaintext otherwise
	TLSRequired                  // the session fails when the server does not offer it
)

// ErrNoStartTLS is the session error when TLS is required and the server's EHLO reply
// does not offer STARTTLS.
var ErrNoStartTLS = errors.New("TLS is required, but the server does not offer STARTTLS")

var cmdStartTLS = []byte("STARTTLS")

// afterGreeting runs after the EHLO (or HELO) reply, and again after the EHLO that
// follows TLS: STARTTLS when due, then AUTH when configured, then the first message.
func (c *Client) afterGreeting(now int64) Step {
	if c.xclientDue() {
		c.sendXClient(now)
		return StepRead
	}
	if c.cfg.TLS != TLSNone && !c.tlsActive && !c.tlsDeclined {
		if c.caps.Has(ExtStartTLS) {
			c.command(PhaseStartTLS, now, 0, cmdStartTLS)
			return StepRead
		}
		if c.cfg.TLS == TLSRequired {
			return c.endSession(ErrNoStartTLS, Failed, now)
		}
	}
	if c.cfg.Auth != nil && !c.auth.done {
		return c.startAuth(now)
	}
	c.beginMessage(now)
	return StepRead
}

// onStartTLSReply: 220 hands the connection to the driver's TLS handshake. A refusal is a
// rejection like any other when TLS is required; with --tls may the session goes on in
// plaintext.
func (c *Client) onStartTLSReply(t *txn, r *Reply, now int64) Step {
	if r.Code == 220 {
		c.tlsPending = true
		return StepStartTLS
	}
	err := rejection(PhaseStartTLS, "STARTTLS rejected", r)
	if c.cfg.TLS == TLSMay && r.Code != 421 {
		c.obs.Warning(err)
		c.tlsDeclined = true
		return c.afterGreeting(now)
	}
	if c.cfg.AllowReject && r.Code != 421 && r.Code != 521 {
		return c.endSession(err, Rejected, now) // never go on in plaintext when TLS is required
	}
	step, _ := c.rejected(t, "STARTTLS rejected", r)
	return step
}

// TLSDone tells the machine that the TLS handshake the driver ran has succeeded, at time
// now. After STARTTLS the machine greets again, and the capabilities are read afresh
// from that reply (RFC 3207 §4.2: what the server said before TLS is forgotten). With
// implicit TLS, the banner is timed from now.
func (c *Client) TLSDone(now int64) {
	c.tlsPending = false
	c.tlsActive = true
	c.held, c.scan = false, replyScan{} // a new byte stream: the decrypted one
	if c.head < len(c.expect) && c.expect[c.head].phase == PhaseBanner {
		c.expect[c.head].start = now
		return
	}
	c.caps = Capabilities{}
	c.pipelining = false
	c.sendGreeting(PhaseEhloTLS, now)
}

// TLSActive reports that the session is encrypted.
func (c *Client) TLSActive() bool { return c.tlsActive }

// TLSPending reports that a TLS handshake is in progress: the STARTTLS 220 (or, with
// implicit TLS, the connect) is behind, TLSDone not yet called.
func (c *Client) TLSPending() bool { return c.tlsPending }

// DeclineTLS makes the connection Start has just begun go on in plaintext without
// STARTTLS, whatever the server offers: the driver's retry after a TLS handshake failed
// at --tls may (Postfix's plaintext fallback). It lasts until the next Start.
func (c *Client) DeclineTLS() { c.tlsDeclined = true }

// endSession ends the session on a policy failure (TLS required but not offered, AUTH
// impossible): the open messages end with outcome o; without -A the run stops, with -A
// it is a warning and the session QUITs.
func (c *Client) endSession(err error, o Outcome, now int64) Step {
	c.finish(&c.cur, o, err)
	c.finish(&c.next, o, err)
	if !c.cfg.AllowReject {
		c.err = err
		c.state = stateDone
		return StepFatal
	}
	c.obs.Warning(err)
	c.sendQuit(now)
	return StepRead
}

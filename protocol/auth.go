package protocol

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
)

// AuthConfig is SMTP AUTH (RFC 4954) for every session of a run.
type AuthConfig struct {
	Mechanism   string           // PLAIN, LOGIN or CRAM-MD5; "" takes the best the server offers
	Credentials CredentialSource // one user and password per session
	Insecure    bool             // allow AUTH over a connection that is not encrypted
}

// CredentialSource hands out the user and password for a session. Sessions call it
// concurrently.
type CredentialSource interface {
	Credential() Credential
}

// Credential is one user name and password.
type Credential struct {
	User, Password string
}

// RoundRobin hands out its credentials in turn, across all sessions.
type RoundRobin struct {
	creds []Credential
	next  atomic.Uint64
}

// NewRoundRobin makes a source over creds (at least one).
func NewRoundRobin(creds []Credential) *RoundRobin { return &RoundRobin{creds: creds} }

// Credential is the next credential in turn.
func (r *RoundRobin) Credential() Credential {
	return r.creds[(r.next.Add(1)-1)%uint64(len(r.creds))]
}

// Mechanisms, best first: the default choice is the first the server offers.
// CRAM-MD5 never sends the password; PLAIN sends it in one line, LOGIN in two.
var authPreference = []string{"CRAM-MD5", "PLAIN", "LOGIN"}

// SupportedAuth reports whether the client implements mechanism mech.
func SupportedAuth(mech string) bool {
	for _, m := range authPreference {
		if strings.EqualFold(m, mech) {
			return true
		}
	}
	return false
}

// Errors that end a session before AUTH is sent.
var (
	ErrAuthInsecure   = errors.New("AUTH over a connection that is not encrypted refused (--auth-insecure allows it)")
	ErrAuthNotOffered = errors.New("the server does not offer AUTH")
)

// redacted replaces what an AUTH exchange sends in the -v transcript.
var redacted = []byte("[credentials redacted]")

// authState is one session's progress through AUTH.
type authState struct {
	done  bool
	mech  string
	step  int // 334 challenges answered so far
	cred  Credential
	start int64
}

func (c *Client) startAuth(now int64) Step {
	a := c.cfg.Auth
	if !c.tlsActive && !a.Insecure {
		return c.endSession(ErrAuthInsecure, Failed, now)
	}
	if !c.caps.Has(ExtAuth) {
		return c.endSession(ErrAuthNotOffered, Failed, now)
	}
	mech := chooseAuth(a.Mechanism, c.caps.AuthMechs)
	if mech == "" {
		want := a.Mechanism
		if want == "" {
			want = strings.Join(authPreference, ", ")
		}
		return c.endSession(fmt.Errorf("the server offers AUTH %s, not %s", c.caps.AuthMechs, want), Failed, now)
	}
	c.auth = authState{mech: mech, cred: a.Credentials.Credential(), start: now}
	line := "AUTH " + mech
	if mech == "PLAIN" { // RFC 4616 with the initial response: one round trip
		resp := "\x00" + c.auth.cred.User + "\x00" + c.auth.cred.Password
		c.sendAuthLine(now, []byte(line+" "+base64.StdEncoding.EncodeToString([]byte(resp))), []byte(line+" "+string(redacted)))
		return StepRead
	}
	c.command(PhaseAuth, now, 0, []byte(line))
	return StepRead
}

// chooseAuth picks want when offered, or the best offered mechanism when want is "".
func chooseAuth(want, offered string) string {
	has := func(m string) bool {
		for _, o := range strings.Fields(offered) {
			if strings.EqualFold(o, m) {
				return true
			}
		}
		return false
	}
	if want != "" {
		if has(want) {
			return strings.ToUpper(want)
		}
		return ""
	}
	for _, m := range authPreference {
		if has(m) {
			return m
		}
	}
	return ""
}

// sendAuthLine sends an AUTH line that carries credentials; the transcript shows shown.
func (c *Client) sendAuthLine(now int64, line, shown []byte) {
	c.out.B = append(c.out.B, line...)
	c.out.B = append(c.out.B, '\r', '\n')
	c.traceSent(shown)
	c.push(PhaseAuth, now, 0)
}

func (c *Client) onAuthReply(t *txn, e expectation, r *Reply, now int64) Step {
	if r.Code == 334 {
		resp, err := c.authResponse(r)
		if err != nil {
			return c.fatal(&ProtocolError{Phase: PhaseAuth, Reason: "bad_challenge", Err: err})
		}
		c.auth.step++
		c.sendAuthLine(now, []byte(base64.StdEncoding.EncodeToString(resp)), redacted)
		c.expect[len(c.expect)-1].start = e.start // one phase from AUTH to its final reply
		return StepRead
	}
	c.auth.done = true
	c.auth.cred = Credential{}
	if !r.Positive() {
		if step, stop := c.rejected(t, "AUTH "+c.auth.mech+" rejected", r); stop {
			return step
		}
	}
	c.beginMessage(now)
	return StepRead
}

// authResponse answers one 334 challenge of the session's mechanism.
func (c *Client) authResponse(r *Reply) ([]byte, error) {
	cred := c.auth.cred
	switch {
	case c.auth.mech == "LOGIN" && c.auth.step == 0:
		return []byte(cred.User), nil
	case c.auth.mech == "LOGIN" && c.auth.step == 1:
		return []byte(cred.Password), nil
	case c.auth.mech == "CRAM-MD5" && c.auth.step == 0:
		challenge, err := base64.StdEncoding.DecodeString(strings.TrimSpace(r.Text()))
		if err != nil {
			return nil, fmt.Errorf("AUTH CRAM-MD5: challenge is not base64: %q", printable([]byte(r.Text()), 64))
		}
		mac := hmac.New(md5.New, []byte(cred.Password))
		mac.Write(challenge)
		return []byte(cred.User + " " + hex.EncodeToString(mac.Sum(nil))), nil
	}
	return nil, fmt.Errorf("AUTH %s: unexpected challenge %d: %q", c.auth.mech, c.auth.step+1, printable([]byte(r.Text()), 64))
}

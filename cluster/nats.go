package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/nats-io/nats.go"
)

// NATSAuth is how a process authenticates to NATS and secures the connection. Its
// secrets (Token, Password) come from the process's own flags, environment or files,
// and never go into a plan or a result document.
type NATSAuth struct {
	Token, User, Password, Creds, NKey string
	TLSCA, TLSCert, TLSKey             string
}

// Options turns the authentication into nats.go options.
func (a NATSAuth) Options() []nats.Option {
	var o []nats.Option
	if a.Token != "" {
		o = append(o, nats.Token(a.Token))
	}
	if a.User != "" {
		o = append(o, nats.UserInfo(a.User, a.Password))
	}
	if a.Creds != "" {
		o = append(o, nats.UserCredentials(a.Creds))
	}
	if a.NKey != "" {
		if opt, err := nats.NkeyOptionFromSeed(a.NKey); err == nil {
			o = append(o, opt)
		} else {
			o = append(o, func(*nats.Options) error { return fmt.Errorf("--nkey %s: %w", a.NKey, err) })
		}
	}
	if a.TLSCA != "" {
		o = append(o, nats.RootCAs(a.TLSCA))
	}
	if a.TLSCert != "" {
		o = append(o, nats.ClientCert(a.TLSCert, a.TLSKey))
	}
	return o
}

// CoordinatorNATS is a coordinator's connection to NATS, and the embedded server it
// started, if any.
type CoordinatorNATS struct {
	Conn      *nats.Conn
	URL       string // the workers' URL (without the token)
	Embedded  bool   // the coordinator runs the server (listen)
	Generated string // the token generated for an embedded server given none, for the user to pass on
	srv       *EmbeddedServer
}

// DefaultNATSWait bounds how long a coordinator or a worker waits for a NATS server
// that is not up yet.
const DefaultNATSWait = 2 * time.Minute

// ConnectCoordinator connects a coordinator to NATS: to the server at url (waiting up to
// wait for it, telling event), or to an embedded one it starts on listen (host:port),
// which requires auth.Token or, without one, a generated token. Close ends both.
func ConnectCoordinator(ctx context.Context, listen, url string, auth NATSAuth, wait time.Duration, event func(string)) (*CoordinatorNATS, error) {
	c := &CoordinatorNATS{URL: url}
	opts := auth.Options()
	if listen != "" {
		token := auth.Token
		if token == "" {
			var err error
			if token, err = NewToken(); err != nil {
				return nil, err
			}
			c.Generated = token
		}
		srv, err := StartServer(listen, token)
		if err != nil {
			return nil, err
		}
		c.srv, c.URL, c.Embedded, opts = srv, srv.URL, true, []nats.Option{nats.Token(token)}
	}
	opts = append(opts, nats.Name("go-smtp-source coordinator"), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))
	var err error
	if c.Conn, err = dial(ctx, c.URL, opts, wait, event); err != nil {
		c.Close()
		return nil, fmt.Errorf("cluster: NATS %s: %v", c.URL, err)
	}
	return c, nil
}

// Close closes the connection and stops the embedded server.
func (c *CoordinatorNATS) Close() {
	if c.Conn != nil {
		c.Conn.Close()
	}
	if c.srv != nil {
		c.srv.Shutdown()
	}
}

// ConnectWorker connects a worker to NATS for good: it waits up to wait for a server
// that is not up yet, then reconnects for ever (a run survives a server restart),
// telling event of the wait, disconnections and reconnections.
func ConnectWorker(ctx context.Context, url, name string, auth NATSAuth, wait time.Duration, event func(text string)) (*nats.Conn, error) {
	opts := append(auth.Options(), nats.Name("go-smtp-source worker "+name), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				event(fmt.Sprintf("disconnected from NATS: %v", err))
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { event("reconnected to NATS") }))
	return dial(ctx, url, opts, wait, event)
}

// dial makes the first connection to the NATS server at url. A server that is not
// there yet (the connection refused, its name not resolving yet, no answer) is waited
// for up to wait, retrying with a growing pause: in Kubernetes the pods of NATS, the
// coordinator and the workers start in any order. The wait is told to event when it
// begins and every waitNotice while it lasts. Errors that waiting cannot cure (refused
// credentials, TLS) return at once, as does the end of ctx.
func dial(ctx context.Context, url string, opts []nats.Option, wait time.Duration, event func(string)) (*nats.Conn, error) {
	began := time.Now()
	pause, noticed := 250*time.Millisecond, time.Time{}
	for {
		nc, err := nats.Connect(url, opts...)
		switch {
		case err == nil:
			if !noticed.IsZero() {
				event(fmt.Sprintf("NATS at %s is up: connected after %v", url, time.Since(began).Round(time.Millisecond)))
			}
			return nc, nil
		case !unreachable(err):
			return nil, err
		case time.Since(began)+pause > wait:
			return nil, fmt.Errorf("not reachable within %v: %w", wait, err)
		case noticed.IsZero():
			event(fmt.Sprintf("NATS at %s is not reachable yet (%v): waiting for it, up to %v", url, err, wait))
			noticed = time.Now()
		case time.Since(noticed) >= waitNotice:
			event(fmt.Sprintf("still waiting for NATS at %s (%v)", url, err))
			noticed = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("stopped while waiting for it: %w", err)
		case <-time.After(pause):
		}
		pause = min(2*pause, 2*time.Second)
	}
}

// waitNotice is how often a wait for NATS is told again.
const waitNotice = 15 * time.Second

// unreachable reports whether a connection failed because nothing answered at the
// address (yet): no server listening, a name that does not resolve, a dial timeout.
func unreachable(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	return errors.Is(err, nats.ErrNoServers) || errors.As(err, &dns) || errors.As(err, &op) && op.Op == "dial"
}

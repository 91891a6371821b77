package cluster

import (
	"fmt"
	"runtime/debug"
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

// Version is what a coordinator and its workers compare: they must be the same build
// (and speak the same protocol).
func Version() string {
	v := fmt.Sprintf("go-smtp-source proto %d", ProtocolVersion)
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v += " " + bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" || s.Key == "vcs.modified" {
			v += " " + s.Key + "=" + s.Value
		}
	}
	return v
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

// ConnectCoordinator connects a coordinator to NATS: to the server at url, or to an
// embedded one it starts on listen (host:port), which requires auth.Token or, without
// one, a generated token. Close ends both.
func ConnectCoordinator(listen, url string, auth NATSAuth) (*CoordinatorNATS, error) {
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
	if c.Conn, err = nats.Connect(c.URL, opts...); err != nil {
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

// ConnectWorker connects a worker to NATS for good: it reconnects for ever (a run
// survives a server restart), telling event of disconnections and reconnections.
func ConnectWorker(url, name string, auth NATSAuth, event func(text string)) (*nats.Conn, error) {
	opts := append(auth.Options(), nats.Name("go-smtp-source worker "+name), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				event(fmt.Sprintf("disconnected from NATS: %v", err))
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { event("reconnected to NATS") }))
	return nats.Connect(url, opts...)
}

package cluster

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EmbeddedServer is a NATS server inside the coordinator, so that a cluster needs
// nothing else installed. Clients must present Token.
type EmbeddedServer struct {
	srv   *server.Server
	Token string
	URL   string // nats://host:port, without the token
}

// NewToken is a random 128-bit token, in hex.
func NewToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// StartServer starts an embedded NATS server listening on addr (host:port; port 0 picks
// one) that requires token (which must not be empty).
func StartServer(addr, token string) (*EmbeddedServer, error) {
	if token == "" {
		return nil, fmt.Errorf("embedded nats server: a token is required")
	}
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("embedded nats server: listen address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("embedded nats server: listen address %q: bad port", addr)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	if host == "" {
		host = "0.0.0.0"
	}
	opts := &server.Options{
		Host:          host,
		Port:          port,
		Authorization: token,
		MaxPayload:    8 << 20,
		NoLog:         true,
		NoSigs:        true,
		ServerName:    "go-smtp-source-coordinator",
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats server: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded nats server: not listening on %s within 10s", addr)
	}
	a, ok := srv.Addr().(*net.TCPAddr)
	if !ok {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded nats server: no TCP address")
	}
	url := fmt.Sprintf("nats://%s", net.JoinHostPort(host, strconv.Itoa(a.Port)))
	if host == "0.0.0.0" || host == "::" {
		url = fmt.Sprintf("nats://%s", net.JoinHostPort("127.0.0.1", strconv.Itoa(a.Port)))
	}
	return &EmbeddedServer{srv: srv, Token: token, URL: url}, nil
}

// Shutdown stops the server.
func (e *EmbeddedServer) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}

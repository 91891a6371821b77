package testpeer

import (
	"bufio"
	"crypto/hmac"
	"crypto/md5"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TLSServerConfig says how a TLSServer behaves.
type TLSServerConfig struct {
	TLS        *tls.Config       // certificates, versions, client authentication
	Implicit   bool              // TLS from the first byte (SMTPS) instead of STARTTLS
	NoStartTLS bool              // do not offer STARTTLS
	Inject     string            // bytes sent right after the STARTTLS 220, as an attacker in between would
	RequireTLS bool              // refuse MAIL before TLS
	Users      map[string]string // AUTH users and passwords; nil: AUTH not offered
	AuthMechs  string            // announced mechanisms (default "PLAIN LOGIN CRAM-MD5")
	Pipelining bool              // announce PIPELINING
}

// TLSServer is an in-process SMTP server with STARTTLS, implicit TLS and AUTH, on a
// loopback port, for tests. It accepts every message (250 after the dot) and counts.
type TLSServer struct {
	Addr string
	cfg  TLSServerConfig
	l    net.Listener

	Sessions    atomic.Int64 // connections accepted
	Handshakes  atomic.Int64 // TLS handshakes completed
	Resumed     atomic.Int64 // of which resumed
	ClientCerts atomic.Int64 // handshakes in which the client presented a certificate
	Messages    atomic.Int64 // messages accepted
	AuthOK      atomic.Int64 // successful AUTH exchanges
	AuthFailed  atomic.Int64 // AUTH attempts refused
	Plaintext   atomic.Int64 // lines received after STARTTLS's 220 and before the handshake

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// StartTLSServer starts a TLSServer on a free loopback port; it stops when the test ends.
func StartTLSServer(t testing.TB, cfg TLSServerConfig) *TLSServer {
	t.Helper()
	s, err := ListenTLSServer("127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// ListenTLSServer starts a TLSServer on addr, for programs (the benchmarks' server);
// tests use StartTLSServer. Stop ends it.
func ListenTLSServer(addr string, cfg TLSServerConfig) (*TLSServer, error) {
	if cfg.AuthMechs == "" {
		cfg.AuthMechs = "PLAIN LOGIN CRAM-MD5"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &TLSServer{Addr: l.Addr().String(), cfg: cfg, l: l, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Stop closes the listener and every connection, and waits for their goroutines.
func (s *TLSServer) Stop() {
	s.l.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *TLSServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.l.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.Sessions.Add(1)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				c.Close()
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
			}()
			s.serve(c)
		}()
	}
}

// smtpConn is one session's reader and writer, swapped for TLS ones after STARTTLS.
type smtpConn struct {
	nc  net.Conn
	r   *bufio.Reader
	w   *bufio.Writer
	tls bool
}

func (sc *smtpConn) reply(lines ...string) error {
	for _, l := range lines {
		sc.w.WriteString(l + "\r\n")
	}
	if sc.r.Buffered() > 0 { // pipelined commands wait: answer them together
		return nil
	}
	return sc.w.Flush()
}

func (sc *smtpConn) line() (string, error) {
	_ = sc.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	l, err := sc.r.ReadString('\n')
	return strings.TrimRight(l, "\r\n"), err
}

func (s *TLSServer) handshake(sc *smtpConn) error {
	tc := tls.Server(sc.nc, s.cfg.TLS)
	_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		return err
	}
	_ = tc.SetDeadline(time.Time{})
	st := tc.ConnectionState()
	s.Handshakes.Add(1)
	if st.DidResume {
		s.Resumed.Add(1)
	}
	if len(st.PeerCertificates) > 0 {
		s.ClientCerts.Add(1)
	}
	sc.nc, sc.r, sc.w, sc.tls = tc, bufio.NewReader(tc), bufio.NewWriter(tc), true
	return nil
}

func (s *TLSServer) serve(nc net.Conn) {
	sc := &smtpConn{nc: nc, r: bufio.NewReader(nc), w: bufio.NewWriter(nc)}
	if s.cfg.Implicit {
		if err := s.handshake(sc); err != nil {
			return
		}
	}
	if sc.reply("220 testpeer ESMTP") != nil {
		return
	}
	authed := false
	for {
		line, err := sc.line()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "LHLO":
			lines := []string{"250-testpeer"}
			if !sc.tls && !s.cfg.NoStartTLS && !s.cfg.Implicit {
				lines = append(lines, "250-STARTTLS")
			}
			if s.cfg.Pipelining {
				lines = append(lines, "250-PIPELINING")
			}
			if s.cfg.Users != nil {
				lines = append(lines, "250-AUTH "+s.cfg.AuthMechs)
			}
			err = sc.reply(append(lines, "250 8BITMIME")...)
		case "HELO":
			err = sc.reply("250 testpeer")
		case "STARTTLS":
			if sc.tls || s.cfg.NoStartTLS {
				err = sc.reply("503 5.5.1 no STARTTLS here")
				break
			}
			if sc.r.Buffered() > 0 { // the server side of the injection defence
				s.Plaintext.Add(1)
				_ = sc.reply("554 5.5.1 plaintext after STARTTLS")
				return
			}
			sc.w.WriteString("220 2.0.0 Ready to start TLS\r\n" + s.cfg.Inject)
			if sc.w.Flush() != nil || s.handshake(sc) != nil {
				return
			}
		case "AUTH":
			var ok bool
			if ok, err = s.auth(sc, arg); err == nil {
				authed = authed || ok
			}
		case "MAIL":
			switch {
			case s.cfg.RequireTLS && !sc.tls:
				err = sc.reply("530 5.7.0 Must issue a STARTTLS command first")
			case s.cfg.Users != nil && !authed:
				err = sc.reply("530 5.7.0 Authentication required")
			default:
				err = sc.reply("250 2.1.0 Ok")
			}
		case "RCPT":
			err = sc.reply("250 2.1.5 Ok")
		case "DATA":
			if err = sc.reply("354 End data with <CR><LF>.<CR><LF>"); err != nil {
				return
			}
			for {
				l, err := sc.line()
				if err != nil {
					return
				}
				if l == "." {
					break
				}
			}
			n := s.Messages.Add(1)
			err = sc.reply(fmt.Sprintf("250 2.0.0 Ok: queued as T%d", n))
		case "RSET", "NOOP":
			err = sc.reply("250 2.0.0 Ok")
		case "QUIT":
			_ = sc.reply("221 2.0.0 Bye")
			return
		default:
			err = sc.reply("502 5.5.2 Error: command not recognized")
		}
		if err != nil {
			return
		}
	}
}

// auth runs one AUTH exchange; it reports whether the client authenticated.
func (s *TLSServer) auth(sc *smtpConn, arg string) (bool, error) {
	mech, initial, _ := strings.Cut(arg, " ")
	if s.cfg.Users == nil || !strings.Contains(" "+s.cfg.AuthMechs+" ", " "+strings.ToUpper(mech)+" ") {
		return false, sc.reply("504 5.5.4 Unrecognized authentication type")
	}
	ask := func(challenge string) (string, error) {
		if err := sc.reply("334 " + base64.StdEncoding.EncodeToString([]byte(challenge))); err != nil {
			return "", err
		}
		l, err := sc.line()
		if err != nil {
			return "", err
		}
		b, err := base64.StdEncoding.DecodeString(l)
		return string(b), err
	}
	var user, pass, digest string
	var err error
	switch strings.ToUpper(mech) {
	case "PLAIN":
		resp := initial
		if resp == "" {
			if resp, err = sc.line(); err != nil {
				return false, err
			}
		}
		b, derr := base64.StdEncoding.DecodeString(resp)
		parts := strings.Split(string(b), "\x00")
		if derr != nil || len(parts) != 3 {
			return false, sc.reply("501 5.5.2 Cannot decode response")
		}
		user, pass = parts[1], parts[2]
	case "LOGIN":
		if user, err = ask("Username:"); err != nil {
			return false, err
		}
		if pass, err = ask("Password:"); err != nil {
			return false, err
		}
	case "CRAM-MD5":
		challenge := fmt.Sprintf("<%d.%d@testpeer>", time.Now().UnixNano(), s.Sessions.Load())
		var resp string
		if resp, err = ask(challenge); err != nil {
			return false, err
		}
		user, digest, _ = strings.Cut(resp, " ")
		if want, ok := s.cfg.Users[user]; ok {
			mac := hmac.New(md5.New, []byte(want))
			mac.Write([]byte(challenge))
			if hex.EncodeToString(mac.Sum(nil)) == digest {
				pass = want
			}
		}
	}
	if want, ok := s.cfg.Users[user]; !ok || want != pass {
		s.AuthFailed.Add(1)
		return false, sc.reply("535 5.7.8 Error: authentication failed: " + strings.ToLower(mech))
	}
	s.AuthOK.Add(1)
	return true, sc.reply("235 2.7.0 Authentication successful")
}

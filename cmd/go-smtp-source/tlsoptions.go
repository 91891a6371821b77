package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/go-smtp-source/go-smtp-source/engine"
	"github.com/go-smtp-source/go-smtp-source/protocol"
)

// authPasswordEnv is where --auth-user's password comes from when no file is given:
// never a flag, which ps(1) would show to every user of the machine.
const authPasswordEnv = "GSS_AUTH_PASSWORD"

// tlsLevels are Postfix's smtp_tls_security_level words that go-smtp-source speaks.
var tlsLevels = []string{"none", "may", "encrypt", "verify", "secure"}

// tlsOptions are the TLS and AUTH options, checked, before they become configuration.
type tlsOptions struct {
	level      string
	wrapper    bool
	caFile     string
	serverName string
	minVersion uint16
	maxVersion uint16
	ciphers    []uint16
	cert       *tls.Certificate
	resume     bool

	authMech     string
	credentials  []protocol.Credential
	authInsecure bool
}

func addTLSFlags(ext *pflag.FlagSet) {
	ext.String("tls", "none", "TLS `level`, Postfix's smtp_tls_security_level words: none; may (STARTTLS when offered, else plaintext; a failed handshake is retried in plaintext on a new connection); encrypt (STARTTLS required, certificate not checked); verify and secure (certificate checked against --tls-ca-file or the system roots, name from --tls-servername or the target); -tls means encrypt")
	ext.Bool("tls-wrapper", false, "implicit TLS from the first byte (SMTPS, port 465) instead of STARTTLS; level encrypt unless --tls says verify or secure")
	ext.String("tls-ca-file", "", "PEM `file` of the certificate authorities to trust at --tls verify/secure (default: the system's)")
	ext.String("tls-servername", "", "`name` to send as SNI and check the server's certificate against (default: the target host)")
	ext.String("tls-min-version", "1.2", "lowest TLS `version`: 1.0, 1.1, 1.2 or 1.3")
	ext.String("tls-max-version", "1.3", "highest TLS `version`: 1.0, 1.1, 1.2 or 1.3")
	ext.String("tls-ciphers", "", "comma-separated TLS 1.2 cipher suite `names` to offer, as Go names them (e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256); TLS 1.3 suites are not configurable")
	ext.String("tls-cert", "", "client certificate PEM `file` (with --tls-key)")
	ext.String("tls-key", "", "client certificate's private key PEM `file`")
	ext.Bool("tls-resume", false, "resume TLS sessions: one session cache shared by all sessions (resumed handshakes are counted)")
	ext.String("auth", "", "SMTP AUTH `mechanism`: PLAIN, LOGIN or CRAM-MD5 (default with credentials: the best the server offers)")
	ext.String("auth-user", "", "AUTH user `name`; the password comes from --auth-password-file or $"+authPasswordEnv)
	ext.String("auth-password-file", "", "`file` whose first line is --auth-user's password")
	ext.String("auth-file", "", "`file` of user:password lines, used round-robin across sessions")
	ext.Bool("auth-insecure", false, "allow AUTH over a connection that is not encrypted")
}

// parseTLSOptions reads and checks the TLS and AUTH options (o's other options are set).
func parseTLSOptions(fs *pflag.FlagSet, o *options) (tlsOptions, error) {
	str := func(name string) string { v, _ := fs.GetString(name); return v }
	flag := func(name string) bool { v, _ := fs.GetBool(name); return v }
	t := tlsOptions{level: str("tls"), wrapper: flag("tls-wrapper"), caFile: str("tls-ca-file"),
		serverName: str("tls-servername"), resume: flag("tls-resume"), authInsecure: flag("auth-insecure")}
	if !contains(tlsLevels, t.level) {
		return t, usagef("--tls: want one of %s, got %q", strings.Join(tlsLevels, ", "), t.level)
	}
	if t.wrapper && (t.level == "none" || t.level == "may") {
		t.level = "encrypt" // there is no plaintext to fall back to
	}
	var err error
	if t.minVersion, err = parseTLSVersion("--tls-min-version", str("tls-min-version")); err != nil {
		return t, err
	}
	if t.maxVersion, err = parseTLSVersion("--tls-max-version", str("tls-max-version")); err != nil {
		return t, err
	}
	if t.minVersion > t.maxVersion {
		return t, usagef("--tls-min-version %s is above --tls-max-version %s", str("tls-min-version"), str("tls-max-version"))
	}
	if t.ciphers, err = parseCiphers(str("tls-ciphers")); err != nil {
		return t, err
	}
	if certFile, keyFile := str("tls-cert"), str("tls-key"); certFile != "" || keyFile != "" {
		if certFile == "" || keyFile == "" {
			return t, usagef("--tls-cert and --tls-key go together")
		}
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return t, usagef("--tls-cert/--tls-key: %v", err)
		}
		t.cert = &pair
	}
	if err := parseAuthOptions(fs, &t); err != nil {
		return t, err
	}
	encrypted := t.level != "none"
	switch {
	case o.oldMode && encrypted && !t.wrapper:
		return t, usagef("--tls %s needs EHLO, and -o sends no greeting", t.level)
	case o.oldMode && t.credentials != nil:
		return t, usagef("AUTH needs EHLO, and -o sends no greeting")
	case t.credentials != nil && !encrypted && !t.authInsecure:
		return t, usagef("AUTH over a connection that is not encrypted: add --tls (or --auth-insecure)")
	}
	return t, nil
}

func parseAuthOptions(fs *pflag.FlagSet, t *tlsOptions) error {
	str := func(name string) string { v, _ := fs.GetString(name); return v }
	t.authMech = strings.ToUpper(str("auth"))
	if t.authMech != "" && !protocol.SupportedAuth(t.authMech) {
		return usagef("--auth: want PLAIN, LOGIN or CRAM-MD5, got %q", str("auth"))
	}
	user, passFile, authFile := str("auth-user"), str("auth-password-file"), str("auth-file")
	switch {
	case user != "" && authFile != "":
		return usagef("--auth-user and --auth-file: use one")
	case user != "":
		pass, ok := os.LookupEnv(authPasswordEnv)
		if passFile != "" {
			b, err := os.ReadFile(passFile)
			if err != nil {
				return usagef("--auth-password-file: %v", err)
			}
			pass, _, _ = strings.Cut(string(b), "\n")
			pass, ok = strings.TrimSuffix(pass, "\r"), true
		}
		if !ok {
			return usagef("--auth-user needs a password: --auth-password-file FILE or $%s", authPasswordEnv)
		}
		t.credentials = []protocol.Credential{{User: user, Password: pass}}
	case authFile != "":
		creds, err := readAuthFile(authFile)
		if err != nil {
			return err
		}
		t.credentials = creds
	case passFile != "":
		return usagef("--auth-password-file needs --auth-user")
	case t.authMech != "":
		return usagef("--auth needs credentials: --auth-user or --auth-file")
	}
	return nil
}

// readAuthFile reads user:password lines; blank lines and lines starting with # are skipped.
func readAuthFile(path string) ([]protocol.Credential, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("--auth-file: %v", err)
	}
	var creds []protocol.Credential
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, pass, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			return nil, usagef("--auth-file %s:%d: want user:password", path, n)
		}
		creds = append(creds, protocol.Credential{User: user, Password: pass})
	}
	if len(creds) == 0 {
		return nil, usagef("--auth-file %s: no user:password line", path)
	}
	return creds, nil
}

func parseTLSVersion(flag, v string) (uint16, error) {
	switch strings.TrimPrefix(strings.TrimPrefix(strings.ToLower(v), "tlsv"), "tls") {
	case "1.0", "1":
		return tls.VersionTLS10, nil
	case "1.1":
		return tls.VersionTLS11, nil
	case "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, usagef("%s: want 1.0, 1.1, 1.2 or 1.3, got %q", flag, v)
}

func parseCiphers(list string) ([]uint16, error) {
	if list == "" {
		return nil, nil
	}
	byName := map[string]*tls.CipherSuite{}
	for _, cs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		byName[cs.Name] = cs
	}
	var ids []uint16
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		cs, ok := byName[name]
		switch {
		case !ok:
			return nil, usagef("--tls-ciphers: unknown cipher suite %q", name)
		case !contains16(cs.SupportedVersions, tls.VersionTLS12):
			return nil, usagef("--tls-ciphers: %s is not a TLS 1.2 suite (TLS 1.3 suites are not configurable)", name)
		}
		ids = append(ids, cs.ID)
	}
	return ids, nil
}

// applyTLS puts the TLS and AUTH options into the run's configuration.
func applyTLS(t tlsOptions, target engine.Target, cfg *engine.Config) error {
	pc := &cfg.Protocol
	if t.credentials != nil {
		pc.Auth = &protocol.AuthConfig{Mechanism: t.authMech, Credentials: protocol.NewRoundRobin(t.credentials),
			Insecure: t.authInsecure}
	}
	if t.level == "none" {
		if pc.Auth != nil && pc.Greeting == protocol.GreetHELO {
			pc.Greeting = protocol.GreetEHLO
		}
		return nil
	}
	if pc.Greeting == protocol.GreetHELO {
		pc.Greeting = protocol.GreetEHLO // STARTTLS and AUTH are EHLO extensions
	}
	switch {
	case t.wrapper:
		pc.TLS, pc.ImplicitTLS = protocol.TLSRequired, true
	case t.level == "may":
		pc.TLS = protocol.TLSMay
	default:
		pc.TLS = protocol.TLSRequired
	}
	tc := &tls.Config{MinVersion: t.minVersion, MaxVersion: t.maxVersion, CipherSuites: t.ciphers, ServerName: t.serverName}
	if tc.ServerName == "" {
		tc.ServerName = target.Host
	}
	if t.level == "may" || t.level == "encrypt" {
		tc.InsecureSkipVerify = true // Postfix's may/encrypt: encrypted, certificate not checked
	} else {
		if tc.ServerName == "" {
			return usagef("--tls %s: a unix-domain target has no host name to check; give --tls-servername", t.level)
		}
		if t.caFile != "" {
			pem, err := os.ReadFile(t.caFile)
			if err != nil {
				return usagef("--tls-ca-file: %v", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return usagef("--tls-ca-file %s: no PEM certificate in it", t.caFile)
			}
		}
	}
	if t.cert != nil {
		tc.Certificates = []tls.Certificate{*t.cert}
	}
	if t.resume {
		tc.ClientSessionCache = tls.NewLRUClientSessionCache(64)
	}
	cfg.TLS = tc
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func contains16(list []uint16, v uint16) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

package main

import (
	"bufio"
	"bytes"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/go-smtp-source/go-smtp-source/plan"
	"github.com/go-smtp-source/go-smtp-source/protocol"
)

// authPasswordEnv is where --auth-user's password comes from when no file is given:
// never a flag, which ps(1) would show to every user of the machine.
const authPasswordEnv = "GSS_AUTH_PASSWORD"

func addTLSFlags(ext *pflag.FlagSet, d plan.TLS) {
	ext.String("tls", string(d.Level), "TLS `level`, Postfix's smtp_tls_security_level words: none; may (STARTTLS when offered, else plaintext; a failed handshake is retried in plaintext on a new connection); encrypt (STARTTLS required, certificate not checked); verify and secure (certificate checked against --tls-ca-file or the system roots, name from --tls-servername or the target); -tls means encrypt")
	ext.Bool("tls-wrapper", false, "implicit TLS from the first byte (SMTPS, port 465) instead of STARTTLS; level encrypt unless --tls says verify or secure")
	ext.String("tls-ca-file", "", "PEM `file` of the certificate authorities to trust at --tls verify/secure (default: the system's)")
	ext.String("tls-servername", "", "`name` to send as SNI and check the server's certificate against (default: the target host)")
	ext.String("tls-min-version", d.MinVersion, "lowest TLS `version`: 1.0, 1.1, 1.2 or 1.3")
	ext.String("tls-max-version", d.MaxVersion, "highest TLS `version`: 1.0, 1.1, 1.2 or 1.3")
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

// parseTLSOptions puts the TLS and AUTH options into the plan (the plan checks them):
// the AUTH user and the files the secrets are in, never a password.
func parseTLSOptions(f flags, inv *invocation) error {
	t := &inv.plan.TLS
	*t = plan.TLS{Level: plan.TLSLevel(f.str("tls")), Wrapper: f.on("tls-wrapper"), CAFile: f.str("tls-ca-file"),
		ServerName: f.str("tls-servername"), MinVersion: f.str("tls-min-version"), MaxVersion: f.str("tls-max-version"),
		CertFile: f.str("tls-cert"), KeyFile: f.str("tls-key"), Resume: f.on("tls-resume")}
	if c := f.str("tls-ciphers"); c != "" {
		t.Ciphers = strings.Split(c, ",")
	}
	a := plan.Auth{Mechanism: strings.ToUpper(f.str("auth")), User: f.str("auth-user"), PasswordFile: f.str("auth-password-file"),
		File: f.str("auth-file"), Insecure: f.on("auth-insecure")}
	if a.Mechanism != "" || a.User != "" || a.PasswordFile != "" || a.File != "" {
		inv.plan.Auth = &a
	}
	return nil
}

// readCredentials reads the AUTH secrets a plan names, on this machine: --auth-user's
// password from its file or $GSS_AUTH_PASSWORD, or --auth-file's user:password lines.
func readCredentials(a *plan.Auth) ([]protocol.Credential, error) {
	if a.File != "" {
		return readAuthFile(a.File)
	}
	pass, ok := os.LookupEnv(authPasswordEnv)
	if a.PasswordFile != "" {
		b, err := os.ReadFile(a.PasswordFile)
		if err != nil {
			return nil, usagef("--auth-password-file: %v", err)
		}
		pass, _, _ = strings.Cut(string(b), "\n")
		pass, ok = strings.TrimSuffix(pass, "\r"), true
	}
	if !ok {
		return nil, usagef("--auth-user needs a password: --auth-password-file FILE or $%s", authPasswordEnv)
	}
	return []protocol.Credential{{User: a.User, Password: pass}}, nil
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

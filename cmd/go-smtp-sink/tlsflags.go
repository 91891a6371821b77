package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/go-smtp-source/go-smtp-source/sink"
)

// tlsOptions are the TLS flags: STARTTLS or implicit TLS, the certificate (self-signed
// when none is given), --tls-require and client certificates.
type tlsOptions struct {
	starttls, wrapper, require, clientRequire bool
	cert, key, clientCA                       string
}

func (o *tlsOptions) addFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.starttls, "starttls", false, "announce and accept STARTTLS (implied by --tls-cert, --tls-require, --tls-client-ca)")
	fs.BoolVar(&o.wrapper, "tls-wrapper", false, "implicit TLS (SMTPS, port 465): every connection starts with a TLS handshake")
	fs.BoolVar(&o.require, "tls-require", false, "refuse MAIL, RCPT, DATA, BDAT, AUTH, VRFY, XCLIENT, XFORWARD before STARTTLS (530 5.7.0)")
	fs.StringVar(&o.cert, "tls-cert", "", "server certificate `file` (PEM, chain after the leaf); default: a self-signed one made at start")
	fs.StringVar(&o.key, "tls-key", "", "private key `file` of --tls-cert (PEM)")
	fs.BoolVar(&o.clientRequire, "tls-client-require", false, "with --tls-client-ca: refuse a handshake without a valid client certificate")
	fs.StringVar(&o.clientCA, "tls-client-ca", "", "ask clients for a certificate and verify one given against the CAs in this `file` (PEM)")
}

func (o *tlsOptions) enabled() bool {
	return o.starttls || o.wrapper || o.require || o.cert != "" || o.clientCA != "" || o.clientRequire
}

// apply sets cfg.TLS (and ImplicitTLS, RequireTLS) from the flags.
func (o *tlsOptions) apply(cfg *sink.Config) error {
	if (o.cert == "") != (o.key == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if !o.enabled() {
		return nil
	}
	if o.clientRequire && o.clientCA == "" {
		return errors.New("--tls-client-require needs --tls-client-ca")
	}
	if o.wrapper && o.require {
		return errors.New("--tls-require is for STARTTLS; with --tls-wrapper every session is encrypted")
	}
	var cert tls.Certificate
	var err error
	if o.cert != "" {
		if cert, err = tls.LoadX509KeyPair(o.cert, o.key); err != nil {
			return fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
	} else {
		host := cfg.Hostname
		if host == "" {
			host = sink.DefaultHostname
		}
		if cert, err = sink.SelfSigned(host, time.Now()); err != nil {
			return err
		}
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}}
	if o.clientCA != "" {
		pem, err := os.ReadFile(o.clientCA)
		if err != nil {
			return fmt.Errorf("--tls-client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("--tls-client-ca %s: no PEM certificate in it", o.clientCA)
		}
		tc.ClientCAs, tc.ClientAuth = pool, tls.VerifyClientCertIfGiven
		if o.clientRequire {
			tc.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	cfg.TLS, cfg.ImplicitTLS, cfg.RequireTLS = tc, o.wrapper, o.require
	return nil
}

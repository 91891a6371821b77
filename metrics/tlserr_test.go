package metrics

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
)

func TestTLSErrorKey(t *testing.T) {
	cert := &x509.Certificate{}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{Cert: cert}}, "unknown_authority"},
		{fmt.Errorf("wrapped: %w", &tls.CertificateVerificationError{Err: x509.HostnameError{Certificate: cert, Host: "x"}}), "name_mismatch"},
		{&tls.CertificateVerificationError{Err: x509.CertificateInvalidError{Cert: cert, Reason: x509.Expired, Detail: "current time 2026 is after 2025"}}, "expired"},
		{&tls.CertificateVerificationError{Err: x509.CertificateInvalidError{Cert: cert, Reason: x509.Expired, Detail: "current time 2026 is before 2027"}}, "not_yet_valid"},
		{&tls.CertificateVerificationError{Err: errors.New("other")}, "bad_certificate"},
		{&net.OpError{Op: "remote error", Err: errors.New("tls: handshake failure")}, "handshake_failure"},
		{&net.OpError{Op: "remote error", Err: errors.New("tls: protocol version not supported")}, "protocol_version"},
		{&net.OpError{Op: "remote error", Err: errors.New("tls: unknown certificate authority")}, "unknown_ca"},
		{tls.AlertError(40), "handshake_failure"},
		{tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, "not_tls"},
		{context.DeadlineExceeded, "timeout"},
		{io.EOF, "eof"},
		{errors.New("tls: server selected unsupported protocol version 301"), "protocol_version"},
		{errors.New("mystery"), "error"},
	} {
		if got := TLSErrorKey("tls_handshake", tc.err); got != "tls_handshake:tls:"+tc.want {
			t.Errorf("%v: %s, want %s", tc.err, got, tc.want)
		}
	}
	if _, ok := CertificateFailure(io.EOF); ok {
		t.Error("EOF is not a certificate failure")
	}
}

func TestTLSCounters(t *testing.T) {
	if c, ok := TLSVersionCounter(tls.VersionTLS13); !ok || c.String() != "tls_version_1_3" {
		t.Fatal(c)
	}
	if _, ok := TLSVersionCounter(0x9999); ok {
		t.Fatal("unknown version counted")
	}
	if c := TLSCipherCounter(tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256); c.String() != "tls_cipher_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" {
		t.Fatal(c)
	}
	if c := TLSCipherCounter(tls.TLS_RSA_WITH_AES_128_CBC_SHA); c.String() != "tls_cipher_TLS_RSA_WITH_AES_128_CBC_SHA" {
		t.Fatal(c)
	}
	if c := TLSCipherCounter(0x9999); c != TLSOtherCipher || c.String() != "tls_cipher_other" {
		t.Fatal(c)
	}
}

package metrics

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"strings"
)

// TLSErrorKey is the error key of a TLS failure in a phase: phase:tls:REASON, with REASON
// from TLSReason (e.g. "tls_handshake:tls:unknown_authority").
func TLSErrorKey(phase string, err error) string {
	return phase + ":" + ClassTLS + ":" + TLSReason(err)
}

// TLSReason names why a TLS handshake or record failed, in one word: for the peer's
// certificate unknown_authority, name_mismatch, expired, not_yet_valid, bad_certificate
// (any other verification failure); for an alert the peer sent, its name as in RFC 8446
// (handshake_failure, protocol_version, bad_certificate, unknown_ca, certificate_required,
// insufficient_security, …); timeout, eof, reset or closed for the connection; not_tls
// when the peer does not speak TLS; "error" when nothing more is known.
func TLSReason(err error) string {
	if reason, ok := CertificateFailure(err); ok {
		return reason
	}
	var alert tls.AlertError
	if errors.As(err, &alert) {
		return alertName(tls.AlertError(alert))
	}
	var recordHeader tls.RecordHeaderError
	if errors.As(err, &recordHeader) {
		return "not_tls"
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	case errors.Is(err, net.ErrClosed):
		return "closed"
	}
	if err != nil {
		// A fatal alert received from the peer reaches us as "remote error: tls: NAME".
		msg := err.Error()
		if i := strings.Index(msg, "remote error: tls: "); i >= 0 {
			return rfcAlertName(msg[i+len("remote error: tls: "):])
		}
		if strings.Contains(msg, "connection reset") {
			return "reset"
		}
		if strings.Contains(msg, "protocol version") || strings.Contains(msg, "no supported versions") {
			return "protocol_version"
		}
		if strings.Contains(msg, "no cipher suite") || strings.Contains(msg, "no mutual cipher") {
			return "handshake_failure"
		}
	}
	return "error"
}

// CertificateFailure reports whether err is a failed check of the peer's certificate, and
// why: unknown_authority, name_mismatch, expired, not_yet_valid or bad_certificate.
func CertificateFailure(err error) (string, bool) {
	var unknown x509.UnknownAuthorityError
	if errors.As(err, &unknown) {
		return "unknown_authority", true
	}
	var host x509.HostnameError
	if errors.As(err, &host) {
		return "name_mismatch", true
	}
	var invalid x509.CertificateInvalidError
	if errors.As(err, &invalid) {
		if invalid.Reason == x509.Expired {
			if strings.Contains(invalid.Detail, "is before") {
				return "not_yet_valid", true
			}
			return "expired", true
		}
		return "bad_certificate", true
	}
	var verify *tls.CertificateVerificationError
	if errors.As(err, &verify) {
		return "bad_certificate", true
	}
	return "", false
}

// alertName is an alert's RFC name with underscores ("handshake_failure").
func alertName(a tls.AlertError) string {
	return rfcAlertName(strings.TrimPrefix(a.Error(), "tls: "))
}

// alertNames maps crypto/tls's alert texts to the RFC 8446 names where they differ.
var alertNames = map[string]string{
	"protocol version not supported": "protocol_version",
	"unknown certificate authority":  "unknown_ca",
	"insufficient security level":    "insufficient_security",
	"error decrypting message":       "decrypt_error",
	"unrecognized name":              "unrecognized_name",
	"certificate required":           "certificate_required",
	"no application protocol":        "no_application_protocol",
	"unsupported certificate":        "unsupported_certificate",
	"certificate expired":            "certificate_expired",
	"unknown certificate":            "certificate_unknown",
	"invalid record MAC":             "bad_record_mac",
	"inappropriate fallback":         "inappropriate_fallback",
	"unsupported extension":          "unsupported_extension",
	"missing extension":              "missing_extension",
	"record overflow":                "record_overflow",
}

func rfcAlertName(text string) string {
	text = strings.TrimSpace(text)
	if n, ok := alertNames[text]; ok {
		return n
	}
	return wordOf(text)
}

// wordOf turns "handshake failure" into "handshake_failure".
func wordOf(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, s)
}

package plan

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"
)

// TLSVersion reads a TLS version as plans and the command line write it: "1.0" (or
// "1"), "1.1", "1.2", "1.3", optionally prefixed "TLS" or "TLSv".
func TLSVersion(v string) (uint16, error) {
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
	return 0, fmt.Errorf("want 1.0, 1.1, 1.2 or 1.3, got %q", v)
}

// CipherSuites reads TLS 1.2 cipher suite names as Go's crypto/tls names them (TLS 1.3
// suites are not configurable in Go).
func CipherSuites(names []string) ([]uint16, error) {
	all := append(tls.CipherSuites(), tls.InsecureCipherSuites()...)
	var ids []uint16
	for _, name := range names {
		name = strings.TrimSpace(name)
		i := slices.IndexFunc(all, func(cs *tls.CipherSuite) bool { return cs.Name == name })
		if i < 0 {
			return nil, fmt.Errorf("unknown cipher suite %q", name)
		}
		cs := all[i]
		if !slices.Contains(cs.SupportedVersions, tls.VersionTLS12) {
			return nil, fmt.Errorf("%s is not a TLS 1.2 suite (TLS 1.3 suites are not configurable)", name)
		}
		ids = append(ids, cs.ID)
	}
	return ids, nil
}

// TLSLevels are the levels a plan may name, in order of strength.
var TLSLevels = []TLSLevel{TLSNone, TLSMay, TLSEncrypt, TLSVerify, TLSSecure}

// validate checks the TLS settings (files are checked when they are read).
func (t *TLS) validate() error {
	if !slices.Contains(TLSLevels, t.Level) {
		return fmt.Errorf("tls.level: want one of none, may, encrypt, verify, secure, got %q", t.Level)
	}
	lo, err := TLSVersion(t.MinVersion)
	if err != nil {
		return fmt.Errorf("tls.min_version: %w", err)
	}
	hi, err := TLSVersion(t.MaxVersion)
	if err != nil {
		return fmt.Errorf("tls.max_version: %w", err)
	}
	if lo > hi {
		return fmt.Errorf("tls.min_version %s is above tls.max_version %s", t.MinVersion, t.MaxVersion)
	}
	if _, err := CipherSuites(t.Ciphers); err != nil {
		return fmt.Errorf("tls.ciphers: %w", err)
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return fmt.Errorf("tls.cert_file and tls.key_file go together")
	}
	return nil
}

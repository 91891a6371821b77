package metrics

import "crypto/tls"

// TLSVersionCounter is the counter of handshakes that negotiated version v.
func TLSVersionCounter(v uint16) (Counter, bool) {
	switch v {
	case tls.VersionTLS10:
		return TLSVersion10, true
	case tls.VersionTLS11:
		return TLSVersion11, true
	case tls.VersionTLS12:
		return TLSVersion12, true
	case tls.VersionTLS13:
		return TLSVersion13, true
	}
	return 0, false
}

// tlsCipherPrefix begins the name of every cipher suite counter.
const tlsCipherPrefix = "tls_cipher_"

// tlsCipherSuite is one cipher suite with a counter of its own.
type tlsCipherSuite struct {
	id   uint16
	name string // IANA name, as tls.CipherSuiteName gives it
}

// tlsCipherSuites are the cipher suites counted one by one, each under "tls_cipher_" + its
// IANA name: every suite crypto/tls implements (tls.CipherSuites and
// tls.InsecureCipherSuites; TestTLSCipherSuiteTable fails when Go adds one). The table is
// literal so that counter numbers and names do not depend on the order or the contents of
// Go's lists; append new suites at the end. Counter tlsCipherFirst+i counts entry i (see
// metrics.go); any other suite counts as TLSOtherCipher. Never modified.
var tlsCipherSuites = [...]tlsCipherSuite{
	// TLS 1.3.
	{tls.TLS_AES_128_GCM_SHA256, "TLS_AES_128_GCM_SHA256"},
	{tls.TLS_AES_256_GCM_SHA384, "TLS_AES_256_GCM_SHA384"},
	{tls.TLS_CHACHA20_POLY1305_SHA256, "TLS_CHACHA20_POLY1305_SHA256"},
	// TLS 1.0–1.2, secure (tls.CipherSuites).
	{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"},
	{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"},
	{tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"},
	{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
	{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"},
	{tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
	{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"},
	// TLS 1.0–1.2, insecure (tls.InsecureCipherSuites).
	{tls.TLS_RSA_WITH_RC4_128_SHA, "TLS_RSA_WITH_RC4_128_SHA"},
	{tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"},
	{tls.TLS_RSA_WITH_AES_128_CBC_SHA, "TLS_RSA_WITH_AES_128_CBC_SHA"},
	{tls.TLS_RSA_WITH_AES_256_CBC_SHA, "TLS_RSA_WITH_AES_256_CBC_SHA"},
	{tls.TLS_RSA_WITH_AES_128_CBC_SHA256, "TLS_RSA_WITH_AES_128_CBC_SHA256"},
	{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, "TLS_RSA_WITH_AES_128_GCM_SHA256"},
	{tls.TLS_RSA_WITH_AES_256_GCM_SHA384, "TLS_RSA_WITH_AES_256_GCM_SHA384"},
	{tls.TLS_ECDHE_ECDSA_WITH_RC4_128_SHA, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"},
	{tls.TLS_ECDHE_RSA_WITH_RC4_128_SHA, "TLS_ECDHE_RSA_WITH_RC4_128_SHA"},
	{tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"},
	{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"},
}

// TLSCipherCounter is the counter of handshakes that negotiated cipher suite id:
// "tls_cipher_" + the suite's IANA name for every suite crypto/tls implements,
// TLSOtherCipher for any other id.
func TLSCipherCounter(id uint16) Counter {
	for i := range tlsCipherSuites {
		if tlsCipherSuites[i].id == id {
			return tlsCipherFirst + Counter(i)
		}
	}
	return TLSOtherCipher
}

// IsTLSCipherCounter reports whether c counts handshakes by cipher suite (one suite's
// counter or TLSOtherCipher).
func IsTLSCipherCounter(c Counter) bool {
	return c == TLSOtherCipher || c >= tlsCipherFirst && c < NumCounters
}

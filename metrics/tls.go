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

// TLSCipherCounter is the counter of handshakes that negotiated cipher suite id, by its
// AEAD (key exchange and TLS version aside).
func TLSCipherCounter(id uint16) Counter {
	switch id {
	case tls.TLS_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:
		return TLSAES128GCM
	case tls.TLS_AES_256_GCM_SHA384, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:
		return TLSAES256GCM
	case tls.TLS_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:
		return TLSChaCha20Poly1305
	}
	return TLSOtherCipher
}

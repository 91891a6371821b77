package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// A real handshake is counted under its negotiated cipher suite's IANA name: every
// handshake under exactly one tls_cipher_* counter.
func TestTLSCipherSuiteCounted(t *testing.T) {
	f := newTLSCLIFixture(t)
	for _, tc := range []struct {
		name string
		args []string
		want []string // the suite's counter, or (TLS 1.3, chosen by the hardware) one of these
	}{
		{"1.2 chacha20", []string{"--tls-max-version", "1.2", "--tls-ciphers", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"},
			[]string{"tls_cipher_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"}},
		{"1.2 aes256 resumed", []string{"--tls-max-version", "1.2", "--tls-resume", "--tls-ciphers", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"},
			[]string{"tls_cipher_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"}},
		{"1.3", []string{"--tls-min-version", "1.3"},
			[]string{"tls_cipher_TLS_AES_128_GCM_SHA256", "tls_cipher_TLS_AES_256_GCM_SHA384", "tls_cipher_TLS_CHACHA20_POLY1305_SHA256"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 6
			srv := f.server(t, f.good, testpeer.TLSServerConfig{RequireTLS: true})
			jsonFile := filepath.Join(t.TempDir(), "r.json")
			args := append(append([]string{"-s", "2", "-m", "6", "--timeout", "10s", "--tls", "encrypt", "--json", jsonFile}, tc.args...), srv.Addr)
			code, stderr := runCLI(t, args...)
			if code != 0 || srv.Handshakes.Load() != n {
				t.Fatalf("exit %d, server: %d handshakes\n%s", code, srv.Handshakes.Load(), stderr)
			}
			counters := reportCounters(t, jsonFile)
			if counters["tls_handshakes"] != n {
				t.Fatalf("tls_handshakes %d, want %d", counters["tls_handshakes"], n)
			}
			var counted []string
			for name, v := range counters {
				if strings.HasPrefix(name, "tls_cipher_") && v != 0 {
					counted = append(counted, name)
				}
			}
			if len(counted) != 1 || counters[counted[0]] != n || !slices.Contains(tc.want, counted[0]) {
				t.Fatalf("cipher counters %v (values %v), want %d under one of %v", counted, counters, n, tc.want)
			}
			if strings.Contains(stderr, "tls_cipher") {
				t.Fatalf("the text report lists cipher counters:\n%s", stderr)
			}
		})
	}
}

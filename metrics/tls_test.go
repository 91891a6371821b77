package metrics

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// Every cipher suite crypto/tls implements has a counter of its own, named after
// tls.CipherSuiteName; this fails when a Go release adds a suite the table lacks.
func TestTLSCipherSuiteTable(t *testing.T) {
	known := map[uint16]bool{}
	for _, cs := range tlsCipherSuites {
		if known[cs.id] {
			t.Errorf("%s (%#04x) twice in the table", cs.name, cs.id)
		}
		known[cs.id] = true
		if got := tls.CipherSuiteName(cs.id); got != cs.name {
			t.Errorf("%#04x: table says %s, crypto/tls %s", cs.id, cs.name, got)
		}
	}
	goSuites := append(tls.CipherSuites(), tls.InsecureCipherSuites()...)
	for _, cs := range goSuites {
		if !known[cs.ID] {
			t.Errorf("crypto/tls suite %s (%#04x) is missing from tlsCipherSuites (tls.go): append it", cs.Name, cs.ID)
		}
		c := TLSCipherCounter(cs.ID)
		if want := "tls_cipher_" + tls.CipherSuiteName(cs.ID); c.String() != want || !IsTLSCipherCounter(c) {
			t.Errorf("%s: counter %s (%d), want %s", cs.Name, c, c, want)
		}
	}
	if len(goSuites) != len(tlsCipherSuites) {
		t.Errorf("crypto/tls knows %d suites, the table has %d", len(goSuites), len(tlsCipherSuites))
	}
	for _, id := range []uint16{0, tls.TLS_FALLBACK_SCSV, 0x9999, 0xffff} {
		if c := TLSCipherCounter(id); c != TLSOtherCipher {
			t.Errorf("%#04x: %s, want %s", id, c, TLSOtherCipher)
		}
	}
	if !IsTLSCipherCounter(TLSOtherCipher) || IsTLSCipherCounter(TLSCertificateFailed) || IsTLSCipherCounter(TLSHandshakes) || IsTLSCipherCounter(NumCounters) {
		t.Error("IsTLSCipherCounter")
	}
}

func TestCounterNames(t *testing.T) {
	seen := map[string]Counter{}
	ciphers := 0
	for c := Counter(0); c < NumCounters; c++ {
		name := c.String()
		if name == "" || name == "counter?" || strings.ContainsAny(name, " \t\n\"") {
			t.Errorf("counter %d: name %q", c, name)
		}
		if prev, ok := seen[name]; ok {
			t.Errorf("counters %d and %d are both %q", prev, c, name)
		}
		seen[name] = c
		if strings.HasPrefix(name, "tls_cipher_") != IsTLSCipherCounter(c) {
			t.Errorf("%s: IsTLSCipherCounter %v", name, IsTLSCipherCounter(c))
		}
		if IsTLSCipherCounter(c) {
			ciphers++
		}
	}
	if ciphers != len(tlsCipherSuites)+1 {
		t.Errorf("%d cipher counters, want %d", ciphers, len(tlsCipherSuites)+1)
	}
	// Names and numbers are fixed: the first counters, the TLS ones, the first suite.
	for c, want := range map[Counter]string{
		SessionsOpened: "sessions_opened", Late: "late", TLSVersion13: "tls_version_1_3",
		TLSCertificateFailed: "tls_certificate_failed", TLSOtherCipher: "tls_cipher_other",
		tlsCipherFirst: "tls_cipher_TLS_AES_128_GCM_SHA256", NumCounters - 1: "tls_cipher_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
	} {
		if c.String() != want {
			t.Errorf("counter %d is %s, want %s", c, c, want)
		}
	}
	if NumCounters.String() != "counter?" {
		t.Error(NumCounters.String())
	}
}

// Reports written before the counters were per suite (tls_cipher_aes_128_gcm, …) still
// load, merge with new ones (their counters carried by name) and print.
func TestOldCipherCountersLoad(t *testing.T) {
	s := NewSnapshot()
	s.Add(TLSHandshakes, 3)
	s.Add(TLSCipherCounter(tls.TLS_AES_128_GCM_SHA256), 3)
	s.Record(Connect, 1e6)
	newer := NewReport(nil, testStart, time.Second, Totals{}, s, []IntervalSample{{Start: testStart, Snap: s}})

	var doc map[string]any
	if err := json.Unmarshal([]byte(jsonOf(t, newer)), &doc); err != nil {
		t.Fatal(err)
	}
	old := map[string]any{"tls_handshakes": 5, "tls_cipher_aes_128_gcm": 2, "tls_cipher_chacha20_poly1305": 3, "tls_cipher_other": 0}
	doc["counters"] = old
	doc["intervals"].([]any)[0].(map[string]any)["counters"] = map[string]any{"tls_cipher_aes_256_gcm": 5}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	older, err := ReadReport(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("ReadReport of an older report: %v", err)
	}
	if _, err := older.Snapshot(); err != nil {
		t.Fatal(err)
	}
	older.Origin, newer.Origin = "old.json", "new.json"
	m, _, err := Merge([]*Report{older, newer}, -1)
	if err != nil {
		t.Fatal(err)
	}
	m, _ = roundTrip(t, m)
	for name, want := range map[string]int64{
		"tls_handshakes": 8, "tls_cipher_aes_128_gcm": 2, "tls_cipher_chacha20_poly1305": 3,
		"tls_cipher_TLS_AES_128_GCM_SHA256": 3, "tls_cipher_other": 0,
	} {
		if m.Counters[name] != want {
			t.Errorf("merged %s = %d, want %d", name, m.Counters[name], want)
		}
	}
	if iv := m.Intervals[0].Counters; iv["tls_cipher_aes_256_gcm"] != 5 || iv["tls_cipher_TLS_AES_128_GCM_SHA256"] != 3 {
		t.Errorf("merged interval counters %v", iv)
	}
	if snap, err := m.Snapshot(); err != nil || snap.Counter(TLSHandshakes) != 8 || snap.Counter(TLSCipherCounter(tls.TLS_AES_128_GCM_SHA256)) != 3 {
		t.Fatalf("snapshot of the merge: %v", err)
	}
	var text bytes.Buffer
	if err := WriteText(&text, m); err != nil || strings.Contains(text.String(), "tls_cipher") {
		t.Fatalf("text report (%v):\n%s", err, text.String())
	}
}

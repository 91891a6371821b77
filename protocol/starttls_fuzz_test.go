package protocol

import (
	"bytes"
	"testing"
)

// FuzzClientTLSAuth feeds arbitrary server bytes, in arbitrary chunks, to a client that
// wants STARTTLS and AUTH. It must never panic or consume more than it was given, and
// StepStartTLS must come exactly at the end of a 220 reply to STARTTLS, with nothing of
// what follows consumed (the STARTTLS injection defence rests on it).
func FuzzClientTLSAuth(f *testing.F) {
	f.Add([]byte("220 hi\r\n250-x\r\n250-STARTTLS\r\n250 AUTH CRAM-MD5 PLAIN\r\n220 go\r\n250 injected\r\n"), uint8(7))
	f.Add([]byte("220 hi\r\n250-x\r\n250 STARTTLS\r\n220 go\r\n250-x\r\n250 AUTH LOGIN\r\n334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 ok\r\n250 ok\r\n"), uint8(3))
	f.Add([]byte("220 hi\r\n250-x\r\n250 STARTTLS\r\n220 go\r\n250 AUTH CRAM-MD5\r\n334 PDEyMzQ1QGV4YW1wbGU+\r\n535 no\r\n"), uint8(1))
	f.Add([]byte("220 hi\r\n250 ok\r\n454 no TLS\r\n"), uint8(2))
	f.Fuzz(func(t *testing.T, input []byte, chunk uint8) {
		spec := MessageSpec{Sender: "a", Recipient: "b", Recipients: 1, Content: DefaultContent()}
		for _, policy := range []TLSPolicy{TLSMay, TLSRequired} {
			cfg := Config{Greeting: GreetEHLO, TLS: policy, AllowReject: chunk%2 == 0, Trace: true, Pipelining: true,
				Auth:     &AuthConfig{Credentials: NewRoundRobin([]Credential{{"u", "p"}})},
				Template: NewTemplate(spec), Source: &counterSource{total: 3}}
			c := NewClient(&cfg, nopObserver{}, 1)
			seq, _ := cfg.Source.Claim()
			c.Start(seq, 0)
			var buffered []byte
			rest := input
			size := int(chunk)%16 + 1
			for len(rest) > 0 {
				n := min(size, len(rest))
				buffered = append(buffered, rest[:n]...)
				rest = rest[n:]
				used, step := c.Feed(buffered, 1)
				if used < 0 || used > len(buffered) {
					t.Fatalf("consumed %d of %d", used, len(buffered))
				}
				c.Flushed(0)
				if step == StepStartTLS {
					consumed := buffered[:used]
					if !bytes.HasSuffix(consumed, []byte("\n")) || !bytes.HasPrefix(lastLine(consumed), []byte("220")) {
						t.Fatalf("StepStartTLS after %q", consumed)
					}
					c.TLSDone(2)
					c.Flushed(0)
				}
				buffered = buffered[used:]
				if step == StepFatal || step == StepClose || step == StepDone {
					break
				}
			}
			c.Release()
		}
	})
}

// lastLine is the last line of p (which ends in a line feed), with its line end.
func lastLine(p []byte) []byte {
	i := bytes.LastIndexByte(p[:len(p)-1], '\n')
	return p[i+1:]
}

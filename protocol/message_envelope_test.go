package protocol

import (
	"strings"
	"testing"
)

func envelopeTemplate(e Envelope) *Template {
	return NewTemplate(MessageSpec{Sender: "s@x", Recipient: "r@y", Recipients: 2, Headers: true, Hostname: "h",
		Date: "D", PID: 1, Content: DefaultContent(), Seed: 4, Envelope: e})
}

func envelopeOf(tmpl *Template, seq int64) (mail string, rcpts []string, headers string) {
	mail = string(tmpl.AppendMailCommand(nil, seq))
	for i := 0; i < tmpl.RecipientsOf(seq); i++ {
		rcpts = append(rcpts, string(tmpl.AppendRecipient(nil, seq, i)))
	}
	return mail, rcpts, string(tmpl.AppendHeaders(nil, seq, 0))
}

// Lists are used in turn by position (or by draws of the seed), MAIL and the From and
// To headers follow the envelope, counts and domains are drawn per message.
func TestEnvelope(t *testing.T) {
	lists := envelopeTemplate(Envelope{Senders: []string{"a@1", "b@1"}, Recipients: []string{"x@2", "y@2", "z@2"}})
	mail, rcpts, headers := envelopeOf(lists, 2)
	if mail != "MAIL FROM:<b@1>\r\n" || strings.Join(rcpts, ",") != "z@2,x@2" ||
		!strings.HasPrefix(headers, "From: <b@1>\r\nTo: <z@2>\r\n") {
		t.Fatalf("%q %q %q", mail, rcpts, headers)
	}
	random := envelopeTemplate(Envelope{Recipients: []string{"x@2", "y@2", "z@2"}, Random: true})
	seen := map[string]int{}
	for seq := int64(1); seq <= 300; seq++ {
		_, r, _ := envelopeOf(random, seq)
		_, again, _ := envelopeOf(random, seq)
		if strings.Join(r, ",") != strings.Join(again, ",") {
			t.Fatal("a random pick is not a function of the seed and the message")
		}
		seen[r[0]]++
	}
	if len(seen) != 3 || seen["x@2"] < 60 || seen["y@2"] < 60 || seen["z@2"] < 60 {
		t.Fatalf("random picks %v", seen)
	}
	drawn := envelopeTemplate(Envelope{Count: func(seq int64) int { return int(seq % 4) }, MaxCount: 3,
		Domain: func(seq int64, i int) string { return []string{"a.example", "b.example"}[i%2] }})
	for seq := int64(1); seq <= 8; seq++ {
		_, r, _ := envelopeOf(drawn, seq)
		if len(r) != max(int(seq%4), 1) {
			t.Fatalf("message %d: %d recipients", seq, len(r))
		}
		if want := "r" + itoa((seq-1)*3) + "@a.example"; r[0] != want {
			t.Fatalf("message %d: %q, want %q", seq, r[0], want)
		}
	}
	dst := make([]byte, 0, 256)
	if a := testing.AllocsPerRun(1000, func() {
		dst = lists.AppendMailCommand(dst[:0], 5)
		dst = drawn.AppendRecipient(dst, 5, 1)
		dst = random.AppendHeaders(dst, 5, 0)
	}); a != 0 {
		t.Fatalf("%g allocations per message", a)
	}
}

func itoa(n int64) string { return string(appendInt(nil, n)) }

func appendInt(b []byte, n int64) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

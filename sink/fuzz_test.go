package sink

import (
	"bytes"
	"testing"
)

// FuzzCommandLine feeds arbitrary client bytes to the command parser and to a session
// (whole, and split at a fuzzer-chosen point). It must never panic, never leave more
// than one line's worth of input unconsumed, and must reply the same however the input
// is split.
func FuzzCommandLine(f *testing.F) {
	for _, seed := range []string{
		"HELO vm\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n",
		"EHLO x\r\nAUTH PLAIN AHVzZXIAcGFzcw==\r\nBDAT 3 LAST\r\nabc",
		"AUTH LOGIN\r\ndXNlcg==\r\n*\r\n",
		"NO\x00OP\r\n\r\n \r\nfoo\nbar\r\n",
		"MAIL FROM:<a>\r\nRCPT TO:<b>\r\nBDAT 99999999999999999999\r\nBDAT -1\r\n",
	} {
		f.Add([]byte(seed), uint16(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, split uint16) {
		cmd := ParseCommand(in)
		if len(cmd.Args) > len(in) || (cmd.Blank && cmd.Verb != VerbUnknown) {
			t.Fatalf("ParseCommand(%q) = %+v", in, cmd)
		}
		whole := fuzzFeed(t, [][]byte{in})
		cut := int(split) % (len(in) + 1)
		parts := fuzzFeed(t, [][]byte{in[:cut], in[cut:]})
		if !bytes.Equal(whole, parts) {
			t.Fatalf("replies depend on the split at %d:\nwhole %q\nsplit %q", cut, whole, parts)
		}
	})
}

func fuzzFeed(t *testing.T, parts [][]byte) []byte {
	e := newTestEnv(t, func(c *Config) { c.UniqueHeader = "Message-Id"; c.TraceHeader = DefaultTraceHeader })
	s := newSession(e, "127.0.0.1")
	var out, pending []byte
	for _, p := range parts {
		pending = append(pending, p...)
		for {
			res, o := s.Feed(pending, nil)
			out = append(out, o...)
			if res.Consumed < 0 || res.Consumed > len(pending) {
				t.Fatalf("consumed %d of %d", res.Consumed, len(pending))
			}
			pending = pending[res.Consumed:]
			if res.Action == ActionClose {
				return out
			}
			if res.Action == ActionContinue && (res.Consumed == 0 || len(pending) == 0) {
				break
			}
		}
	}
	if len(pending) > maxAuthLine {
		t.Fatalf("%d bytes left unconsumed", len(pending))
	}
	s.Close()
	return out
}

package protocol

import "testing"

// benchClient is a session on a kept connection (-d), greeted, ready for messages.
func benchClient(b *testing.B, cfg Config) *Client {
	spec := MessageSpec{Sender: "a@x", Recipient: "b@y", Recipients: 3, NumberRecipients: true, Headers: true,
		Hostname: "vm", Date: "d", Content: DefaultContent()}
	cfg.ReuseConnection = true
	cfg.Template = NewTemplate(spec)
	cfg.Source = &counterSource{total: 1 << 50}
	c := NewClient(&cfg, nopObserver{}, 0)
	seq, _ := cfg.Source.Claim()
	c.Start(seq, 0)
	benchFeed(b, c, []byte("220 x\r\n"))
	if cfg.Greeting == GreetEHLO {
		benchFeed(b, c, []byte("250-x\r\n250-PIPELINING\r\n250 8BITMIME\r\n"))
	} else {
		benchFeed(b, c, []byte("250 x\r\n"))
	}
	return c
}

func benchFeed(b *testing.B, c *Client, p []byte) {
	if n, step := c.Feed(p, 1); step != StepRead || n != len(p) {
		b.Fatalf("step %v consumed %d of %d: %v", step, n, len(p), c.Err())
	}
	c.Flushed(0)
}

// BenchmarkClientMessage is one message per iteration, one command and reply at a time.
func BenchmarkClientMessage(b *testing.B) {
	c := benchClient(b, Config{})
	replies := [][]byte{[]byte("250 2.1.0 Ok\r\n"), []byte("250 2.1.5 Ok\r\n"), []byte("250 2.1.5 Ok\r\n"),
		[]byte("250 2.1.5 Ok\r\n"), []byte("354 go\r\n"), []byte("250 2.0.0 Ok: queued as X\r\n")}
	b.ReportAllocs()
	for b.Loop() {
		for _, r := range replies {
			benchFeed(b, c, r)
		}
	}
}

// BenchmarkClientPipelined is one message per iteration with PIPELINING: the envelope's
// replies arrive in one read.
func BenchmarkClientPipelined(b *testing.B) {
	c := benchClient(b, Config{Greeting: GreetEHLO, Pipelining: true})
	envelope := []byte("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n")
	dot := []byte("250 2.0.0 Ok: queued as X\r\n")
	b.ReportAllocs()
	for b.Loop() {
		benchFeed(b, c, envelope)
		benchFeed(b, c, dot)
	}
}

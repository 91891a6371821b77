package engine

import (
	"context"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/protocol"
	"github.com/go-smtp-source/go-smtp-source/sink"
	"github.com/go-smtp-source/go-smtp-source/sink/sinktest"
)

// startBenchSink runs go-smtp-sink's engine in this process on one event loop.
func startBenchSink(b *testing.B) string {
	b.Helper()
	return sinktest.Start(b, sink.Config{EventLoops: 1}).Addr().String()
}

// BenchmarkRun sends b.N messages over 20 kept connections (-d) on one event loop:
// ns/op and allocs/op are per message, connection set-up included.
func BenchmarkRun(b *testing.B) {
	for _, bc := range []struct {
		name  string
		tweak func(*protocol.Config)
	}{
		{"-d", func(*protocol.Config) {}},
		{"-d --pipelining", func(c *protocol.Config) { c.Pipelining, c.Greeting = true, protocol.GreetEHLO }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			addr := startBenchSink(b)
			target, err := ParseTarget(addr)
			if err != nil {
				b.Fatal(err)
			}
			spec := protocol.MessageSpec{Sender: "a@x", Recipient: "b@y", Recipients: 1, Headers: true, Hostname: "vm",
				Date: "d", PID: 1, Content: protocol.DefaultContent()}
			cfg := resolved(b, target)
			cfg.Sessions, cfg.Messages, cfg.EventLoops, cfg.Timeout = 20, int64(b.N), 1, time.Minute
			cfg.Protocol = protocol.Config{Hostname: "vm", Template: protocol.NewTemplate(spec), ReuseConnection: true}
			bc.tweak(&cfg.Protocol)
			b.ReportAllocs()
			b.ResetTimer()
			res, err := runConfig(context.Background(), cfg)
			if err != nil || res.Accepted != int64(b.N) {
				b.Fatalf("%+v: %v", res, err)
			}
		})
	}
}

package engine

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/plan"
	"github.com/go-smtp-source/go-smtp-source/protocol"
	"github.com/go-smtp-source/go-smtp-source/protocol/dist"
)

// contentMeanSize is the mean of the sizes a distribution draws for messages 1..n.
func contentMeanSize(b *testing.B, spec string, n int64) int {
	d, err := dist.Parse(spec)
	if err != nil {
		b.Fatal(err)
	}
	var sum int64
	for seq := int64(1); seq <= n; seq++ {
		sum += d.Quantile(dist.Even(1, seq, dist.StreamSize))
	}
	return int(sum / n)
}

// BenchmarkContentRun sends b.N messages over 20 kept connections (-d) to an in-process
// go-smtp-sink: messages of --size lognormal (and its other bodies) against -l messages of
// the same mean size. msgs/s and MB/s are the figures to compare (README, "Realistic
// traffic").
func BenchmarkContentRun(b *testing.B) {
	const lognormal = "lognormal:median=30k,sigma=1.2"
	mean := contentMeanSize(b, lognormal, 1<<20)
	for _, bc := range []struct {
		name string
		msg  plan.Message
	}{
		{"-l=mean", plan.Message{Length: mean - 120}}, // the generated headers are about 120 bytes
		{"--size=lognormal", plan.Message{Size: lognormal, Seed: 1}},
		{"--size=lognormal,--body=text", plan.Message{Size: lognormal, Seed: 1, Body: plan.BodyText}},
		{"--size=lognormal,--body=random", plan.Message{Size: lognormal, Seed: 1, Body: plan.BodyRandom}},
		{"--corpus", plan.Message{Corpus: benchCorpus(b, lognormal, 200)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			addr := startBenchSink(b)
			target, err := ParseTarget(addr)
			if err != nil {
				b.Fatal(err)
			}
			spec := protocol.MessageSpec{Sender: "a@x", Recipient: "b@y", Recipients: 1, Headers: true, Hostname: "vm",
				Date: protocol.FormatDate(time.Now()), PID: 1, Length: bc.msg.Length}
			if err := applyContent(&spec, bc.msg); err != nil {
				b.Fatal(err)
			}
			cfg := resolved(b, target)
			cfg.Sessions, cfg.Messages, cfg.EventLoops, cfg.Timeout = 20, int64(b.N), 1, time.Minute
			cfg.Protocol = protocol.Config{Hostname: "vm", Template: protocol.NewTemplate(spec), ReuseConnection: true}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			res, err := runConfig(context.Background(), cfg)
			if err != nil || res.Accepted != int64(b.N) {
				b.Fatalf("%+v: %v", res, err)
			}
			secs := time.Since(start).Seconds()
			b.ReportMetric(float64(b.N)/secs, "msgs/s")
			b.ReportMetric(float64(res.Metrics.Counter(metrics.BytesSent))/secs/1e6, "MB/s")
		})
	}
}

// benchCorpus writes n messages whose sizes are the distribution's first n draws into a
// directory of message files.
func benchCorpus(b *testing.B, spec string, n int) string {
	d, err := dist.Parse(spec)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	line := bytes.Repeat([]byte("corpus text "), 6)
	for i := 1; i <= n; i++ {
		size := int(d.Quantile(dist.Even(1, int64(i), dist.StreamSize)))
		msg := []byte(fmt.Sprintf("Subject: corpus %d\n\n", i))
		for len(msg) < size {
			msg = append(append(msg, line...), '\n')
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%04d.eml", i)), msg, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// contentSpecs are the message kinds of BenchmarkHotPathContent: -l of the lognormal's
// mean size, and the realistic kinds of that mean.
func contentSpecs(b testing.TB, corpusDir string, mean int) map[string]plan.Message {
	const lognormal = "lognormal:median=30k,sigma=1.2"
	return map[string]plan.Message{
		"-l=mean":                          {Length: mean - 120},
		"--size=lognormal":                 {Size: lognormal, Seed: 1},
		"--size=lognormal,--body=text":     {Size: lognormal, Seed: 1, Body: plan.BodyText},
		"--size=lognormal,--body=random":   {Size: lognormal, Seed: 1, Body: plan.BodyRandom, Attach: ""},
		"--size=lognormal,--header=tokens": {Size: lognormal, Seed: 1, Headers: []string{"X-Id: {seq} {uuid} {random:16}"}},
		"--corpus":                         {Corpus: corpusDir},
	}
}

func hotPathContent(tb testing.TB, m plan.Message) *hotPath {
	spec := protocol.MessageSpec{Sender: "a@x", Recipient: "b@y", Recipients: 1, Headers: true, Hostname: "vm",
		Date: "d", PID: 1, Length: m.Length}
	if err := applyContent(&spec, m); err != nil {
		tb.Fatal(err)
	}
	return newHotPathSpec(tb, true, spec)
}

// BenchmarkHotPathContent is BenchmarkHotPathMessage (-d --pipelining, no sockets) for
// each kind of content: the CPU a message costs the machine, whatever its size (the body
// is shared pieces the transport writes, so its bytes are not touched here).
func BenchmarkHotPathContent(b *testing.B) {
	specs := contentSpecs(b, benchCorpus(b, "lognormal:median=30k,sigma=1.2", 200), contentMeanSize(b, "lognormal:median=30k,sigma=1.2", 1<<20))
	for _, name := range []string{"-l=mean", "--size=lognormal", "--size=lognormal,--body=text", "--size=lognormal,--body=random",
		"--size=lognormal,--header=tokens", "--corpus"} {
		b.Run(name, func(b *testing.B) {
			h := hotPathContent(b, specs[name])
			replies := messageReplies(true)
			b.ReportAllocs()
			for b.Loop() {
				for _, r := range replies {
					h.feed(b, r)
				}
			}
		})
	}
}

// TestHotPathContentAllocations: every kind of content, like the default message,
// allocates nothing per message once the slot is warm.
func TestHotPathContentAllocations(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "1.eml"), []byte("Subject: x\n\n.body\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, m := range contentSpecs(t, dir, 30000) {
		h := hotPathContent(t, m)
		replies := messageReplies(true)
		message := func() {
			for _, r := range replies {
				h.feed(t, r)
			}
		}
		message()
		if n := testing.AllocsPerRun(500, message); n != 0 {
			t.Errorf("%s: %.2f allocations per message, want 0", name, n)
		}
	}
}

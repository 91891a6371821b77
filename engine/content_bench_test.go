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
		{"--corpus", plan.Message{Corpus: benchCorpus(b, lognormal, 200, false)}},
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
// directory of message files; with tokens, each holds tokens in its headers and in every
// tenth line of its body, and CSS braces, as benchFileTemplate.
func benchCorpus(b *testing.B, spec string, n int, tokens bool) string {
	d, err := dist.Parse(spec)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	line := bytes.Repeat([]byte("corpus text "), 6)
	for i := 1; i <= n; i++ {
		size := int(d.Quantile(dist.Even(1, int64(i), dist.StreamSize)))
		msg := []byte(fmt.Sprintf("Subject: corpus %d\n\n", i))
		if tokens {
			msg = []byte(fmt.Sprintf("Subject: corpus %d {seq}\nX-Id: {uuid} {random:16}\n\np{margin:0}\n", i))
		}
		for j := 0; len(msg) < size; j++ {
			if tokens && j%10 == 0 {
				msg = append(msg, "message {seq} for {rcpt}: "...)
			}
			msg = append(append(msg, line...), '\n')
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%04d.eml", i)), msg, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// contentSpecs are the message kinds of BenchmarkHotPathContent: -l of the lognormal's
// mean size, and the realistic kinds of that mean (tokensDir: a corpus with tokens).
func contentSpecs(b testing.TB, corpusDir, tokensDir string, mean int) map[string]plan.Message {
	const lognormal = "lognormal:median=30k,sigma=1.2"
	return map[string]plan.Message{
		"-l=mean":                          {Length: mean - 120},
		"--size=lognormal":                 {Size: lognormal, Seed: 1},
		"--size=lognormal,--body=text":     {Size: lognormal, Seed: 1, Body: plan.BodyText},
		"--size=lognormal,--body=random":   {Size: lognormal, Seed: 1, Body: plan.BodyRandom, Attach: ""},
		"--size=lognormal,--header=tokens": {Size: lognormal, Seed: 1, Headers: []string{"X-Id: {seq} {uuid} {random:16}"}},
		"--corpus":                         {Corpus: corpusDir},
		"--corpus=tokens":                  {Corpus: tokensDir},
		"-F=tokens":                        {File: &plan.File{Content: benchFileTemplate(mean)}},
	}
}

// benchFileTemplate is a -F file of about size bytes with tokens in its headers and
// here and there in its body, and lines that start with dots.
func benchFileTemplate(size int) []byte {
	b := []byte("Subject: n {seq}\nX-Id: {uuid} {random:16}\nTo: <{rcpt}>\n\n")
	for i := 0; len(b) < size; i++ {
		switch {
		case i%20 == 0:
			b = append(b, "message {seq} for {rcpt}, a line of the body with tokens\n"...)
		case i%8 == 0:
			b = append(b, ".a line that starts with a dot, as a quoted signature might\n"...)
		default:
			b = append(b, "an ordinary line of text of the kind a mail body is made of\n"...)
		}
	}
	return b
}

// contentESMTP are BenchmarkHotPathContent's extension variants: SIZE= on MAIL, and BDAT
// in one chunk or in chunks of 4096 bytes (the latter copies the body into the buffer).
var contentESMTP = []struct {
	name  string
	esmtp func() *protocol.ESMTP
}{
	{"--mail-size", func() *protocol.ESMTP { return &protocol.ESMTP{Size: true} }},
	{"--bdat,--mail-size", func() *protocol.ESMTP { return &protocol.ESMTP{Size: true, BDAT: true} }},
	{"--bdat=4096,--mail-size", func() *protocol.ESMTP { return &protocol.ESMTP{Size: true, BDAT: true, Chunk: 4096} }},
}

func hotPathContent(tb testing.TB, m plan.Message) *hotPath {
	return hotPathContentESMTP(tb, m, nil)
}

// hotPathContentESMTP is hotPathContent with the extensions e (nil: none).
func hotPathContentESMTP(tb testing.TB, m plan.Message, e *protocol.ESMTP) *hotPath {
	spec := protocol.MessageSpec{Sender: "a@x", Recipient: "b@y", Recipients: 1, Headers: true, Hostname: "vm",
		Date: "d", PID: 1, Length: m.Length}
	if m.File != nil { // as engine/config.go reads a -F file
		spec.Content, spec.Headers = protocol.FileContent(m.File.Content), false
	}
	if err := applyContent(&spec, m); err != nil {
		tb.Fatal(err)
	}
	return newHotPathESMTP(tb, true, spec, e)
}

// contentMessage is a function that sends one message of a hot path with the extensions
// e: the replies in as few reads as pipelining allows (one for BDAT in one chunk), or
// one reply a read for chunks.
func contentMessage(tb testing.TB, h *hotPath, e *protocol.ESMTP) func() {
	replies := messageReplies(true)
	switch {
	case e != nil && e.BDAT && e.Chunk > 0:
		ok := []byte("250 2.0.0 Ok\r\n")
		return func() { h.messageEach(tb, ok) }
	case e != nil && e.BDAT:
		replies = bdatReplies()
	}
	return func() {
		for _, r := range replies {
			h.feed(tb, r)
		}
	}
}

// BenchmarkHotPathContent is BenchmarkHotPathMessage (-d --pipelining, no sockets) for
// each kind of content, and for the kinds made per message with SIZE= and BDAT: the CPU a
// message costs the machine, whatever its size (the body is shared pieces the transport
// writes, so its bytes are not touched here, except by BDAT in chunks, which copies them).
func BenchmarkHotPathContent(b *testing.B) {
	const lognormal = "lognormal:median=30k,sigma=1.2"
	mean := contentMeanSize(b, lognormal, 1<<20)
	specs := contentSpecs(b, benchCorpus(b, lognormal, 200, false), benchCorpus(b, lognormal, 200, true), mean)
	for _, name := range []string{"-l=mean", "--size=lognormal", "--size=lognormal,--body=text", "--size=lognormal,--body=random",
		"--size=lognormal,--header=tokens", "--corpus", "--corpus=tokens", "-F=tokens"} {
		b.Run(name, func(b *testing.B) { benchHotPathContent(b, specs[name], nil) })
	}
	for _, name := range []string{"-l=mean", "--size=lognormal", "--size=lognormal,--body=random", "--corpus", "--corpus=tokens", "-F=tokens"} {
		for _, v := range contentESMTP {
			b.Run(name+","+v.name, func(b *testing.B) { benchHotPathContent(b, specs[name], v.esmtp()) })
		}
	}
}

func benchHotPathContent(b *testing.B, m plan.Message, e *protocol.ESMTP) {
	h := hotPathContentESMTP(b, m, e)
	message := contentMessage(b, h, e)
	b.ReportAllocs()
	for b.Loop() {
		message()
	}
	b.StopTimer()
	if h.s.accepted < int64(b.N) {
		b.Fatalf("%d messages accepted after %d", h.s.accepted, b.N)
	}
}

// TestHotPathContentAllocations: every kind of content, like the default message,
// allocates nothing per message once the slot is warm; so do the kinds made per message
// with SIZE= and with BDAT, in one chunk or many.
func TestHotPathContentAllocations(t *testing.T) {
	dir, tokensDir := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "1.eml"), []byte("Subject: x\n\n.body\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokens := []byte("Subject: x {seq}\nX-Id: {uuid}\n\n.body {rcpt} p{margin:0}\n{from}\n")
	if err := os.WriteFile(filepath.Join(tokensDir, "1.eml"), tokens, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, m := range contentSpecs(t, dir, tokensDir, 30000) {
		variants := append([]struct {
			name  string
			esmtp func() *protocol.ESMTP
		}{{"", func() *protocol.ESMTP { return nil }}}, contentESMTP...)
		for _, v := range variants {
			e := v.esmtp()
			h := hotPathContentESMTP(t, m, e)
			message := contentMessage(t, h, e)
			message() // warm: the first message sizes the slot's buffers
			if n := testing.AllocsPerRun(500, message); n != 0 {
				t.Errorf("%s%s: %.2f allocations per message, want 0", name, v.name, n)
			}
			if h.s.accepted < 501 {
				t.Errorf("%s%s: %d messages accepted, want ≥ 501", name, v.name, h.s.accepted)
			}
		}
	}
}

package main

import (
	"os"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/go-smtp-source/go-smtp-source/plan"
	"github.com/go-smtp-source/go-smtp-source/protocol"
	"github.com/go-smtp-source/go-smtp-source/protocol/corpus"
	"github.com/go-smtp-source/go-smtp-source/protocol/dist"
)

// addContentFlags adds the options of realistic traffic: what a message is and who it
// is for (README, "Realistic traffic").
func addContentFlags(fs *pflag.FlagSet) {
	fs.String("seed", "", "seed of every random choice (sizes, bodies, addresses): the same `N` sends the same messages, in a cluster too (default: a random one, recorded in --json)")
	fs.String("body", plan.BodySMTPSource, "what a body of --size is made of: `smtp-source` (-l's lines), text (readable words) or random (base64 of random bytes in a MIME attachment)")
	fs.String("attach", "", "add a MIME attachment of `DIST` bytes (--size's syntax) to every message of --size")
	fs.StringArray("header", nil, "add the header `'NAME: VALUE'` to every message (repeatable); it and -S may hold {seq} {uuid} {rcpt} {from} {date} {random:N} {worker}")
	fs.Bool("keep-message-id", false, "a -F file with tokens, and --corpus messages: keep their own Message-Id (or none) instead of one per message")
	fs.String("from-file", "", "envelope senders, one a line in `file`, used in turn (at random with --seed); From: follows")
	fs.String("rcpt-file", "", "recipients, one a line in `file`, used in turn (at random with --seed); To: shows the first")
	fs.String("rcpt-count", "", "recipients per message, `DIST` (--size's syntax, e.g. 1:80%,2-5:18%,50:2%), in place of -r")
	fs.String("rcpt-domains", "", "weighted domains of generated recipients, `NAME:W,...` (a.example:70,b.example:30)")
	fs.String("corpus", "", "send real messages from `DIR|FILE.mbox` (a Maildir, a directory of message files, or an mbox) in turn (at random with --seed), Date and Message-Id new for each, From and To the envelope's; their {seq} {uuid} {rcpt} {from} {date} {random:N} {worker} rendered per message")
	fs.Bool("corpus-keep-headers", false, "--corpus: keep the messages' own From and To")
	fs.String("size", "", "message size `DIST`, headers included: 30k, uniform:10k-200k, lognormal:median=30k,sigma=1.2, or a table 1k:50%,10k:30%,100k:15%,2m:5% (k, m: powers of 1024); the body is filled to it")
}

// parseContent reads the content and envelope options into the plan: a malformed one is
// one line, before any traffic.
func parseContent(f flags, inv *invocation) error {
	m := &inv.plan.Message
	if f.Changed("size") {
		if f.Changed("length") || f.Changed("file") {
			return usagef("--size fills generated bodies: use it without -l and -F")
		}
		d, err := dist.Parse(f.str("size"))
		if err != nil {
			return usagef("--size: %v", err)
		}
		if d.Min() < 1 {
			return usagef("--size %s: sizes must be positive", f.str("size"))
		}
		m.Size = f.str("size")
	}
	if f.Changed("body") || f.Changed("attach") {
		if !f.Changed("size") {
			return usagef("--body and --attach shape bodies of --size: give --size")
		}
		m.Body = f.str("body")
		if m.Body != plan.BodySMTPSource && m.Body != plan.BodyText && m.Body != plan.BodyRandom {
			return usagef("--body: want smtp-source, text or random, got %q", m.Body)
		}
	}
	if f.Changed("attach") {
		if _, err := dist.Parse(f.str("attach")); err != nil {
			return usagef("--attach: %v", err)
		}
		m.Attach = f.str("attach")
	}
	if err := parseTemplates(f, m); err != nil {
		return err
	}
	if err := parseEnvelope(f, m); err != nil {
		return err
	}
	return parseSeed(f, m)
}

// parseTemplates reads --header and checks the tokens of -S and --header.
func parseTemplates(f flags, m *plan.Message) error {
	if h, _ := f.GetStringArray("header"); len(h) > 0 {
		m.Headers = h
	}
	m.KeepMessageID = f.on("keep-message-id")
	if len(m.Headers) > 0 && (f.on("old-mode") || f.Changed("file")) {
		return usagef("--header adds to generated headers: not with -o or -F")
	}
	if m.Subject != nil {
		if _, err := protocol.ParseText(*m.Subject); err != nil {
			return usagef("-S: %v", err)
		}
	}
	for _, h := range m.Headers {
		if err := (plan.Message{Headers: []string{h}}).CheckHeaders(); err != nil {
			return usagef("--header: %v", err)
		}
	}
	return nil
}

// parseSeed reads --seed; a plan with random choices and no seed gets a random one, so
// that its JSON says how to repeat it.
func parseSeed(f flags, m *plan.Message) error {
	if f.Changed("seed") {
		seed, err := strconv.ParseUint(f.str("seed"), 0, 64)
		if err != nil {
			return usagef("--seed: want an unsigned 64-bit integer, got %q", f.str("seed"))
		}
		m.Seed = seed
		return nil
	}
	if !m.Randomised() {
		return nil
	}
	seed, err := plan.NewSeed()
	if err != nil {
		return fatalf("%v", err)
	}
	m.Seed = seed
	return nil
}

// parseEnvelope reads the address lists, --rcpt-count and --rcpt-domains.
func parseEnvelope(f flags, m *plan.Message) error {
	var err error
	if f.Changed("from-file") {
		if m.FromList, err = readAddressList("--from-file", f.str("from-file")); err != nil {
			return err
		}
	}
	if f.Changed("rcpt-file") {
		if m.RcptList, err = readAddressList("--rcpt-file", f.str("rcpt-file")); err != nil {
			return err
		}
	}
	if err := parseCorpus(f, m); err != nil {
		return err
	}
	m.RandomPick = f.Changed("seed") && (m.FromList != nil || m.RcptList != nil || m.Corpus != "")
	if f.Changed("rcpt-count") {
		if f.Changed("recipients") || f.on("number-recipients") {
			return usagef("--rcpt-count is in place of -r and -N")
		}
		d, err := dist.Parse(f.str("rcpt-count"))
		if err != nil {
			return usagef("--rcpt-count: %v", err)
		}
		if d.Min() < 1 || d.Max() > plan.MaxRcptCount {
			return usagef("--rcpt-count %s: counts from 1 to %d", f.str("rcpt-count"), plan.MaxRcptCount)
		}
		m.RcptCount = f.str("rcpt-count")
	}
	if f.Changed("rcpt-domains") {
		if _, err := dist.ParseChoice(f.str("rcpt-domains")); err != nil {
			return usagef("--rcpt-domains: %v", err)
		}
		m.RcptDomains = f.str("rcpt-domains")
	}
	return nil
}

// readAddressList reads one address a line (blank lines and lines starting with '#'
// skipped); an unreadable or empty file is one line naming it.
func readAddressList(flag, name string) (*plan.AddressList, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fatalf("%s: %v", flag, err)
	}
	l := &plan.AddressList{Name: name}
	for line := range strings.SplitSeq(string(b), "\n") {
		if a := strings.TrimSpace(line); a != "" && !strings.HasPrefix(a, "#") {
			l.Addresses = append(l.Addresses, a)
		}
	}
	if len(l.Addresses) == 0 {
		return nil, usagef("%s %s: no addresses in it", flag, name)
	}
	for i, a := range l.Addresses {
		if strings.ContainsAny(a, "<> \t\r\x00") {
			return nil, usagef("%s %s: entry %d: %q is not an address", flag, name, i+1, a)
		}
	}
	return l, nil
}

// parseCorpus reads --corpus once, so that an unreadable or empty corpus is one line
// before any traffic (the process that sends reads it again).
func parseCorpus(f flags, m *plan.Message) error {
	if f.on("corpus-keep-headers") && !f.Changed("corpus") {
		return usagef("--corpus-keep-headers needs --corpus")
	}
	if !f.Changed("corpus") {
		return nil
	}
	for _, other := range []string{"file", "length", "size", "body", "attach", "subject", "old-mode"} {
		if f.Changed(other) {
			return usagef("--corpus sends its own messages: not with --%s", other)
		}
	}
	if _, err := corpus.Load(f.str("corpus"), corpus.Keep{}); err != nil {
		return fatalf("--corpus: %v", err)
	}
	m.Corpus, m.CorpusKeepHeaders = f.str("corpus"), f.on("corpus-keep-headers")
	return nil
}

package protocol

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
	"github.com/go-smtp-source/go-smtp-source/protocol/corpus"
)

const allCaps = "250-PIPELINING\r\n250-SIZE 10240000\r\n250-DSN\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n"

var esmtpSpec = MessageSpec{Sender: "foo@vm", Recipient: "bar@vm", Recipients: 2, Headers: true, PID: 1, Subject: ptr("hi")}

func ptr(s string) *string { return &s }

// esmtpScenario is a scenario whose template the extensions are prepared from, as the
// engine does.
func esmtpScenario(cfg Config, spec MessageSpec, caps string, e *ESMTP) scenario {
	sc := scenario{cfg: cfg, spec: spec, messages: 2, server: testpeer.SMTPScript{EhloCaps: caps}}
	sc.cfg.Greeting = GreetEHLO
	if e != nil {
		spec.Date = "Sat, 28 Nov 2026 17:40:54 +0000 (UTC)" // drive's
		if spec.Hostname == "" {
			spec.Hostname = "vm"
		}
		if spec.Content == nil {
			spec.Content = DefaultContent()
		}
		e.Prepare(NewTemplate(spec))
		sc.cfg.ESMTP = e
	}
	return sc
}

// dataPayloads are the messages a DATA session sent, un-stuffed, without the final dot.
func dataPayloads(t *testing.T, client string) []string {
	var out []string
	for _, part := range strings.Split(client, "DATA\r\n")[1:] {
		end := strings.Index(part, "\r\n.\r\n")
		if end < 0 {
			t.Fatalf("no final dot in %q", part)
		}
		msg := part[:end+2]
		out = append(out, string(unstuff([]byte(msg))))
	}
	return out
}

// bdatPayloads are the messages a BDAT session sent, chunks joined.
func bdatPayloads(t *testing.T, client string) []string {
	var out []string
	var cur strings.Builder
	for rest := client; ; {
		i := strings.Index(rest, "BDAT ")
		if i < 0 {
			return out
		}
		line, after, _ := strings.Cut(rest[i:], "\r\n")
		f := strings.Fields(line)
		n, err := strconv.Atoi(f[1])
		if err != nil || n > len(after) {
			t.Fatalf("bad BDAT line %q", line)
		}
		cur.WriteString(after[:n])
		rest = after[n:]
		if len(f) == 3 {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
}

func TestESMTPMailAndRcptParameters(t *testing.T) {
	e := &ESMTP{Size: true, EightBit: EightBitAlways, SMTPUTF8: true, DSNReturn: "HDRS", DSNNotify: "SUCCESS,FAILURE"}
	spec := esmtpSpec
	spec.Recipient = "bär+x@vm"
	res := driveChunked(t, esmtpScenario(Config{ReuseConnection: true}, spec, allCaps, e))
	if res.err != nil || res.rec.outcomes[1] != Accepted || res.rec.outcomes[2] != Accepted {
		t.Fatalf("err %v, outcomes %v", res.err, res.rec.outcomes)
	}
	msgs := dataPayloads(t, res.client)
	for i, want := range []string{
		"MAIL FROM:<foo@vm> SIZE=" + strconv.Itoa(len(msgs[0])) + " BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=0001.0001.0001@vm\r\n",
		"RCPT TO:<bär+x0@vm> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b+C3+A4r+2Bx0@vm\r\n",
		"RCPT TO:<bär+x1@vm> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b+C3+A4r+2Bx1@vm\r\n",
		"MAIL FROM:<foo@vm> SIZE=" + strconv.Itoa(len(msgs[1])) + " BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=0001.0001.0002@vm\r\n",
	} {
		if !strings.Contains(res.client, want) {
			t.Fatalf("line %d %q not sent in\n%s", i, want, res.client)
		}
	}
}

// Extensions the server does not announce are not used: smtp-source's bytes (after EHLO).
func TestESMTPNotAnnounced(t *testing.T) {
	e := &ESMTP{Size: true, EightBit: EightBitAuto, SMTPUTF8: true, RequireTLS: true, DSNNotify: "NEVER", BDAT: true}
	plain := driveChunked(t, esmtpScenario(Config{}, esmtpSpec, "", nil))
	with := driveChunked(t, esmtpScenario(Config{}, esmtpSpec, "", e))
	if with.client != plain.client || with.err != nil {
		t.Fatalf("err %v; with extensions not announced the client sent\n%s\nwant\n%s", with.err, with.client, plain.client)
	}
	// 8BITMIME is announced by the script, the message is 7-bit: auto adds nothing.
	if strings.Contains(with.client, "BODY=") {
		t.Fatal("BODY=8BITMIME on a 7-bit message")
	}
	spec := esmtpSpec
	spec.Subject = ptr("grüße")
	eight := driveChunked(t, esmtpScenario(Config{}, spec, "", &ESMTP{EightBit: EightBitAuto}))
	if !strings.Contains(eight.client, "MAIL FROM:<foo@vm> BODY=8BITMIME\r\n") {
		t.Fatalf("8-bit message without BODY=8BITMIME:\n%s", eight.client)
	}
}

// BDAT sends what DATA sends, un-stuffed and in counted chunks, with and without
// PIPELINING, in one chunk or many, the replies split at every byte.
func TestBDATSendsWhatDATASends(t *testing.T) {
	spec := esmtpSpec
	spec.Content = FileContent([]byte(".starts with a dot\nmiddle\n..two dots\n" + strings.Repeat("x", 150) + "\n"))
	spec.Headers = false
	for _, sp := range []MessageSpec{esmtpSpec, spec} {
		plain := driveChunked(t, esmtpScenario(Config{ReuseConnection: true}, sp, "", nil))
		want := dataPayloads(t, plain.client)
		for _, pipelining := range []bool{false, true} {
			for _, chunk := range []int{0, 1, 50, 100000} {
				cfg := Config{ReuseConnection: true, Pipelining: pipelining}
				res := driveChunked(t, esmtpScenario(cfg, sp, allCaps, &ESMTP{BDAT: true, Chunk: chunk}))
				if res.err != nil || res.rec.outcomes[1] != Accepted || res.rec.outcomes[2] != Accepted {
					t.Fatalf("pipelining %v chunk %d: err %v, outcomes %v", pipelining, chunk, res.err, res.rec.outcomes)
				}
				got := bdatPayloads(t, res.client)
				if strings.Join(got, "|") != strings.Join(want, "|") || strings.Contains(res.client, "DATA") {
					t.Fatalf("pipelining %v chunk %d: BDAT sent %q, DATA sent %q", pipelining, chunk, got, want)
				}
				chunks := 1
				if chunk > 0 {
					chunks = (len(want[0]) + chunk - 1) / chunk
				}
				phases := strings.Join(res.rec.phases, " ")
				wantPhases := "mail:250 rcpt:250 rcpt:250 " + strings.Repeat("bdat:250 ", chunks-1) + "eod:250"
				if !strings.Contains(phases, wantPhases) || res.rec.dots != 2 {
					t.Fatalf("pipelining %v chunk %d: phases %s, dots %d", pipelining, chunk, phases, res.rec.dots)
				}
			}
		}
	}
}

func TestBDATRejections(t *testing.T) {
	for _, tc := range []struct {
		name       string
		pipelining bool
		replies    map[string]string
		err        string
		rset       bool
	}{
		{"last chunk", false, map[string]string{".": "552 5.3.4 too big\r\n"}, "end of data rejected: 552 5.3.4 too big", false},
		{"last chunk pipelined", true, map[string]string{".": "552 5.3.4 too big\r\n"}, "end of data rejected: 552 5.3.4 too big", false},
		{"a chunk", false, map[string]string{"BDAT": "451 4.3.0 later\r\n"}, "data rejected: 451 4.3.0 later", true},
		{"a chunk pipelined", true, map[string]string{"BDAT": "451 4.3.0 later\r\n", ".": "503 5.5.1 no\r\n"}, "data rejected: 451 4.3.0 later", true},
		{"envelope pipelined", true, map[string]string{"RCPT": "550 5.1.1 no\r\n", "BDAT": "503 5.5.1 no\r\n", ".": "503 5.5.1 no\r\n"}, "recipient rejected: 550 5.1.1 no", true},
		{"size at MAIL", false, map[string]string{"MAIL": "552 5.3.4 Message size exceeds fixed limit\r\n"}, "sender rejected: 552 5.3.4 Message size exceeds fixed limit", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := esmtpScenario(Config{AllowReject: true, Pipelining: tc.pipelining}, esmtpSpec, allCaps, &ESMTP{Size: true, BDAT: true, Chunk: 40})
			sc.server.Replies = tc.replies
			res := driveChunked(t, sc)
			if res.err != nil || res.rec.outcomes[1] != Rejected || res.rec.outcomes[2] != Rejected || res.rec.errs[1] != tc.err {
				t.Fatalf("err %v, outcomes %v, errors %v", res.err, res.rec.outcomes, res.rec.errs)
			}
			if got := strings.Contains(res.client, "RSET"); got != tc.rset {
				t.Fatalf("RSET sent %v, want %v:\n%s", got, tc.rset, res.client)
			}
		})
	}
}

// Without -A a rejected BDAT ends the run, as a rejected dot does.
func TestBDATRejectionIsFatalWithoutA(t *testing.T) {
	sc := esmtpScenario(Config{}, esmtpSpec, allCaps, &ESMTP{BDAT: true})
	sc.server.Replies = map[string]string{".": "554 5.7.1 no\r\n"}
	res := driveChunked(t, sc)
	if res.err == nil || res.err.Error() != "end of data rejected: 554 5.7.1 no" || res.rec.outcomes[1] != Rejected {
		t.Fatalf("err %v, outcomes %v", res.err, res.rec.outcomes)
	}
}

func TestESMTPSteadyStateAllocations(t *testing.T) {
	spec := MessageSpec{Sender: "a@x", Recipient: "b@y", Recipients: 2, Headers: true, Hostname: "vm", Date: "d", Content: DefaultContent()}
	src := &counterSource{total: 1 << 40}
	e := &ESMTP{Size: true, DSNReturn: "FULL", DSNNotify: "FAILURE", BDAT: true, Chunk: 60}
	cfg := Config{Greeting: GreetEHLO, ReuseConnection: true, Template: NewTemplate(spec), Source: src, ESMTP: e}
	e.Prepare(cfg.Template)
	c := NewClient(&cfg, nopObserver{}, 0)
	seq, _ := src.Claim()
	c.Start(seq, 0)
	feed := func(s string) {
		if _, step := c.Feed([]byte(s), 1); step != StepRead {
			t.Fatalf("step %v: %v", step, c.Err())
		}
		c.Flushed(0)
	}
	feed("220 x\r\n")
	feed("250-x\r\n250-SIZE\r\n250-DSN\r\n250 CHUNKING\r\n")
	chunks := (len(bdatPayloadOf(c, e)) + 59) / 60
	ok := []byte("250 ok\r\n")
	message := func() {
		for range 3 + chunks { // MAIL, two RCPTs, the chunks
			if _, step := c.Feed(ok, 1); step != StepRead {
				t.Fatalf("step %v: %v", step, c.Err())
			}
			c.Flushed(0)
		}
	}
	for range 10 {
		message()
	}
	if allocs := testing.AllocsPerRun(1000, message); allocs != 0 {
		t.Fatalf("%.1f allocations per message, want 0", allocs)
	}
}

// bdatPayloadOf is a message's size as BDAT sends it (headers of message 1 and the body).
func bdatPayloadOf(c *Client, e *ESMTP) []byte {
	b := c.cfg.Template.AppendHeaders(nil, 1, 0)
	return append(b, make([]byte, e.bdatLen)...)
}

// bodiesMadePerMessage are the message kinds whose body is made per message, each with
// something DATA has to dot-stuff where it can: sizes of a body of Size (smtp-source's
// lines, text with an attachment, random), corpus messages (leading dots, a line over
// 998 bytes, 8-bit bytes, a bare LF turned into CRLF), a -F file with tokens and
// leading dots, and header tokens over a body with leading dots; corpus messages with
// tokens and without, and a -F file, where a sender with a leading dot renders at line
// starts.
func bodiesMadePerMessage() map[string]MessageSpec {
	size := func(seq int64) int { return 300 + 131*int(seq%5) }
	long := strings.Repeat("0123456789", 120)
	kinds := map[string]MessageSpec{
		"size":               {Size: size},
		"size text attached": {Size: func(seq int64) int { return 1500 + 77*int(seq) }, Body: BodyText, Attach: func(seq int64) int { return 100 + int(seq) }, Seed: 3},
		"size random":        {Size: size, Body: BodyRandom, Seed: 4},
		"corpus": {Corpus: [][]byte{
			corpus.WireForm([]byte("Subject: c0\n\n.leading dot\n..two\n.\nend\n")),
			corpus.WireForm([]byte("Subject: c1\r\n\r\n" + long + "\r\nh\xc3\xa9llo \xff\r\n")),
			corpus.WireForm([]byte("Subject: c2\n\nno dots at all\n")),
		}},
		"file with tokens": {FileTemplate: true, Headers: false,
			Content: FileContent([]byte("Subject: n {seq}\nMessage-Id: <same@x>\n\n.body {seq} {uuid}\n..two {random:20}\n.\n"))},
		"header tokens": {ExtraHeaders: []string{"X-Seq: {seq} {uuid}"}, Content: FileContent([]byte(".dot\nx\n"))},
		"corpus with tokens": {Sender: ".foo@vm", Seed: 6, Corpus: [][]byte{
			corpus.WireForm([]byte("Subject: c0 {seq}\n\n.leading dot {rcpt}\n{from} at a line start\np{margin:0} {name}\n.\n")),
			corpus.WireForm([]byte("Subject: c1\n\nno tokens\n..two\n")),
			corpus.WireForm([]byte("Subject: c2 {uuid}\n\n{random:30}\n{from}\n")),
		}},
		"file with a dot sender": {Sender: ".foo@vm", FileTemplate: true, Headers: false,
			Content: FileContent([]byte("Subject: n {seq}\n\n{from}\n.{from}\n"))},
	}
	for name, spec := range kinds {
		if spec.Sender == "" {
			spec.Sender = "foo@vm"
		}
		spec.Recipient, spec.Recipients, spec.PID = "bar@vm", 2, 1
		spec.Headers = spec.Headers || !spec.FileTemplate
		kinds[name] = spec
	}
	return kinds
}

// mailSizes are the SIZE= values of the MAIL commands a session sent, in order (a MAIL
// may follow a chunk that ends between CR and LF: commands are found by their verb).
func mailSizes(t *testing.T, client string) []int {
	var out []int
	for _, part := range strings.Split(client, "MAIL FROM:")[1:] {
		line, _, _ := strings.Cut(part, "\r\n")
		_, v, ok := strings.Cut(line, " SIZE=")
		n, err := strconv.Atoi(strings.Fields(v + " ")[0])
		if !ok || err != nil {
			t.Fatalf("MAIL without SIZE=: %q", line)
		}
		out = append(out, n)
	}
	return out
}

// A body made per message goes out with BDAT as DATA delivers it (DATA's bytes
// un-stuffed), with and without PIPELINING, in one chunk or many, the replies split at
// every byte; SIZE= on each MAIL is that message's size in plain form, with BDAT and
// with DATA.
func TestBDATAndSizeWithBodiesMadePerMessage(t *testing.T) {
	for name, spec := range bodiesMadePerMessage() {
		t.Run(name, func(t *testing.T) {
			plain := esmtpScenario(Config{ReuseConnection: true}, spec, "", nil)
			plain.messages = 5
			want := dataPayloads(t, driveChunked(t, plain).client)
			if len(want) != 5 || want[0] == want[1] {
				t.Fatalf("DATA sent %q", want)
			}
			wantSizes := make([]int, len(want))
			for i, m := range want {
				wantSizes[i] = len(m)
			}
			sc := esmtpScenario(Config{ReuseConnection: true, Pipelining: true}, spec, allCaps, &ESMTP{Size: true})
			sc.messages = 5
			res := driveChunked(t, sc)
			if got := dataPayloads(t, res.client); res.err != nil || strings.Join(got, "|") != strings.Join(want, "|") {
				t.Fatalf("DATA with SIZE=: err %v, sent %q", res.err, got)
			}
			if got := mailSizes(t, res.client); !slices.Equal(got, wantSizes) {
				t.Fatalf("DATA: SIZE= %v, want %v", got, wantSizes)
			}
			for _, pipelining := range []bool{false, true} {
				for _, chunk := range []int{0, 7, 100, 100000} {
					cfg := Config{ReuseConnection: true, Pipelining: pipelining}
					sc := esmtpScenario(cfg, spec, allCaps, &ESMTP{Size: true, BDAT: true, Chunk: chunk})
					sc.messages = 5
					res := driveChunked(t, sc)
					if res.err != nil || len(res.rec.outcomes) != 5 || res.rec.dots != 5 {
						t.Fatalf("pipelining %v chunk %d: err %v, outcomes %v", pipelining, chunk, res.err, res.rec.outcomes)
					}
					got := bdatPayloads(t, res.client)
					if strings.Join(got, "|") != strings.Join(want, "|") || strings.Contains(res.client, "DATA") {
						t.Fatalf("pipelining %v chunk %d: BDAT sent %q, DATA sent %q", pipelining, chunk, got, want)
					}
					if sizes := mailSizes(t, res.client); !slices.Equal(sizes, wantSizes) {
						t.Fatalf("pipelining %v chunk %d: SIZE= %v, want %v", pipelining, chunk, sizes, wantSizes)
					}
					wantBDAT := 5
					if chunk > 0 {
						wantBDAT = 0
						for _, n := range wantSizes {
							wantBDAT += (n + chunk - 1) / chunk
						}
					}
					if n := strings.Count(strings.Join(res.rec.phases, " "), "bdat:250") + 5; n != wantBDAT {
						t.Fatalf("pipelining %v chunk %d: %d chunks timed, want %d", pipelining, chunk, n, wantBDAT)
					}
				}
			}
		})
	}
}

// doneCounter is an Observer that counts the messages done.
type doneCounter struct {
	nopObserver
	done int
}

func (d *doneCounter) MessageDone(int64, Outcome, error, *Reply) { d.done++ }

// A body made per message, counted for SIZE= and sent with BDAT in chunks, allocates
// nothing per message once the session's buffers have grown.
func TestBDATAndSizeWithBodiesMadePerMessageAllocations(t *testing.T) {
	for name, spec := range bodiesMadePerMessage() {
		spec.Hostname, spec.Date = "vm", "d"
		if spec.Content == nil {
			spec.Content = DefaultContent()
		}
		for _, pipelining := range []bool{false, true} {
			src := &counterSource{total: 1 << 40}
			e := &ESMTP{Size: true, BDAT: true, Chunk: 60}
			cfg := Config{Greeting: GreetEHLO, ReuseConnection: true, Pipelining: pipelining, Template: NewTemplate(spec), Source: src, ESMTP: e}
			e.Prepare(cfg.Template)
			obs := &doneCounter{}
			c := NewClient(&cfg, obs, 0)
			seq, _ := src.Claim()
			c.Start(seq, 0)
			feed := func(s []byte) {
				if _, step := c.Feed(s, 1); step != StepRead {
					t.Fatalf("%s: step %v: %v", name, step, c.Err())
				}
				c.Flushed(0)
			}
			feed([]byte("220 x\r\n"))
			feed([]byte("250-x\r\n250-PIPELINING\r\n250-SIZE\r\n250 CHUNKING\r\n"))
			ok := []byte("250 ok\r\n")
			message := func() {
				for before := obs.done; obs.done == before; {
					feed(ok)
				}
			}
			for range 10 {
				message()
			}
			if allocs := testing.AllocsPerRun(200, message); allocs != 0 {
				t.Errorf("%s, pipelining %v: %.1f allocations per message, want 0", name, pipelining, allocs)
			}
		}
	}
}

// BODY=8BITMIME auto looks at bodies made per message too: a corpus with an 8-bit
// message gets it, 7-bit bodies of Size do not; extensions other than BDAT and SIZE=
// take bodies made per message as well.
func TestESMTPEightBitWithBodiesMadePerMessage(t *testing.T) {
	kinds := bodiesMadePerMessage()
	for name, want := range map[string]bool{"corpus": true, "size": false, "file with tokens": false} {
		e := &ESMTP{EightBit: EightBitAuto, DSNReturn: "FULL"}
		res := driveChunked(t, esmtpScenario(Config{}, kinds[name], allCaps, e))
		if res.err != nil || len(res.rec.outcomes) != 2 {
			t.Fatalf("%s: err %v, outcomes %v", name, res.err, res.rec.outcomes)
		}
		if got := strings.Contains(res.client, " BODY=8BITMIME"); got != want || !strings.Contains(res.client, " RET=FULL") {
			t.Fatalf("%s: BODY=8BITMIME %v, want %v:\n%.300s", name, got, want, res.client)
		}
	}
}

// BODY=8BITMIME auto is decided message by message: a MAIL carries it exactly when the
// message it starts holds a byte ≥ 0x80, whatever puts it there (a corpus message,
// drawn or in turn, an address from a list or a domain shown in From:, To: or a token,
// a fixed header), and never for a byte only an envelope address holds.
func TestESMTPEightBitPerMessage(t *testing.T) {
	kinds := bodiesMadePerMessage()
	subject := "¡hola!"
	mixed := [][]byte{
		corpus.WireForm([]byte("Subject: plain\n\nascii\n")),
		corpus.WireForm([]byte("Subject: 8\n\nh\xc3\xa9llo\n")),
		corpus.WireForm([]byte("Subject: {from}\n\nascii {rcpt}\n")),
	}
	extra := map[string]MessageSpec{
		"corpus drawn":      {Corpus: mixed, CorpusRandom: true, Seed: 9},
		"corpus with lists": {Corpus: mixed, Envelope: Envelope{Senders: []string{"a@x", "jörg@x", "b@x", "c@x"}}},
		"sender list":       {Envelope: Envelope{Senders: []string{"a@x", "jörg@x", "b@x"}}},
		"recipient list":    {Envelope: Envelope{Recipients: []string{"r@x", "s@x", "rené@x"}}},
		"recipient domains": {Recipients: 2, Envelope: Envelope{Domain: func(seq int64, i int) string {
			if (seq+int64(i))%3 == 0 {
				return "bücher.example"
			}
			return "b.example"
		}}},
		"8-bit subject": {Subject: &subject},
	}
	for name, spec := range extra {
		spec.Sender, spec.Recipient, spec.PID, spec.Headers = "foo@vm", "bar@vm", 1, true
		spec.Recipients = max(spec.Recipients, 1)
		kinds[name] = spec
	}
	for name, spec := range kinds {
		sc := esmtpScenario(Config{}, spec, allCaps, &ESMTP{EightBit: EightBitAuto})
		sc.messages = 7
		res := driveChunked(t, sc)
		if res.err != nil || int64(len(res.rec.outcomes)) != sc.messages {
			t.Fatalf("%s: err %v, outcomes %v", name, res.err, res.rec.outcomes)
		}
		payloads := dataPayloads(t, res.client)
		mails := strings.Split(res.client, "MAIL FROM:")[1:]
		if len(mails) != len(payloads) {
			t.Fatalf("%s: %d MAIL commands, %d messages", name, len(mails), len(payloads))
		}
		var declared, eightBit int
		for i, m := range mails {
			line, _, _ := strings.Cut(m, "\r\n")
			got, want := strings.Contains(line, " BODY=8BITMIME"), has8bit(payloads[i])
			if got != want {
				t.Errorf("%s, message %d: BODY=8BITMIME %v, the message is 8-bit: %v\nMAIL FROM:%s\n%.200q", name, i+1, got, want, line, payloads[i])
			}
			if got {
				declared++
			}
			if want {
				eightBit++
			}
		}
		t.Logf("%s: %d of %d messages 8-bit, %d declared", name, eightBit, len(mails), declared)
	}
}

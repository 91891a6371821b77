package protocol

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/go-smtp-source/go-smtp-source/protocol/corpus"
)

func templated(subject string, headers ...string) *Template {
	return NewTemplate(MessageSpec{Sender: "s@x", Recipient: "r@y", Recipients: 2, Headers: true, Hostname: "h",
		Date: "D", PID: 1, Subject: &subject, ExtraHeaders: headers, Content: DefaultContent(), Seed: 5, Worker: 3})
}

// Every token renders per message, after the generated headers, in the order given.
func TestTemplateTokens(t *testing.T) {
	tmpl := templated("n {seq} {", "X-A: {seq}/{rcpt}/{from}/{date}/{worker}", "X-U: {uuid}", "X-R: {random:25}")
	got := string(tmpl.AppendHeaders(nil, 7, 0))
	want := regexp.MustCompile(`^From: <s@x>\r\nTo: <r13@y>\r\nDate: D\r\nMessage-Id: <[^>]+>\r\n` +
		`Subject: n 7 \{\r\nX-A: 7/r12@y/s@x/D/3\r\n` +
		`X-U: [0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\r\nX-R: [A-Za-z0-9]{25}\r\n$`)
	if !want.MatchString(got) {
		t.Fatalf("headers %q", got)
	}
	if strings.Contains(string(tmpl.Body()), "Subject") {
		t.Fatal("the Subject is in the shared body too")
	}
	other := string(tmpl.AppendHeaders(nil, 8, 0))
	if lineOf(got, "X-U") == lineOf(other, "X-U") || lineOf(got, "X-R") == lineOf(other, "X-R") {
		t.Fatal("two messages drew the same uuid or random text")
	}
	if again := string(templated("n {seq} {", "X-A: {seq}/{rcpt}/{from}/{date}/{worker}", "X-U: {uuid}", "X-R: {random:25}").AppendHeaders(nil, 7, 0)); again != got {
		t.Fatalf("the same seed and message, other headers:\n%q\n%q", got, again)
	}
	dst := make([]byte, 0, 1024)
	if a := testing.AllocsPerRun(1000, func() { tmpl.AppendHeaders(dst[:0], 9, 1) }); a != 0 {
		t.Fatalf("%g allocations per message", a)
	}
}

// A Subject without tokens stays in the shared body, as smtp-source's.
func TestTemplateFixedSubject(t *testing.T) {
	tmpl := templated("plain {")
	if !strings.HasPrefix(string(tmpl.Body()), "Subject: plain {\r\n\r\n") || strings.Contains(string(tmpl.AppendHeaders(nil, 1, 0)), "Subject") {
		t.Fatalf("body %q", tmpl.Body())
	}
}

func lineOf(s, name string) string {
	for _, l := range strings.Split(s, "\r\n") {
		if strings.HasPrefix(l, name+":") {
			return l
		}
	}
	return ""
}

func TestParseTextRejects(t *testing.T) {
	for _, s := range []string{"{bogus}", "a {seq:1}", "{random}", "{random:0}", "{random:901}", "{random:x}", "{uuid:}"} {
		if _, err := ParseText(s); err == nil || !strings.Contains(err.Error(), "token {") {
			t.Errorf("%q: %v", s, err)
		}
	}
	for _, s := range []string{"", "{", "}", "{}", "{Seq}", "{ seq }", "a{b-c}", "{{}}"} {
		if tx, err := ParseText(s); err != nil || tx.HasTokens() {
			t.Errorf("%q: %v", s, err)
		}
	}
}

func FuzzParseText(f *testing.F) {
	for _, s := range []string{"X-Test: {seq}", "{random:12}{uuid}", "{{seq}}", "a{b:c}d", "{rcpt} {from} {date} {worker}"} {
		f.Add(s)
	}
	tmpl := templated("x")
	f.Fuzz(func(t *testing.T, s string) {
		tx, err := ParseText(s)
		if err != nil {
			return
		}
		out := string(tmpl.appendText(nil, tx, 42))
		if !tx.HasTokens() && out != s {
			t.Fatalf("%q without tokens rendered as %q", s, out)
		}
	})
}

func fileTemplate(file string, keep bool) *Template {
	return NewTemplate(MessageSpec{Sender: "s@x", Recipient: "r@y", Recipients: 1, Hostname: "h", PID: 1, Seed: 5,
		Content: FileContent([]byte(file)), FileTemplate: FileHasTokens(FileContent([]byte(file))), KeepMessageID: keep})
}

func renderFile(tmpl *Template, seq int64) string {
	var scratch [][]byte
	dst, body, n := tmpl.AppendMessage(nil, &scratch, seq, 2, 0)
	if n != 3 || string(body[0]) != ".\r\n" {
		panic("a templated file's body is its final dot")
	}
	return string(dst)
}

// A -F file with tokens is rendered per message, with a Message-Id of its own in place of
// the file's (folded lines included), or first when it has none; braces that are no token
// stay; --keep-message-id keeps the file's.
func TestFileTemplate(t *testing.T) {
	file := "Subject: {seq}\nMessage-ID: <fixed@x>\n\tfolded\nX: a{color:red}\n\nbody {rcpt}\n.dot {uuid}\n"
	got := renderFile(fileTemplate(file, false), 7)
	want := regexp.MustCompile(`^Subject: 7\r\nMessage-Id: <0001\.0002\.0007@h>\r\nX: a\{color:red}\r\n\r\nbody r@y\r\n\.\.dot [0-9a-f-]{36}\r\n\r\n$`)
	if !want.MatchString(got) {
		t.Fatalf("%q", got)
	}
	if got := renderFile(fileTemplate("body {seq}\n", false), 9); got != "Message-Id: <0001.0002.0009@h>\r\nbody 9\r\n\r\n" {
		t.Fatalf("%q", got)
	}
	if got := renderFile(fileTemplate(file, true), 7); !strings.HasPrefix(got, "Subject: 7\r\nMessage-ID: <fixed@x>\r\n\tfolded\r\nX: a{color:red}\r\n") {
		t.Fatalf("kept: %q", got)
	}
	if FileHasTokens(FileContent([]byte("css p{margin:0} {x}\n"))) {
		t.Fatal("a file without known tokens is a template")
	}
	tmpl := fileTemplate(file, false)
	dst := make([]byte, 0, 4096)
	var scratch [][]byte
	if a := testing.AllocsPerRun(1000, func() { tmpl.AppendMessage(dst[:0], &scratch, 9, 1, 0) }); a != 0 {
		t.Fatalf("%g allocations per message", a)
	}
}

func corpusTemplate(sender string, keep bool, msgs ...string) *Template {
	c := make([][]byte, len(msgs))
	for i, m := range msgs {
		c[i] = corpus.WireForm([]byte(m))
	}
	return NewTemplate(MessageSpec{Sender: sender, Recipient: "r@y", Recipients: 1, Headers: true, Hostname: "h", PID: 1,
		Date: "D", Seed: 5, Corpus: c, KeepMessageID: keep})
}

// renderCorpus is message seq of a corpus template as DATA sends it (without the final
// dot), and the body AppendMessage returned.
func renderCorpus(tmpl *Template, scratch *[][]byte, seq int64) (string, [][]byte) {
	dst, body, n := tmpl.AppendMessage(nil, scratch, seq, 2, 0)
	if n != len(bytes.Join(body, nil)) {
		panic("AppendMessage: the length is not the body's")
	}
	return string(dst), body
}

// A corpus message that holds tokens is a template, as a -F file is: its tokens are
// rendered per message into the output buffer (each message its own {seq}), a brace that
// is not a known token ({name} included) is text, and leading dots stay stuffed; a message
// without tokens is the corpus's shared slice. Neither allocates per message.
func TestCorpusTemplate(t *testing.T) {
	tokens := "Subject: n {seq}\nX-Id: {uuid}\n\n.dot {rcpt}\np{margin:0} {name} {seq\n"
	tmpl := corpusTemplate("s@x", false, tokens, "Subject: fixed {seq-no}\n\nbody\n")
	var scratch [][]byte
	got, body := renderCorpus(tmpl, &scratch, 3)
	want := regexp.MustCompile(`^From: <s@x>\r\nTo: <r@y>\r\nDate: D\r\nMessage-Id: <0001\.0002\.0003@h>\r\n` +
		`Subject: n 3\r\nX-Id: [0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\r\n\r\n` +
		`\.\.dot r@y\r\np\{margin:0} \{name} \{seq\r\n$`)
	if !want.MatchString(got) || len(body) != 1 || string(body[0]) != ".\r\n" {
		t.Fatalf("message 3: %q, body %q", got, body)
	}
	if other, _ := renderCorpus(tmpl, &scratch, 5); !strings.Contains(other, "Subject: n 5\r\n") || lineOf(other, "X-Id") == lineOf(got, "X-Id") {
		t.Fatalf("message 5: %q", other)
	}
	fixed, body := renderCorpus(tmpl, &scratch, 4)
	if !strings.HasSuffix(fixed, "Message-Id: <0001.0002.0004@h>\r\n") || len(body) != 1 || &body[0][0] != &tmpl.spec.Corpus[1][0] {
		t.Fatalf("a message without tokens is not the shared slice: %q %q", fixed, body)
	}
	if tmpl := corpusTemplate("s@x", false, "Subject: {x}\n\np{margin:0}\n"); tmpl.corpusTexts != nil {
		t.Fatal("a corpus without known tokens has templates")
	}
	dst := make([]byte, 0, 4096)
	for _, seq := range []int64{3, 4} {
		if a := testing.AllocsPerRun(1000, func() { tmpl.AppendMessage(dst[:0], &scratch, seq, 1, 0) }); a != 0 {
			t.Fatalf("message %d: %g allocations per message", seq, a)
		}
	}
}

// --keep-message-id keeps a corpus message's own Message-Id (its tokens rendered) and
// adds none to a message without one; AppendMessageID then has none to log.
func TestCorpusKeepMessageID(t *testing.T) {
	tmpl := corpusTemplate("s@x", true, "Message-Id: <own.{seq}@x>\nSubject: s\n\nb\n", "Subject: none\n\nb\n")
	var scratch [][]byte
	got, _ := renderCorpus(tmpl, &scratch, 1)
	if got != "From: <s@x>\r\nTo: <r@y>\r\nDate: D\r\nMessage-Id: <own.1@x>\r\nSubject: s\r\n\r\nb\r\n" {
		t.Fatalf("message 1: %q", got)
	}
	if got, body := renderCorpus(tmpl, &scratch, 2); got != "From: <s@x>\r\nTo: <r@y>\r\nDate: D\r\n" || string(body[0]) != "Subject: none\r\n\r\nb\r\n.\r\n" {
		t.Fatalf("message 2: %q %q", got, body)
	}
	if id := tmpl.AppendMessageID(nil, 1, 0); len(id) != 0 {
		t.Fatalf("logged id %q", id)
	}
}

// DATA dot-stuffs what rendering puts at a line start, in a corpus message and in a -F
// file: a token whose text starts with a dot there, and a literal dot that an empty
// token left there; a dot inside a line is not stuffed. The plain form (BDAT, SIZE=) is
// the same message un-stuffed.
func TestTemplateStuffsRenderedLineStarts(t *testing.T) {
	for _, tc := range []struct{ sender, msg, want string }{
		{".s@x", "Subject: s\n\n{from} a\n{from}\nx{from}\n.{from}\n", "Subject: s\r\n\r\n..s@x a\r\n..s@x\r\nx.s@x\r\n...s@x\r\n"},
		{"", "Subject: s\n\n{from}.b\n{from}{from}.c {seq}\nd{from}.e\n", "Subject: s\r\n\r\n..b\r\n..c 1\r\nd.e\r\n"},
	} {
		file := fileTemplate(tc.msg, true)
		file.spec.Sender = tc.sender
		if got := renderFile(file, 1); got != tc.want+"\r\n" { // -F adds smtp-source's last CRLF
			t.Errorf("-F, sender %q: %q, want %q", tc.sender, got, tc.want+"\r\n")
		}
		c := corpusTemplate(tc.sender, true, tc.msg)
		var scratch [][]byte
		got, _ := renderCorpus(c, &scratch, 1)
		if _, msg, _ := strings.Cut(got, "Date: D\r\n"); msg != tc.want {
			t.Errorf("corpus, sender %q: %q, want %q", tc.sender, msg, tc.want)
		}
		e := &ESMTP{}
		e.Prepare(c)
		plain, body, n := e.appendPlain(c, nil, &scratch, 1, 2, 0)
		_, msg, _ := strings.Cut(string(plain), "Date: D\r\n")
		if msg != string(unstuff([]byte(tc.want))) || len(body) != 0 || n != 0 {
			t.Errorf("corpus in plain form, sender %q: %q %q", tc.sender, msg, body)
		}
	}
}

// A corpus message rendered for DATA is the message rendered in plain form (BDAT's),
// dot-stuffed: un-stuffing it gives the plain form back, and no line of it is a lone
// dot, whatever the message and the sender its {from} renders (an address: one line).
func FuzzCorpusTemplateStuffing(f *testing.F) {
	f.Fuzz(func(t *testing.T, msg, sender string) {
		if strings.ContainsAny(sender, "\r\n") {
			return
		}
		tmpl := corpusTemplate(sender, true, msg)
		if tmpl.corpusTexts == nil {
			return
		}
		var scratch [][]byte
		wire, _, _ := tmpl.AppendMessage(nil, &scratch, 7, 1, 0)
		e := &ESMTP{}
		e.Prepare(tmpl)
		plain, _, _ := e.appendPlain(tmpl, nil, &scratch, 7, 1, 0)
		if got := unstuff(wire); !bytes.Equal(got, plain) {
			t.Fatalf("un-stuffed DATA %q, plain %q", got, plain)
		}
		if bytes.HasPrefix(wire, []byte(".\r\n")) || bytes.Contains(wire, []byte("\n.\r\n")) {
			t.Fatalf("a lone dot in %q", wire)
		}
	})
}

package protocol

import (
	"regexp"
	"strings"
	"testing"
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

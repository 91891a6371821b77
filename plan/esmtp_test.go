package plan

import (
	"strings"
	"testing"
)

// BDAT and SIZE= take the run's one body: with a body made per message the plan says so
// before any traffic, naming both options.
func TestESMTPRefusesAVariableBody(t *testing.T) {
	for _, c := range []struct {
		esmtp ESMTP
		msg   func(*Message)
		want  string
	}{
		{ESMTP{BDAT: true}, func(m *Message) { m.Size = "10k" }, "esmtp.bdat with message.size"},
		{ESMTP{Size: true}, func(m *Message) { m.Corpus = "/tmp/x" }, "esmtp.size with message.corpus"},
		{ESMTP{BDAT: true, Size: true}, func(m *Message) { m.Attach = "1k" }, "esmtp.bdat and esmtp.size with message.attach"},
		{ESMTP{Size: true}, func(m *Message) { m.File = &File{Content: []byte("Subject: {seq}\r\n\r\nx\r\n")} }, "message.file with tokens"},
	} {
		p := Defaults()
		p.Target = "127.0.0.1:25"
		p.Session.Greeting = GreetEHLO
		e := c.esmtp
		p.ESMTP = &e
		c.msg(&p.Message)
		err := p.validateESMTP()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error naming %q", c.esmtp, err, c.want)
		}
	}
	p := Defaults()
	p.ESMTP = &ESMTP{BDAT: true, Size: true}
	p.Message.File = &File{Content: []byte("Subject: plain\r\n\r\nx\r\n")}
	if err := p.validateESMTP(); err != nil {
		t.Errorf("a -F file without tokens: %v", err)
	}
}

package plan

import (
	"strings"
	"testing"
)

// BDAT and SIZE= take a body made per message as they take the run's one body: the plan
// is valid with each of the options that make one.
func TestESMTPTakesAVariableBody(t *testing.T) {
	for _, c := range []struct {
		esmtp ESMTP
		msg   func(*Message)
	}{
		{ESMTP{BDAT: true}, func(m *Message) { m.Size = "10k" }},
		{ESMTP{Size: true}, func(m *Message) { m.Corpus = "/tmp/x" }},
		{ESMTP{BDAT: true, Size: true, BDATChunk: 1000}, func(m *Message) { m.Size, m.Attach = "10k", "1k" }},
		{ESMTP{BDAT: true, Size: true}, func(m *Message) { m.Size, m.Body = "10k", BodyText }},
		{ESMTP{Size: true}, func(m *Message) { m.File = &File{Content: []byte("Subject: {seq}\r\n\r\nx\r\n")} }},
		{ESMTP{BDAT: true, Size: true}, func(m *Message) { m.Headers = []string{"X-Seq: {seq}"} }},
	} {
		p := Defaults()
		p.Target = "127.0.0.1:25"
		p.Session.Greeting = GreetEHLO
		e := c.esmtp
		p.ESMTP = &e
		c.msg(&p.Message)
		if err := p.validateESMTP(); err != nil {
			t.Errorf("%+v with %+v: %v", c.esmtp, p.Message, err)
		}
	}
	p := Defaults()
	p.ESMTP = &ESMTP{BDAT: true, BDATChunk: -1}
	p.Message.Size = "10k"
	if err := p.validateESMTP(); err == nil || !strings.Contains(err.Error(), "esmtp.bdat_chunk") {
		t.Errorf("a negative chunk: %v", err)
	}
}

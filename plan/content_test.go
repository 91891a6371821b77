package plan

import (
	"reflect"
	"strings"
	"testing"
)

func contentPlan(edit func(m *Message)) Plan {
	p := Defaults()
	p.Target = "127.0.0.1:25"
	edit(&p.Message)
	return p.WithDefaults()
}

// The seed and the content options travel in the plan's JSON (a cluster's workers and
// the result document get them as they were given).
func TestContentJSON(t *testing.T) {
	p := contentPlan(func(m *Message) { m.Seed, m.Size = 1<<63+5, "lognormal:median=30k,sigma=1.2" })
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	js := string(p.JSON())
	if !strings.Contains(js, `"seed":9223372036854775813`) || !strings.Contains(js, `"size":"lognormal:median=30k,sigma=1.2"`) {
		t.Fatalf("JSON %s", js)
	}
	back, err := Decode(p.JSON())
	if err != nil || !reflect.DeepEqual(back, p) {
		t.Fatalf("round trip: %v\n%+v", err, back)
	}
	if !p.Message.Randomised() || Defaults().Message.Randomised() {
		t.Fatal("Randomised")
	}
	if strings.Contains(string(Defaults().JSON()), "seed") {
		t.Fatal("a plan without content options carries a seed")
	}
}

func TestContentValidate(t *testing.T) {
	for _, tc := range []struct {
		edit func(m *Message)
		want string
	}{
		{func(m *Message) { m.Size = "lognormal:median=30k" }, "message.size: distribution"},
		{func(m *Message) { m.Size = "0" }, "sizes must be positive"},
		{func(m *Message) { m.Size = "0:50%,1k:50%" }, "sizes must be positive"},
		{func(m *Message) { m.Size, m.Length = "1k", 10 }, "neither length"},
		{func(m *Message) { m.Size, m.File = "1k", NewFile("f", []byte("x")) }, "neither length"},
		{func(m *Message) { m.Body = "lorem" }, "message.body: want"},
		{func(m *Message) { m.Body = BodyText }, "give a size"},
		{func(m *Message) { m.Headers = []string{"X-A: {nope}"} }, "unknown token {nope}"},
		{func(m *Message) { m.FromList = &AddressList{Name: "f"} }, "message.from_list f: no addresses"},
		{func(m *Message) { m.RcptList = &AddressList{Name: "r", Addresses: []string{"a b"}} }, "is not an address"},
		{func(m *Message) { m.RcptCount, m.Recipients = "1-3:100%", 2 }, "in place of recipients"},
		{func(m *Message) { m.RcptCount = "200000" }, "counts from 1"},
		{func(m *Message) { m.RcptDomains = "a:1,b" }, "message.rcpt_domains"},
	} {
		err := contentPlan(tc.edit).Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}

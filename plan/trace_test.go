package plan

import (
	"strings"
	"testing"
)

func TestTrace(t *testing.T) {
	base := Defaults()
	base.Target = "127.0.0.1:25"
	p := base
	p.Trace = &Trace{Run: "abc"}
	p = p.WithDefaults()
	if p.Trace.Header != DefaultTraceHeader {
		t.Errorf("header %q", p.Trace.Header)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	back, err := Decode(p.JSON())
	if err != nil || back.Trace == nil || *back.Trace != *p.Trace {
		t.Fatalf("decode: %v %+v", err, back.Trace)
	}
	if base.WithDefaults().Trace != nil || strings.Contains(string(base.WithDefaults().JSON()), "trace") {
		t.Errorf("an untraced plan has a trace")
	}
	other := p
	other.Trace = &Trace{Header: DefaultTraceHeader, Run: "abd"}
	if other.Fingerprint() == p.Fingerprint() {
		t.Errorf("two runs' traces, one fingerprint")
	}
	for _, tc := range []struct {
		mod  func(*Plan)
		want string
	}{
		{func(p *Plan) { p.Trace = &Trace{Header: "X-GSS-Trace", Run: ""} }, "trace.run"},
		{func(p *Plan) { p.Trace = &Trace{Header: "X-GSS-Trace", Run: "a b"} }, "trace.run"},
		{func(p *Plan) { p.Trace = &Trace{Header: "X-GSS-Trace", Run: strings.Repeat("a", 65)} }, "trace.run"},
		{func(p *Plan) { p.Trace = &Trace{Header: "X:Trace", Run: "r"} }, "trace.header"},
		{func(p *Plan) { p.Trace = &Trace{Header: "X Trace", Run: "r"} }, "trace.header"},
		{func(p *Plan) { p.Trace = &Trace{Header: "X-GSS-Trace", Run: "r"}; p.Messages = MaxTraceMessages + 1 }, "at most"},
	} {
		q := base
		tc.mod(&q)
		if err := q.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", q.Trace, err, tc.want)
		}
	}
	if id, err := NewTraceRun(); err != nil || CheckTraceRun(id) != nil || len(id) != 16 {
		t.Errorf("NewTraceRun: %q %v", id, err)
	}
}

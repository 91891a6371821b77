package sink

import "testing"

func TestParseCommand(t *testing.T) {
	tests := []struct {
		line  string
		verb  Verb
		args  string
		blank bool
		nul   bool
	}{
		{"HELO vm", VerbHELO, "vm", false, false},
		{"helo  spaced  ", VerbHELO, "spaced  ", false, false},
		{"EHLO", VerbEHLO, "", false, false},
		{"MAIL FROM:<a@b> SIZE=10", VerbMAIL, "FROM:<a@b> SIZE=10", false, false},
		{"mail from:<a@b>", VerbMAIL, "from:<a@b>", false, false},
		{"\tRCPT\tTO:<c@d>", VerbRCPT, "TO:<c@d>", false, false},
		{"DATA", VerbDATA, "", false, false},
		{"BDAT 100 LAST", VerbBDAT, "100 LAST", false, false},
		{"QUIT x", VerbQUIT, "x", false, false},
		{"XFORWARD NAME=x", VerbXFORWARD, "NAME=x", false, false},
		{"STARTTLS", VerbSTARTTLS, "", false, false},
		{"MAILX FROM:<a>", VerbUnknown, "FROM:<a>", false, false},
		{".", VerbUnknown, "", false, false},
		{"EXPN list", VerbUnknown, "list", false, false},
		{"", VerbUnknown, "", true, false},
		{"   \t ", VerbUnknown, "", true, false},
		{"NOOP\x00x", VerbUnknown, "", false, true},
		{"NOOP x\x00", VerbNOOP, "x\x00", false, true},
	}
	for _, tt := range tests {
		got := ParseCommand([]byte(tt.line))
		if got.Verb != tt.verb || string(got.Args) != tt.args || got.Blank != tt.blank || got.HasNUL != tt.nul {
			t.Errorf("ParseCommand(%q) = {%v %q blank=%v nul=%v}, want {%v %q blank=%v nul=%v}",
				tt.line, got.Verb, got.Args, got.Blank, got.HasNUL, tt.verb, tt.args, tt.blank, tt.nul)
		}
	}
}

func TestVerbByName(t *testing.T) {
	for v := VerbConnect; v < numVerbs; v++ {
		got, ok := VerbByName(v.String())
		if !ok || got != v {
			t.Errorf("VerbByName(%q) = %v, %v", v.String(), got, ok)
		}
	}
	if v, ok := VerbByName("RCPT"); !ok || v != VerbRCPT {
		t.Errorf("VerbByName is case-sensitive")
	}
	if _, ok := VerbByName("expn"); ok {
		t.Errorf("VerbByName(expn) should fail")
	}
}

func TestAppendPrintable(t *testing.T) {
	got := string(appendPrintable(nil, []byte("x\nNOOP\t\x7fé")))
	if want := "x?NOOP??é"; got != want {
		t.Errorf("appendPrintable = %q, want %q", got, want)
	}
}

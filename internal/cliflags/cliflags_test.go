package cliflags

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/spf13/pflag"
)

// Wrap breaks at spaces within the width, indents what follows, keeps a word longer than
// the width whole, and counts columns in runes.
func TestWrap(t *testing.T) {
	text := "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu × nu xi omicron pi"
	for _, width := range []int{20, 33, 50} {
		lines := Wrap(text, width, 4)
		if got := strings.Join(strings.Fields(strings.Join(lines, " ")), " "); got != text {
			t.Fatalf("width %d: words changed: %q", width, got)
		}
		for i, l := range lines {
			if utf8.RuneCountInString(l) > width {
				t.Errorf("width %d: line %q is wider", width, l)
			}
			if i > 0 && !strings.HasPrefix(l, "    ") {
				t.Errorf("width %d: continuation %q not indented", width, l)
			}
		}
	}
	long := "x " + strings.Repeat("y", 30)
	if got := Wrap(long, 10, 2); len(got) != 2 || got[1] != "  "+strings.Repeat("y", 30) {
		t.Errorf("a word wider than the line: %q", got)
	}
	if got := Wrap("short", 10, 2); len(got) != 1 || got[0] != "short" {
		t.Errorf("a short line: %q", got)
	}
}

// A value's type is the spec's word, else the usage's back-quoted one, else one from its
// Go type that is not Go's name for it; a switch has none.
func TestValueType(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.String("named", "", "read `file`")
	fs.String("typed", "", "no name")
	fs.String("plain", "", "no name")
	fs.Int("n", 0, "a number")
	fs.Duration("d", 0, "a duration")
	fs.StringSlice("l", nil, "a list")
	fs.Bool("b", false, "a switch")
	fs.CountP("verbose", "v", "a count")
	s := Spec{Types: map[string]string{"typed": "duration"}}
	for name, want := range map[string]string{"named": "file", "typed": "duration", "plain": "value", "n": "N",
		"d": "duration", "l": "list", "b": "", "verbose": ""} {
		if got := s.ValueType(fs.Lookup(name)); got != want {
			t.Errorf("--%s: %q, want %q", name, got, want)
		}
	}
}

// Write lists grouped options under their heading, the rest under Others, and refuses a
// group that names an option the set lacks; Description adds a default that is not zero.
func TestWriteGroups(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.IntP("sessions", "s", 1, "`count` of sessions")
	fs.String("timeout", "300s", "longest wait")
	fs.Bool("quiet", false, "say nothing")
	s := Spec{Program: "prog", Usage: []string{"[options] host"}, Others: "Other options",
		Groups:   []Group{{Title: "Main", Names: []string{"sessions", "timeout"}}},
		Types:    map[string]string{"timeout": "duration"},
		Sections: []Section{{Title: "Examples", Lines: []string{"prog -s 2 host"}}}}
	var b bytes.Buffer
	if err := s.Write(&b, fs); err != nil {
		t.Fatal(err)
	}
	want := "usage: prog [options] host\n\nMain:\n" +
		"  -s, --sessions count        count of sessions (default 1)\n" +
		"      --timeout duration      longest wait (default 300s)\n\n" +
		"Other options:\n      --quiet                 say nothing\n\nExamples:\n  prog -s 2 host\n"
	if b.String() != want {
		t.Errorf("help:\n%s\nwant:\n%s", b.String(), want)
	}
	s.Groups = append(s.Groups, Group{Title: "Gone", Names: []string{"removed"}})
	if err := s.Write(&b, fs); err == nil || !strings.Contains(err.Error(), "--removed") {
		t.Errorf("a stale group: %v", err)
	}
	if err := s.Completion(&b, "fish", fs); err == nil {
		t.Errorf("completion for fish: no error")
	}
}

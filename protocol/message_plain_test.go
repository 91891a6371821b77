package protocol

import "testing"

// Un-stuffing takes out exactly the dot that dot-stuffing (FileContent, corpus.WireForm)
// put before a line starting with one: the first line, lines after LF, a line of one dot,
// runs of dots; nothing else (a dot inside a line, after a bare CR).
func TestUnstuff(t *testing.T) {
	for in, want := range map[string]string{
		"":                            "",
		".":                           "",
		"..\r\n":                      ".\r\n",
		"..a\r\nb.c\r\n...d\r\n":      ".a\r\nb.c\r\n..d\r\n",
		"a\r\n.\r\n..\r\n":            "a\r\n\r\n.\r\n",
		"x\r.y\r\n.\n..z":             "x\r.y\r\n\n.z",
		"no dots\r\nat all\r\n":       "no dots\r\nat all\r\n",
		"\r\n..\r\n..\r\n..\r\n\r\n.": "\r\n.\r\n.\r\n.\r\n\r\n",
	} {
		if got := unstuff([]byte(in)); string(got) != want {
			t.Errorf("unstuff(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]bool{"a\r\n..b\r\n": true, "..x": true, "x\n..": true, "x\r\n": false, "x.y\r\n": false} {
		if got := stuffed([][]byte{[]byte(in)}); got != want {
			t.Errorf("stuffed(%q) = %v, want %v", in, got, want)
		}
	}
}

package corpus

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// unstuff is what a server makes of a wire form: the final dot gone, leading dots
// un-stuffed, CRLF as LF.
func unstuff(w []byte) []byte {
	w = bytes.TrimSuffix(w, []byte(".\r\n"))
	var out []byte
	for _, line := range bytes.SplitAfter(w, []byte("\r\n")) {
		if len(line) == 0 {
			continue
		}
		line = bytes.TrimPrefix(line, []byte("."))
		out = append(out, bytes.TrimSuffix(line, []byte("\r\n"))...)
		out = append(out, '\n')
	}
	return out
}

func TestWireForm(t *testing.T) {
	in := []byte("a\r\n.b\nc\n.\n" + strings.Repeat("x", 1500) + "\n\xff")
	w := WireForm(in)
	if !bytes.HasSuffix(w, []byte("\r\n\xff\r\n.\r\n")) || !bytes.Contains(w, []byte("\r\n..b\r\nc\r\n..\r\n")) ||
		bytes.Contains(bytes.ReplaceAll(w, []byte("\r\n"), nil), []byte("\n")) {
		t.Fatalf("%q", w[:40])
	}
	if got := unstuff(w); string(got) != "a\n.b\nc\n.\n"+strings.Repeat("x", 1500)+"\n\xff\n" {
		t.Fatalf("%q", got)
	}
}

func TestStripHeaders(t *testing.T) {
	m := "From: a\nSubject: s\nMessage-ID: <x>\n\tfolded\nDATE: d\nTo: b\n\nFrom: body\nDate: body\n"
	if got := string(StripHeaders([]byte(m), Keep{})); got != "Subject: s\n\nFrom: body\nDate: body\n" {
		t.Fatalf("%q", got)
	}
	if got := string(StripHeaders([]byte(m), Keep{Addr: true})); got != "From: a\nSubject: s\nTo: b\n\nFrom: body\nDate: body\n" {
		t.Fatalf("kept: %q", got)
	}
	if got := string(StripHeaders([]byte(m), Keep{MessageID: true})); got != "Subject: s\nMessage-ID: <x>\n\tfolded\n\nFrom: body\nDate: body\n" {
		t.Fatalf("Message-Id kept: %q", got)
	}
	if got := string(StripHeaders([]byte(m), Keep{Addr: true, MessageID: true})); got != "From: a\nSubject: s\nMessage-ID: <x>\n\tfolded\nTo: b\n\nFrom: body\nDate: body\n" {
		t.Fatalf("all kept: %q", got)
	}
}

func TestLoad(t *testing.T) {
	md := t.TempDir()
	for _, d := range []string{"cur", "new", "tmp"} {
		os.Mkdir(filepath.Join(md, d), 0o700)
	}
	os.WriteFile(filepath.Join(md, "cur", "1"), []byte("Subject: 1\n\nx\n"), 0o600)
	os.WriteFile(filepath.Join(md, "new", "2"), []byte("Subject: 2\n\ny\n"), 0o600)
	os.WriteFile(filepath.Join(md, "tmp", "3"), []byte("Subject: 3\n\nz\n"), 0o600)
	got, err := Load(md, Keep{})
	if err != nil || len(got) != 2 || string(got[0]) != "Subject: 1\r\n\r\nx\r\n.\r\n" || string(got[1]) != "Subject: 2\r\n\r\ny\r\n.\r\n" {
		t.Fatalf("Maildir: %q %v", got, err)
	}
	box := filepath.Join(t.TempDir(), "m")
	os.WriteFile(box, []byte("From a\nS: 1\n\n>From x\n>>From y\nFrom b\nS: 2\n"), 0o600)
	got, err = Load(box, Keep{})
	if err != nil || len(got) != 2 || string(got[0]) != "S: 1\r\n\r\nFrom x\r\n>From y\r\n.\r\n" {
		t.Fatalf("mbox: %q %v", got, err)
	}
	for _, bad := range []string{filepath.Join(md, "none"), filepath.Join(md, "tmp", "3"), t.TempDir()} {
		if _, err := Load(bad, Keep{}); err == nil {
			t.Errorf("%s: loaded", bad)
		}
	}
}

func FuzzWireForm(f *testing.F) {
	for _, s := range []string{"a\nb", ".\n..\r\n", "From x\n>From y\n", "\r\r\n\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, m []byte) {
		for _, msg := range SplitMbox(m) {
			StripHeaders(msg, Keep{})
		}
		w := WireForm(m)
		if !bytes.HasSuffix(w, []byte(".\r\n")) {
			t.Fatal("no final dot")
		}
		body := w[:len(w)-3]
		for _, line := range bytes.SplitAfter(body, []byte("\r\n")) {
			if len(line) > 0 && !bytes.HasSuffix(line, []byte("\r\n")) || bytes.Contains(bytes.TrimSuffix(line, []byte("\r\n")), []byte("\n")) {
				t.Fatalf("line %q", line)
			}
			if bytes.Equal(line, []byte(".\r\n")) {
				t.Fatal("a lone dot inside the message")
			}
		}
		want := bytes.ReplaceAll(m, []byte("\r\n"), []byte("\n"))
		if len(want) > 0 && want[len(want)-1] != '\n' {
			want = append(want, '\n')
		}
		if got := unstuff(w); !bytes.Equal(got, want) && !bytes.Contains(m, []byte("\r")) {
			t.Fatalf("%q came back as %q", m, got)
		}
	})
}

package protocol

import (
	"strings"
	"testing"
	"time"
)

func TestLengthContent(t *testing.T) {
	line := func(d byte) string { return string(d) + strings.Repeat("X", 77) + "\r\n" }
	tests := []struct {
		n    int
		want string
	}{
		{1, "X\r\n"},
		{79, strings.Repeat("X", 79) + "\r\n"},
		{80, strings.Repeat("X", 80) + "\r\n"},
		{81, line('1') + "X\r\n"},
		{160, line('1') + strings.Repeat("X", 80) + "\r\n"},
		{200, line('1') + line('2') + strings.Repeat("X", 40) + "\r\n"},
		{1000, line('1') + line('2') + line('3') + line('4') + line('5') + line('6') + line('7') + line('8') + line('9') + line('0') + line('1') + line('2') + strings.Repeat("X", 40) + "\r\n"},
	}
	for _, tc := range tests {
		if got := string(LengthContent(tc.n)); got != tc.want {
			t.Errorf("-l %d:\n got %q\nwant %q", tc.n, got, tc.want)
		}
	}
	if got := len(LengthContent(1000000)); got != 1000002 {
		t.Errorf("-l 1000000: %d bytes, want 1000002", got)
	}
}

func TestFileContent(t *testing.T) {
	tests := []struct{ name, file, want string }{
		{"empty file falls back to La de da", "", string(DefaultContent())},
		{"dot-stuffing, kept CR, last line without newline, extra CRLF", "Subject: from file\n\n..leading dot\nline2\r\nlast-no-newline",
			"Subject: from file\r\n\r\n...leading dot\r\nline2\r\r\nlast-no-newline\r\n\r\n"},
		{"lone dot line", ".\n", "..\r\n\r\n"},
		{"one newline", "\n", "\r\n\r\n"},
	}
	for _, tc := range tests {
		if got := string(FileContent([]byte(tc.file))); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

func TestRecipientNumbering(t *testing.T) {
	tests := []struct {
		name string
		spec MessageSpec
		seq  int64
		want string // the message's RCPT addresses, and its To: header
		to   string
	}{
		{"3.7 -r 3", MessageSpec{Recipient: "foo@vm", Recipients: 3, Numbering: NumberingPostfix37}, 1, "3foo@vm 2foo@vm foo@vm", "foo@vm"},
		{"3.7 -r 1", MessageSpec{Recipient: "foo@vm", Recipients: 1, Numbering: NumberingPostfix37}, 5, "foo@vm", "foo@vm"},
		{"3.7 -N -m 2, second message", MessageSpec{Recipient: "foo@vm", Recipients: 1, NumberRecipients: true, Numbering: NumberingPostfix37}, 2, "2foo@vm", "foo@vm"},
		{"3.7 -d -N -r 3, second message", MessageSpec{Recipient: "foo@vm", Recipients: 3, NumberRecipients: true, Numbering: NumberingPostfix37}, 2, "4foo@vm 5foo@vm 6foo@vm", "foo@vm"},
		{"3.9 -r 3 implies -N, from 0", MessageSpec{Recipient: "foo@vm", Recipients: 3}, 1, "foo0@vm foo1@vm foo2@vm", "foo2@vm"},
		{"3.9 -N second message", MessageSpec{Recipient: "foo@vm", Recipients: 1, NumberRecipients: true}, 2, "foo1@vm", "foo1@vm"},
		{"3.9 -r 1 unnumbered", MessageSpec{Recipient: "foo@vm", Recipients: 1}, 9, "foo@vm", "foo@vm"},
		{"3.9 address without domain", MessageSpec{Recipient: "postmaster", Recipients: 2}, 1, "postmaster0 postmaster1", "postmaster1"},
	}
	for _, tc := range tests {
		tc.spec.Headers = true
		tmpl := NewTemplate(tc.spec)
		var got []string
		for i := 0; i < tc.spec.Recipients; i++ {
			got = append(got, string(tmpl.AppendRecipient(nil, tc.seq, i)))
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%s: recipients %q, want %q", tc.name, got, tc.want)
		}
		hdr := string(tmpl.AppendHeaders(nil, tc.seq, 0))
		if !strings.Contains(hdr, "\r\nTo: <"+tc.to+">\r\n") {
			t.Errorf("%s: headers %q, want To: <%s>", tc.name, hdr, tc.to)
		}
	}
}

func TestTemplateHeadersAndBody(t *testing.T) {
	subject, ignored, empty := "Hello subject", "ignored", ""
	tmpl := NewTemplate(MessageSpec{Sender: "", Recipient: "b@y", Recipients: 1, Headers: true, Hostname: "[127.0.0.1]",
		Subject: &subject, Date: "D", PID: 0x53ad, Content: DefaultContent()})
	if got, want := string(tmpl.AppendHeaders(nil, 0x1234567, 3)),
		"From: <>\r\nTo: <b@y>\r\nDate: D\r\nMessage-Id: <53ad.0003.1234567@[127.0.0.1]>\r\n"; got != want {
		t.Errorf("headers %q, want %q", got, want)
	}
	if got, want := string(tmpl.Body()), "Subject: Hello subject\r\n\r\n"+string(DefaultContent())+".\r\n"; got != want {
		t.Errorf("body %q, want %q", got, want)
	}
	if got := string(tmpl.MailCommand()); got != "MAIL FROM:<>\r\n" {
		t.Errorf("mail %q", got)
	}
	// -o / -F: no headers at all; the subject is ignored.
	bare := NewTemplate(MessageSpec{Recipient: "b", Subject: &ignored, Content: []byte("x\r\n")})
	if h := bare.AppendHeaders(nil, 1, 1); len(h) != 0 || string(bare.Body()) != "x\r\n.\r\n" {
		t.Errorf("headerless: %q %q", h, bare.Body())
	}
	// -S '': smtp-source sends an empty Subject header.
	if got := string(NewTemplate(MessageSpec{Headers: true, Subject: &empty}).Body()); got != "Subject: \r\n\r\n.\r\n" {
		t.Errorf("-S '': body %q", got)
	}
}

func TestFormatDate(t *testing.T) {
	ist := time.FixedZone("IST", 5*3600+1800)
	nst := time.FixedZone("NST", -(3*3600 + 1800))
	for _, tc := range []struct {
		t    time.Time
		want string
	}{
		{time.Date(2026, 11, 28, 23, 14, 50, 0, ist), "Sat, 28 Nov 2026 23:14:50 +0530 (IST)"},
		{time.Date(2026, 12, 5, 1, 2, 3, 0, nst), "Sat,  5 Dec 2026 01:02:03 -0330 (NST)"},
		{time.Date(2026, 11, 28, 17, 40, 54, 0, time.UTC), "Sat, 28 Nov 2026 17:40:54 +0000 (UTC)"},
	} {
		if got := FormatDate(tc.t); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

// A -l body is sent from a shared pattern, in pieces, byte for byte what LengthContent
// renders; its memory does not grow with -l.
func TestLengthPieces(t *testing.T) {
	subject := "s"
	for _, n := range []int{1, 79, 80, 81, 160, 799, 800, 801, lengthPattern - 1, lengthPattern, lengthPattern + 1,
		lengthPattern + 80, lengthPattern + 81, 2*lengthPattern + 1, 1000000} {
		for _, headers := range []bool{false, true} {
			tmpl := NewTemplate(MessageSpec{Headers: headers, Subject: &subject, Length: n})
			want := string(LengthContent(n)) + ".\r\n"
			if headers {
				want = "Subject: s\r\n\r\n" + want
			}
			if got := string(tmpl.Body()); got != want || tmpl.BodyLen() != len(want) {
				t.Fatalf("-l %d (headers %v): %d bytes (BodyLen %d), want %d; equal %v", n, headers, len(got), tmpl.BodyLen(), len(want), got == want)
			}
		}
	}
	big := NewTemplate(MessageSpec{Length: 1<<31 - 1})
	size, shared := 0, big.BodyPieces()[0]
	for _, p := range big.BodyPieces() {
		if len(p) == lengthPattern && &p[0] != &shared[0] {
			t.Fatal("the pattern is not shared")
		}
		if len(p) != lengthPattern {
			size += len(p)
		}
	}
	if big.BodyLen() != 1<<31-1+5 || size > 2*lengthPattern {
		t.Fatalf("-l 2147483647: BodyLen %d, %d bytes besides the shared pattern", big.BodyLen(), size)
	}
}

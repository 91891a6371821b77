package protocol

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"testing"
)

func sizedTemplate(size func(int64) int) *Template {
	subject := "s"
	return NewTemplate(MessageSpec{Sender: "a@x", Recipient: "b@y", Recipients: 1, Headers: true, Hostname: "h",
		Date: "d", PID: 1, Subject: &subject, Size: size})
}

// A body of MessageSpec.Size makes the message, headers included, exactly that size, in
// -l's layout; sizes below the headers give one line.
func TestAppendMessageSized(t *testing.T) {
	tmpl := sizedTemplate(func(seq int64) int { return int(seq) })
	var scratch [][]byte
	headers := len(tmpl.AppendHeaders(nil, 1, 0))
	for _, size := range []int{1, headers + 9, headers + 12, headers + 100, headers + 12 + 80, headers + 12 + 64000*2 + 7, 3 << 20} {
		seq := int64(size)
		dst, body, n := tmpl.AppendMessage(nil, &scratch, seq, 0, 0)
		joined := bytes.Join(body, nil)
		if n != len(joined) || !bytes.HasSuffix(joined, []byte("\r\n.\r\n")) {
			t.Fatalf("size %d: body length %d, joined %d, ends %q", size, n, len(joined), joined[max(0, len(joined)-8):])
		}
		msg := append(dst, joined[:len(joined)-3]...) // without the final ".\r\n"
		content := joined[len("Subject: s\r\n\r\n") : len(joined)-5]
		if want := LengthContent(len(content)); !bytes.Equal(append(content, "\r\n"...), want) {
			t.Fatalf("size %d: the body is not -l %d's layout", size, len(content))
		}
		if min := len(dst) + len("Subject: s\r\n\r\nX\r\n"); len(msg) != max(size, min) {
			t.Fatalf("size %d: message of %d bytes", size, len(msg))
		}
	}
}

// A sized message allocates nothing once the caller's scratch has grown.
func TestAppendMessageSizedAllocations(t *testing.T) {
	tmpl := sizedTemplate(func(seq int64) int { return 1000 + int(seq%7)*70000 })
	var scratch [][]byte
	dst := make([]byte, 0, 4096)
	seq := int64(0)
	tmpl.AppendMessage(dst, &scratch, 6, 0, 0)
	if a := testing.AllocsPerRun(1000, func() {
		seq++
		tmpl.AppendMessage(dst[:0], &scratch, seq, 1, 0)
	}); a != 0 {
		t.Fatalf("%g allocations per message", a)
	}
}

// message renders message seq of tmpl whole, up to the final dot (excluded).
func renderMessage(tmpl *Template, seq int64) []byte {
	var scratch [][]byte
	dst, body, _ := tmpl.AppendMessage(nil, &scratch, seq, 0, 0)
	msg := append(dst, bytes.Join(body, nil)...)
	return msg[:len(msg)-3]
}

// --attach and --body random make MIME multipart messages that a MIME parser reads: a
// text part and a base64 attachment of the drawn size in lines of at most 76; the
// message is the drawn size.
func TestAppendMessageMIME(t *testing.T) {
	for _, tc := range []struct {
		body   BodyKind
		attach func(int64) int
	}{
		{BodyText, func(seq int64) int { return int(seq) % 5000 }},
		{BodySMTPSource, func(seq int64) int { return 3*int(seq) + 1 }},
		{BodyRandom, nil},
	} {
		for _, size := range []int{600, 1000, 4321, 100000} {
			for seq := int64(1); seq <= 3; seq++ {
				subject := "s"
				tmpl := NewTemplate(MessageSpec{Sender: "a@x", Recipient: "b@y", Recipients: 1, Headers: true, Hostname: "h",
					Date: "d", PID: 1, Subject: &subject, Size: func(int64) int { return size }, Body: tc.body, Attach: tc.attach, Seed: 9})
				msg := renderMessage(tmpl, seq)
				want := -1
				if tc.attach != nil {
					want = tc.attach(seq)
				}
				checkMIME(t, msg, want)
				if len(msg) != size && (tc.attach == nil || tmpl.attachLen(want) < size-300) {
					t.Fatalf("body %d size %d seq %d: %d bytes", tc.body, size, seq, len(msg))
				}
			}
		}
	}
}

func checkMIME(t *testing.T, msg []byte, attach int) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || m.Header.Get("Subject") != "s" {
		t.Fatalf("headers %v: %v", m.Header, err)
	}
	r := multipart.NewReader(m.Body, params["boundary"])
	text, err := r.NextRawPart()
	if err != nil || text.Header.Get("Content-Type") != "text/plain; charset=us-ascii" {
		t.Fatalf("text part: %v", err)
	}
	part, err := r.NextRawPart()
	if err != nil || part.Header.Get("Content-Transfer-Encoding") != "base64" {
		t.Fatalf("attachment: %v", err)
	}
	raw, _ := io.ReadAll(part)
	for _, line := range bytes.Split(raw, []byte("\r\n")) {
		if len(line) > 76 {
			t.Fatalf("base64 line of %d", len(line))
		}
	}
	data, err := io.ReadAll(base64.NewDecoder(base64.StdEncoding, bytes.NewReader(bytes.ReplaceAll(raw, []byte("\r\n"), nil))))
	if err != nil || attach >= 0 && len(data) != attach {
		t.Fatalf("attachment of %d bytes, want %d: %v", len(data), attach, err)
	}
	if _, err := r.NextRawPart(); err != io.EOF {
		t.Fatalf("after the attachment: %v", err)
	}
}

// --body text is lines of words, a different stretch of them per message.
func TestAppendMessageText(t *testing.T) {
	tmpl := NewTemplate(MessageSpec{Sender: "a@x", Recipient: "b@y", Recipients: 1, Headers: true, Hostname: "h",
		Date: "d", PID: 1, Size: func(int64) int { return 5000 }, Body: BodyText, Seed: 3})
	a, b := renderMessage(tmpl, 1), renderMessage(tmpl, 2)
	if len(a) != 5000 || len(b) != 5000 {
		t.Fatalf("sizes %d, %d", len(a), len(b))
	}
	bodyA, bodyB := a[bytes.Index(a, []byte("\r\n\r\n"))+4:], b[bytes.Index(b, []byte("\r\n\r\n"))+4:]
	if bytes.Equal(bodyA, bodyB) {
		t.Fatal("two messages with the same text")
	}
	for _, line := range bytes.Split(bytes.TrimSuffix(bodyA, []byte("\r\n")), []byte("\r\n")) {
		if len(line) == 0 || len(line) > 80 || bytes.Trim(line, "abcdefghijklmnopqrstuvwxyz. ") != nil && len(bytes.Trim(line, "abcdefghijklmnopqrstuvwxyz. ")) > 0 {
			t.Fatalf("line %q", line)
		}
	}
	if words := bytes.Fields(bodyA); len(words) < 500 {
		t.Fatalf("%d words", len(words))
	}
}

// With -o (no generated headers) a sized body is the whole message, no empty piece.
func TestAppendMessageSizedNoHeaders(t *testing.T) {
	tmpl := NewTemplate(MessageSpec{Sender: "a@x", Recipient: "b@y", Recipients: 1, Size: func(int64) int { return 500 }})
	var scratch [][]byte
	dst, body, n := tmpl.AppendMessage(nil, &scratch, 1, 0, 0)
	for _, p := range body {
		if len(p) == 0 {
			t.Fatal("an empty piece")
		}
	}
	if len(dst) != 0 || n != 503 || len(bytes.Join(body, nil)) != 503 {
		t.Fatalf("%d header bytes, body %d", len(dst), n)
	}
}

// A corpus message is generated headers and the shared corpus slice: nothing allocated.
func TestAppendMessageCorpus(t *testing.T) {
	corpus := [][]byte{[]byte("Subject: a\r\n\r\nx\r\n.\r\n"), []byte("Subject: b\r\n\r\ny\r\n.\r\n")}
	tmpl := NewTemplate(MessageSpec{Sender: "a@x", Recipient: "b@y", Recipients: 1, Headers: true, Hostname: "h",
		Date: "d", PID: 1, Corpus: corpus, ExtraHeaders: []string{"X-N: {seq}"}})
	var scratch [][]byte
	dst, body, n := tmpl.AppendMessage(nil, &scratch, 2, 0, 0)
	if string(dst) != "From: <a@x>\r\nTo: <b@y>\r\nDate: d\r\nMessage-Id: <0001.0000.0002@h>\r\nX-N: 2\r\n" ||
		len(body) != 1 || &body[0][0] != &corpus[1][0] || n != len(corpus[1]) {
		t.Fatalf("%q %q", dst, body)
	}
	buf := make([]byte, 0, 1024)
	if a := testing.AllocsPerRun(1000, func() { tmpl.AppendMessage(buf[:0], &scratch, 3, 0, 0) }); a != 0 {
		t.Fatalf("%g allocations per message", a)
	}
}

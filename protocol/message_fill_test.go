package protocol

import (
	"bytes"
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

package protocol

import (
	"bytes"
	"encoding/base64"
	"math/rand/v2"
)

// BodyKind is what a generated body is made of (--body).
type BodyKind uint8

const (
	BodySMTPSource BodyKind = iota // smtp-source's -l lines: a digit and 'X's
	BodyText                       // readable words, so that filters and compressors see text
	BodyRandom                     // base64 of random bytes, in a MIME attachment
)

// filler is a body layout that any length is cut from without rendering: a pattern of
// whole lines (lineLen bytes each, CRLF included), repeated, then the last line taken
// from the end of tail, which is up to lineLen bytes of line content and then end.
type filler struct {
	pattern []byte
	tail    []byte
	lineLen int
	endLen  int
	vary    bool // each message starts at a line of the pattern its draw picks
}

// dotEnd is what ends a filled body: the last line's CRLF and the final dot.
const dotEnd = "\r\n.\r\n"

// fillerPattern is about how much of a pattern one piece holds.
const fillerPattern = 64000

// lengthFiller is smtp-source's -l layout (LengthContent): 80-byte lines of a digit and
// 'X's, the last chunk plain 'X'.
func lengthFiller() filler {
	tail := append(bytes.Repeat([]byte{'X'}, 80), dotEnd...)
	return filler{pattern: LengthContent(lengthPattern + 1)[:lengthPattern], tail: tail, lineLen: 80, endLen: len(dotEnd)}
}

// textWords are the words text bodies are made of.
var textWords = []string{"the", "message", "server", "queue", "delivery", "of", "and", "a", "mail", "to",
	"report", "meeting", "tomorrow", "please", "find", "attached", "invoice", "for", "your", "order",
	"thanks", "regards", "about", "project", "update", "on", "with", "we", "will", "review", "status",
	"week", "team", "customer", "account", "payment", "schedule", "notes", "draft", "final"}

// textFiller is readable text: lines of words, 78 characters and CRLF, from a pattern
// the seed picks; end follows the last line.
func textFiller(seed uint64, end string) filler {
	rng := rand.New(rand.NewPCG(seed, 0x7465787442))
	line := make([]byte, 0, 80)
	var pattern []byte
	for len(pattern) < fillerPattern {
		line = line[:0]
		for len(line) < 78 {
			w := textWords[rng.IntN(len(textWords))]
			if len(line) > 0 {
				line = append(line, ' ')
			}
			line = append(line, w...)
		}
		line = append(line[:78], '\r', '\n')
		if line[77] == ' ' {
			line[77] = '.'
		}
		pattern = append(pattern, line...)
	}
	tail := append(append([]byte(nil), pattern[:78]...), "  "...)
	tail = append(tail, end...)
	return filler{pattern: pattern, tail: tail, lineLen: 80, endLen: len(end), vary: true}
}

// base64Filler is base64 of random bytes the seed picks: 76 characters and CRLF a line
// (RFC 2045), whole 4-character groups; end follows the last line.
func base64Filler(seed uint64, end string) filler {
	rng := rand.New(rand.NewPCG(seed, 0x62363442))
	raw := make([]byte, 57)
	var pattern []byte
	for len(pattern) < fillerPattern {
		for i := range raw {
			raw[i] = byte(rng.Uint32())
		}
		pattern = base64.StdEncoding.AppendEncode(pattern, raw)
		pattern = append(pattern, '\r', '\n')
	}
	tail := append(append([]byte(nil), pattern[:76]...), end...)
	return filler{pattern: pattern, tail: tail, lineLen: 78, endLen: len(end), vary: true}
}

// appendPieces appends n bytes counted as LengthContent counts them (n ≥ 1: whole lines
// with their CRLF, then a last line of 1…lineLen bytes; end comes on top) from the
// pattern, starting at the line draw picks when the filler varies.
func (f *filler) appendPieces(pieces [][]byte, n int, draw uint64) [][]byte {
	full := (n - 1) / f.lineLen
	rest := full * f.lineLen
	off := 0
	if f.vary {
		off = int(draw%uint64(len(f.pattern)/f.lineLen)) * f.lineLen
	}
	for rest > 0 {
		chunk := min(rest, len(f.pattern)-off)
		pieces = append(pieces, f.pattern[off:off+chunk])
		rest -= chunk
		off = 0
	}
	last := n - full*f.lineLen
	return append(pieces, f.tail[len(f.tail)-f.endLen-last:])
}

// mimeBoundary separates the parts of a generated multipart message: '_' is in no base64
// line and no word of a text body.
const mimeBoundary = "=_gss_part_="

// mimeHead follows the Subject header of a multipart message: its MIME headers, the
// blank line, and the first part's (text) headers.
const mimeHead = "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"" + mimeBoundary + "\"\r\n\r\n" +
	"--" + mimeBoundary + "\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"

// mimeAttach starts the attachment part.
const mimeAttach = "--" + mimeBoundary + "\r\nContent-Type: application/octet-stream\r\n" +
	"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"data.bin\"\r\n\r\n"

// mimeClose ends the attachment of n bytes by n%3: the last group, when n is not a
// multiple of 3, on a line of its own; then the closing boundary and the final dot.
var mimeClose = [3]string{
	"--" + mimeBoundary + "--\r\n.\r\n",
	"AA==\r\n--" + mimeBoundary + "--\r\n.\r\n",
	"AAA=\r\n--" + mimeBoundary + "--\r\n.\r\n",
}

// b64Span is the bytes of c base64 characters (a multiple of 4) in 76-character lines,
// counted as appendPieces counts them (without the last CRLF).
func b64Span(c int) int { return c + 2*((c-1)/76) }

// attachLen is the bytes of an attachment part of n bytes, closing boundary included,
// final dot not (as sizes count).
func (t *Template) attachLen(n int) int {
	size := len(mimeAttach) + len(mimeClose[n%3]) - len(".\r\n")
	if c := 4 * (n / 3); c > 0 {
		size += b64Span(c) + 2
	}
	return size
}

// appendAttach appends an attachment part of n bytes to pieces.
func (t *Template) appendAttach(pieces [][]byte, n int, draw uint64) [][]byte {
	pieces = append(pieces, t.mimeAttach)
	if c := 4 * (n / 3); c > 0 {
		pieces = t.b64.appendPieces(pieces, b64Span(c), draw)
	}
	return append(pieces, t.mimeClose[n%3])
}

// randomAttachment is the largest attachment whose part fits in room bytes (0 when none
// does).
func (t *Template) randomAttachment(room int) int {
	n := max(room*57/78, 0)
	for n > 0 && t.attachLen(n) > room {
		n--
	}
	return n
}

// AppendMessage appends message seq's own bytes to dst (the trace header and the
// headers, see AppendTraceHeader and AppendHeaders) and returns the body that follows
// them, up to and including ".\r\n", and its length. A fixed body is the template's
// shared pieces, a corpus message without tokens its shared slice (one with tokens, as a
// templated file, is rendered into dst and its body is the final dot); a body of
// MessageSpec.Size is cut from shared patterns into *scratch (kept by the caller, reused
// from one message to the next, so that nothing is allocated once it has grown). The
// body's pieces must not be modified.
func (t *Template) AppendMessage(dst []byte, scratch *[][]byte, seq int64, slot int, now int64) ([]byte, [][]byte, int) {
	start := len(dst)
	dst = t.AppendTraceHeader(dst, seq, now)
	dst = t.AppendHeaders(dst, seq, slot)
	if c := t.spec.Corpus; c != nil {
		i := t.corpusIndex(seq)
		if t.corpusTexts != nil && t.corpusTexts[i] != nil {
			return t.appendWireText(dst, t.corpusTexts[i], seq), finalDot, len(".\r\n")
		}
		pieces := append((*scratch)[:0], c[i])
		*scratch = pieces
		return dst, pieces, len(c[i])
	}
	if t.dotBody != nil {
		return t.appendFile(dst, seq, slot), t.dotBody, len(".\r\n")
	}
	if t.spec.Size == nil {
		return dst, t.body, t.bodyLen
	}
	// The size counts everything up to the final dot: the headers just written, the head,
	// the text and its last CRLF, and the attachment.
	room := t.spec.Size(seq) - (len(dst) - start) - len(t.head)
	draw := uint64(seq)*0x9E3779B97F4A7C15 ^ t.spec.Seed
	pieces := (*scratch)[:0]
	if len(t.head) > 0 { // -o: no head
		pieces = append(pieces, t.head)
	}
	attach := -1
	switch {
	case t.spec.Attach != nil:
		attach = t.spec.Attach(seq)
	case t.spec.Body == BodyRandom:
		attach = t.randomAttachment(room - 3) // the text's CRLF and at least one character
	}
	text := room - 2
	if attach >= 0 {
		text -= t.attachLen(attach)
	}
	text = max(text, 1)
	pieces = t.fill.appendPieces(pieces, text, draw)
	n := len(t.head) + text + t.fill.endLen
	if attach >= 0 {
		pieces = t.appendAttach(pieces, attach, draw>>7)
		n += t.attachLen(attach) + len(".\r\n")
	}
	*scratch = pieces
	return dst, pieces, n
}

// corpusIndex is the corpus message that message seq sends: each in turn, or drawn.
func (t *Template) corpusIndex(seq int64) int {
	n := uint64(len(t.spec.Corpus))
	if t.spec.CorpusRandom {
		return int(tokenHash(t.spec.Seed, seq, 1<<30) % n)
	}
	return int(uint64(seq-1) % n)
}

// renderFilled prepares the patterns of bodies of Size; head is the Subject (if any) and
// the blank line.
func (t *Template) renderFilled(head []byte) {
	spec := &t.spec
	mime := spec.Attach != nil || spec.Body == BodyRandom
	end := dotEnd
	if mime {
		if len(head) >= 2 {
			head = head[:len(head)-2] // the MIME headers go before the blank line
		}
		head = append(head, mimeHead...)
		end = "\r\n"
		t.b64 = base64Filler(spec.Seed, "\r\n")
		t.mimeAttach = []byte(mimeAttach)
		for i, c := range mimeClose {
			t.mimeClose[i] = []byte(c)
		}
	}
	t.head = head
	switch spec.Body {
	case BodyText, BodyRandom:
		t.fill = textFiller(spec.Seed, end)
	default:
		t.fill = lengthFiller()
		t.fill.tail = append(t.fill.tail[:80:80], end...)
		t.fill.endLen = len(end)
	}
}

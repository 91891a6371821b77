package protocol

import "bytes"

// A message in plain form is what BDAT sends (RFC 3030) and SIZE= counts (RFC 1870):
// its octets with CRLF line ends, without the dot-stuffing DATA adds and without the
// final ".\r\n". A body made per message is cut or rendered as for DATA, from parts
// whose dot-stuffing was taken out once (ESMTP.Prepare), so that the server stores the
// same bytes either way.

// emptyBody is the body of a message whose content is all in its own bytes (a templated
// file): not nil, so that the driver still sees a message body go out. Read-only.
var emptyBody = [][]byte{}

// finalDot is the body of a message in wire form whose content is all in its own bytes
// (a corpus message with tokens). Read-only.
var finalDot = [][]byte{[]byte(".\r\n")}

// appendPlain appends message seq's own bytes to dst, as Template.AppendMessage does, and
// returns the body that follows them in plain form and its length. scratch is the
// caller's, as for AppendMessage, and must not hold pieces still waiting to be sent.
// Nothing is allocated once dst and scratch have grown. e must have been prepared.
func (e *ESMTP) appendPlain(t *Template, dst []byte, scratch *[][]byte, seq int64, slot int, now int64) ([]byte, [][]byte, int) {
	switch {
	case t.spec.Corpus != nil:
		dst = t.AppendTraceHeader(dst, seq, now)
		dst = t.AppendHeaders(dst, seq, slot)
		i := t.corpusIndex(seq)
		if e.corpusTexts != nil && e.corpusTexts[i] != nil {
			return t.appendText(dst, e.corpusTexts[i], seq), emptyBody, 0
		}
		b := e.corpus[i]
		pieces := append((*scratch)[:0], b)
		*scratch = pieces
		return dst, pieces, len(b)
	case t.dotBody != nil:
		dst = t.AppendTraceHeader(dst, seq, now)
		dst = t.AppendHeaders(dst, seq, slot)
		return t.appendFileTexts(dst, e.filePre, e.filePost, seq, slot, false), emptyBody, 0
	case t.spec.Size == nil:
		dst = t.AppendTraceHeader(dst, seq, now)
		return t.AppendHeaders(dst, seq, slot), e.bdatBody, e.bdatLen
	}
	// A body of Size is cut from patterns none of whose lines starts with a '.': it
	// goes out as DATA sends it, less the final dot (its pieces are shared; only the
	// scratch's slice of the last one is shortened).
	dst, pieces, n := t.AppendMessage(dst, scratch, seq, slot, now)
	last := len(pieces) - 1
	pieces[last] = pieces[last][:len(pieces[last])-len(".\r\n")]
	return dst, pieces, n - len(".\r\n")
}

// plainBody is a body in wire form (pieces that end in ".\r\n") in plain form: the same
// pieces, the last one shortened, when no line of it was dot-stuffed; else one copy of
// it un-stuffed.
func plainBody(pieces [][]byte) [][]byte {
	last := pieces[len(pieces)-1]
	body := append(append([][]byte(nil), pieces[:len(pieces)-1]...), last[:len(last)-len(".\r\n")])
	if stuffed(body) {
		body = [][]byte{unstuff(bytes.Join(body, nil))}
	}
	return body
}

// stuffed reports whether a line of body starts with the '.' that dot-stuffing added.
// Lines start after a '\n' or at the start of the body (right after the headers).
func stuffed(body [][]byte) bool {
	atLineStart := true
	for _, p := range body {
		if len(p) == 0 {
			continue
		}
		if atLineStart && p[0] == '.' || bytes.Contains(p, []byte("\n.")) {
			return true
		}
		atLineStart = p[len(p)-1] == '\n'
	}
	return false
}

// unstuff removes the '.' that dot-stuffing put before lines that start with one.
func unstuff(b []byte) []byte {
	out := make([]byte, 0, len(b))
	atLineStart := true
	for _, ch := range b {
		if atLineStart && ch == '.' {
			atLineStart = false
			continue
		}
		out = append(out, ch)
		atLineStart = ch == '\n'
	}
	return out
}

// has8bitParts reports whether the parts of messages rendered once hold a byte ≥ 0x80:
// the head of a body of Size, a templated file's text and the header templates (the
// fixed body is looked at by ESMTP.Prepare, the corpus messages one by one).
func (t *Template) has8bitParts() bool {
	for _, x := range append([]*Text{t.filePre, t.filePost}, t.headerTexts...) {
		if x == nil {
			continue
		}
		for _, seg := range x.segs {
			if has8bit(seg.lit) {
				return true
			}
		}
	}
	return has8bit(t.head)
}

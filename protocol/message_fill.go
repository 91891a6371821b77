package protocol

import "bytes"

// filler is a body layout that any length is cut from without rendering: a pattern of
// whole lines (lineLen bytes each, CRLF included), repeated, then the last line taken
// from the end of tail, which is lineLen-2 bytes of line content and then "\r\n.\r\n".
type filler struct {
	pattern []byte
	tail    []byte
	lineLen int
}

// dotEnd is what ends a filled body: the last line's CRLF and the final dot.
const dotEnd = "\r\n.\r\n"

// lengthFiller is smtp-source's -l layout (LengthContent): 80-byte lines of a digit and
// 'X's, the last chunk plain 'X'.
func lengthFiller() filler {
	tail := append(bytes.Repeat([]byte{'X'}, 80), dotEnd...)
	return filler{pattern: LengthContent(lengthPattern + 1)[:lengthPattern], tail: tail, lineLen: 80}
}

// appendPieces appends a body of n content bytes (n ≥ 1; LengthContent's count: the
// CRLF after the last line and the final dot come on top) to pieces: whole lines from
// the pattern, then a last line of 1…lineLen bytes.
func (f *filler) appendPieces(pieces [][]byte, n int) [][]byte {
	full := (n - 1) / f.lineLen
	rest := full * f.lineLen
	for ; rest >= len(f.pattern); rest -= len(f.pattern) {
		pieces = append(pieces, f.pattern)
	}
	if rest > 0 {
		pieces = append(pieces, f.pattern[:rest])
	}
	last := n - full*f.lineLen
	return append(pieces, f.tail[len(f.tail)-len(dotEnd)-last:])
}

// AppendMessage appends message seq's own bytes to dst (the trace header and the
// headers, see AppendTraceHeader and AppendHeaders) and returns the body that follows
// them, up to and including ".\r\n", and its length. A fixed body is the template's
// shared pieces; a body of MessageSpec.Size is cut from a shared pattern into *scratch
// (kept by the caller, reused from one message to the next, so that nothing is allocated
// once it has grown). The body's pieces must not be modified.
func (t *Template) AppendMessage(dst []byte, scratch *[][]byte, seq int64, slot int, now int64) ([]byte, [][]byte, int) {
	start := len(dst)
	dst = t.AppendTraceHeader(dst, seq, now)
	dst = t.AppendHeaders(dst, seq, slot)
	if t.spec.Size == nil {
		return dst, t.body, t.bodyLen
	}
	// The size counts everything up to the final dot: the headers just written, the head,
	// the content and its last CRLF.
	n := max(t.spec.Size(seq)-(len(dst)-start)-len(t.head)-2, 1)
	pieces := (*scratch)[:0]
	if len(t.head) > 0 {
		pieces = append(pieces, t.head)
	}
	pieces = t.fill.appendPieces(pieces, n)
	*scratch = pieces
	return dst, pieces, len(t.head) + n + len(dotEnd)
}

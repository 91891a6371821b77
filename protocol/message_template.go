package protocol

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// tokenKind is a template token: {seq} {uuid} {rcpt} {from} {date} {random:N} {worker}.
type tokenKind uint8

const (
	tokenNone   tokenKind = iota // literal text
	tokenSeq                     // the message's global sequence number
	tokenUUID                    // a UUID (version 4 form) drawn from the seed and the sequence number
	tokenRcpt                    // the message's first recipient
	tokenFrom                    // the envelope sender
	tokenDate                    // the Date header's value
	tokenRandom                  // N letters and digits drawn from the seed and the sequence number
	tokenWorker                  // the shard (worker) index, 0 in a run of one process
)

// MaxRandomToken bounds {random:N}: a header line stays under RFC 5322's 998.
const MaxRandomToken = 900

// textSegment is a literal or a token of a Text.
type textSegment struct {
	lit []byte
	tok tokenKind
	n   int // {random:N}
}

// Text is a string with tokens, parsed once and rendered per message without allocating.
type Text struct {
	segs   []textSegment
	tokens bool
}

// ParseText reads s's tokens. A '{' that does not start "{name}" or "{name:arg}" is
// literal; a token this program does not know is an error naming it.
func ParseText(s string) (*Text, error) { return parseText(s, true) }

// parseText reads s's tokens; a token this program does not know is an error when
// strict, and text otherwise (a message file's braces: CSS, code, templates of others).
func parseText(s string, strict bool) (*Text, error) {
	t := &Text{}
	lit := []byte{}
	for len(s) > 0 {
		i := strings.IndexByte(s, '{')
		j := strings.IndexByte(s[max(i, 0):], '}')
		if i < 0 || j < 0 || !isTokenName(s[i+1:i+j]) {
			if i < 0 || j < 0 {
				lit = append(lit, s...)
				break
			}
			lit, s = append(lit, s[:i+1]...), s[i+1:]
			continue
		}
		seg, err := parseToken(s[i+1 : i+j])
		if err != nil && strict {
			return nil, err
		}
		if err != nil {
			lit, s = append(lit, s[:i+1]...), s[i+1:]
			continue
		}
		lit = append(lit, s[:i]...)
		if len(lit) > 0 {
			t.segs = append(t.segs, textSegment{lit: lit})
			lit = []byte{}
		}
		t.segs, t.tokens, s = append(t.segs, seg), true, s[i+j+1:]
	}
	if len(lit) > 0 {
		t.segs = append(t.segs, textSegment{lit: lit})
	}
	return t, nil
}

// isTokenName reports whether s could be a token: lower-case letters, then optionally ':'
// and digits and letters.
func isTokenName(s string) bool {
	name, arg, _ := strings.Cut(s, ":")
	if name == "" || strings.Trim(name, "abcdefghijklmnopqrstuvwxyz") != "" {
		return false
	}
	return strings.Trim(arg, "abcdefghijklmnopqrstuvwxyz0123456789") == ""
}

func parseToken(s string) (textSegment, error) {
	name, arg, hasArg := strings.Cut(s, ":")
	kinds := map[string]tokenKind{"seq": tokenSeq, "uuid": tokenUUID, "rcpt": tokenRcpt, "from": tokenFrom,
		"date": tokenDate, "worker": tokenWorker}
	if k, ok := kinds[name]; ok && !hasArg {
		return textSegment{tok: k}, nil
	}
	if name == "random" && hasArg {
		n, err := strconv.Atoi(arg)
		if err != nil || n < 1 || n > MaxRandomToken {
			return textSegment{}, fmt.Errorf("token {%s}: want {random:N}, N from 1 to %d", s, MaxRandomToken)
		}
		return textSegment{tok: tokenRandom, n: n}, nil
	}
	return textSegment{}, fmt.Errorf("unknown token {%s} (known: {seq} {uuid} {rcpt} {from} {date} {random:N} {worker})", s)
}

// HasTokens reports whether rendering varies from one message to the next.
func (t *Text) HasTokens() bool { return t.tokens }

// headerTexts are the header lines rendered per message: the Subject when it has tokens,
// and the extra headers (--header); nil when every header is fixed.
func headerTexts(spec *MessageSpec) []*Text {
	var subject *Text
	if spec.Subject != nil {
		subject, _ = ParseText("Subject: " + *spec.Subject) // validated by the plan; an error leaves it nil
	}
	if len(spec.ExtraHeaders) == 0 && (subject == nil || !subject.HasTokens()) {
		return nil
	}
	var out []*Text
	if subject != nil {
		out = append(out, subject)
	}
	for _, h := range spec.ExtraHeaders {
		if t, err := ParseText(h); err == nil {
			out = append(out, t)
		}
	}
	return out
}

// appendText renders text for message seq.
func (t *Template) appendText(dst []byte, text *Text, seq int64) []byte {
	for i := range text.segs {
		dst = t.appendSegment(dst, &text.segs[i], seq)
	}
	return dst
}

// appendWireText renders text of a message in wire form (its literals dot-stuffed when
// it was parsed) for message seq, dot-stuffing what rendering put at a line start: a
// token's '.' there, or the '.' of a literal that a token rendered empty left there.
// dst must end at a line start or where text was at one when it was parsed.
func (t *Template) appendWireText(dst []byte, text *Text, seq int64) []byte {
	for i := range text.segs {
		s := &text.segs[i]
		mark := len(dst)
		if s.tok == tokenNone {
			if i > 0 && len(s.lit) > 0 && s.lit[0] == '.' && atLineStart(dst, mark) {
				dst = append(dst, '.') // it followed a token when it was stuffed
			}
			dst = append(dst, s.lit...)
			continue
		}
		dst = stuffFrom(t.appendSegment(dst, s, seq), mark)
	}
	return dst
}

// atLineStart reports whether dst[i] starts a line: the start of the buffer (a message
// starts a line) or after a '\n'.
func atLineStart(dst []byte, i int) bool { return i == 0 || dst[i-1] == '\n' }

// stuffFrom dot-stuffs dst from mark on: a '.' is put before every '.' that starts a
// line there. Nothing is allocated when there is none.
func stuffFrom(dst []byte, mark int) []byte {
	for i := mark; i < len(dst); i++ {
		if dst[i] == '.' && atLineStart(dst, i) {
			dst = append(dst, 0)
			copy(dst[i+1:], dst[i:])
			i++
		}
	}
	return dst
}

// appendSegment renders one segment of a Text for message seq.
func (t *Template) appendSegment(dst []byte, s *textSegment, seq int64) []byte {
	switch s.tok {
	case tokenNone:
		return append(dst, s.lit...)
	case tokenSeq:
		return strconv.AppendInt(dst, seq, 10)
	case tokenUUID:
		return appendUUID(dst, tokenHash(t.spec.Seed, seq, 0), tokenHash(t.spec.Seed, seq, 1))
	case tokenRcpt:
		return t.AppendRecipient(dst, seq, 0)
	case tokenFrom:
		return append(dst, t.sender(seq)...)
	case tokenDate:
		return append(dst, t.spec.Date...)
	case tokenRandom:
		return appendRandomText(dst, t.spec.Seed, seq, s.n)
	case tokenWorker:
		return strconv.AppendInt(dst, int64(t.spec.Worker), 10)
	}
	return dst
}

// tokenHash is 64 random bits for draw k of message seq: SplitMix64 of the three, as
// protocol/dist's Hash (kept here: the protocol package imports nothing of its own).
func tokenHash(seed uint64, seq int64, k uint64) uint64 {
	z := seed ^ (uint64(seq)+k*0x632BE59BD9B4E019)*0x9E3779B97F4A7C15
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31
}

// appendUUID writes hi and lo as a version 4, variant 1 UUID.
func appendUUID(dst []byte, hi, lo uint64) []byte {
	hi = hi&^0xF000 | 0x4000
	lo = lo&^(3<<62) | 2<<62
	const hex = "0123456789abcdef"
	var b [36]byte
	k := 0
	for i := 0; i < 32; i++ {
		if i == 8 || i == 12 || i == 16 || i == 20 {
			b[k] = '-'
			k++
		}
		v := hi
		if i >= 16 {
			v = lo
		}
		b[k] = hex[v>>(60-4*uint(i%16))&15]
		k++
	}
	return append(dst, b[:]...)
}

// appendRandomText writes n letters and digits drawn from the seed and seq.
func appendRandomText(dst []byte, seed uint64, seq int64, n int) []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var h uint64
	for i := 0; i < n; i++ {
		if i%10 == 0 {
			h = tokenHash(seed, seq, uint64(2+i/10))
		}
		dst = append(dst, alphabet[h%62])
		h /= 62
	}
	return dst
}

// FileHasTokens reports whether a message file's content holds tokens that
// MessageSpec.FileTemplate would render.
func FileHasTokens(content []byte) bool {
	t, _ := parseText(string(content), false)
	return t.HasTokens()
}

// renderFileTemplate splits the file's content (wire form) around its Message-Id header,
// so that each message gets its own.
func (t *Template) renderFileTemplate(content []byte) {
	t.filePre, t.filePost = t.splitFile(content)
	t.dotBody = [][]byte{[]byte(".\r\n")}
}

// splitFile parses a file's content around its Message-Id header (its header section is
// up to the first empty line): the text before it and the text after it; without one,
// or when the spec keeps the file's, all of it comes after (the id goes first).
func (t *Template) splitFile(content []byte) (pre, post *Text) {
	before, after := []byte{}, content
	headerEnd := bytes.Index(content, []byte("\r\n\r\n"))
	if t.spec.KeepMessageID {
		headerEnd = -1
	}
	for at := 0; at >= 0 && at < headerEnd; {
		line := content[at:]
		if len(line) > len("message-id:") && strings.EqualFold(string(line[:len("message-id:")]), "message-id:") {
			end := at + bytes.Index(line, []byte("\r\n")) + 2
			for end < len(content) && (content[end] == ' ' || content[end] == '\t') { // folded
				end += bytes.Index(content[end:], []byte("\r\n")) + 2
			}
			before, after = content[:at], content[end:]
			break
		}
		next := bytes.Index(line, []byte("\r\n"))
		if next < 0 {
			break
		}
		at += next + 2
	}
	pre, _ = parseText(string(before), false)
	post, _ = parseText(string(after), false)
	return pre, post
}

// appendFile renders message seq of a templated file in wire form: its tokens, and a
// Message-Id of its own unless the spec keeps the file's.
func (t *Template) appendFile(dst []byte, seq int64, slot int) []byte {
	return t.appendFileTexts(dst, t.filePre, t.filePost, seq, slot, true)
}

// appendFileTexts renders message seq of a file split into pre and post (splitFile), in
// wire form (dot-stuffed) or plain.
func (t *Template) appendFileTexts(dst []byte, pre, post *Text, seq int64, slot int, wire bool) []byte {
	dst = t.appendBodyText(dst, pre, seq, wire)
	if !t.spec.KeepMessageID {
		dst = append(dst, "Message-Id: "...)
		dst = append(t.appendID(dst, seq, slot), "\r\n"...)
	}
	return t.appendBodyText(dst, post, seq, wire)
}

// appendBodyText renders text of a message for message seq, in wire form or plain.
func (t *Template) appendBodyText(dst []byte, text *Text, seq int64, wire bool) []byte {
	if wire {
		return t.appendWireText(dst, text, seq)
	}
	return t.appendText(dst, text, seq)
}

// parseCorpusTexts parses the corpus messages that hold tokens, each without its last
// trim bytes (the final dot of the wire form), by the rule of a templated file: a brace
// that is not a known token is text. A message without tokens is nil, and so is the
// result when no message has any.
func parseCorpusTexts(msgs [][]byte, trim int) []*Text {
	var out []*Text
	for i, m := range msgs {
		if bytes.IndexByte(m, '{') < 0 {
			continue
		}
		text, _ := parseText(string(m[:len(m)-trim]), false)
		if !text.HasTokens() {
			continue
		}
		if out == nil {
			out = make([]*Text, len(msgs))
		}
		out[i] = text
	}
	return out
}

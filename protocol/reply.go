package protocol

import (
	"bytes"
	"errors"
	"fmt"
)

// Bounds on what a server may send as one reply. A longer line or reply is a protocol
// error, so a hostile or broken server can never make a session hold unbounded memory.
const (
	MaxReplyLine  = 4096      // bytes in one reply line, CRLF included
	MaxReplyBytes = 64 * 1024 // bytes in one (multi-line) reply
)

// ErrMalformedReply, ErrReplyTooLong and ErrUnexpectedReply classify protocol errors.
var (
	ErrMalformedReply  = errors.New("malformed reply")
	ErrReplyTooLong    = errors.New("reply too long")
	ErrUnexpectedReply = errors.New("unexpected reply")
)

// Reply is one complete SMTP reply, possibly of several lines. Raw aliases the bytes
// given to ParseReply: it is valid only until the caller consumes them.
type Reply struct {
	Code     int    // the three-digit code of the last line
	Enhanced []byte // RFC 3463 enhanced status code of the last line ("2.1.0"), if any
	Raw      []byte // every line of the reply, line ends included
	Lines    int    // number of lines
}

// Positive reports a 2xx reply.
func (r *Reply) Positive() bool { return r.Code >= 200 && r.Code < 300 }

// ForEachLine calls fn with the text of each line (after "250-" or "250 ", without the
// line end).
func (r *Reply) ForEachLine(fn func(text []byte)) {
	rest := r.Raw
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		line := rest[:i]
		rest = rest[i+1:]
		fn(lineText(line))
	}
}

// Text joins the lines' texts with "\n", as smtp-source does; it allocates and is meant
// for the error path.
func (r *Reply) Text() string {
	var b []byte
	first := true
	r.ForEachLine(func(t []byte) {
		if !first {
			b = append(b, '\n')
		}
		first = false
		b = append(b, t...)
	})
	return string(b)
}

// lineText is a line's text as smtp-source reads it: after the three-digit code, an
// optional '-' and any white space, without the line end ("250ok" has the text "ok").
func lineText(line []byte) []byte {
	line = bytes.TrimSuffix(line, []byte{'\r'})
	if len(line) <= 3 {
		return nil
	}
	t := line[3:]
	if t[0] == '-' {
		t = t[1:]
	}
	return bytes.TrimLeft(t, " \t\n\v\f\r")
}

// ParseReply parses the first complete reply in p. It returns the number of bytes the
// reply took; n == 0 with a nil error means p does not yet hold a whole reply. Lines may
// end in CRLF or a bare LF (smtp-source accepts both).
func ParseReply(p []byte) (r Reply, n int, err error) {
	var s replyScan
	n, err = parseReply(p, &s, &r)
	return r, n, err
}

// replyScan is how much of an incomplete reply parseReply has checked already: its
// complete lines. Given the same bytes again with more after them, it resumes there, so
// a reply that trickles in a byte at a time is scanned once, not once per byte.
type replyScan struct {
	off   int // bytes of complete continuation lines
	lines int
}

// parseReply is ParseReply into r, resuming from s, which it updates while the reply is
// incomplete; the caller resets s once a reply is consumed or the bytes are dropped. r is
// set only when a reply is complete (n > 0).
func parseReply(p []byte, s *replyScan, r *Reply) (n int, err error) {
	for {
		off := s.off
		i := bytes.IndexByte(p[off:], '\n')
		if i < 0 {
			if len(p)-off >= MaxReplyLine {
				return 0, fmt.Errorf("%w: line longer than %d bytes", ErrReplyTooLong, MaxReplyLine)
			}
			return 0, nil
		}
		if i+1 > MaxReplyLine {
			return 0, fmt.Errorf("%w: line longer than %d bytes", ErrReplyTooLong, MaxReplyLine)
		}
		line := bytes.TrimSuffix(p[off:off+i], []byte{'\r'})
		code, more, ok := parseReplyLine(line)
		if !ok {
			return 0, fmt.Errorf("%w: %q", ErrMalformedReply, printable(line, 64))
		}
		off += i + 1
		if off > MaxReplyBytes {
			return 0, fmt.Errorf("%w: more than %d bytes", ErrReplyTooLong, MaxReplyBytes)
		}
		if more {
			s.off, s.lines = off, s.lines+1
			continue
		}
		// The code of the last line counts, as in smtp-source.
		r.Code = code
		r.Raw = p[:off]
		r.Lines = s.lines + 1
		r.Enhanced = enhancedCode(line, code)
		return off, nil
	}
}

// parseReplyLine reads a line's code as smtp-source does: exactly three digits, any
// code from 000 to 999, followed by anything but a fourth digit ("250ok" is 250, "600
// x" is 600, a rejection); a '-' right after the code means more lines follow. Fewer or
// more digits, which smtp-source reads as code 0, are malformed here.
func parseReplyLine(line []byte) (code int, more, ok bool) {
	if len(line) < 3 {
		return 0, false, false
	}
	for _, c := range line[:3] {
		if c < '0' || c > '9' {
			return 0, false, false
		}
		code = code*10 + int(c-'0')
	}
	if len(line) == 3 {
		return code, false, true
	}
	if c := line[3]; c >= '0' && c <= '9' {
		return 0, false, false
	}
	return code, line[3] == '-', true
}

// enhancedCode finds "c.s.d" at the start of a line's text, where c matches the reply's
// class (RFC 3463: 2, 4 or 5; subject and detail of up to three digits).
func enhancedCode(line []byte, code int) []byte {
	t := lineText(line)
	if len(t) < 5 || int(t[0]-'0') != code/100 || t[1] != '.' {
		return nil
	}
	i := 2
	digits := func() bool {
		start := i
		for i < len(t) && i-start < 3 && t[i] >= '0' && t[i] <= '9' {
			i++
		}
		return i > start
	}
	if !digits() || i >= len(t) || t[i] != '.' {
		return nil
	}
	i++
	if !digits() {
		return nil
	}
	if i < len(t) && t[i] != ' ' && t[i] != '\t' {
		return nil
	}
	return t[:i]
}

// printable renders server text for a one-line diagnostic: characters that are neither
// printable nor a space become '?', as in smtp-source, and the result is cut at max bytes.
func printable(b []byte, max int) string {
	if len(b) > max {
		b = b[:max]
	}
	out := make([]byte, len(b))
	for i, c := range b {
		if c < ' ' || c > '~' {
			c = '?'
		}
		out[i] = c
	}
	return string(out)
}

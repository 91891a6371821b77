package sink

import (
	"bytes"
	"strconv"
	"time"
)

// stepData takes one line (or a long line's fragment) of DATA content. Lines end in CRLF
// only, as in smtp-sink: a bare LF neither ends a line nor can start the final ".".
func (s *Session) stepData(in []byte) (int, Action, time.Duration) {
	i := bytes.IndexByte(in, '\n')
	if i < 0 {
		if len(in) < partialLine {
			return 0, ActionContinue, 0
		}
		take := len(in)
		if in[take-1] == '\r' {
			take-- // keep a CR that may begin the CRLF
		}
		s.content(in[:take], !s.midLine, true)
		s.midLine = true
		return take, ActionContinue, 0
	}
	piece := in[:i+1]
	if !s.midLine && i == 2 && piece[0] == '.' && piece[1] == '\r' {
		if d := s.gate(VerbDot); d > 0 {
			return 0, ActionDelay, d
		}
		return 3, s.endOfMessage(), 0
	}
	s.content(piece, !s.midLine, true)
	s.midLine = i == 0 || in[i-1] != '\r'
	return i + 1, ActionContinue, 0
}

// content takes message content: one line, or a fragment of one. lineStart says the
// fragment begins a line; dotStuffed says a leading "." is transparency (DATA, not BDAT).
func (s *Session) content(piece []byte, lineStart, dotStuffed bool) {
	s.msgBytes += int64(len(piece))
	if s.rec == nil && !s.inHeaders {
		return
	}
	p := piece
	if lineStart && dotStuffed && len(p) > 0 && p[0] == '.' {
		p = p[1:]
	}
	if s.rec != nil {
		s.rec.writeNoCR(p)
	}
	if s.inHeaders {
		s.scanHeader(p, p[len(p)-1] == '\n')
	}
}

// maxHeaderLine bounds the header line kept for --unique-header (RFC 5322's 998 plus CRLF).
const maxHeaderLine = 1000

// scanHeader assembles header lines and records the --unique-header value.
func (s *Session) scanHeader(p []byte, lineEnd bool) {
	if room := maxHeaderLine - len(s.hdrLine); room > 0 {
		if len(p) > room {
			p = p[:room]
		}
		s.hdrLine = append(s.hdrLine, p...)
	}
	if !lineEnd {
		return
	}
	line := bytes.TrimRight(s.hdrLine, "\r\n")
	s.hdrLine = s.hdrLine[:0]
	if len(line) == 0 {
		s.inHeaders = false // the empty line ends the header section
		return
	}
	if isBlank(line[0]) {
		return
	}
	if u := s.env.stats.unique; u != nil && !s.uniqueFound {
		if v, ok := headerValue(line, u.lower); ok {
			s.uniqueValue = append(s.uniqueValue[:0], v...)
			s.uniqueFound = true
		}
	}
	if t := s.env.trace; t != nil && !s.traceFound {
		if v, ok := headerValue(line, t.lower); ok {
			s.traceValue = append(s.traceValue[:0], v...)
			s.traceFound = true
		}
	}
}

// headerValue is the trimmed value of line when it is the header lower (a lower-case
// name, matched without regard to case).
func headerValue(line []byte, lower string) ([]byte, bool) {
	if len(line) > len(lower) && line[len(lower)] == ':' && equalFoldASCII(line[:len(lower)], lower) {
		return bytes.TrimSpace(line[len(lower)+1:]), true
	}
	return nil, false
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// bdat handles "BDAT size [LAST]" (RFC 3030).
func (s *Session) bdat(args []byte) {
	fields := bytes.Fields(args)
	if len(fields) < 1 || len(fields) > 2 || (len(fields) == 2 && !equalFoldASCII(fields[1], "last")) {
		s.reply(replyBDATSyntax)
		return
	}
	size, err := strconv.ParseInt(string(fields[0]), 10, 63)
	if err != nil || size < 0 {
		s.reply(replyBDATSyntax)
		return
	}
	s.bdatLeft, s.bdatSize, s.bdatLast = size, size, len(fields) == 2
	if s.txn != txnRcpt && s.txn != txnBDAT {
		// The chunk still arrives and must be read; reply now, discard it.
		s.env.stats.badSequence.Add(1)
		s.reply(replyNeedRcpt)
		s.phase = phaseBDATSkip
		return
	}
	if s.txn == txnRcpt {
		s.startMessage()
		s.txn = txnBDAT
	}
	s.phase = phaseBDAT
}

// stepBDAT takes chunk octets; when the chunk is complete it replies.
func (s *Session) stepBDAT(in []byte) (int, Action, time.Duration) {
	take := int64(len(in))
	if take > s.bdatLeft {
		take = s.bdatLeft
	}
	chunk := in[:take]
	s.bdatLeft -= take
	if s.phase == phaseBDATSkip {
		if s.bdatLeft == 0 {
			s.phase = phaseCommand
			s.bdatLast = false
		}
		return int(take), ActionContinue, 0
	}
	for len(chunk) > 0 {
		i := bytes.IndexByte(chunk, '\n')
		piece := chunk
		if i >= 0 {
			piece = chunk[:i+1]
		}
		s.content(piece, !s.midLine, false)
		s.midLine = i < 0
		chunk = chunk[len(piece):]
	}
	if s.bdatLeft > 0 {
		return int(take), ActionContinue, 0
	}
	if !s.chunkCounted {
		s.chunkCounted = true
		s.env.stats.bdatChunks.Add(1)
	}
	if !s.bdatLast {
		s.phase = phaseCommand
		s.chunkCounted = false
		s.reply(replyBDATChunkOK)
		s.out = strconv.AppendInt(s.out, s.bdatSize, 10)
		s.reply(replyBDATChunkOKEnd)
		return int(take), ActionContinue, 0
	}
	if d := s.gate(VerbDot); d > 0 {
		return int(take), ActionDelay, d
	}
	s.chunkCounted = false
	return int(take), s.endOfMessage(), 0
}

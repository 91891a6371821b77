package protocol

import (
	"bytes"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Numbering is the rule for numbered recipient addresses (-r, -N). Postfix changed it in
// 3.9 (HISTORY 20230923); Debian 12 ships 3.7.
type Numbering uint8

const (
	// NumberingPostfix39: the number is appended to the local part ("foo7@host"), counting
	// from 0; -r above 1 implies numbering; the To: header shows the message's last number.
	NumberingPostfix39 Numbering = iota
	// NumberingPostfix37: the number is prepended to the whole address ("7foo@host").
	// With -N it counts from 1; without, -r counts down and the last recipient has none.
	NumberingPostfix37
)

// MessageSpec says what every message of a run looks like.
type MessageSpec struct {
	Sender           string // raw, as in MAIL FROM:<%s> and From: <%s>; may be empty
	Recipient        string // raw, as in RCPT TO:<%s> and To: <%s>
	Recipients       int    // RCPT commands per message (-r), at least 1
	NumberRecipients bool   // -N
	Numbering        Numbering
	Hostname         string  // Message-Id domain (-M or the host name)
	Headers          bool    // false with -o and -F: the content is sent as it is
	Subject          *string // -S; nil for none, "" for an empty one (smtp-source -S '')
	Date             string  // the Date header's value, see FormatDate
	PID              int     // first Message-Id field
	Content          []byte  // the message content in wire form (see DefaultContent), without the final "."
	// Length, when Content is nil, is smtp-source's -l payload of Length bytes
	// (LengthContent), sent from a 64 KB pattern rather than rendered: a body of any
	// size takes the same memory.
	Length int

	// Run, when not zero, follows the PID in the first Message-Id field ("pid-run"): a run
	// spread over processes sets it (its start), so that two runs of one process (a
	// standing cluster worker: the same PID, slots and global message numbers) never
	// repeat an id. Zero keeps smtp-source's three fields as they are.
	Run uint64

	// Trace, when set, puts "Header: run seq send-time-unix-ns" first in every message
	// (AppendTraceHeader); nil sends smtp-source's bytes.
	Trace *TraceSpec

	// Size, when set, is message seq's size (--size): the bytes between DATA's 354 and
	// the final ".", headers included. The body is filled to it in the -l layout, at
	// least one line, from a shared pattern (nothing rendered per message). It replaces
	// Content and Length.
	Size func(seq int64) int
	// Body is what a body of Size is made of; Attach, when set, is message seq's
	// attachment size (decoded bytes) in a MIME multipart message (BodyRandom makes one of
	// the rest of Size). Seed picks the text and random data, and where each message
	// starts in them.
	Body   BodyKind
	Attach func(seq int64) int
	Seed   uint64

	// ExtraHeaders are header lines added after the generated ones (--header), and
	// Worker the shard index: both and the Subject may hold tokens (ParseText).
	ExtraHeaders []string
	Worker       int
	// FileTemplate renders Content (a -F file whose content holds tokens) per message:
	// its tokens, and a Message-Id of its own in place of the file's (or first, when it
	// has none) unless KeepMessageID. KeepMessageID also keeps a corpus message's own
	// (its Corpus entry then has it): no Message-Id is generated.
	FileTemplate  bool
	KeepMessageID bool

	// Envelope varies the sender and recipients per message (the zero value does not).
	Envelope Envelope

	// Corpus, when set, are the messages sent in turn (or drawn with CorpusRandom), in
	// wire form ending in ".\r\n" without the headers each message gets anew (package
	// corpus): the generated From, To (unless CorpusKeepAddr), Date and Message-Id
	// (unless KeepMessageID) go first. It replaces the body and the Subject. A message
	// that holds tokens is rendered per message, as a templated file is (without a
	// Message-Id of its own making); one without is sent as its shared slice.
	Corpus         [][]byte
	CorpusRandom   bool
	CorpusKeepAddr bool
}

// TraceSpec is the trace header: its name and the run id (go-smtp-sink --trace reads
// them).
type TraceSpec struct {
	Header string
	Run    string
}

// Template is a MessageSpec rendered once: every byte that does not vary per message is
// pre-built, so sending a message appends only the Message-Id (and numbered recipients)
// to a pooled buffer and shares the body slice.
type Template struct {
	spec       MessageSpec
	numbered   bool
	rcptLocal  string // 3.9 rule: the recipient split at its last '@'
	rcptDomain string // including the '@'
	fromHeader []byte // "From: <S>\r\nTo: <R>\r\nDate: D\r\n" (To omitted when it is numbered)
	dateHeader []byte
	msgIDHead  []byte   // "<pid." or "<pid-run."
	msgIDHost  []byte   // "@host>\r\n"
	mailCmd    []byte   // "MAIL FROM:<S>\r\n"
	body       [][]byte // [Subject] blank line, content, ".\r\n": pieces, some of them repeated
	bodyLen    int
	head       []byte // [Subject] [MIME headers] blank line [text part's headers]: what precedes a body of Size
	fill       filler // the pattern a body of Size (a multipart message's text) is cut from
	b64        filler // the attachment's base64 lines
	mimeAttach []byte
	mimeClose  [3][]byte

	headerTexts []*Text  // the Subject and extra headers, when rendered per message
	filePre     *Text    // a templated file: before its Message-Id
	filePost    *Text    // after it
	dotBody     [][]byte // a templated file's shared body: the final dot
	// corpusTexts are the corpus messages that hold tokens, each parsed from its wire
	// form without the final dot, rendered per message; nil for a message without
	// tokens (sent as its shared slice), and nil when none has any.
	corpusTexts []*Text
	traceHead   []byte       // "Header: run " (nil: no trace header)
	traceEpoch  atomic.Int64 // Unix ns of the time origin of AppendTraceHeader's now
}

// NewTemplate renders spec.
func NewTemplate(spec MessageSpec) *Template {
	if spec.Recipients < 1 {
		spec.Recipients = 1
	}
	t := &Template{spec: spec}
	switch {
	case spec.Envelope.varies():
		t.rcptLocal, t.rcptDomain = splitAddress(spec.Recipient)
	case spec.Numbering == NumberingPostfix37:
		t.numbered = spec.NumberRecipients
	default:
		t.numbered = spec.NumberRecipients || spec.Recipients > 1
		t.rcptLocal, t.rcptDomain = splitAddress(spec.Recipient)
	}
	t.mailCmd = []byte("MAIL FROM:<" + spec.Sender + ">\r\n")
	if spec.Trace != nil {
		t.traceHead = []byte(spec.Trace.Header + ": " + spec.Trace.Run + " ")
	}
	t.msgIDHead = appendHex([]byte("<"), int64(spec.PID), 4)
	if spec.Run != 0 {
		t.msgIDHead = strconv.AppendUint(append(t.msgIDHead, '-'), spec.Run, 16)
	}
	t.msgIDHead = append(t.msgIDHead, '.')
	t.msgIDHost = []byte("@" + spec.Hostname + ">\r\n")
	var head []byte
	if spec.Headers {
		t.fromHeader = []byte("From: <" + spec.Sender + ">\r\n")
		t.dateHeader = []byte("Date: " + spec.Date + "\r\n")
		t.headerTexts = headerTexts(&t.spec)
		if spec.Subject != nil && t.headerTexts == nil {
			head = append(head, "Subject: "+*spec.Subject+"\r\n"...)
		}
		head = append(head, "\r\n"...)
	}
	switch {
	case spec.Corpus != nil:
		t.headerTexts = nil // the corpus message has its own Subject
		t.corpusTexts = parseCorpusTexts(spec.Corpus, len(".\r\n"))
		if len(spec.ExtraHeaders) > 0 {
			spec.Subject = nil
			t.headerTexts = headerTexts(&spec)
		}
	case spec.Size != nil:
		t.renderFilled(head)
	case spec.Content == nil && spec.Length > 0:
		var pieces [][]byte
		if len(head) > 0 {
			pieces = append(pieces, head)
		}
		t.body = lengthPieces(pieces, spec.Length)
	case spec.FileTemplate && !spec.Headers:
		t.renderFileTemplate(spec.Content)
	default:
		t.body = [][]byte{append(append(head, spec.Content...), ".\r\n"...)}
	}
	for _, p := range t.body {
		t.bodyLen += len(p)
	}
	return t
}

// splitAddress splits an address at its last '@' (kept with the domain).
func splitAddress(a string) (local, domain string) {
	if at := strings.LastIndexByte(a, '@'); at >= 0 {
		return a[:at], a[at:]
	}
	return a, ""
}

// lengthPattern is how much of the -l layout one piece holds: 80 lines of the ten-line
// cycle (digits 1…9, 0), so that every piece starts a cycle.
const lengthPattern = 80 * 10 * 80

// lengthPieces appends to body the -l payload of n bytes and the final ".\r\n", in the
// layout LengthContent renders: its full lines from one shared pattern, repeated, then
// the last chunk of plain 'X'.
func lengthPieces(body [][]byte, n int) [][]byte {
	full := (n - 1) / 80 // the 80-byte lines before the last chunk (LengthContent's loop)
	pattern := LengthContent(lengthPattern + 1)[:lengthPattern]
	rest := full * 80
	for ; rest >= lengthPattern; rest -= lengthPattern {
		body = append(body, pattern)
	}
	if rest > 0 {
		body = append(body, pattern[:rest])
	}
	tail := bytes.Repeat([]byte{'X'}, n-full*80)
	return append(body, append(tail, "\r\n.\r\n"...))
}

// Recipients is the number of RCPT commands per message.
func (t *Template) Recipients() int { return t.spec.Recipients }

// MailCommand is "MAIL FROM:<sender>\r\n".
func (t *Template) MailCommand() []byte { return t.mailCmd }

// BodyPieces is everything after the per-message headers, up to and including ".\r\n",
// in pieces (a large -l body repeats one piece). They are shared by every message:
// callers must not modify them.
func (t *Template) BodyPieces() [][]byte { return t.body }

// BodyLen is the length of the body, all pieces together.
func (t *Template) BodyLen() int { return t.bodyLen }

// Body is the body in one slice, for tests: it allocates it.
func (t *Template) Body() []byte { return bytes.Join(t.body, nil) }

// rcptNumber returns the number of recipient i (0-based) of message seq (1-based), and
// whether the address carries one.
func (t *Template) rcptNumber(seq int64, i int) (int64, bool) {
	r := int64(t.spec.Recipients)
	switch t.spec.Numbering {
	case NumberingPostfix37:
		if t.numbered {
			return (seq-1)*r + int64(i) + 1, true
		}
		left := r - int64(i) // smtp-source 3.7 counts down and leaves the last unnumbered
		return left, left > 1
	default:
		return (seq-1)*r + int64(i), t.numbered
	}
}

// AppendRecipient appends the address of recipient i (0-based) of message seq (1-based),
// without angle brackets.
func (t *Template) AppendRecipient(dst []byte, seq int64, i int) []byte {
	if t.spec.Envelope.varies() {
		if out, ok := t.appendEnvelopeRecipient(dst, seq, i); ok {
			return out
		}
		return append(dst, t.spec.Recipient...)
	}
	n, ok := t.rcptNumber(seq, i)
	switch {
	case !ok:
		return append(dst, t.spec.Recipient...)
	case t.spec.Numbering == NumberingPostfix37:
		dst = strconv.AppendInt(dst, n, 10)
		return append(dst, t.spec.Recipient...)
	default:
		dst = append(dst, t.rcptLocal...)
		dst = strconv.AppendInt(dst, n, 10)
		return append(dst, t.rcptDomain...)
	}
}

// AppendRcptCommand appends "RCPT TO:<address>\r\n" for recipient i of message seq.
func (t *Template) AppendRcptCommand(dst []byte, seq int64, i int) []byte {
	dst = append(dst, "RCPT TO:<"...)
	dst = t.AppendRecipient(dst, seq, i)
	return append(dst, ">\r\n"...)
}

// Traced reports whether messages carry the trace header.
func (t *Template) Traced() bool { return t.traceHead != nil }

// SetTraceEpoch sets the wall clock (Unix ns) at which the times given to
// AppendTraceHeader are 0: the run's epoch, whose phase times are ns since it.
func (t *Template) SetTraceEpoch(unixNs int64) { t.traceEpoch.Store(unixNs) }

// AppendTraceHeader appends message seq's trace header, "X-GSS-Trace: run seq send\r\n",
// send being now (ns since the epoch SetTraceEpoch gave) as Unix ns: the time its content
// is sent. Only the numbers are written per message; without a trace it appends nothing.
func (t *Template) AppendTraceHeader(dst []byte, seq, now int64) []byte {
	if t.traceHead == nil {
		return dst
	}
	dst = append(dst, t.traceHead...)
	dst = strconv.AppendInt(dst, seq, 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, t.traceEpoch.Load()+now, 10)
	return append(dst, '\r', '\n')
}

// AppendHeaders appends the headers that precede Body: From, To, Date and a Message-Id
// unique to message seq ("<pid.slot.seq@host>", hex, as smtp-source's "<pid.fd.count@host>";
// "<pid-run.slot.seq@host>" with MessageSpec.Run), unless MessageSpec.KeepMessageID (a
// corpus message has its own). Without headers (-o, -F) it appends nothing.
func (t *Template) AppendHeaders(dst []byte, seq int64, slot int) []byte {
	if !t.spec.Headers {
		return dst
	}
	if !t.spec.CorpusKeepAddr {
		dst = t.appendAddressHeaders(dst, seq)
	}
	dst = append(dst, t.dateHeader...)
	if !t.spec.KeepMessageID {
		dst = append(dst, "Message-Id: "...)
		dst = append(t.appendID(dst, seq, slot), "\r\n"...)
	}
	for _, h := range t.headerTexts {
		dst = append(t.appendText(dst, h, seq), "\r\n"...)
	}
	return dst
}

// appendAddressHeaders appends From and To: the envelope's, or smtp-source's.
func (t *Template) appendAddressHeaders(dst []byte, seq int64) []byte {
	if len(t.spec.Envelope.Senders) > 0 {
		dst = append(append(append(dst, "From: <"...), t.sender(seq)...), ">\r\n"...)
	} else {
		dst = append(dst, t.fromHeader...)
	}
	dst = append(dst, "To: <"...)
	if t.spec.Envelope.varies() {
		dst = t.AppendRecipient(dst, seq, 0)
	} else if t.numbered && t.spec.Numbering == NumberingPostfix39 {
		dst = t.AppendRecipient(dst, seq, t.spec.Recipients-1)
	} else {
		dst = append(dst, t.spec.Recipient...)
	}
	return append(dst, ">\r\n"...)
}

// AppendMessageID appends message seq's Message-Id, "<pid.slot.seq@host>" as its header
// carries it (for logs that are joined with the server's); nothing without headers and
// nothing when messages keep their own.
func (t *Template) AppendMessageID(dst []byte, seq int64, slot int) []byte {
	if !t.spec.Headers && t.dotBody == nil || t.spec.KeepMessageID {
		return dst
	}
	return t.appendID(dst, seq, slot)
}

func (t *Template) appendID(dst []byte, seq int64, slot int) []byte {
	dst = append(dst, t.msgIDHead...)
	dst = appendHex(dst, int64(slot), 4)
	dst = append(dst, '.')
	dst = appendHex(dst, seq, 4)
	return append(dst, t.msgIDHost[:len(t.msgIDHost)-2]...) // "@host>" without its CRLF
}

// appendHex appends v in lower-case hex, zero-padded to width, without allocating.
func appendHex(dst []byte, v int64, width int) []byte {
	var buf [16]byte
	i := len(buf)
	u := uint64(v)
	for u > 0 || i == len(buf) {
		i--
		buf[i] = "0123456789abcdef"[u&15]
		u >>= 4
	}
	for len(buf)-i < width {
		i--
		buf[i] = '0'
	}
	return append(dst, buf[i:]...)
}

// DefaultContent is smtp-source's body: four "La de da de da N." lines.
func DefaultContent() []byte {
	var b []byte
	for i := 1; i <= 4; i++ {
		b = append(b, "La de da de da "...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, ".\r\n"...)
	}
	return b
}

// LengthContent is smtp-source's -l payload: n bytes of 80-byte lines (a digit 1..9,0,
// 77 'X', CRLF) except the last chunk of up to 80 plain 'X', then the CRLF smtp_fputs adds.
func LengthContent(n int) []byte {
	b := bytes.Repeat([]byte{'X'}, n+2)
	for i := 80; i < n; i += 80 {
		b[i-80] = "0123456789"[(i/80)%10]
		b[i-2] = '\r'
		b[i-1] = '\n'
	}
	b[n], b[n+1] = '\r', '\n'
	return b
}

// FileContent is smtp-source's -F payload built from a file's bytes: lines split on LF
// only (a CR before it is kept), a '.' added before lines that start with '.', CRLF after
// each line, and one more CRLF at the end (smtp_fputs appends its own). An empty file
// falls back to DefaultContent.
func FileContent(file []byte) []byte {
	if len(file) == 0 {
		return DefaultContent()
	}
	out := make([]byte, 0, len(file)+len(file)/32+8)
	for len(file) > 0 {
		line := file
		if i := bytes.IndexByte(file, '\n'); i >= 0 {
			line, file = file[:i], file[i+1:]
		} else {
			file = nil
		}
		if len(line) > 0 && line[0] == '.' {
			out = append(out, '.')
		}
		out = append(out, line...)
		out = append(out, '\r', '\n')
	}
	return append(out, '\r', '\n')
}

// FormatDate renders t as Postfix's mail_date() does:
// "Sat,  5 Dec 2026 23:14:50 +0530 (IST)" (space-padded day, numeric offset, zone name).
func FormatDate(t time.Time) string {
	return t.Format("Mon, _2 Jan 2006 15:04:05 -0700 (MST)")
}

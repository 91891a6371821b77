package protocol

import "strconv"

// EightBitMode is when MAIL carries BODY=8BITMIME (RFC 6152), always only when the
// server announces 8BITMIME.
type EightBitMode uint8

const (
	EightBitNever  EightBitMode = iota // smtp-source's: no BODY parameter
	EightBitAuto                       // when the message (headers or body) has a byte ≥ 0x80
	EightBitAlways                     // on every message
)

// ESMTP is the service extensions a session uses when the server announces them, beyond
// smtp-source's. The zero value (or a nil *ESMTP in Config) adds nothing: smtp-source's
// bytes. It is shared by every session of a run and read-only once Prepare has run.
type ESMTP struct {
	Size     bool         // SIZE=<the message's size> on MAIL (RFC 1870)
	EightBit EightBitMode // BODY=8BITMIME on MAIL
	SMTPUTF8 bool         // SMTPUTF8 on MAIL (RFC 6531)
	// RequireTLS puts REQUIRETLS on MAIL (RFC 8689) when the server announces it, which a
	// server does only over TLS.
	RequireTLS bool
	// DSNReturn is RET= on MAIL ("FULL" or "HDRS"); DSNNotify is NOTIFY= on every RCPT
	// ("NEVER", or a comma list of SUCCESS, FAILURE, DELAY). When either is set, MAIL
	// also carries ENVID= (the message's Message-Id without brackets) and every RCPT
	// ORCPT=rfc822; its address (RFC 3461).
	DSNReturn string
	DSNNotify string
	// BDAT sends the message with BDAT (RFC 3030) instead of DATA when the server
	// announces CHUNKING, in chunks of Chunk bytes (0: the whole message in one).
	BDAT  bool
	Chunk int
	// XClient, when set, is sent after EHLO when the server announces XCLIENT
	// (xclient.go); Proxy, when set, is the PROXY header every connection starts with
	// (proxy.go).
	XClient *XClient
	Proxy   *ProxyHeader

	prepared bool
	bdatBody [][]byte // the fixed body in plain form (message_plain.go); nil when bodies are made per message
	bdatLen  int
	corpus   [][]byte // the corpus messages in plain form
	// corpusTexts are the corpus messages that hold tokens, in plain form (nil for one
	// without, and nil when none has any), as Template.corpusTexts has them in wire form.
	corpusTexts []*Text
	filePre     *Text // a templated file's text in plain form, around its Message-Id
	filePost    *Text
	eightBit    bool // the template's fixed parts hold a byte ≥ 0x80
	// corpus8 says which corpus messages hold a byte ≥ 0x80 (nil when none does), and
	// envelope8 that a list's or a domain's address may put one into a message's From:
	// or To: (or its {from} and {rcpt} tokens): BODY=8BITMIME auto then decides per
	// message.
	corpus8   []bool
	envelope8 bool
}

// Prepare renders what the extensions need from the run's template, once, before any
// session starts: the fixed body, the corpus messages or a templated file as BDAT sends
// them and SIZE= counts them (not dot-stuffed), and whether the messages are 8-bit.
func (e *ESMTP) Prepare(t *Template) {
	e.bdatBody, e.bdatLen, e.corpus, e.corpusTexts, e.filePre, e.filePost = nil, 0, nil, nil, nil, nil
	e.corpus8, e.envelope8 = nil, false
	if pieces := t.BodyPieces(); len(pieces) > 0 {
		e.bdatBody = plainBody(pieces)
	}
	if t.dotBody != nil {
		e.filePre, e.filePost = t.splitFile(unstuff(t.spec.Content))
	}
	if c := t.spec.Corpus; c != nil {
		e.corpus = make([][]byte, len(c))
		for i, m := range c {
			e.corpus[i] = plainBody([][]byte{m})[0]
		}
		if t.corpusTexts != nil {
			e.corpusTexts = parseCorpusTexts(e.corpus, 0)
		}
		e.corpus8 = corpusEightBit(c)
	}
	e.envelope8 = t.spec.Envelope.mayBeEightBit()
	e.eightBit = has8bit(t.spec.Sender) || has8bit(t.spec.Recipient) || t.has8bitParts()
	for _, p := range e.bdatBody {
		e.bdatLen += len(p)
		e.eightBit = e.eightBit || has8bit(p)
	}
	e.prepared = true
}

// corpusEightBit says which corpus messages hold a byte ≥ 0x80; nil when none does.
func corpusEightBit(c [][]byte) []bool {
	var out []bool
	for i, m := range c {
		if has8bit(m) {
			if out == nil {
				out = make([]bool, len(c))
			}
			out[i] = true
		}
	}
	return out
}

// eightBitMessage reports whether message seq holds a byte ≥ 0x80 where the run's fixed
// parts do not: in its corpus message, or in the envelope's addresses its headers and
// tokens show (the sender and the first recipient).
func (e *ESMTP) eightBitMessage(t *Template, seq int64) bool {
	if e.corpus8 != nil && e.corpus8[t.corpusIndex(seq)] {
		return true
	}
	return e.envelope8 && t.envelopeEightBit(seq)
}

// has8bit reports whether s holds a byte ≥ 0x80.
func has8bit[T string | []byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return true
		}
	}
	return false
}

func (e *ESMTP) dsn() bool { return e.DSNReturn != "" || e.DSNNotify != "" }

// esmtpSession is what the extensions do on this connection: what the server announced
// of what the run asks for. The zero value is smtp-source's session.
type esmtpSession struct {
	mailParams bool // MAIL carries parameters
	rcptParams bool // RCPT carries parameters
	size       bool
	body8      bool
	body8Auto  bool // body8 is decided per message (ESMTP.eightBitMessage)
	smtputf8   bool
	requireTLS bool
	dsn        bool
	bdat       bool
}

// negotiate decides, from the server's announcement, which extensions this session uses.
// BDAT is not used with LMTP (its last chunk is owed one reply per accepted recipient,
// unknown when the chunks are pipelined). SIZE= and BDAT take what Prepare made.
func (e *ESMTP) negotiate(caps *Capabilities, lmtp bool) esmtpSession {
	if e == nil {
		return esmtpSession{}
	}
	s := esmtpSession{
		size:       e.Size && e.prepared && caps.Has(ExtSize),
		body8:      caps.Has(Ext8BitMIME) && (e.EightBit == EightBitAlways || e.EightBit == EightBitAuto && e.eightBit),
		smtputf8:   e.SMTPUTF8 && caps.Has(ExtSMTPUTF8),
		requireTLS: e.RequireTLS && caps.Has(ExtRequireTLS),
		dsn:        e.dsn() && caps.Has(ExtDSN),
		bdat:       e.BDAT && e.prepared && !lmtp && caps.Has(ExtChunking),
	}
	s.body8Auto = !s.body8 && caps.Has(Ext8BitMIME) && e.EightBit == EightBitAuto && (e.corpus8 != nil || e.envelope8)
	s.mailParams = s.size || s.body8 || s.body8Auto || s.smtputf8 || s.requireTLS || s.dsn
	s.rcptParams = s.dsn
	return s
}

// appendMailParams appends MAIL FROM with this session's parameters.
func (c *Client) appendMailParams(now, seq int64) {
	start := len(c.out.B)
	c.out.B = c.cfg.Template.AppendMailCommand(c.out.B, seq) // the sender may vary (--from-file)
	c.out.B = c.out.B[:len(c.out.B)-2]
	e := c.cfg.ESMTP
	if c.esmtp.size {
		size := c.messageSize(seq, now)
		c.out.B = append(c.out.B, " SIZE="...)
		c.out.B = strconv.AppendInt(c.out.B, int64(size), 10)
	}
	if c.esmtp.body8 || c.esmtp.body8Auto && e.eightBitMessage(c.cfg.Template, seq) {
		c.out.B = append(c.out.B, " BODY=8BITMIME"...)
	}
	if c.esmtp.smtputf8 {
		c.out.B = append(c.out.B, " SMTPUTF8"...)
	}
	if c.esmtp.requireTLS {
		c.out.B = append(c.out.B, " REQUIRETLS"...)
	}
	if c.esmtp.dsn {
		if e.DSNReturn != "" {
			c.out.B = append(c.out.B, " RET="...)
			c.out.B = append(c.out.B, e.DSNReturn...)
		}
		c.out.B = append(c.out.B, " ENVID="...)
		c.out.B = c.appendEnvID(c.out.B, seq)
	}
	c.traceSent(c.out.B[start:])
	c.out.B = append(c.out.B, '\r', '\n')
	c.push(PhaseMail, now, seq)
}

// appendEnvID appends the ENVID of message seq: its Message-Id without the brackets
// ("pid.slot.seq@host"), or "slot.seq" (hex) when messages have no generated headers.
func (c *Client) appendEnvID(dst []byte, seq int64) []byte {
	t := c.cfg.Template
	if !t.spec.Headers {
		dst = appendHex(dst, int64(c.slot), 4)
		return appendHex(append(dst, '.'), seq, 4)
	}
	from := len(dst)
	dst = t.appendID(dst, seq, c.slot) // "<…>": neither bracket is xtext-special, but ENVID carries none
	copy(dst[from:], dst[from+1:len(dst)-1])
	return dst[:len(dst)-2]
}

// appendRcptParams appends RCPT TO for recipient i with this session's parameters.
func (c *Client) appendRcptParams(now int64, t *txn, i int) {
	start := len(c.out.B)
	c.out.B = append(c.out.B, "RCPT TO:<"...)
	c.out.B = c.cfg.Template.AppendRecipient(c.out.B, t.seq, i)
	c.out.B = append(c.out.B, '>')
	if n := c.cfg.ESMTP.DSNNotify; n != "" {
		c.out.B = append(c.out.B, " NOTIFY="...)
		c.out.B = append(c.out.B, n...)
	}
	c.out.B = append(c.out.B, " ORCPT=rfc822;"...)
	from := len(c.out.B)
	c.out.B = c.cfg.Template.AppendRecipient(c.out.B, t.seq, i)
	c.out.B = appendXtextInPlace(c.out.B, from)
	c.traceSent(c.out.B[start:])
	c.out.B = append(c.out.B, '\r', '\n')
	c.push(PhaseRcpt, now, t.seq)
}

// appendXtextInPlace encodes b[from:] as xtext (RFC 3461 §4: "+XX" for '+', '=' and
// bytes outside '!'…'~'), growing b without a scratch buffer.
func appendXtextInPlace(b []byte, from int) []byte {
	extra := 0
	for _, ch := range b[from:] {
		if xtextSpecial(ch) {
			extra += 2
		}
	}
	if extra == 0 {
		return b
	}
	n := len(b)
	for range extra {
		b = append(b, 0)
	}
	w := len(b)
	for r := n - 1; r >= from; r-- {
		ch := b[r]
		if !xtextSpecial(ch) {
			w--
			b[w] = ch
			continue
		}
		w -= 3
		b[w], b[w+1], b[w+2] = '+', "0123456789ABCDEF"[ch>>4], "0123456789ABCDEF"[ch&15]
	}
	return b
}

func xtextSpecial(ch byte) bool { return ch < '!' || ch > '~' || ch == '+' || ch == '=' }

// messageSize is the size of message seq as SIZE= counts it (RFC 1870): its own bytes
// and its body in plain form (message_plain.go), as BDAT sends them. They are rendered
// at the end of the output buffer to be measured, then dropped, with a scratch of their
// own (c.pieces and c.bdat's may still be waiting to go out), so that nothing is
// allocated.
func (c *Client) messageSize(seq, now int64) int {
	mark := len(c.out.B)
	var body int
	c.out.B, _, body = c.cfg.ESMTP.appendPlain(c.cfg.Template, c.out.B, &c.sizePieces, seq, c.slot, now)
	n := len(c.out.B) - mark + body
	c.out.B = c.out.B[:mark]
	return n
}

package protocol

import "strconv"

// Envelope is how a message's sender and recipients vary (--from-file, --rcpt-file,
// --rcpt-count, --rcpt-domains); the zero value is smtp-source's fixed envelope.
type Envelope struct {
	Senders    []string // MAIL FROM per message, from a list
	Recipients []string // RCPT TO per recipient, from a list
	// Random picks list entries by a draw of (Seed, seq) instead of in turn.
	Random bool
	// Count, when set, is message seq's number of recipients (at most MaxCount).
	Count    func(seq int64) int
	MaxCount int
	// Domain, when set, is the domain of recipient i of message seq: the recipient is
	// the -t local part, a number unique in the run, '@' and the domain.
	Domain func(seq int64, i int) string
}

// RecipientsOf is the number of RCPT commands of message seq.
func (t *Template) RecipientsOf(seq int64) int {
	if c := t.spec.Envelope.Count; c != nil {
		return max(c(seq), 1)
	}
	return t.spec.Recipients
}

// pick is the list entry at pos (in turn), or drawn for entry k of message seq.
func (t *Template) pick(list []string, seq int64, k int, pos int64, draw uint64) string {
	if t.spec.Envelope.Random {
		return list[tokenHash(t.spec.Seed, seq, draw+uint64(k)*131)%uint64(len(list))]
	}
	return list[uint64(pos)%uint64(len(list))]
}

// position numbers recipient k of message seq, unique in the run.
func (t *Template) position(seq int64, k int) int64 {
	per := int64(t.spec.Recipients)
	if t.spec.Envelope.Count != nil {
		per = int64(max(t.spec.Envelope.MaxCount, 1))
	}
	return (seq-1)*per + int64(k)
}

// sender is message seq's envelope sender.
func (t *Template) sender(seq int64) string {
	if s := t.spec.Envelope.Senders; len(s) > 0 {
		return t.pick(s, seq, 0, seq-1, 1<<20)
	}
	return t.spec.Sender
}

// AppendMailCommand appends message seq's "MAIL FROM:<sender>\r\n".
func (t *Template) AppendMailCommand(dst []byte, seq int64) []byte {
	if len(t.spec.Envelope.Senders) == 0 {
		return append(dst, t.mailCmd...)
	}
	dst = append(dst, "MAIL FROM:<"...)
	dst = append(dst, t.sender(seq)...)
	return append(dst, ">\r\n"...)
}

// listRecipient is recipient i of message seq from the recipient list.
func (t *Template) listRecipient(seq int64, i int) string {
	return t.pick(t.spec.Envelope.Recipients, seq, i, t.position(seq, i), 2<<20)
}

// appendEnvelopeRecipient appends recipient i of message seq when the envelope varies;
// ok false when smtp-source's rules apply.
func (t *Template) appendEnvelopeRecipient(dst []byte, seq int64, i int) ([]byte, bool) {
	e := &t.spec.Envelope
	switch {
	case len(e.Recipients) > 0:
		return append(dst, t.listRecipient(seq, i)...), true
	case e.Domain != nil:
		dst = append(dst, t.rcptLocal...)
		dst = strconv.AppendInt(dst, t.position(seq, i), 10)
		dst = append(dst, '@')
		return append(dst, e.Domain(seq, i)...), true
	case e.Count != nil:
		dst = append(dst, t.rcptLocal...)
		dst = strconv.AppendInt(dst, t.position(seq, i), 10)
		return append(dst, t.rcptDomain...), true
	}
	return dst, false
}

// mayBeEightBit reports whether a list's address holds a byte ≥ 0x80, or the recipient
// domains (a function of the message) might.
func (e *Envelope) mayBeEightBit() bool {
	for _, list := range [][]string{e.Senders, e.Recipients} {
		for _, a := range list {
			if has8bit(a) {
				return true
			}
		}
	}
	return e.Domain != nil
}

// envelopeEightBit reports whether message seq's sender or first recipient, as its
// From: and To: headers and its {from} and {rcpt} tokens show them, holds a byte ≥ 0x80.
func (t *Template) envelopeEightBit(seq int64) bool {
	e := &t.spec.Envelope
	switch {
	case len(e.Senders) > 0 && has8bit(t.sender(seq)):
		return true
	case len(e.Recipients) > 0:
		return has8bit(t.listRecipient(seq, 0))
	case e.Domain != nil:
		return has8bit(e.Domain(seq, 0))
	}
	return false
}

// varies reports whether the envelope is not smtp-source's.
func (e *Envelope) varies() bool {
	return len(e.Senders) > 0 || len(e.Recipients) > 0 || e.Count != nil || e.Domain != nil
}

package plan

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/go-smtp-source/go-smtp-source/protocol"
	"github.com/go-smtp-source/go-smtp-source/protocol/dist"
)

// NewSeed is a fresh random seed, for a plan whose random choices were not given one:
// the plan records it, so the run can be repeated.
func NewSeed() (uint64, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0, fmt.Errorf("seed: %w", err)
	}
	return binary.LittleEndian.Uint64(b[:]) | 1, nil
}

// Randomised reports whether the message options make random choices (and so use Seed).
func (m Message) Randomised() bool {
	return m.Size != "" || m.Attach != "" || m.Body != "" && m.Body != BodySMTPSource ||
		m.RandomPick || m.RcptCount != "" || m.RcptDomains != ""
}

// MaxRcptCount bounds --rcpt-count's values.
const MaxRcptCount = 100000

func (m Message) validateEnvelope() error {
	if err := m.CheckLists(); err != nil {
		return err
	}
	return m.validateRecipients()
}

// CheckLists checks the address lists: not empty, one address an entry.
func (m Message) CheckLists() error {
	for _, l := range []struct {
		name string
		list *AddressList
	}{{"message.from_list", m.FromList}, {"message.rcpt_list", m.RcptList}} {
		if l.list == nil {
			continue
		}
		if len(l.list.Addresses) == 0 {
			return fmt.Errorf("%s %s: no addresses", l.name, l.list.Name)
		}
		for i, a := range l.list.Addresses {
			if a == "" || strings.ContainsAny(a, "<>\r\n\x00 \t") {
				return fmt.Errorf("%s %s: address %d: %q is not an address", l.name, l.list.Name, i+1, a)
			}
		}
	}
	return nil
}

func (m Message) validateRecipients() error {
	if m.RcptCount != "" {
		d, err := dist.Parse(m.RcptCount)
		switch {
		case err != nil:
			return fmt.Errorf("message.rcpt_count: %w", err)
		case d.Min() < 1 || d.Max() > MaxRcptCount:
			return fmt.Errorf("message.rcpt_count %q: counts from 1 to %d", m.RcptCount, MaxRcptCount)
		case m.Recipients > 1 || m.NumberRecipients:
			return errors.New("message.rcpt_count: in place of recipients (-r) and number_recipients (-N)")
		}
	}
	if m.RcptDomains != "" {
		if _, err := dist.ParseChoice(m.RcptDomains); err != nil {
			return fmt.Errorf("message.rcpt_domains: %w", err)
		}
		if m.RcptList != nil {
			return errors.New("message.rcpt_domains makes recipients; message.rcpt_list lists them: use one")
		}
	}
	if (m.FromList != nil || m.RcptList != nil || m.RcptDomains != "") && m.NumberRecipients {
		return errors.New("message.number_recipients (-N) numbers smtp-source's recipient, not lists or domains")
	}
	return nil
}

// The body kinds (Message.Body).
const (
	BodySMTPSource = "smtp-source"
	BodyText       = "text"
	BodyRandom     = "random"
)

// BodyKind is Body as the protocol's.
func (m Message) BodyKind() protocol.BodyKind {
	switch m.Body {
	case BodyText:
		return protocol.BodyText
	case BodyRandom:
		return protocol.BodyRandom
	}
	return protocol.BodySMTPSource
}

// AttachDist is the parsed Attach (ok false when there is none).
func (m Message) AttachDist() (d dist.Dist, ok bool, err error) {
	if m.Attach == "" {
		return dist.Dist{}, false, nil
	}
	d, err = dist.Parse(m.Attach)
	if err != nil {
		return dist.Dist{}, false, fmt.Errorf("message.attach: %w", err)
	}
	return d, true, nil
}

// SizeDist is the parsed Size (ok false when there is none).
func (m Message) SizeDist() (d dist.Dist, ok bool, err error) {
	if m.Size == "" {
		return dist.Dist{}, false, nil
	}
	d, err = dist.Parse(m.Size)
	if err != nil {
		return dist.Dist{}, false, fmt.Errorf("message.size: %w", err)
	}
	return d, true, nil
}

func (m Message) validateContent() error {
	if err := m.validateBody(); err != nil {
		return err
	}
	if err := m.validateTemplates(); err != nil {
		return err
	}
	if err := m.validateEnvelope(); err != nil {
		return err
	}
	if m.Corpus != "" && (m.File != nil || m.Length > 0 || m.Size != "" || m.Body != "" && m.Body != BodySMTPSource ||
		m.Attach != "" || m.Subject != nil || m.NoHeaders) {
		return errors.New("message.corpus sends its messages: not with file, length, size, body, attach, subject or no_headers")
	}
	if m.CorpusKeepHeaders && m.Corpus == "" {
		return errors.New("message.corpus_keep_headers needs message.corpus")
	}
	d, ok, err := m.SizeDist()
	switch {
	case err != nil:
		return err
	case !ok:
		return nil
	case m.Length > 0 || m.File != nil:
		return errors.New("message.size: a size distribution fills generated bodies; it takes neither length (-l) nor file (-F)")
	case d.Min() < 1:
		return fmt.Errorf("message.size %q: sizes must be positive", m.Size)
	}
	return nil
}

// validateTemplates checks the Subject's and the headers' tokens, and that headers go
// into generated headers.
func (m Message) validateTemplates() error {
	if m.Subject != nil {
		if _, err := protocol.ParseText(*m.Subject); err != nil {
			return fmt.Errorf("message.subject: %w", err)
		}
	}
	if len(m.Headers) > 0 && (m.NoHeaders || m.File != nil) {
		return errors.New("message.headers go into generated headers: not with no_headers (-o) or file (-F)")
	}
	if err := m.CheckHeaders(); err != nil {
		return fmt.Errorf("message.headers: %w", err)
	}
	return nil
}

// CheckHeaders checks each of Headers: one NAME: VALUE line whose tokens are known.
func (m Message) CheckHeaders() error {
	for _, h := range m.Headers {
		name, _, ok := strings.Cut(h, ":")
		if !ok || name == "" || strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r > '~' }) ||
			strings.ContainsAny(h, "\r\n") {
			return fmt.Errorf("%q: want NAME: VALUE on one line", h)
		}
		if _, err := protocol.ParseText(h); err != nil {
			return fmt.Errorf("%q: %w", h, err)
		}
	}
	return nil
}

func (m Message) validateBody() error {
	switch m.Body {
	case "", BodySMTPSource, BodyText, BodyRandom:
	default:
		return fmt.Errorf("message.body: want smtp-source, text or random, got %q", m.Body)
	}
	if _, _, err := m.AttachDist(); err != nil {
		return err
	}
	if (m.Attach != "" || m.Body != "" && m.Body != BodySMTPSource) && m.Size == "" {
		return errors.New("message.body and message.attach shape bodies of message.size: give a size")
	}
	return nil
}

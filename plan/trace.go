package plan

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
)

// DefaultTraceHeader is the trace header's name unless the plan gives another
// (go-smtp-sink --trace looks for the same by default).
const DefaultTraceHeader = "X-GSS-Trace"

// MaxTraceMessages is the most messages a traced run may send: go-smtp-sink counts
// sequence numbers up to 2^32 by default.
const MaxTraceMessages = 1 << 32

// Trace makes every message carry a header that names the run and the message, so that
// a sink behind the MTA can say which messages arrived, when, and how often:
//
//	X-GSS-Trace: <run-id> <global-seq> <send-time-unix-ns>
//
// Run is the same in every shard of a run (a cluster's workers share the plan's), and
// the sequence numbers are global, so a sink sees one run.
type Trace struct {
	Header string `json:"header"` // the header's name (DefaultTraceHeader)
	Run    string `json:"run"`    // 1–64 of A-Z a-z 0-9 . _ -
}

// NewTraceRun is a fresh run id: 16 random hex digits.
func NewTraceRun() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("trace run id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

func (p *Plan) withTraceDefaults() {
	if p.Trace != nil && p.Trace.Header == "" {
		t := *p.Trace
		t.Header = DefaultTraceHeader
		p.Trace = &t
	}
}

func (p Plan) validateTrace() error {
	t := p.Trace
	if t == nil {
		return nil
	}
	if err := CheckTraceHeader(t.Header); err != nil {
		return fmt.Errorf("trace.header: %w", err)
	}
	if err := CheckTraceRun(t.Run); err != nil {
		return fmt.Errorf("trace.run: %w", err)
	}
	if p.FindMax != nil {
		return errors.New("trace: a capacity search is many runs, each numbering its messages from 1; trace a run of one rate")
	}
	if p.Messages > MaxTraceMessages {
		return fmt.Errorf("trace: %d messages: a traced run numbers at most %d", p.Messages, int64(MaxTraceMessages))
	}
	return nil
}

// CheckTraceHeader checks a header field name (RFC 5322: printable ASCII but the colon),
// of at most 64 characters.
func CheckTraceHeader(name string) error {
	if name == "" || len(name) > 64 {
		return errors.New("a header name of 1 to 64 characters")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c > '~' || c == ':' {
			return fmt.Errorf("%q: a header name is printable ASCII without spaces or a colon", name)
		}
	}
	return nil
}

// CheckTraceRun checks a trace run id: 1–64 of A-Z a-z 0-9 . _ - (what go-smtp-sink
// accepts).
func CheckTraceRun(id string) error {
	if id == "" || len(id) > 64 {
		return errors.New("a run id of 1 to 64 characters")
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%q: a run id is A-Z a-z 0-9 . _ -", id)
		}
	}
	return nil
}

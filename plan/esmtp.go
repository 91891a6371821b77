package plan

import (
	"fmt"
	"strings"
)

// ESMTP is the service extensions sessions use when the server announces them, beyond
// smtp-source's (README, "ESMTP a real MTA sees"). nil in a Plan: none, smtp-source's
// bytes.
type ESMTP struct {
	Size bool `json:"size,omitempty"` // SIZE=<the message's size> on MAIL
	// EightBitMIME is when MAIL carries BODY=8BITMIME: "" (never), "auto" (when the
	// message has 8-bit bytes) or "always".
	EightBitMIME string `json:"8bitmime,omitempty"`
	SMTPUTF8     bool   `json:"smtputf8,omitempty"`   // SMTPUTF8 on MAIL
	RequireTLS   bool   `json:"requiretls,omitempty"` // REQUIRETLS on MAIL
	DSNReturn    string `json:"dsn_ret,omitempty"`    // RET= on MAIL: FULL or HDRS (with ENVID=)
	DSNNotify    string `json:"dsn_notify,omitempty"` // NOTIFY= on RCPT: NEVER or SUCCESS,FAILURE,DELAY (with ORCPT=)
	// BDAT sends messages with BDAT instead of DATA when the server announces CHUNKING,
	// in chunks of BDATChunk bytes (0: one chunk per message).
	BDAT      bool `json:"bdat,omitempty"`
	BDATChunk int  `json:"bdat_chunk,omitempty"`
}

// validateESMTP checks the extension settings' values.
func (p Plan) validateESMTP() error {
	e := p.ESMTP
	if e == nil {
		return nil
	}
	switch e.EightBitMIME {
	case "", "auto", "always":
	default:
		return fmt.Errorf("esmtp.8bitmime: want auto or always, got %q", e.EightBitMIME)
	}
	switch e.DSNReturn {
	case "", "FULL", "HDRS":
	default:
		return fmt.Errorf("esmtp.dsn_ret: want FULL or HDRS, got %q", e.DSNReturn)
	}
	if err := checkNotify(e.DSNNotify); err != nil {
		return fmt.Errorf("esmtp.dsn_notify: %w", err)
	}
	if e.BDATChunk < 0 {
		return fmt.Errorf("esmtp.bdat_chunk: must not be negative: %d", e.BDATChunk)
	}
	return nil
}

// checkNotify checks a NOTIFY value (RFC 3461 §4.1): NEVER alone, or a list of SUCCESS,
// FAILURE and DELAY, each once.
func checkNotify(v string) error {
	if v == "" || v == "NEVER" {
		return nil
	}
	seen := map[string]bool{}
	for _, w := range strings.Split(v, ",") {
		switch {
		case w != "SUCCESS" && w != "FAILURE" && w != "DELAY":
			return fmt.Errorf("want NEVER or a list of SUCCESS, FAILURE, DELAY; got %q", v)
		case seen[w]:
			return fmt.Errorf("%s twice in %q", w, v)
		}
		seen[w] = true
	}
	return nil
}

package plan

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-smtp-source/go-smtp-source/protocol"
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

	// XClient is XCLIENT's attributes, "ADDR=192.0.2.0/24,NAME=client.example" (ADDR
	// rotates over its address list, one address per session), sent after EHLO when the
	// server announces XCLIENT.
	XClient string `json:"xclient,omitempty"`
	// ProxyProtocol ("v1" or "v2") starts every connection with a PROXY protocol header
	// whose source is the next address of ProxySource (addresses and CIDR prefixes).
	ProxyProtocol string `json:"proxy_protocol,omitempty"`
	ProxySource   string `json:"proxy_source,omitempty"`
}

// NeedsEHLO reports whether the settings use EHLO extensions (all but the PROXY header).
func (e *ESMTP) NeedsEHLO() bool {
	return e != nil && (e.Size || e.EightBitMIME != "" || e.SMTPUTF8 || e.RequireTLS || e.DSNReturn != "" ||
		e.DSNNotify != "" || e.BDAT || e.XClient != "")
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
	if e.XClient != "" {
		if _, err := protocol.ParseXClient(e.XClient); err != nil {
			return fmt.Errorf("esmtp.xclient: %w", err)
		}
	}
	return e.validateProxy()
}

func (e *ESMTP) validateProxy() error {
	switch e.ProxyProtocol {
	case "":
		if e.ProxySource != "" {
			return errors.New("esmtp.proxy_source: without proxy_protocol")
		}
		return nil
	case "v1", "v2":
	default:
		return fmt.Errorf("esmtp.proxy_protocol: want v1 or v2, got %q", e.ProxyProtocol)
	}
	if _, err := protocol.ParseAddrList(e.ProxySource); err != nil {
		return fmt.Errorf("esmtp.proxy_source: %w", err)
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

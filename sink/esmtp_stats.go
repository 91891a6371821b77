package sink

import (
	"bytes"
	"sync/atomic"
)

// esmtpCounters count the ESMTP a load generator's traffic carries (go-smtp-source's
// --mail-size, --8bitmime, --smtputf8, --dsn-*, --xclient), in --stats as "esmtp".
type esmtpCounters struct {
	sizeParam atomic.Int64 // MAIL with SIZE=
	body8bit  atomic.Int64 // MAIL with BODY=8BITMIME
	smtputf8  atomic.Int64 // MAIL with SMTPUTF8
	dsnMail   atomic.Int64 // MAIL with RET= or ENVID=
	dsnRcpt   atomic.Int64 // RCPT with NOTIFY= or ORCPT=
	xclient   atomic.Int64 // XCLIENT commands accepted

	proxyHeaders atomic.Int64 // PROXY protocol headers read (proxy.go)
}

// ESMTPCounts is the "esmtp" object of --stats: accepted commands that carried each.
type ESMTPCounts struct {
	MailSize     int64 `json:"mail_size"`
	Body8BitMIME int64 `json:"body_8bitmime"`
	SMTPUTF8     int64 `json:"smtputf8"`
	DSNMail      int64 `json:"dsn_mail"`
	DSNRcpt      int64 `json:"dsn_rcpt"`
	XClient      int64 `json:"xclient"`
	ProxyHeaders int64 `json:"proxy_headers"`
}

func (c *esmtpCounters) snapshot() ESMTPCounts {
	return ESMTPCounts{MailSize: c.sizeParam.Load(), Body8BitMIME: c.body8bit.Load(), SMTPUTF8: c.smtputf8.Load(),
		DSNMail: c.dsnMail.Load(), DSNRcpt: c.dsnRcpt.Load(), XClient: c.xclient.Load(), ProxyHeaders: c.proxyHeaders.Load()}
}

// countMail counts the parameters of an accepted MAIL FROM (what follows its path).
func (c *esmtpCounters) countMail(args []byte) {
	var dsn bool
	forEachParam(args, func(name, value []byte) {
		switch {
		case bytes.EqualFold(name, []byte("SIZE")):
			c.sizeParam.Add(1)
		case bytes.EqualFold(name, []byte("BODY")) && bytes.EqualFold(value, []byte("8BITMIME")):
			c.body8bit.Add(1)
		case bytes.EqualFold(name, []byte("SMTPUTF8")):
			c.smtputf8.Add(1)
		case bytes.EqualFold(name, []byte("RET")), bytes.EqualFold(name, []byte("ENVID")):
			dsn = true
		}
	})
	if dsn {
		c.dsnMail.Add(1)
	}
}

// countRcpt counts the DSN parameters of an accepted RCPT TO.
func (c *esmtpCounters) countRcpt(args []byte) {
	var dsn bool
	forEachParam(args, func(name, _ []byte) {
		dsn = dsn || bytes.EqualFold(name, []byte("NOTIFY")) || bytes.EqualFold(name, []byte("ORCPT"))
	})
	if dsn {
		c.dsnRcpt.Add(1)
	}
}

// forEachParam calls f with each "NAME[=value]" after the command's path ("FROM:<a> SIZE=1").
func forEachParam(args []byte, f func(name, value []byte)) {
	rest := args
	if i := bytes.IndexByte(rest, '>'); i >= 0 {
		rest = rest[i+1:]
	} else if i := bytes.IndexByte(rest, ' '); i >= 0 {
		rest = rest[i+1:]
	} else {
		return
	}
	for _, p := range bytes.Fields(rest) {
		name, value, _ := bytes.Cut(p, []byte("="))
		f(name, value)
	}
}

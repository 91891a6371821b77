package main

import (
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/go-smtp-source/go-smtp-source/plan"
)

// addESMTPFlags adds the service extensions sessions use when the server announces them
// (README, "ESMTP a real MTA sees"). Each implies EHLO; none given, smtp-source's bytes.
func addESMTPFlags(fs *pflag.FlagSet) {
	fs.Bool("mail-size", false, "SIZE=<the message's size> on MAIL when the server announces SIZE")
	fs.String("8bitmime", "", "BODY=8BITMIME on MAIL when the server announces 8BITMIME: `auto` (when the message has 8-bit bytes) or always")
	fs.Bool("smtputf8", false, "SMTPUTF8 on MAIL when the server announces it (UTF-8 addresses and headers: give them with -f, -t, -S)")
	fs.Bool("requiretls", false, "REQUIRETLS on MAIL when the server announces it (over TLS)")
	fs.String("dsn-ret", "", "DSN: RET=`FULL|HDRS` and ENVID=<Message-Id> on MAIL, ORCPT on RCPT, when the server announces DSN")
	fs.String("dsn-notify", "", "DSN: NOTIFY=`LIST` on every RCPT (NEVER, or SUCCESS,FAILURE,DELAY), ORCPT on RCPT, ENVID on MAIL, when the server announces DSN")
	fs.String("bdat", "", "send messages with BDAT (CHUNKING) instead of DATA when the server announces it, in chunks of `CHUNK` bytes (--bdat alone or 0: one chunk per message); pipelined with --pipelining")
	fs.Lookup("bdat").NoOptDefVal = "0"
	fs.String("xclient", "", "XCLIENT after EHLO when the server announces it: `ATTRS` such as ADDR=192.0.2.0/24,NAME=client.example (ADDR: addresses and CIDR prefixes, one address per session in turn)")
	fs.String("proxy-protocol", "", "start every connection with a PROXY protocol header, `v1` or v2 (HAProxy's), its source from --proxy-source")
	fs.String("proxy-source", "", "--proxy-protocol: the client addresses the headers state, `LIST` of addresses and CIDR prefixes, one per session in turn")
}

// parseESMTP reads the extension options into the plan (nil when none is given).
func parseESMTP(f flags, inv *invocation) error {
	names := []string{"mail-size", "8bitmime", "smtputf8", "requiretls", "dsn-ret", "dsn-notify", "bdat", "xclient", "proxy-protocol", "proxy-source"}
	given := false
	for _, n := range names {
		given = given || f.Changed(n)
	}
	if !given {
		return nil
	}
	e := &plan.ESMTP{Size: f.on("mail-size"), EightBitMIME: f.str("8bitmime"), SMTPUTF8: f.on("smtputf8"),
		RequireTLS: f.on("requiretls"), DSNReturn: strings.ToUpper(f.str("dsn-ret")), DSNNotify: strings.ToUpper(f.str("dsn-notify")),
		XClient: f.str("xclient"), ProxyProtocol: f.str("proxy-protocol"), ProxySource: f.str("proxy-source")}
	if e.ProxyProtocol != "" && e.ProxySource == "" {
		return usagef("--proxy-protocol: needs --proxy-source")
	}
	if f.Changed("bdat") {
		n, err := strconv.Atoi(f.str("bdat"))
		if err != nil || n < 0 {
			return usagef("--bdat: want a chunk size in bytes (0: one chunk per message): %q", f.str("bdat"))
		}
		e.BDAT, e.BDATChunk = true, n
	}
	inv.plan.ESMTP = e
	if inv.plan.Session.Greeting == plan.GreetNone && e.NeedsEHLO() {
		return usagef("--%s: needs EHLO, and -o sends no greeting", firstChanged(f, names))
	}
	return nil
}

func firstChanged(f flags, names []string) string {
	for _, n := range names {
		if f.Changed(n) {
			return n
		}
	}
	return ""
}

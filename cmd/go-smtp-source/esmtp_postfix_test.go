package main

import (
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// TestESMTPAgainstPostfixSMTPD: Postfix's smtpd (3.7, SMTPUTF8 on, a 20,000-byte message
// size limit) takes every message sent with the ESMTP options, and its log shows what it
// saw: BDAT commands (its per-session command counts), UTF-8 senders, the success DSNs
// NOTIFY=SUCCESS asked for, and the SIZE= refusals of messages over its limit.
func TestESMTPAgainstPostfixSMTPD(t *testing.T) {
	ca := testpeer.NewCA(t, "postfix test CA")
	leaf := ca.Issue(t, testpeer.LocalhostSpec())
	smtpd := testpeer.StartPostfixSMTPD(t, leaf.CertPEM, leaf.KeyPEM, "smtputf8_enable = yes", "message_size_limit = 20000")
	send := func(t *testing.T, args ...string) [5]int {
		t.Helper()
		code, stderr := runCLI(t, append(append(args, "--timeout", "30s"), smtpd.Addr)...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, stderr)
		}
		return summary(t, stderr)
	}
	accepted := func(t *testing.T, args ...string) {
		t.Helper()
		if got := send(t, args...); got[1] != got[0] {
			t.Fatalf("%v: not all accepted: %v", args, got)
		}
	}
	const wait = 30 * time.Second
	t.Run("bdat", func(t *testing.T) {
		accepted(t, "-s", "4", "-m", "20", "-d", "-f", "bdat1@test.example", "--bdat")
		// One BDAT LAST per message: ten sessions' worth over four, "bdat=" counts them.
		smtpd.WaitLog(t, wait, 20, "from=<bdat1@test.example>")
		accepted(t, "-s", "2", "-m", "10", "-f", "bdat2@test.example", "-l", "1000", "--pipelining", "--bdat=300")
		smtpd.WaitLog(t, wait, 10, "from=<bdat2@test.example>")
		// 1,000 bytes of payload and the headers: four chunks of 300 each, all pipelined.
		smtpd.WaitLog(t, wait, 10, "disconnect from", " bdat=4 ")
		if log := smtpd.Log(t); strings.Contains(log, " data=") {
			t.Fatalf("DATA used with --bdat:\n%s", log)
		}
	})
	t.Run("smtputf8", func(t *testing.T) {
		accepted(t, "-s", "2", "-m", "10", "-f", "ñandú@test.example", "-t", "señor@test.example", "--smtputf8", "-S", "¡hola!", "--8bitmime", "auto")
		smtpd.WaitLog(t, wait, 10, "from=<ñandú@test.example>")
		smtpd.WaitLog(t, wait, 10, "to=<señor@test.example>", "status=sent")
	})
	t.Run("dsn", func(t *testing.T) {
		accepted(t, "-s", "2", "-m", "10", "-f", "dsn@test.example", "-t", "dsnrcpt@test.example", "--dsn-ret", "HDRS", "--dsn-notify", "SUCCESS,FAILURE")
		smtpd.WaitLog(t, wait, 10, "to=<dsnrcpt@test.example>", "status=sent")
		// NOTIFY=SUCCESS: Postfix sends the sender a success notification for each.
		smtpd.WaitLog(t, wait, 10, "sender delivery status notification")
	})
	t.Run("size", func(t *testing.T) {
		accepted(t, "-s", "2", "-m", "10", "-f", "size@test.example", "-l", "15000", "--mail-size")
		smtpd.WaitLog(t, wait, 10, "from=<size@test.example>")
		// Over the limit: Postfix refuses MAIL FROM on its SIZE=, a counted rejection.
		if got := send(t, "-A", "-s", "2", "-m", "10", "-f", "big@test.example", "-l", "30000", "--mail-size"); got[2] != 10 {
			t.Fatalf("over the size limit: %v, want 10 rejected", got)
		}
		smtpd.WaitLog(t, wait, 10, "reject: MAIL from", "552 5.3.4 Message size exceeds fixed limit")
	})
}

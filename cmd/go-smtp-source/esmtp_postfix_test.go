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

// TestXClientAndProxyAgainstPostfixSMTPD: one machine looks like many clients to Postfix's
// smtpd: with XCLIENT (from an authorized host) and with PROXY headers v1 and v2
// (smtpd_upstream_proxy_protocol = haproxy), Postfix logs each message from the address
// the session stated, every address of the rotation in turn.
func TestXClientAndProxyAgainstPostfixSMTPD(t *testing.T) {
	ca := testpeer.NewCA(t, "postfix test CA")
	leaf := ca.Issue(t, testpeer.LocalhostSpec())
	common := []string{"mynetworks = 127.0.0.0/8 192.0.2.0/24 198.51.100.0/24", "smtpd_peername_lookup = no"}
	const wait = 30 * time.Second
	t.Run("xclient", func(t *testing.T) {
		smtpd := testpeer.StartPostfixSMTPD(t, leaf.CertPEM, leaf.KeyPEM, append(common, "smtpd_authorized_xclient_hosts = 127.0.0.0/8")...)
		code, stderr := runCLI(t, "-s", "3", "-m", "12", "--xclient", "ADDR=192.0.2.8/30,NAME=client.example", "--timeout", "30s", smtpd.Addr)
		if got := summary(t, stderr); code != 0 || got[1] != 12 {
			t.Fatalf("exit %d, %v\n%s", code, got, stderr)
		}
		for _, addr := range []string{"192.0.2.8", "192.0.2.9", "192.0.2.10", "192.0.2.11"} {
			smtpd.WaitLog(t, wait, 3, "client=client.example["+addr+"]")
		}
	})
	t.Run("proxy", func(t *testing.T) {
		smtpd := testpeer.StartPostfixSMTPD(t, leaf.CertPEM, leaf.KeyPEM, append(common, "smtpd_upstream_proxy_protocol = haproxy")...)
		for _, v := range []string{"v1", "v2"} {
			src := map[string]string{"v1": "192.0.2.20,192.0.2.21", "v2": "198.51.100.30/31"}[v]
			code, stderr := runCLI(t, "-s", "2", "-m", "10", "-d", "--proxy-protocol", v, "--proxy-source", src, "--timeout", "30s", smtpd.Addr)
			if got := summary(t, stderr); code != 0 || got[1] != 10 {
				t.Fatalf("%s: exit %d, %v\n%s", v, code, got, stderr)
			}
		}
		for _, addr := range []string{"192.0.2.20", "192.0.2.21", "198.51.100.30", "198.51.100.31"} {
			smtpd.WaitLog(t, wait, 1, "connect from unknown["+addr+"]")
			smtpd.WaitLog(t, wait, 1, "client=unknown["+addr+"]")
		}
		// (The start-up's probe connects from 127.0.0.1 without a header, and sends nothing.)
		if log := smtpd.Log(t); strings.Contains(log, "client=unknown[127.0.0.1]") {
			t.Fatalf("a message without its PROXY address:\n%s", log)
		}
	})
}

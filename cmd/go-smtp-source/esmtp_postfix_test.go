package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
	"github.com/go-smtp-source/go-smtp-source/plan"
	"github.com/go-smtp-source/go-smtp-source/protocol/dist"
)

// TestESMTPAgainstPostfixSMTPD: Postfix's smtpd (3.7, SMTPUTF8 on, a 20,000-byte message
// size limit) takes every message sent with the ESMTP options, and its log shows what it
// saw: BDAT commands (its per-session command counts), UTF-8 senders, the success DSNs
// NOTIFY=SUCCESS asked for, and the SIZE= refusals of messages over its limit; with
// bodies made per message (--size), the size of each message as drawn, its BDAT chunks,
// and the refusal at MAIL of exactly those drawn over its limit.
func TestESMTPAgainstPostfixSMTPD(t *testing.T) {
	ca := testpeer.NewCA(t, "postfix test CA")
	leaf := ca.Issue(t, testpeer.LocalhostSpec())
	// Refusals count as errors: enough of them for the size-limit runs without the error
	// sleeps and disconnections that Postfix defends itself with.
	smtpd := testpeer.StartPostfixSMTPD(t, leaf.CertPEM, leaf.KeyPEM, "smtputf8_enable = yes", "message_size_limit = 20000",
		"smtpd_soft_error_limit = 1000", "smtpd_hard_error_limit = 1000")
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
	t.Run("bodies made per message", func(t *testing.T) { madePerMessageAtPostfix(t, smtpd, accepted) })
	t.Run("size limit with bodies made per message", func(t *testing.T) { sizeLimitAtPostfix(t, smtpd, send) })
}

// logWait bounds the wait for Postfix's log to show what a run did.
const logWait = 30 * time.Second

// madePerMessageAtPostfix: messages of --size lognormal go to Postfix's smtpd with BDAT
// (one chunk or chunks of 1,000, pipelined or not) and with SIZE=, one session a run.
// Every one is accepted; Postfix logs each message's size as drawn (plus its Received
// header, the same for all), its per-session BDAT count is the messages' chunks, and it
// saw no DATA.
func madePerMessageAtPostfix(t *testing.T, smtpd *testpeer.PostfixSMTPD, accepted func(*testing.T, ...string)) {
	const sizes, seed = "lognormal:median=4k,sigma=0.6", 5
	drawn := drawnSizes(t, sizes, seed, 40)
	if slices.Max(drawn) > 19000 || slices.Min(drawn) == slices.Max(drawn) { // the server's limit is 20,000
		t.Fatalf("drawn sizes %v: pick another seed", drawn)
	}
	for i, extra := range [][]string{{"--bdat"}, {"--bdat", "--pipelining"}, {"--bdat=1000"},
		{"--bdat=1000", "--pipelining", "--mail-size"}, {"--mail-size"}} {
		n := 31 + i // tells this run's session from the others in the log
		from := fmt.Sprintf("made%d@test.example", i)
		accepted(t, append([]string{"-s", "1", "-m", strconv.Itoa(n), "-d", "-f", from, "--seed", strconv.Itoa(seed), "--size", sizes}, extra...)...)
		bySeq := map[int64]int{}
		for seq := 1; seq <= n; seq++ {
			bySeq[int64(seq)] = drawn[seq-1]
		}
		checkLoggedSizes(t, smtpd, from, bySeq)
		want := fmt.Sprintf(" data=%d ", n)
		switch {
		case slices.Contains(extra, "--bdat"):
			want = fmt.Sprintf(" bdat=%d ", n)
		case extra[0] == "--bdat=1000":
			chunks := 0
			for _, size := range drawn[:n] {
				chunks += (size + 999) / 1000
			}
			want = fmt.Sprintf(" bdat=%d ", chunks)
		}
		for _, line := range smtpd.WaitLog(t, logWait, 1, "disconnect from", fmt.Sprintf(" mail=%d ", n), want) {
			if strings.Contains(want, "bdat") && strings.Contains(line, " data=") {
				t.Fatalf("%v: DATA used: %s", extra, line)
			}
		}
	}
}

// sizeLimitAtPostfix: under Postfix's message_size_limit (20,000), the messages of
// --size drawn over it are refused at MAIL on their SIZE= (counted rejections, with DATA
// and with pipelined BDAT) and the rest are accepted: the accounting is exact, and
// Postfix logs the refusals and the sizes of the messages it took.
func sizeLimitAtPostfix(t *testing.T, smtpd *testpeer.PostfixSMTPD, send func(*testing.T, ...string) [5]int) {
	const sizes, seed, n = "lognormal:median=14k,sigma=0.5", 2, 40
	under := map[int64]int{} // by sequence number
	for i, size := range drawnSizes(t, sizes, seed, n) {
		switch {
		case size <= 19500:
			under[int64(i+1)] = size
		case size <= 20000: // over cleanup's limit once Postfix's Received header is added: refused at the dot
			t.Fatalf("drawn size %d: pick another seed", size)
		}
	}
	over := n - len(under)
	if over == 0 || over == n {
		t.Fatalf("%d of %d drawn over the limit: pick another seed", over, n)
	}
	for i, extra := range [][]string{{"--mail-size"}, {"--mail-size", "--bdat=4000", "--pipelining"}} {
		from := fmt.Sprintf("limit%d@test.example", i)
		got := send(t, append([]string{"-A", "-s", "2", "-m", strconv.Itoa(n), "-d", "-f", from, "--seed", strconv.Itoa(seed), "--size", sizes}, extra...)...)
		if got != [5]int{n, n - over, over, 0, 0} {
			t.Fatalf("%v: accounting %v, want %d accepted and %d rejected", extra, got, n-over, over)
		}
		smtpd.WaitLog(t, logWait, over, "reject: MAIL from", "552 5.3.4 Message size exceeds fixed limit", "from=<"+from+">")
		checkLoggedSizes(t, smtpd, from, under)
	}
}

// drawnSizes are the sizes --size spec draws with --seed seed for messages 1..n, as the
// engine draws them (engine/content.go): index seq-1.
func drawnSizes(t *testing.T, spec string, seed uint64, n int) []int {
	t.Helper()
	d, _, err := plan.Message{Size: spec}.SizeDist()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int, n)
	for i := range out {
		out[i] = int(d.Quantile(dist.Even(seed, int64(i+1), dist.StreamSize)))
	}
	return out
}

// checkLoggedSizes waits until Postfix's queue manager has logged the messages from
// sender, one for each sequence number of want, and checks that each one's size is the
// size want gives it plus one overhead for all: Postfix's Received header, 100 to 400
// bytes, give or take a few for the queue id's length. The log joins a queue id to its
// Message-Id, "<pid.slot.seq@host>" (seq in hex).
func checkLoggedSizes(t *testing.T, smtpd *testpeer.PostfixSMTPD, from string, want map[int64]int) {
	t.Helper()
	smtpd.WaitLog(t, logWait, len(want), "from=<"+from+">, size=")
	seqOf, got := map[string]int64{}, map[int64]int{}
	for _, line := range strings.Split(smtpd.Log(t), "\n") {
		_, rest, ok := strings.Cut(line, "]: ")
		qid, what, _ := strings.Cut(rest, ": ")
		if !ok || what == "" {
			continue
		}
		if id, ok := strings.CutPrefix(what, "message-id=<"); ok {
			f := strings.Split(strings.TrimSuffix(id, ">"), ".")
			seq, err := strconv.ParseInt(strings.Split(f[len(f)-1], "@")[0], 16, 64)
			if err == nil {
				seqOf[qid] = seq
			}
		}
		if v, ok := strings.CutPrefix(what, "from=<"+from+">, size="); ok {
			size, _ := strconv.Atoi(strings.Split(v, ",")[0])
			got[seqOf[qid]] = size
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%s: Postfix logged %d messages (%v), want %d", from, len(got), got, len(want))
	}
	lo, hi := math.MaxInt, math.MinInt
	for seq, size := range want {
		d, ok := got[seq]
		if !ok {
			t.Fatalf("%s: message %d not in Postfix's log: %v", from, seq, got)
		}
		lo, hi = min(lo, d-size), max(hi, d-size)
	}
	if lo < 100 || hi > 400 || hi-lo > 8 {
		t.Fatalf("%s: Postfix's sizes are the drawn ones plus %d to %d bytes, want one overhead (±4) of 100 to 400:\nlogged %v\ndrawn %v", from, lo, hi, got, want)
	}
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

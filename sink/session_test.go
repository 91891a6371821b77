package sink

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

var testClock = time.Date(2026, 11, 28, 17, 47, 20, 0, time.UTC)

// newTestEnv builds an env with a fixed clock, no randomness and ids from 1.
func newTestEnv(t testing.TB, mod func(*Config)) *env {
	t.Helper()
	cfg := Config{Listen: "tcp4://127.0.0.1:0"}
	if mod != nil {
		mod(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	e := newEnv(cfg, newStats(cfg.UniqueHeader))
	e.ids = newIDSource(0)
	e.random = func() float64 { return 0 }
	e.clock = func() time.Time { return testClock }
	return e
}

// transcript drives a session the way the server does: it feeds the whole input,
// honours delays at once (recording them), and stops at a close.
type transcript struct {
	out    string
	delays []time.Duration
	closed bool
	rest   int // unconsumed input at the end
}

func runSession(s *Session, input string, chunk func() int) transcript {
	var tr transcript
	pending := []byte{}
	in := []byte(input)
	for steps := 0; steps < 100000; steps++ {
		if chunk != nil && len(in) > 0 {
			n := min(chunk(), len(in))
			pending = append(pending, in[:n]...)
			in = in[n:]
		} else {
			pending = append(pending, in...)
			in = nil
		}
		for {
			res, out := s.Feed(pending, nil)
			tr.out += string(out)
			pending = pending[res.Consumed:]
			if res.Action == ActionClose {
				tr.closed = true
				tr.rest = len(pending) + len(in)
				return tr
			}
			if res.Action == ActionDelay {
				tr.delays = append(tr.delays, res.Delay)
				continue
			}
			break
		}
		if len(in) == 0 {
			break
		}
	}
	tr.rest = len(pending)
	return tr
}

const ehloDefault = "250-smtp-sink\r\n250-PIPELINING\r\n250-SIZE\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN CRAM-MD5\r\n" +
	"250-XCLIENT NAME HELO\r\n250-XFORWARD NAME ADDR PROTO HELO\r\n250-ENHANCEDSTATUSCODES\r\n250-DSN\r\n" +
	"250-SMTPUTF8\r\n250 CHUNKING\r\n"

func TestSessionTranscripts(t *testing.T) {
	tests := []struct {
		name   string
		mod    func(*Config)
		input  string
		want   string
		closed bool
	}{
		{
			name:   "smtp-source default message",
			input:  "HELO vm\r\nMAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\nDATA\r\nFrom: <foo@vm>\r\n\r\nLa de da\r\n.\r\nQUIT\r\n",
			want:   "220 smtp-sink ESMTP\r\n250 smtp-sink\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n" + replyDataGo + "250 2.0.0 Ok: queued as 00000001\r\n221 Bye\r\n",
			closed: true,
		},
		{
			name:  "EHLO capabilities",
			input: "EHLO x\r\n",
			want:  "220 smtp-sink ESMTP\r\n" + ehloDefault,
		},
		{
			name: "EHLO with -p -8 -a -C -F -E -N and no chunking/smtputf8, size",
			mod: func(c *Config) {
				*c = Config{Listen: c.Listen, DisablePipelining: true, Disable8BitMIME: true, DisableAuthAnnounce: true, DisableXCLIENT: true, DisableXFORWARD: true, DisableEnhanced: true, DisableDSN: true, DisableSMTPUTF8: true, DisableChunking: true, MaxMessageSize: 1000, Hostname: "h"}
			},
			input: "EHLO x\r\nMAIL FROM:<a> SIZE=1001\r\nXCLIENT a\r\nBDAT 1\r\n",
			want:  "220 h ESMTP\r\n250-h\r\n250 SIZE 1000\r\n" + replyTooBig + replyUnknown + replyUnknown,
		},
		{
			name:  "out of sequence",
			input: "rcpt to:<x>\r\ndata\r\nmail from:<a>\r\nmail from:<b>\r\ndata\r\nRSET\r\nDATA\r\n",
			want:  "220 smtp-sink ESMTP\r\n" + replyNeedMail + replyNeedRcpt + replyMailOK + replyNestedMail + replyNeedRcpt + replyRsetOK + replyNeedRcpt,
		},
		{
			name:  "unknown, blank, disabled, STARTTLS not offered",
			input: "foo\r\n\r\n   \r\nSTARTTLS\r\nLHLO x\r\nEXPN x\r\n.\r\nnoop\r\nvrfy x\r\nxclient a\r\nxforward b\r\n",
			want:  "220 smtp-sink ESMTP\r\n" + replyUnknown + replyBlank + replyBlank + replyUnknown + replyUnknown + replyUnknown + replyUnknown + replyOK + replyOK + replyOK + replyOK,
		},
		{
			name:  "bare LF is not a line end",
			input: "HELO x\nNOOP\r\nNOOP\n",
			want:  "220 smtp-sink ESMTP\r\n250 smtp-sink\r\n",
		},
		{
			name:  "NUL in command",
			input: "NO\x00OP\r\nHELO a\x00b\r\nNOOP\r\n",
			want:  "220 smtp-sink ESMTP\r\n" + replyNUL + replyNUL + replyOK,
		},
		{
			name:  "over-long command line, then service continues",
			input: "NOOP " + strings.Repeat("x", 2100) + "\r\nNOOP\r\n",
			want:  "220 smtp-sink ESMTP\r\n" + replyLineTooLong + replyOK,
		},
		{
			name:  "strict RFC 5321 limit: 512 octets with CRLF pass, 513 do not",
			mod:   func(c *Config) { c.MaxCommandLine = 512 },
			input: "NOOP " + strings.Repeat("x", 505) + "\r\nNOOP " + strings.Repeat("x", 506) + "\r\n",
			want:  "220 smtp-sink ESMTP\r\n" + replyOK + replyLineTooLong,
		},
		{
			name:   "over-long line without CRLF is discarded as it comes",
			input:  strings.Repeat("y", 50000) + "\r\nQUIT\r\n",
			want:   "220 smtp-sink ESMTP\r\n" + replyLineTooLong + replyBye,
			closed: true,
		},
		{
			name:  "EHLO rejected with -e, HELO works",
			mod:   func(c *Config) { c.DisableESMTP = true },
			input: "EHLO x\r\nHELO x\r\n",
			want:  "220 smtp-sink\r\n" + replyUnknown + "250 smtp-sink\r\n",
		},
		{
			name:  "PIX banner",
			mod:   func(c *Config) { c.PIXBanner = true },
			input: "",
			want:  "220 ********\r\n",
		},
		{
			name:  "LMTP: one reply per recipient",
			mod:   func(c *Config) { c.LMTP = true },
			input: "HELO x\r\nLHLO x\r\nMAIL FROM:<a>\r\nRCPT TO:<b>\r\nRCPT TO:<c>\r\nDATA\r\nx\r\n.\r\n",
			want: "220 smtp-sink ESMTP\r\n" + replyUnknown + ehloDefault + replyMailOK + replyRcptOK + replyRcptOK + replyDataGo +
				"250 2.2.0 Ok: queued as 00000001\r\n250 2.2.0 Ok: queued as 00000001\r\n",
		},
		{
			name:  "DATA transparency and dot detection need CRLF",
			input: "MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\n..\r\nx\n.\n.x\r\n.\r\nNOOP\r\n",
			want:  "220 smtp-sink ESMTP\r\n" + replyMailOK + replyRcptOK + replyDataGo + "250 2.0.0 Ok: queued as 00000001\r\n" + replyOK,
		},
		{
			name:   "hard reject of RCPT leaves state alone",
			mod:    func(c *Config) { c.Faults[VerbRCPT] = FaultHardReject },
			input:  "EHLO x\r\nMAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\nQUIT\r\n",
			want:   "220 smtp-sink ESMTP\r\n" + strings.Replace(ehloDefault, "250-PIPELINING\r\n", "", 1) + replyMailOK + DefaultHardReply + "\r\n" + replyNeedRcpt + replyBye,
			closed: true,
		},
		{
			name:  "soft reject of the dot",
			mod:   func(c *Config) { c.Faults[VerbDot] = FaultSoftReject; c.SoftReply = "451 4.7.1 try later" },
			input: "MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\nx\r\n.\r\nMAIL FROM:<a>\r\n",
			want:  "220 smtp-sink ESMTP\r\n" + replyMailOK + replyRcptOK + replyDataGo + "451 4.7.1 try later\r\n" + replyMailOK,
		},
		{
			name:   "-q mail: silent disconnect",
			mod:    func(c *Config) { c.Faults[VerbMAIL] = FaultDisconnect },
			input:  "HELO x\r\nMAIL FROM:<a>\r\nNOOP\r\n",
			want:   "220 smtp-sink ESMTP\r\n250 smtp-sink\r\n",
			closed: true,
		},
		{
			name:   "-Q rcpt: 421 and disconnect",
			mod:    func(c *Config) { c.Faults[VerbRCPT] = FaultClose421 },
			input:  "MAIL FROM:<a>\r\nRCPT TO:<b>\r\nNOOP\r\n",
			want:   "220 smtp-sink ESMTP\r\n" + replyMailOK + replyClosing,
			closed: true,
		},
		{
			name:  "-f connect: the rejection is the banner",
			mod:   func(c *Config) { c.Faults[VerbConnect] = FaultHardReject },
			input: "NOOP\r\n",
			want:  DefaultHardReply + "\r\n" + replyOK,
		},
		{
			name:   "-A 0: abort after DATA",
			mod:    func(c *Config) { c.AbortAfterData = true },
			input:  "MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\nx\r\n.\r\n",
			want:   "220 smtp-sink ESMTP\r\n" + replyMailOK + replyRcptOK + replyDataGo + replyAbort,
			closed: true,
		},
		{
			name:  "BDAT chunks",
			input: "EHLO x\r\nMAIL FROM:<a>\r\nRCPT TO:<b>\r\nBDAT 5\r\nab\r\nxBDAT 3 LAST\r\nyz\nNOOP\r\n",
			want:  "220 smtp-sink ESMTP\r\n" + ehloDefault + replyMailOK + replyRcptOK + "250 2.0.0 Ok: 5 octets received\r\n250 2.0.0 Ok: queued as 00000001\r\n" + replyOK,
		},
		{
			name:  "BDAT 0 LAST, and BDAT without RCPT skips its octets",
			input: "BDAT 4\r\nQUITMAIL FROM:<a>\r\nRCPT TO:<b>\r\nBDAT 0 LAST\r\nBDAT x\r\nDATA\r\n",
			want:  "220 smtp-sink ESMTP\r\n" + replyNeedRcpt + replyMailOK + replyRcptOK + "250 2.0.0 Ok: queued as 00000001\r\n" + replyBDATSyntax + replyNeedRcpt,
		},
		{
			name:  "DATA after BDAT",
			input: "MAIL FROM:<a>\r\nRCPT TO:<b>\r\nBDAT 1\r\nxDATA\r\nRCPT TO:<c>\r\n",
			want:  "220 smtp-sink ESMTP\r\n" + replyMailOK + replyRcptOK + "250 2.0.0 Ok: 1 octets received\r\n" + replyDataAfterBDAT + replyRcptAfterBDAT,
		},
		{
			name:  "AUTH PLAIN with initial response, then twice",
			input: "EHLO x\r\nAUTH PLAIN AHVzZXIAcGFzcw==\r\nAUTH PLAIN\r\n",
			want:  "220 smtp-sink ESMTP\r\n" + ehloDefault + replyAuthOK + replyAuthTwice,
		},
		{
			name:  "AUTH LOGIN exchange",
			input: "AUTH LOGIN\r\ndXNlcg==\r\ncGFzcw==\r\n",
			want:  "220 smtp-sink ESMTP\r\n" + replyAuthLoginUser + replyAuthLoginPass + replyAuthOK,
		},
		{
			name:  "AUTH with a users file: wrong password, bad base64, cancel, unknown mechanism, then right",
			mod:   func(c *Config) { c.AuthUsers = map[string]string{"user": "pass"} },
			input: "AUTH PLAIN AHVzZXIAd3Jvbmc=\r\nAUTH PLAIN\r\n!!!\r\nAUTH LOGIN\r\n*\r\nAUTH DIGEST-MD5\r\nAUTH\r\nAUTH PLAIN\r\nAHVzZXIAcGFzcw==\r\n",
			want: "220 smtp-sink ESMTP\r\n" + replyAuthFailed + replyAuthPlainGo + replyAuthDecode + replyAuthLoginUser + replyAuthAborted +
				replyAuthMechanism + replyAuthSyntax + replyAuthPlainGo + replyAuthOK,
		},
		{
			name:  "AUTH inside a transaction",
			input: "MAIL FROM:<a>\r\nAUTH PLAIN AHVzZXIAcGFzcw==\r\n",
			want:  "220 smtp-sink ESMTP\r\n" + replyMailOK + replyAuthInTxn,
		},
		{
			name:  "HELO resets the transaction",
			input: "MAIL FROM:<a>\r\nHELO x\r\nRCPT TO:<b>\r\n",
			want:  "220 smtp-sink ESMTP\r\n" + replyMailOK + "250 smtp-sink\r\n" + replyNeedMail,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// whole input at once, then byte by byte and in random chunks: same replies
			chunkings := map[string]func() int{
				"whole": nil,
				"bytes": func() int { return 1 },
				"random": func() func() int {
					r := rand.New(rand.NewPCG(1, 2))
					return func() int { return 1 + r.IntN(17) }
				}(),
			}
			for cname, chunk := range chunkings {
				s := newSession(newTestEnv(t, tt.mod), "127.0.0.1")
				got := runSession(s, tt.input, chunk)
				if got.out != tt.want {
					t.Errorf("%s: replies\n got %q\nwant %q", cname, got.out, tt.want)
				}
				if got.closed != tt.closed {
					t.Errorf("%s: closed = %v, want %v", cname, got.closed, tt.closed)
				}
			}
		})
	}
}

func TestSessionPipelinedRepliesInOneFeed(t *testing.T) {
	s := newSession(newTestEnv(t, nil), "127.0.0.1")
	s.Feed(nil, nil) // banner
	in := "MAIL FROM:<a>\r\nRCPT TO:<b>\r\nRCPT TO:<c>\r\nDATA\r\n"
	res, out := s.Feed([]byte(in), nil)
	if res.Consumed != len(in) || res.Action != ActionContinue {
		t.Fatalf("Feed = %+v", res)
	}
	if want := replyMailOK + replyRcptOK + replyRcptOK + replyDataGo; string(out) != want {
		t.Errorf("one Feed of pipelined commands gave %q, want %q", out, want)
	}
}

func TestSessionDelays(t *testing.T) {
	e := newTestEnv(t, func(c *Config) {
		c.Delays[VerbConnect] = Delay{Duration: time.Millisecond}
		c.Delays[VerbRCPT] = Delay{Duration: 5 * time.Millisecond}
		c.Delays[VerbDot] = Delay{Duration: 20 * time.Millisecond}
	})
	s := newSession(e, "127.0.0.1")
	input := "MAIL FROM:<a>\r\nRCPT TO:<b>\r\nRCPT TO:<c>\r\nDATA\r\nx\r\n.\r\nMAIL FROM:<a>\r\nRCPT TO:<b>\r\nBDAT 1 LAST\r\nx"
	got := runSession(s, input, nil)
	want := []time.Duration{time.Millisecond, 5 * time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond}
	if len(got.delays) != len(want) {
		t.Fatalf("delays %v, want %v", got.delays, want)
	}
	for i := range want {
		if got.delays[i] != want[i] {
			t.Errorf("delay %d = %v, want %v", i, got.delays[i], want[i])
		}
	}
	if st := e.stats.Snapshot(); st.MessagesAccepted != 2 || st.DelaysInjected != 6 || st.Recipients != 3 {
		t.Errorf("stats %+v", st)
	}
}

func TestSessionDataReadDelay(t *testing.T) {
	s := newSession(newTestEnv(t, func(c *Config) { c.DataReadDelay = 2 * time.Second }), "127.0.0.1")
	got := runSession(s, "MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\nx\r\n.\r\n", nil)
	if len(got.delays) != 1 || got.delays[0] != 2*time.Second || !strings.HasSuffix(got.out, replyDataGo+"250 2.0.0 Ok: queued as 00000001\r\n") {
		t.Errorf("-H: %+v", got)
	}
}

func TestSessionAbortDelay(t *testing.T) {
	s := newSession(newTestEnv(t, func(c *Config) { c.AbortAfterData, c.AbortDelay = true, time.Second }), "127.0.0.1")
	got := runSession(s, "MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\n", nil)
	if len(got.delays) != 1 || got.delays[0] != time.Second || !got.closed || !strings.HasSuffix(got.out, replyDataGo+replyAbort) {
		t.Errorf("abort: %+v", got)
	}
}

func TestSessionUniqueHeader(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.UniqueHeader = "Message-Id" })
	msg := func(id string) string {
		return "MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\nFrom: x\r\nmessage-id:  " + id + " \r\n\r\nMessage-Id: <body>\r\n.\r\n"
	}
	s := newSession(e, "127.0.0.1")
	runSession(s, msg("<1@x>")+msg("<2@x>")+msg("<1@x>")+"MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\nSubject: none\r\n\r\n.\r\n"+
		"MAIL FROM:<a>\r\nRCPT TO:<b>\r\nBDAT 10\r\nMessage-IdBDAT 8 LAST\r\n: <3@x>\n", func() int { return 3 })
	u := e.stats.Snapshot().Unique
	if u == nil || u.Distinct != 3 || u.Duplicates != 1 || u.Missing != 1 {
		t.Errorf("unique counts %+v, want 3 distinct, 1 duplicate, 1 missing", u)
	}
}

func TestSessionCountsAndMidDataClose(t *testing.T) {
	e := newTestEnv(t, nil)
	s := newSession(e, "127.0.0.1")
	runSession(s, "MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\n0123456789\r\n.\r\nMAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\npartial\r\n", nil)
	s.Close()
	st := e.stats.Snapshot()
	if st.MessagesAccepted != 1 || st.Transactions != 2 || st.MidDataDisconnects != 1 || st.Bytes != 12+9 {
		t.Errorf("stats %+v", st)
	}
}

func TestSessionLongDataLinesStayBounded(t *testing.T) {
	s := newSession(newTestEnv(t, nil), "127.0.0.1")
	runSession(s, "MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\n", nil)
	// 1 MiB without a line end: the session must take it in pieces, keeping < partialLine.
	line := []byte(strings.Repeat("z", 1<<20))
	res, _ := s.Feed(line, nil)
	if len(line)-res.Consumed >= partialLine {
		t.Fatalf("session left %d bytes of one long line unconsumed", len(line)-res.Consumed)
	}
	got := runSession(s, "\r\n.\r\n", nil)
	if got.out != "250 2.0.0 Ok: queued as 00000001\r\n" {
		t.Errorf("after a long line: %q", got.out)
	}
}

func TestSessionFloodOutputBoundedPerFeed(t *testing.T) {
	s := newSession(newTestEnv(t, nil), "127.0.0.1")
	flood := []byte(strings.Repeat("EHLO x\r\n", 100000))
	res, out := s.Feed(flood, nil)
	if len(out) > maxOutPerFeed+1024 {
		t.Errorf("one Feed produced %d bytes of replies", len(out))
	}
	if res.Consumed == 0 || res.Consumed == len(flood) {
		t.Errorf("Feed consumed %d of %d; want a bounded part", res.Consumed, len(flood))
	}
}

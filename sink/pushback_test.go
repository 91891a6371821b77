package sink

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseRejects(t *testing.T) {
	tests := []struct {
		spec    string
		want    []RejectRule
		wantErr string
	}{
		{"rcpt=550:5%,.=451:2%", []RejectRule{
			{Verb: VerbRCPT, Code: 550, Enhanced: "5.3.0", Probability: 0.05},
			{Verb: VerbDot, Code: 451, Enhanced: "4.3.0", Probability: 0.02}}, ""},
		{"dot=421/4.4.2:0.5:delivered", []RejectRule{{Verb: VerbDot, Code: 421, Enhanced: "4.4.2", Probability: 0.5, Delivered: true}}, ""},
		{"MAIL=452/4.3.1", []RejectRule{{Verb: VerbMAIL, Code: 452, Enhanced: "4.3.1", Probability: 1}}, ""},
		{"connect=554:1%", []RejectRule{{Verb: VerbConnect, Code: 554, Enhanced: "5.3.0", Probability: 0.01}}, ""},
		{"rcpt=250:5%", nil, "want 400..599"},
		{"rcpt=5500", nil, "want 400..599"},
		{"rcpt=550/4.1.1", nil, "enhanced code"},
		{"rcpt=550/5.1", nil, "enhanced code"},
		{"rcpt=550:0%", nil, "probability"},
		{"rcpt=550:101%", nil, "probability"},
		{"rcpt=550:5%:delivered", nil, "end of data only"},
		{"rcpt=550:5%:5%", nil, "unexpected"},
		{"bogus=550", nil, "unknown command"},
		{"bdat=550", nil, "bdat cannot be refused"},
		{"rcpt", nil, "want command=code"},
		{",", nil, "no rule"},
	}
	for _, tt := range tests {
		got, err := ParseRejects(tt.spec)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseRejects(%q) = %v, %v; want error %q", tt.spec, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || len(got) != len(tt.want) {
			t.Errorf("ParseRejects(%q) = %v, %v", tt.spec, got, err)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("ParseRejects(%q)[%d] = %+v, want %+v", tt.spec, i, got[i], tt.want[i])
			}
			again, err := ParseRejects(got[i].String())
			if err != nil || again[0] != got[i] {
				t.Errorf("%s does not read back: %v, %v", got[i], again, err)
			}
		}
	}
	cfg := Config{Listen: "tcp4://127.0.0.1:0", Rejects: []RejectRule{
		{Verb: VerbRCPT, Code: 550, Probability: 0.6}, {Verb: VerbRCPT, Code: 450, Probability: 0.5}}}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "more than 100%") {
		t.Errorf("rules adding up to 110%%: %v", err)
	}
}

// countRcptReplies runs n RCPTs through one session and counts the replies by code.
func countRcptReplies(t *testing.T, seed uint64, rules []RejectRule, n int) (map[string]int, *env) {
	t.Helper()
	e := newTestEnv(t, func(c *Config) { c.Rejects, c.Seed = rules, seed })
	s := newSession(e, "127.0.0.1")
	in := []byte("EHLO x\r\nMAIL FROM:<a@b>\r\n" + strings.Repeat("RCPT TO:<c@d>\r\n", n))
	var out []byte
	for len(in) > 0 { // Feed stops at 64 KiB of replies: feed on, as the server does
		res, o := s.Feed(in, nil)
		out, in = append(out, o...), in[res.Consumed:]
		if res.Consumed == 0 {
			t.Fatalf("stuck with %q", in)
		}
	}
	codes := map[string]int{}
	lines := strings.Split(strings.TrimSuffix(string(out), "\r\n"), "\r\n")
	for _, l := range lines[len(lines)-n:] {
		codes[l[:3]]++
	}
	return codes, e
}

// TestRejectProbability checks --reject's counts: each reply counted once under its key,
// the number within the binomial bound, the same for the same seed, and a second rule on
// the same command drawn from the same roll (the two never overlap).
func TestRejectProbability(t *testing.T) {
	const n = 4000
	rules := []RejectRule{{Verb: VerbRCPT, Code: 550, Enhanced: "5.1.1", Probability: 0.05},
		{Verb: VerbRCPT, Code: 450, Enhanced: "4.3.0", Probability: 0.10}}
	codes, e := countRcptReplies(t, 42, rules, n)
	snap := e.stats.Snapshot()
	if snap.Seed != 42 {
		t.Errorf("seed %d, want 42", snap.Seed)
	}
	for _, c := range []struct {
		code, key string
		p         float64
	}{{"550", "rcpt:perm:550:5.1.1", 0.05}, {"450", "rcpt:temp:450:4.3.0", 0.10}} {
		got := codes[c.code]
		if snap.Refusals[KindReject][c.key] != int64(got) || snap.RefusalsByKey[c.key] != int64(got) {
			t.Errorf("%s: %d replies, stats %v", c.key, got, snap.Refusals)
		}
		mean, sd := n*c.p, math.Sqrt(n*c.p*(1-c.p))
		if math.Abs(float64(got)-mean) > 5*sd {
			t.Errorf("%s: %d of %d, outside %.0f ± 5σ (σ %.1f)", c.code, got, n, mean, sd)
		}
	}
	if codes["250"]+codes["550"]+codes["450"] != n || snap.Recipients != int64(codes["250"]) {
		t.Errorf("replies %v, recipients %d", codes, snap.Recipients)
	}
	again, _ := countRcptReplies(t, 42, rules, n)
	if again["550"] != codes["550"] || again["450"] != codes["450"] {
		t.Errorf("same seed, different counts: %v then %v", codes, again)
	}
	other, _ := countRcptReplies(t, 43, rules, n)
	if other["550"] == codes["550"] && other["450"] == codes["450"] {
		t.Errorf("seeds 42 and 43 drew the same counts %v", codes)
	}
}

func TestRejectCommands(t *testing.T) {
	tests := []struct {
		name   string
		rules  string
		input  string
		want   string
		key    string
		closed bool
	}{
		{"banner replaced, session goes on", "connect=554", "NOOP\r\n", "554 5.3.0 " + textRejected + "\r\n250 2.0.0 Ok\r\n", "banner:perm:554:5.3.0", false},
		{"421 banner closes", "connect=421/4.7.0", "NOOP\r\n", "421 4.7.0 " + textRejected + "\r\n", "banner:temp:421:4.7.0", true},
		{"helo has no effect", "helo=550", "HELO x\r\nMAIL FROM:<a>\r\n", "220 smtp-sink ESMTP\r\n550 5.3.0 " + textRejected + "\r\n250 2.1.0 Ok\r\n", "helo:perm:550:5.3.0", false},
		{"sequence errors first", "data=554", "DATA\r\nMAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\n",
			"220 smtp-sink ESMTP\r\n" + "503 5.5.1 Error: need RCPT command\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n554 5.3.0 " + textRejected + "\r\n", "data:perm:554:5.3.0", false},
		{"end of data", ".=451", "MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\nx\r\n.\r\nRCPT TO:<b>\r\n",
			"220 smtp-sink ESMTP\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n451 4.3.0 " + textRejected + "\r\n503 5.5.1 Error: need MAIL command\r\n", "eod:temp:451:4.3.0", false},
		{"lmtp: one refusal per recipient", ".=452", "LHLO x\r\nMAIL FROM:<a>\r\nRCPT TO:<b>\r\nRCPT TO:<c>\r\nDATA\r\nx\r\n.\r\n",
			"LMTP", "eod:temp:452:4.3.0", false},
		{"quit", "quit=421", "QUIT\r\n", "220 smtp-sink ESMTP\r\n421 4.3.0 " + textRejected + "\r\n", "quit:temp:421:4.3.0", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, err := ParseRejects(tt.rules)
			if err != nil {
				t.Fatal(err)
			}
			lmtp := tt.want == "LMTP"
			e := newTestEnv(t, func(c *Config) { c.Rejects, c.LMTP = rules, lmtp })
			tr := runSession(newSession(e, "127.0.0.1"), tt.input, nil)
			count := int64(1)
			if lmtp {
				tt.want, count = tr.out, 2
				if !strings.HasSuffix(tr.out, "354 End data with <CR><LF>.<CR><LF>\r\n452 4.3.0 "+textRejected+"\r\n452 4.3.0 "+textRejected+"\r\n") {
					t.Errorf("LMTP: %q", tr.out)
				}
			}
			if tr.out != tt.want || tr.closed != tt.closed {
				t.Errorf("out %q closed %v\nwant %q closed %v", tr.out, tr.closed, tt.want, tt.closed)
			}
			for key, n := range e.stats.Snapshot().RefusalsByKey {
				if want := map[bool]int64{true: count}[key == tt.key]; n != want {
					t.Errorf("refusals under %s: %d, want %d", key, n, want)
				}
			}
		})
	}
}

// TestRejectDelivered: the message is taken (counted, traced) and refused all the same.
func TestRejectDelivered(t *testing.T) {
	e := newTestEnv(t, func(c *Config) {
		c.Rejects = []RejectRule{{Verb: VerbDot, Code: 421, Enhanced: "4.4.2", Probability: 1, Delivered: true}}
		c.TraceHeader = DefaultTraceHeader
	})
	in := "MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\nX-GSS-Trace: r1 7 1\r\n\r\nbody\r\n.\r\n"
	tr := runSession(newSession(e, "127.0.0.1"), in, nil)
	if !strings.HasSuffix(tr.out, "354 End data with <CR><LF>.<CR><LF>\r\n421 4.4.2 "+textRejected+"\r\n") || !tr.closed {
		t.Fatalf("out %q closed %v", tr.out, tr.closed)
	}
	snap := e.stats.Snapshot()
	if snap.MessagesAccepted != 1 || snap.MessagesRejected != 0 || snap.RefusedAfterDelivery != 1 ||
		snap.RefusalsByKey["eod:temp:421:4.4.2"] != 1 || snap.Trace == nil || snap.Trace.Seen != 1 {
		t.Errorf("stats %+v trace %+v", snap, snap.Trace)
	}
}

// fakeNow is a settable monotonic clock for greylisting and rate limits.
type fakeNow struct{ ns int64 }

func (f *fakeNow) now() int64              { return f.ns }
func (f *fakeNow) advance(d time.Duration) { f.ns += int64(d) }

func TestGreylistSession(t *testing.T) {
	clock := &fakeNow{ns: 1}
	e := newTestEnv(t, func(c *Config) { c.Greylist = Greylist{Enabled: true, Delay: 10 * time.Second, Expire: time.Hour} })
	e.now = clock.now
	greylisted := "450 4.7.1 Error: greylisted, try again in 10s\r\n"
	rcpt := func(client, from, to string) string {
		tr := runSession(newSession(e, client), "MAIL FROM:"+from+"\r\nRCPT TO:"+to+"\r\n", nil)
		return strings.TrimPrefix(tr.out, "220 smtp-sink ESMTP\r\n250 2.1.0 Ok\r\n")
	}
	steps := []struct {
		advance          time.Duration
		client, from, to string
		want             string
	}{
		{0, "127.0.0.1", "<a@b>", "<c@d>", greylisted},                                    // first attempt
		{5 * time.Second, "127.0.0.1", "<a@b>", "<c@d>", greylisted},                      // too early
		{5 * time.Second, "127.0.0.1", "<A@B>", "<C@D> NOTIFY=NEVER", "250 2.1.5 Ok\r\n"}, // the delay has passed; case and parameters do not matter
		{0, "127.0.0.1", "<a@b>", "<e@d>", greylisted},                                    // another recipient
		{0, "127.0.0.2", "<a@b>", "<c@d>", greylisted},                                    // another client
		{0, "127.0.0.1", "<>", "<c@d>", greylisted},                                       // another sender
		{time.Hour, "127.0.0.1", "<a@b>", "<c@d>", greylisted},                            // expired: afresh
	}
	for i, st := range steps {
		clock.advance(st.advance)
		if got := rcpt(st.client, st.from, st.to); got != st.want {
			t.Errorf("step %d: %q, want %q", i, got, st.want)
		}
	}
	snap := e.stats.Snapshot()
	if g := snap.Greylist; g == nil || g.Refused != 6 || g.Passed != 1 || snap.RefusalsByKey["rcpt:temp:450:4.7.1"] != 6 {
		t.Errorf("greylist %+v refusals %v", snap.Greylist, snap.RefusalsByKey)
	}
}

func TestGreylistTableBounded(t *testing.T) {
	g := newGreylistTable(Greylist{Enabled: true, Delay: time.Second, Expire: time.Minute, MaxEntries: 3})
	for k := uint64(1); k <= 5; k++ {
		g.check(k, int64(k))
	}
	if c := g.counts(); c.Entries != 3 || c.Evicted != 2 {
		t.Errorf("after 5 triplets in 3 slots: %+v", c)
	}
	if g.check(1, int64(2*time.Second)) {
		t.Error("an evicted triplet passed: it must start afresh")
	}
	if !g.check(5, int64(2*time.Second)) {
		t.Error("a remembered triplet did not pass after the delay")
	}
	g.check(99, int64(2*time.Minute)) // everything older than a minute expires
	if c := g.counts(); c.Entries != 1 {
		t.Errorf("after expiry: %+v", c)
	}
	for k := uint64(0); k < 5000; k++ { // the queue is compacted as it goes
		g.check(1000+k, int64(3*time.Minute)+int64(k))
	}
	if c := g.counts(); c.Entries != 3 || len(g.queue)-g.head != 3 || len(g.queue) > 2100 {
		t.Errorf("after 5000 more: %+v, queue %d from %d", c, len(g.queue), g.head)
	}
}

func TestParseRateLimit(t *testing.T) {
	tests := []struct {
		spec    string
		want    RateLimit
		wantErr string
	}{
		{"200/s", RateLimit{Rate: 200, Burst: 1}, ""},
		{"3000/m,burst=10", RateLimit{Rate: 50, Burst: 10}, ""},
		{"36/hour,per=connection,reply=421", RateLimit{Rate: 0.01, Burst: 1, PerConnection: true, Close: true}, ""},
		{"0.5/sec,per=client,reply=451", RateLimit{Rate: 0.5, Burst: 1}, ""},
		{"200", RateLimit{}, "want number/unit"},
		{"-1/s", RateLimit{}, "positive"},
		{"NaN/s", RateLimit{}, "positive"},
		{"200/d", RateLimit{}, "unit"},
		{"200/s,burst=0", RateLimit{}, "burst"},
		{"200/s,per=host", RateLimit{}, "per"},
		{"200/s,reply=450", RateLimit{}, "reply"},
		{"200/s,jitter=1", RateLimit{}, "unknown option"},
		{"2000000000/s", RateLimit{}, "rate"},
	}
	for _, tt := range tests {
		got, err := ParseRateLimit(tt.spec)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseRateLimit(%q) = %+v, %v; want error %q", tt.spec, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseRateLimit(%q) = %+v, %v; want %+v", tt.spec, got, err, tt.want)
		}
		if again, err := ParseRateLimit(got.String()); err != nil || again != got {
			t.Errorf("%s does not read back: %+v, %v", got, again, err)
		}
	}
}

// TestGCRA checks the bucket: a burst, then one message per interval, whatever the demand.
func TestGCRA(t *testing.T) {
	g := newGCRA(RateLimit{Rate: 100, Burst: 5}) // 10 ms apart
	var tat int64
	now := int64(time.Second)
	passed := 0
	for i := 0; i < 10; i++ { // 10 at once: the burst passes
		if g.allow(&tat, now) {
			passed++
		}
	}
	if passed != 5 {
		t.Errorf("burst: %d of 10 passed, want 5", passed)
	}
	passed = 0
	for step := int64(1); step <= 1000; step++ { // a request every ms for the next second
		if g.allow(&tat, now+step*int64(time.Millisecond)) {
			passed++
		}
	}
	if passed != 100 {
		t.Errorf("a second at 1000/s through 100/s: %d passed", passed)
	}
}

func TestRateLimitSession(t *testing.T) {
	clock := &fakeNow{ns: int64(time.Hour)}
	e := newTestEnv(t, func(c *Config) {
		c.RateLimits = []RateLimit{{Rate: 1, Burst: 2}, {Rate: 10, Burst: 1, PerConnection: true, Close: true}}
	})
	e.now = clock.now
	three := "MAIL FROM:<a>\r\nRSET\r\nMAIL FROM:<a>\r\nRSET\r\nMAIL FROM:<a>\r\nRSET\r\n"
	tr := runSession(newSession(e, "127.0.0.1"), three, nil) // per client: 2 at once, then 1/s; per connection: 100 ms apart
	want := "220 smtp-sink ESMTP\r\n250 2.1.0 Ok\r\n250 2.1.0 Ok\r\n421 4.7.0 " + textRateLimit + ", closing connection\r\n"
	if tr.out != want || !tr.closed {
		t.Errorf("per connection: %q closed %v", tr.out, tr.closed)
	}
	clock.advance(150 * time.Millisecond)
	tr = runSession(newSession(e, "127.0.0.1"), three, nil) // a new connection: its own bucket, but the client's is empty
	if !strings.Contains(tr.out, "451 4.7.1 "+textRateLimit+"\r\n") || strings.Count(tr.out, "250 2.1.0 Ok") != 3 || tr.closed {
		t.Errorf("per client: %q", tr.out) // 3 RSETs, no MAIL passed
	}
	tr = runSession(newSession(e, "127.0.0.2"), "MAIL FROM:<a>\r\n", nil)
	if !strings.HasSuffix(tr.out, "250 2.1.0 Ok\r\n") {
		t.Errorf("another client shares the bucket: %q", tr.out)
	}
	snap := e.stats.Snapshot()
	if snap.Refusals[KindRateLimit]["mail:temp:421:4.7.0"] != 1 || snap.Refusals[KindRateLimit]["mail:temp:451:4.7.1"] != 3 {
		t.Errorf("refusals %v", snap.Refusals)
	}
}

func TestMaxPerConnection(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.MaxPerConnection = 2 })
	msg := "MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\nx\r\n.\r\n"
	tr := runSession(newSession(e, "127.0.0.1"), msg+msg+msg+msg+"NOOP\r\n", nil)
	if strings.Count(tr.out, "queued as") != 2 || !strings.Contains(tr.out, "452 4.5.3 "+textTooMany+"\r\n") ||
		!strings.HasSuffix(tr.out, "421 4.7.0 "+textTooManyQuit+"\r\n") || !tr.closed {
		t.Errorf("out %q closed %v", tr.out, tr.closed)
	}
	snap := e.stats.Snapshot()
	if m := snap.Refusals[KindMaxPerConnection]; m["mail:temp:452:4.5.3"] != 1 || m["mail:temp:421:4.7.0"] != 1 {
		t.Errorf("refusals %v", snap.Refusals)
	}
}

func TestTarpit(t *testing.T) {
	tp, err := ParseTarpit("2ms,above=1,max=10ms")
	if err != nil || tp != (Tarpit{PerSession: 2 * time.Millisecond, Above: 1, Max: 10 * time.Millisecond}) {
		t.Fatalf("ParseTarpit = %+v, %v", tp, err)
	}
	for sessions, want := range map[int64]time.Duration{0: 0, 1: 0, 2: 2 * time.Millisecond, 4: 6 * time.Millisecond, 6: 10 * time.Millisecond, 1000: 10 * time.Millisecond} {
		if got := tp.delay(sessions); got != want {
			t.Errorf("%d sessions: %v, want %v", sessions, got, want)
		}
	}
	for _, bad := range []string{"", "0", "1ms,above=-1", "1ms,max=0", "1ms,slope=2"} {
		if _, err := ParseTarpit(bad); err == nil {
			t.Errorf("ParseTarpit(%q) accepted", bad)
		}
	}
	e := newTestEnv(t, func(c *Config) { c.Tarpit = Tarpit{PerSession: time.Millisecond} })
	e.stats.sessionsActive.Store(3)
	tr := runSession(newSession(e, "127.0.0.1"), "NOOP\r\nQUIT\r\n", nil)
	if len(tr.delays) != 3 || tr.delays[0] != 3*time.Millisecond || tr.delays[2] != 3*time.Millisecond {
		t.Errorf("delays %v, want 3 × 3ms (banner, NOOP, QUIT)", tr.delays)
	}
	if snap := e.stats.Snapshot(); snap.TarpitDelays != 3 || snap.TarpitDelayNs != int64(9*time.Millisecond) || snap.DelaysInjected != 0 {
		t.Errorf("stats: tarpit %d (%d ns), delays %d", snap.TarpitDelays, snap.TarpitDelayNs, snap.DelaysInjected)
	}
}

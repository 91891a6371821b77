package protocol

import "testing"

// phaseSpans keeps each phase's start and end as the machine reports them.
type phaseSpans struct {
	nopObserver
	spans map[Phase][2]int64
}

func (o *phaseSpans) Phase(p Phase, _ int64, start, end int64, _ int) {
	o.spans[p] = [2]int64{start, end}
}

// A phase starts when the write that sent its command began (Flushed's time), not when
// the machine queued the command: the driver's work between reading the previous reply
// and writing is not the server's time. With PIPELINING, commands written together start
// together.
func TestPhaseStartsAtTheWrite(t *testing.T) {
	for _, pipelining := range []bool{false, true} {
		spec := MessageSpec{Sender: "a@x", Recipient: "b@y", Recipients: 1, Content: DefaultContent()}
		cfg := Config{Template: NewTemplate(spec), Source: &counterSource{total: 1}, Pipelining: pipelining}
		if pipelining {
			cfg.Greeting = GreetEHLO
		}
		obs := &phaseSpans{spans: map[Phase][2]int64{}}
		c := NewClient(&cfg, obs, 0)
		seq, _ := cfg.Source.Claim()
		c.Start(seq, 100)
		exchange := func(reply string, readAt, writeAt int64) {
			t.Helper()
			if n, step := c.Feed([]byte(reply), readAt); n != len(reply) || step != StepRead {
				t.Fatalf("pipelining=%v: reply %q: step %v, %d bytes consumed: %v", pipelining, reply, step, n, c.Err())
			}
			c.Flushed(writeAt)
		}
		exchange("220 x\r\n", 1000, 1010) // HELO/EHLO queued at 1000, written at 1010
		if pipelining {
			exchange("250-x\r\n250 PIPELINING\r\n", 2000, 2050) // MAIL, RCPT, DATA written at 2050
			exchange("250 ok\r\n250 ok\r\n354 go\r\n", 3000, 3070)
		} else {
			exchange("250 x\r\n", 2000, 2050)
			exchange("250 ok\r\n", 3000, 3020) // MAIL answered at 3000, RCPT written at 3020
			exchange("250 ok\r\n", 4000, 4030)
			exchange("354 go\r\n", 5000, 5070) // body and dot written at 5070
		}
		want := map[Phase][2]int64{PhaseBanner: {100, 1000}, PhaseHelo: {1010, 2000}, PhaseMail: {2050, 3000},
			PhaseRcpt: {3020, 4000}, PhaseData: {4030, 5000}}
		if pipelining {
			want = map[Phase][2]int64{PhaseBanner: {100, 1000}, PhaseHelo: {1010, 2000}, PhaseMail: {2050, 3000},
				PhaseRcpt: {2050, 3000}, PhaseData: {2050, 3000}}
		}
		exchange("250 queued\r\n", 9000, 9010)
		eodStart := int64(5070)
		if pipelining {
			eodStart = 3070
		}
		want[PhaseEOD] = [2]int64{eodStart, 9000}
		for p, w := range want {
			if got := obs.spans[p]; got != w {
				t.Errorf("pipelining=%v: %v spans %v, want %v", pipelining, p, got, w)
			}
		}
	}
}

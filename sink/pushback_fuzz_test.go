package sink

import (
	"strconv"
	"testing"
	"time"
)

// FuzzTraceValue: any header value parses or is refused with one of the parser's errors,
// a parsed value reads back the same, and the tracer counts it exactly once, never
// panicking however odd the number (the limit is small so that pages are exercised).
func FuzzTraceValue(f *testing.F) {
	for _, seed := range []string{"run-1 1 1764350000000000000", "r 65536 0 extra", "r\t4294967296\t1", "r 0 1", "r 1", "a/b 1 2", "r 18446744073709551616 1"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		const maxSeq = 1 << 20
		tv, err := ParseTraceValue(value, maxSeq)
		switch err {
		case nil:
			again := []byte(string(tv.Run) + " " + strconv.FormatUint(tv.Seq, 10) + " " + strconv.FormatInt(tv.SentNs, 10))
			back, err := ParseTraceValue(again, maxSeq)
			if err != nil || string(back.Run) != string(tv.Run) || back.Seq != tv.Seq || back.SentNs != tv.SentNs {
				t.Fatalf("%q parsed as %+v, which reads back as %+v, %v", value, tv, back, err)
			}
		case ErrTraceSyntax, ErrTraceRunID, ErrTraceSeq:
		default:
			t.Fatalf("%q: unexpected error %v", value, err)
		}
		cfg := Config{TraceHeader: DefaultTraceHeader, TraceMaxRuns: 1, TraceMaxSeq: maxSeq, TraceMaxIntervals: 2}
		tr := newTracer(&cfg, time.Now)
		tr.record(value, true)
		tr.record(value, true)
		doc := tr.document(TraceQuery{NoHistograms: true}) // the encodings are the metrics package's
		c := tr.counts()
		if total := c.Seen + c.Duplicates + c.Malformed + c.OutOfRange + c.RunsOverLimit; total != 2 || (err == nil) != (c.Seen == 1 && c.Duplicates == 1) {
			t.Fatalf("%q (%v): counted %+v", value, err, c)
		}
		if err == nil && (doc.Runs[0].Missing != int64(tv.Seq)-1 || doc.Runs[0].Delivery.Count != 1) {
			t.Fatalf("%q: run %+v", value, doc.Runs[0])
		}
	})
}

// FuzzRejectSpec: --reject either fails or gives rules that read back the same and draw
// without panicking.
func FuzzRejectSpec(f *testing.F) {
	for _, seed := range []string{"rcpt=550:5%,.=451:2%", "dot=421/4.4.2:0.5:delivered", "connect=554", "mail=452/4.3.1:1e-3", "rcpt=550:NaN", "rcpt=550:1e309%"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		rules, err := ParseRejects(spec)
		if err != nil {
			return
		}
		for _, r := range rules {
			back, err := ParseRejects(r.String())
			if err != nil || len(back) != 1 || back[0] != r {
				t.Fatalf("%q: rule %+v reads back as %v, %v", spec, r, back, err)
			}
			if err := checkRejects([]RejectRule{r}); err != nil {
				t.Fatalf("%q: rule %+v parsed but does not validate: %v", spec, r, err)
			}
		}
		if checkRejects(rules) == nil {
			p := newPushback(&Config{Rejects: rules}, 1)
			for _, tbl := range p.rejects {
				if tbl != nil {
					tbl.pick()
				}
			}
		}
	})
}

// FuzzRateLimitSpec: --rate-limit and --tarpit either fail or give values that read
// back the same, with a bucket that has a positive interval.
func FuzzRateLimitSpec(f *testing.F) {
	for _, seed := range []string{"200/s", "3000/m,burst=10", "36/hour,per=connection,reply=421", "1e-300/s", "1e9/s", "0x10/s", "2ms,above=3,max=1s", "0.002"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		if r, err := ParseRateLimit(spec); err == nil {
			back, err := ParseRateLimit(r.String())
			if err != nil || back != r {
				t.Fatalf("%q: %+v reads back as %+v, %v", spec, r, back, err)
			}
			if g := newGCRA(r); g.interval < 1 || g.tolerance < 0 {
				t.Fatalf("%q: bucket %+v", spec, g)
			}
		}
		if tp, err := ParseTarpit(spec); err == nil {
			back, err := ParseTarpit(tp.String())
			if err != nil || back != tp {
				t.Fatalf("%q: %+v reads back as %+v, %v", spec, tp, back, err)
			}
			cfg := Config{Tarpit: tp}.pushbackDefaults()
			if d := cfg.Tarpit.delay(1 << 40); d < 0 || d > cfg.Tarpit.Max {
				t.Fatalf("%q: delay %v beyond max %v", spec, d, cfg.Tarpit.Max)
			}
		}
	})
}

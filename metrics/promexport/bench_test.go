package promexport

import (
	"io"
	"math/rand/v2"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// busySecond is one second of a busy run: n messages, each with a sample in every SMTP
// phase and derived quantity, spread log-normally around a millisecond (a few
// thousand distinct buckets per phase), and a few error keys.
func busySecond(n int, rng *rand.Rand) *metrics.Snapshot {
	s := metrics.NewSnapshot()
	for range n {
		for p := metrics.Phase(0); p < metrics.NumPhases; p++ {
			if p == metrics.StartTLS || p == metrics.TLSHandshake || p == metrics.EhloTLS || p == metrics.Auth || p == metrics.Delivery {
				continue
			}
			s.Record(p, int64(float64(time.Millisecond)*rng.ExpFloat64()*rng.ExpFloat64()))
		}
	}
	s.Add(metrics.MessagesAccepted, int64(n))
	s.Add(metrics.BytesSent, int64(n)*1000)
	for _, key := range []string{"net:timeout", "net:reset", "smtp:rcpt:perm:550"} {
		s.Error(key, "")
	}
	return s
}

// BenchmarkSecond is the exporter's work for one second of a run at 50,000 msg/s: the
// second added to the totals (the sampler's goroutine) and one scrape of every metric
// (the HTTP server's). The engine records either way; this is all --metrics-addr adds,
// and it is off the event loops. ns/op over 1 s is the fraction of one core it takes.
func BenchmarkSecond(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	e := New()
	for range 60 { // a minute into the run: totals with a long tail
		e.Interval(time.Time{}, time.Time{}, busySecond(50_000, rng))
	}
	sec := busySecond(50_000, rng)
	req := httptest.NewRequest("GET", "/metrics", nil)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		e.Interval(time.Time{}, time.Time{}, sec)
		w := httptest.NewRecorder()
		w.Body = nil
		e.Handler().ServeHTTP(discard{w}, req)
	}
}

// discard is a response writer that drops the body.
type discard struct{ *httptest.ResponseRecorder }

func (d discard) Write(p []byte) (int, error) { return io.Discard.Write(p) }

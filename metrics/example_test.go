package metrics_test

import (
	"os"
	"time"

	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// How the engine uses the package: one Recorder per event loop, swapped once a second by
// one reader goroutine; the interval is the merge of the swaps, the total the merge of the
// intervals.
func Example() {
	loops := []*metrics.Recorder{metrics.NewRecorder(), metrics.NewRecorder()}

	// On each loop (its own goroutine), from the protocol's phase timestamps:
	loops[0].Record(metrics.Connect, 150_000)
	loops[0].Record(metrics.EOD, 20_512_000)
	loops[0].Add(metrics.MessagesAccepted, 1)
	loops[1].Record(metrics.Connect, 250_000)
	loops[1].Record(metrics.Rcpt, 1_200_000)
	loops[1].Error(metrics.ReplyErrorKey("rcpt", 550, "5.1.1"), "550 5.1.1 <nobody@example.com>: Recipient address rejected")
	loops[1].Add(metrics.MessagesRejected, 1)

	// Once a second, on the reader goroutine:
	start := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	interval := metrics.NewSnapshot()
	for _, r := range loops {
		interval.Merge(r.Swap())
	}
	total := metrics.NewSnapshot()
	total.Merge(interval)
	intervals := []metrics.IntervalSample{{Start: start, Snap: interval}}

	// At the end:
	report := metrics.NewReport(map[string]any{"sessions": 2}, start, time.Second,
		metrics.Totals{Planned: 2, Accepted: 1, Rejected: 1, Sessions: 2}, total, intervals)
	metrics.WriteText(os.Stdout, report)
	// Output:
	// Messages     [total, rate, throughput]                           2, 2.00/s, 1.00/s
	// Duration     [total]                                             1s
	// Accounting   [planned, accepted, rejected, failed, not started]  2, 1, 1, 0, 0
	// Sessions     [established, failed]                               2, 0
	// Recipients   [accepted, rejected]                                0, 0
	// Bytes        [sent]                                              0
	// Success      [ratio]                                             50.00%
	// Reply codes  [code:count]                                        2xx:1  550:1
	// Errors       [total, keys]                                       1, 1
	//
	// Phase    n       min      mean       p50       p90       p99     p99.9       max
	// connect  2     150µs     200µs     150µs     250µs     250µs     250µs     250µs
	// rcpt     1     1.2ms     1.2ms     1.2ms     1.2ms     1.2ms     1.2ms     1.2ms
	// eod      1  20.512ms  20.512ms  20.512ms  20.512ms  20.512ms  20.512ms  20.512ms
	//
	// Error                count  first text
	// rcpt:perm:550:5.1.1      1  550 5.1.1 <nobody@example.com>: Recipient address rejected
}

package metrics

import (
	"strconv"
	"strings"
	"time"
)

// Live is one second of a run as the live view shows it: a local run's, or a cluster
// coordinator's merge of its workers'.
type Live struct {
	Elapsed time.Duration
	Total   time.Duration // the planned length (--duration, stages); 0: not known
	Planned int64         // messages; 0: as many as the run makes
	Done    int64         // messages with an outcome

	Accepted, Rejected, Failed int64 // since the start

	TargetRate float64 // the schedule's rate now (open model); 0 without a schedule
	Rate       float64 // messages answered in the last second
	Late       int64   // since the start
	Dropped    int64   // since the start
	InFlight   int64   // connections open now

	// The last second's p99s (0: no message ended in it). Latency is CO-corrected (from
	// each message's due time) when Corrected, else the service time (from its pick-up).
	LatencyP99 time.Duration
	EODP99     time.Duration
	Corrected  bool
	Intervals  int // intervals so far

	Workers, Lost int // a cluster's: reporting and lost workers (0, 0 for a local run)

	// End to end (--e2e-sink), shown when Sinks > 0: the messages the sinks behind the
	// MTA have seen so far, and the last second's delivery p99 (0: none arrived in it).
	Sinks       int
	Delivered   int64
	DeliveryP99 time.Duration
}

// FormatLive is the live view's line (without the program's name or a line end): the
// same for a local run and a cluster coordinator. What matters most comes first, for a
// terminal too narrow for all of it:
//
//	12s/60s  target 300/s  achieved 298/s  latency p99 3.21ms  eod p99 1.1ms  accepted 3580  rejected 0  failed 0  late 2  dropped 0  conns open 12
//
// With sinks to ask (--e2e-sink), the delivery p99 follows the end-of-data p99 and the
// messages delivered follow those accepted.
func FormatLive(l Live) string {
	var b strings.Builder
	b.WriteString(strconv.FormatFloat(l.Elapsed.Seconds(), 'f', 0, 64) + "s")
	if l.Total > 0 {
		b.WriteString("/" + strconv.FormatFloat(l.Total.Seconds(), 'f', 0, 64) + "s")
	}
	if l.Planned > 0 {
		b.WriteString("  done " + strconv.FormatInt(l.Done, 10) + "/" + strconv.FormatInt(l.Planned, 10))
	}
	if l.TargetRate > 0 {
		b.WriteString("  target " + perSecondLive(l.TargetRate))
	}
	b.WriteString("  achieved " + perSecondLive(l.Rate))
	latency := "service p99 "
	if l.Corrected {
		latency = "latency p99 "
	}
	b.WriteString("  " + latency + liveDuration(l.LatencyP99) + "  eod p99 " + liveDuration(l.EODP99))
	if l.Sinks > 0 {
		b.WriteString("  delivery p99 " + liveDuration(l.DeliveryP99))
	}
	for _, f := range []struct {
		name string
		n    int64
	}{{"accepted", l.Accepted}, {"rejected", l.Rejected}, {"failed", l.Failed}, {"late", l.Late}, {"dropped", l.Dropped}, {"conns open", l.InFlight}} {
		b.WriteString("  " + f.name + " " + strconv.FormatInt(f.n, 10))
		if f.name == "accepted" && l.Sinks > 0 {
			b.WriteString("  delivered " + strconv.FormatInt(l.Delivered, 10))
		}
	}
	if l.Workers > 0 || l.Lost > 0 {
		b.WriteString("  workers " + strconv.Itoa(l.Workers) + "  lost " + strconv.Itoa(l.Lost))
	}
	return b.String()
}

func perSecondLive(r float64) string { return strconv.FormatFloat(r, 'f', 0, 64) + "/s" }

// LiveDuration is a duration as the live view shows it (liveDuration).
func LiveDuration(d time.Duration) string { return liveDuration(d) }

// liveDuration is a p99 at a precision a person reads at a glance: "-" for none,
// 3 significant digits otherwise (850µs, 3.21ms, 1.5s).
func liveDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(10 * time.Microsecond).String()
	case d < time.Minute:
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

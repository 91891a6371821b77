package sink

import "github.com/prometheus/client_golang/prometheus"

// promNamespace prefixes every metric of /metrics.
const promNamespace = "gosmtpsink"

// promStat is one --stats counter exported to Prometheus.
type promStat struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(*Snapshot) int64
}

// collector exports the sink's counters when Prometheus scrapes: it reads the Stats the
// event loops keep (atomics, and the trace's counts under its lock), so serving /metrics
// costs the loops nothing between scrapes.
type collector struct {
	stats *Stats
	plain []promStat

	refusals      *prometheus.Desc
	greyEntries   *prometheus.Desc
	greyEvicted   *prometheus.Desc
	traceSeen     *prometheus.Desc
	traceDups     *prometheus.Desc
	traceMissing  *prometheus.Desc
	traceUnusable *prometheus.Desc
	delivery      *prometheus.Desc
}

func newCollector(stats *Stats) *collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(promNamespace+"_"+name, help, labels, nil)
	}
	c := &collector{
		stats:         stats,
		refusals:      d("refusals_total", "Injected refusals, by kind (reject, greylist, rate_limit, max_per_connection) and the client's error key.", "kind", "key"),
		greyEntries:   d("greylist_entries", "Triplets the greylist remembers."),
		greyEvicted:   d("greylist_evicted_total", "Triplets forgotten before their expiry because the table was full."),
		traceSeen:     d("trace_seen_total", "Distinct trace sequence numbers delivered, per run id.", "run"),
		traceDups:     d("trace_duplicates_total", "Deliveries of a trace sequence number seen before, per run id.", "run"),
		traceMissing:  d("trace_missing", "Sequence numbers from 1 to the highest delivered that have not been delivered, per run id.", "run"),
		traceUnusable: d("trace_unusable_total", "Accepted messages whose trace header could not be used, by reason.", "reason"),
		delivery:      d("delivery_latency_seconds", "Delivery latency: arrival minus the send time in the trace header, per run id (first deliveries).", "run"),
	}
	counter, gauge := prometheus.CounterValue, prometheus.GaugeValue
	for _, p := range []struct {
		name, help string
		kind       prometheus.ValueType
		value      func(*Snapshot) int64
	}{
		{"sessions_total", "Connections accepted.", counter, func(s *Snapshot) int64 { return s.Sessions }},
		{"sessions_active", "Connections open now.", gauge, func(s *Snapshot) int64 { return s.SessionsActive }},
		{"sessions_peak", "Most connections open at once.", gauge, func(s *Snapshot) int64 { return s.SessionsPeak }},
		{"sessions_closed_total", "Connections closed.", counter, func(s *Snapshot) int64 { return s.SessionsClosed }},
		{"transactions_total", "MAIL commands accepted.", counter, func(s *Snapshot) int64 { return s.Transactions }},
		{"recipients_total", "RCPT commands accepted.", counter, func(s *Snapshot) int64 { return s.Recipients }},
		{"messages_accepted_total", "Messages accepted.", counter, func(s *Snapshot) int64 { return s.MessagesAccepted }},
		{"messages_rejected_total", "Messages whose end of data was refused or aborted.", counter, func(s *Snapshot) int64 { return s.MessagesRejected }},
		{"messages_refused_after_delivery_total", "Messages accepted and then refused (--reject .=CODE:P:delivered).", counter, func(s *Snapshot) int64 { return s.RefusedAfterDelivery }},
		{"bytes_total", "Message content bytes received.", counter, func(s *Snapshot) int64 { return s.Bytes }},
		{"faults_injected_total", "Faults injected by -f, -r, -q, -Q.", counter, func(s *Snapshot) int64 { return s.FaultsInjected }},
		{"delays_injected_total", "Delays injected by -w, -W, --delay, -H.", counter, func(s *Snapshot) int64 { return s.DelaysInjected }},
		{"tarpit_delays_total", "Replies held back by --tarpit.", counter, func(s *Snapshot) int64 { return s.TarpitDelays }},
		{"timeouts_total", "Connections closed for idleness.", counter, func(s *Snapshot) int64 { return s.Timeouts }},
		{"tls_handshakes_total", "TLS handshakes completed.", counter, func(s *Snapshot) int64 { return s.TLSHandshakes }},
		{"tls_handshake_failures_total", "TLS handshakes failed.", counter, func(s *Snapshot) int64 { return s.TLSHandshakeFailures }},
	} {
		c.plain = append(c.plain, promStat{desc: d(p.name, p.help), kind: p.kind, value: p.value})
	}
	return c
}

// Describe sends every descriptor.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, p := range c.plain {
		ch <- p.desc
	}
	for _, d := range []*prometheus.Desc{c.refusals, c.greyEntries, c.greyEvicted, c.traceSeen,
		c.traceDups, c.traceMissing, c.traceUnusable, c.delivery, tarpitSecondsDesc} {
		ch <- d
	}
}

var tarpitSecondsDesc = prometheus.NewDesc(promNamespace+"_tarpit_delay_seconds_total",
	"Time replies were held back by --tarpit.", nil, nil)

// Collect reads the counters now.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	snap := c.stats.Snapshot()
	for _, p := range c.plain {
		ch <- prometheus.MustNewConstMetric(p.desc, p.kind, float64(p.value(&snap)))
	}
	ch <- prometheus.MustNewConstMetric(tarpitSecondsDesc, prometheus.CounterValue, float64(snap.TarpitDelayNs)/1e9)
	for kind, keys := range snap.Refusals {
		for key, n := range keys {
			ch <- prometheus.MustNewConstMetric(c.refusals, prometheus.CounterValue, float64(n), kind, key)
		}
	}
	if g := snap.Greylist; g != nil {
		ch <- prometheus.MustNewConstMetric(c.greyEntries, prometheus.GaugeValue, float64(g.Entries))
		ch <- prometheus.MustNewConstMetric(c.greyEvicted, prometheus.CounterValue, float64(g.Evicted))
	}
	if t := snap.Trace; t != nil {
		c.collectTrace(ch, t)
	}
}

func (c *collector) collectTrace(ch chan<- prometheus.Metric, t *TraceCounts) {
	for reason, n := range map[string]int64{"without_header": t.WithoutHeader, "malformed": t.Malformed,
		"out_of_range": t.OutOfRange, "runs_over_limit": t.RunsOverLimit} {
		ch <- prometheus.MustNewConstMetric(c.traceUnusable, prometheus.CounterValue, float64(n), reason)
	}
	for _, h := range c.stats.trace.histograms() {
		ch <- prometheus.MustNewConstMetric(c.traceSeen, prometheus.CounterValue, float64(h.Seen), h.Run)
		ch <- prometheus.MustNewConstMetric(c.traceDups, prometheus.CounterValue, float64(h.Duplicates), h.Run)
		ch <- prometheus.MustNewConstMetric(c.traceMissing, prometheus.GaugeValue, float64(h.Missing), h.Run)
		ch <- prometheus.MustNewConstHistogram(c.delivery, h.Count, h.SumSeconds, h.Buckets, h.Run)
	}
}

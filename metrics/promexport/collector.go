package promexport

import (
	"math"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// ClassicBuckets are the phase histograms' classic upper bounds, in seconds: from a
// loopback round trip to a server that takes a minute.
var ClassicBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// NativeSchema is the native histograms' resolution: each power of two is cut into
// 2^NativeSchema buckets (a factor of about 1.09 between bounds, client_golang's default
// bucket factor of 1.1).
const NativeSchema = 3

// grouped are the counters exported as one family with a label; the others are each
// their own family, <namespace>_<name>_total.
var grouped = map[metrics.Counter]struct{ family, label, value string }{
	metrics.MessagesAccepted:   {"messages", "outcome", "accepted"},
	metrics.MessagesRejected:   {"messages", "outcome", "rejected"},
	metrics.MessagesFailed:     {"messages", "outcome", "failed"},
	metrics.RecipientsAccepted: {"recipients", "outcome", "accepted"},
	metrics.RecipientsRejected: {"recipients", "outcome", "rejected"},
	metrics.SessionsOpened:     {"sessions", "outcome", "opened"},
	metrics.SessionsFailed:     {"sessions", "outcome", "failed"},
}

var familyHelp = map[string]string{
	"messages":   "Messages by outcome: accepted (2xx after the dot), rejected (4xx/5xx), failed (the session broke first).",
	"recipients": "Recipients by the reply to their RCPT: accepted or rejected.",
	"sessions":   "Connections: opened (established), failed (a connect that failed, or a session a failure ended).",
}

// collector turns the exporter's totals into metrics when Prometheus scrapes.
type collector struct {
	e         *Exporter
	families  map[string]*prometheus.Desc
	single    [metrics.NumCounters]*prometheus.Desc
	errors    *prometheus.Desc
	phase     *prometheus.Desc
	open      *prometheus.Desc
	target    *prometheus.Desc
	achieved  *prometheus.Desc
	workers   *prometheus.Desc
	workerSet bool
}

func newCollector(e *Exporter) *collector {
	name := func(n string) string { return prometheus.BuildFQName(Namespace, "", n) }
	c := &collector{e: e, families: make(map[string]*prometheus.Desc)}
	for ctr := metrics.Counter(0); ctr < metrics.NumCounters; ctr++ {
		if g, ok := grouped[ctr]; ok {
			if c.families[g.family] == nil {
				c.families[g.family] = prometheus.NewDesc(name(g.family+"_total"), familyHelp[g.family], []string{g.label}, nil)
			}
			continue
		}
		c.single[ctr] = prometheus.NewDesc(name(ctr.String()+"_total"), "The run's "+ctr.String()+" counter (metrics/SCHEMA.md).", nil, nil)
	}
	c.errors = prometheus.NewDesc(name("errors_total"), "Errors by key (metrics/SCHEMA.md: net:timeout, smtp:mail:perm:550, …).", []string{"key"}, nil)
	c.phase = prometheus.NewDesc(name("phase_seconds"), "Duration of each SMTP phase and derived quantity (latency, service_time, …), classic and native buckets.", []string{"phase"}, nil)
	c.open = prometheus.NewDesc(name("connections_open"), "Connections open now.", nil, nil)
	c.target = prometheus.NewDesc(name("target_rate"), "The schedule's rate now, messages per second (open model; 0 without a schedule).", nil, nil)
	c.achieved = prometheus.NewDesc(name("achieved_rate"), "Messages answered (accepted or rejected) in the last second.", nil, nil)
	c.workers = prometheus.NewDesc(name("cluster_workers"), "A cluster's workers, by state (reporting, lost).", []string{"state"}, nil)
	return c
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.families {
		ch <- d
	}
	for _, d := range c.single {
		if d != nil {
			ch <- d
		}
	}
	for _, d := range []*prometheus.Desc{c.errors, c.phase, c.open, c.target, c.achieved, c.workers} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	snap, live := c.e.snapshot()
	for ctr := metrics.Counter(0); ctr < metrics.NumCounters; ctr++ {
		n := float64(snap.Counter(ctr))
		if g, ok := grouped[ctr]; ok {
			ch <- prometheus.MustNewConstMetric(c.families[g.family], prometheus.CounterValue, n, g.value)
		} else if n != 0 || !metrics.IsTLSCipherCounter(ctr) { // 26 suites, nearly all zero
			ch <- prometheus.MustNewConstMetric(c.single[ctr], prometheus.CounterValue, n)
		}
	}
	for _, e := range snap.Errors() {
		ch <- prometheus.MustNewConstMetric(c.errors, prometheus.CounterValue, float64(e.Count), e.Key)
	}
	for _, p := range snap.Phases() {
		ch <- c.histogram(snap, p)
	}
	ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(live.InFlight))
	ch <- prometheus.MustNewConstMetric(c.target, prometheus.GaugeValue, live.TargetRate)
	ch <- prometheus.MustNewConstMetric(c.achieved, prometheus.GaugeValue, live.Rate)
	if live.Workers > 0 || live.Lost > 0 {
		ch <- prometheus.MustNewConstMetric(c.workers, prometheus.GaugeValue, float64(live.Workers), "reporting")
		ch <- prometheus.MustNewConstMetric(c.workers, prometheus.GaugeValue, float64(live.Lost), "lost")
	}
}

// histogram is phase p's histogram with classic buckets and, for a scraper that reads
// the protobuf format, native ones: each HdrHistogram bucket (0.1 % wide) goes whole to
// the bucket that holds its upper end.
func (c *collector) histogram(snap *metrics.Snapshot, p metrics.Phase) prometheus.Metric {
	classic := make(map[float64]uint64, len(ClassicBuckets))
	native := make(map[int]int64)
	var zero uint64
	var cum uint64
	snap.ForEachBucket(p, func(_, high time.Duration, count int64) {
		v := high.Seconds()
		for _, b := range ClassicBuckets {
			if v <= b {
				classic[b] += uint64(count)
				break
			}
		}
		if v <= 0 {
			zero += uint64(count)
		} else {
			native[nativeIndex(v)] += count
		}
	})
	for _, b := range ClassicBuckets { // cumulative, as Prometheus wants them
		cum += classic[b]
		classic[b] = cum
	}
	m := prometheus.MustNewConstHistogram(c.phase, uint64(snap.Count(p)), snap.Sum(p).Seconds(), classic, p.String())
	return withNative{Metric: m, native: native, zero: zero}
}

// nativeIndex is the native bucket of v > 0 at NativeSchema: bucket i holds
// (2^((i-1)/2^s), 2^(i/2^s)].
func nativeIndex(v float64) int {
	frac, exp := math.Frexp(v) // v = frac · 2^exp, frac in [0.5, 1)
	if frac == 0.5 {
		return (exp - 1) << NativeSchema // a power of two is its bucket's upper bound
	}
	return int(math.Ceil((math.Log2(frac) + float64(exp)) * (1 << NativeSchema)))
}

// withNative adds native buckets to a classic histogram.
type withNative struct {
	prometheus.Metric
	native map[int]int64
	zero   uint64
}

func (w withNative) Write(m *dto.Metric) error {
	if err := w.Metric.Write(m); err != nil {
		return err
	}
	h := m.Histogram
	schema, threshold := int32(NativeSchema), 0.0
	h.Schema, h.ZeroThreshold, h.ZeroCount = &schema, &threshold, &w.zero
	h.PositiveSpan, h.PositiveDelta = spans(w.native)
	if len(h.PositiveSpan) == 0 {
		h.PositiveSpan = []*dto.BucketSpan{{Offset: new(int32), Length: new(uint32)}} // a native histogram without samples
	}
	return nil
}

// spans encodes sparse bucket counts as native histogram spans and count deltas.
func spans(counts map[int]int64) ([]*dto.BucketSpan, []int64) {
	if len(counts) == 0 {
		return nil, nil
	}
	idx := make([]int, 0, len(counts))
	for i := range counts {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	var out []*dto.BucketSpan
	var deltas []int64
	var prevCount int64
	next := 0 // the index after the last span's end
	for k, i := range idx {
		if k == 0 || i != next {
			off := int32(i - next)
			if k == 0 {
				off = int32(i)
			}
			out = append(out, &dto.BucketSpan{Offset: &off, Length: new(uint32)})
		}
		*out[len(out)-1].Length++
		deltas = append(deltas, counts[i]-prevCount)
		prevCount = counts[i]
		next = i + 1
	}
	return out, deltas
}

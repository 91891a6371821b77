package promexport

import (
	"math"
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
	s := c.e.snapshot()
	total := stamped(ch, s.at)
	for ctr := metrics.Counter(0); ctr < metrics.NumCounters; ctr++ {
		n := float64(s.total.Counter(ctr))
		if g, ok := grouped[ctr]; ok {
			total(prometheus.MustNewConstMetric(c.families[g.family], prometheus.CounterValue, n, g.value))
		} else if n != 0 || !metrics.IsTLSCipherCounter(ctr) { // 26 suites, nearly all zero
			total(prometheus.MustNewConstMetric(c.single[ctr], prometheus.CounterValue, n))
		}
	}
	for _, e := range s.total.Errors() {
		total(prometheus.MustNewConstMetric(c.errors, prometheus.CounterValue, float64(e.Count), e.Key))
	}
	for _, p := range s.total.Phases() {
		total(c.histogram(s.total, p))
	}
	gauge := stamped(ch, s.liveAt)
	gauge(prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(s.live.InFlight)))
	gauge(prometheus.MustNewConstMetric(c.target, prometheus.GaugeValue, s.live.TargetRate))
	gauge(prometheus.MustNewConstMetric(c.achieved, prometheus.GaugeValue, s.live.Rate))
	if s.live.Workers > 0 || s.live.Lost > 0 {
		gauge(prometheus.MustNewConstMetric(c.workers, prometheus.GaugeValue, float64(s.live.Workers), "reporting"))
		gauge(prometheus.MustNewConstMetric(c.workers, prometheus.GaugeValue, float64(s.live.Lost), "lost"))
	}
}

// stamped sends metrics to ch with the time they are true at (none when at is zero:
// nothing measured yet, true whenever scraped).
func stamped(ch chan<- prometheus.Metric, at time.Time) func(prometheus.Metric) {
	if at.IsZero() {
		return func(m prometheus.Metric) { ch <- m }
	}
	return func(m prometheus.Metric) { ch <- prometheus.NewMetricWithTimestamp(at, m) }
}

// histogram is phase p's histogram with classic buckets and, for a scraper that reads
// the protobuf format, native ones: each HdrHistogram bucket (0.1 % wide) goes whole to
// the bucket that holds its upper end.
func (c *collector) histogram(snap *metrics.Snapshot, p metrics.Phase) prometheus.Metric {
	classic := make(map[float64]uint64, len(ClassicBuckets))
	var nb nativeBuckets
	next := 0 // the first classic bound not below the values seen so far
	snap.ForEachBucket(p, func(_, high time.Duration, count int64) {
		v := high.Seconds() // buckets come in ascending order
		for next < len(ClassicBuckets) && v > ClassicBuckets[next] {
			next++
		}
		if next < len(ClassicBuckets) {
			classic[ClassicBuckets[next]] += uint64(count)
		}
		nb.add(v, count)
	})
	var cum uint64
	for _, b := range ClassicBuckets { // cumulative, as Prometheus wants them
		cum += classic[b]
		classic[b] = cum
	}
	m := prometheus.MustNewConstHistogram(c.phase, uint64(snap.Count(p)), snap.Sum(p).Seconds(), classic, p.String())
	return withNative{Metric: m, b: nb}
}

// nativeBuckets are a native histogram's populated buckets, filled in ascending order
// of value.
type nativeBuckets struct {
	zero   uint64
	index  []int   // ascending
	counts []int64 // by index
	upper  float64 // the last bucket's upper bound
}

// add counts n values of v (≥ the values added before).
func (nb *nativeBuckets) add(v float64, n int64) {
	if v <= 0 {
		nb.zero += uint64(n)
		return
	}
	if k := len(nb.index); k > 0 && v <= nb.upper {
		nb.counts[k-1] += n
		return
	}
	i := nativeIndex(v)
	if k := len(nb.index); k > 0 && i <= nb.index[k-1] { // a bound's rounding
		nb.counts[k-1] += n
		return
	}
	nb.index, nb.counts = append(nb.index, i), append(nb.counts, n)
	nb.upper = math.Exp2(float64(i) / (1 << NativeSchema))
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
	b nativeBuckets
}

func (w withNative) Write(m *dto.Metric) error {
	if err := w.Metric.Write(m); err != nil {
		return err
	}
	h := m.Histogram
	schema, threshold, zero := int32(NativeSchema), 0.0, w.b.zero
	h.Schema, h.ZeroThreshold, h.ZeroCount = &schema, &threshold, &zero
	h.PositiveSpan, h.PositiveDelta = spans(w.b.index, w.b.counts)
	if len(h.PositiveSpan) == 0 {
		h.PositiveSpan = []*dto.BucketSpan{{Offset: new(int32), Length: new(uint32)}} // a native histogram without samples
	}
	return nil
}

// spans encodes populated buckets (ascending indexes, their counts) as native
// histogram spans and count deltas.
func spans(index []int, counts []int64) ([]*dto.BucketSpan, []int64) {
	var out []*dto.BucketSpan
	deltas := make([]int64, 0, len(index))
	var prevCount int64
	next := 0 // the index after the last span's end
	for k, i := range index {
		if k == 0 || i != next {
			off := int32(i - next)
			if k == 0 {
				off = int32(i)
			}
			out = append(out, &dto.BucketSpan{Offset: &off, Length: new(uint32)})
		}
		*out[len(out)-1].Length++
		deltas = append(deltas, counts[k]-prevCount)
		prevCount = counts[k]
		next = i + 1
	}
	return out, deltas
}

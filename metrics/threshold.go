package metrics

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Threshold is a pass/fail criterion on a run's figures, as k6's thresholds are: a
// metric, a comparison and a value, such as "eod.p99<500ms", "errors<1%", "rate>=900"
// or "rcpt:perm:550<10". ParseThreshold reads one; Observe and Check evaluate it.
//
// The grammar (spaces are allowed around the operator):
//
//	threshold := metric op value
//	metric    := PHASE '.' aggregate          eod.p99, latency.p99.9, connect.max, delivery.p99
//	           | NAME                          accepted, errors, rate, dropped, sessions_failed, lost
//	           | FIELD ':' FIELD { ':' FIELD }  an error key prefix: rcpt:perm:550, *:net:timeout
//	aggregate := 'p' NUM | 'p(' NUM ')' | min | max | mean | avg | med | count
//	op        := '<' | '<=' | '>' | '>=' | '==' | '!='
//	value     := DURATION                      for a phase's time: 500ms, 2s, 1m30s
//	           | NUM [ '%' ]                   for a count; P% is a share of the messages attempted
//	                                           (of those the MTA accepted, for the end-to-end counts)
//	           | NUM [ '/s' ]                  for a rate, messages per second
type Threshold struct {
	Metric  Metric
	Op      Op
	Value   float64 // ns for a time, messages/s for a rate, a count, or a percentage (Percent)
	Percent bool    // Value is a percentage of the messages attempted
}

// Metric is what a threshold looks at.
type Metric struct {
	Kind    MetricKind
	Name    string    // the total's, counter's or rate's name; the phase's name for KindPhase
	Phase   Phase     // KindPhase
	Agg     Aggregate // KindPhase
	Pct     float64   // AggPercentile: the percentile, 0 < Pct < 100
	Pattern []string  // KindErrors: the error key's leading fields ("*" matches any)
}

// MetricKind says where a metric's figure comes from.
type MetricKind uint8

const (
	KindPhase    MetricKind = iota + 1 // a phase's statistic (a time, or its sample count)
	KindTotal                          // the accounting: planned, accepted, … errors
	KindCounter                        // one of the counters (dropped, late, sessions_failed, …)
	KindRate                           // rate, offered, throughput: messages per second of the sending window
	KindErrors                         // the count of the error keys matching a pattern
	KindDelivery                       // end to end: delivered, delivered_late, lost, duplicates, unexpected
)

// Aggregate is a phase's statistic.
type Aggregate uint8

const (
	AggPercentile Aggregate = iota + 1
	AggMin
	AggMax
	AggMean
	AggCount
)

var aggNames = map[string]Aggregate{"min": AggMin, "max": AggMax, "mean": AggMean, "avg": AggMean, "count": AggCount}

// Op is a threshold's comparison.
type Op uint8

const (
	OpLess Op = iota + 1
	OpLessEq
	OpGreater
	OpGreaterEq
	OpEqual
	OpNotEqual
)

var opNames = [...]string{OpLess: "<", OpLessEq: "<=", OpGreater: ">", OpGreaterEq: ">=", OpEqual: "==", OpNotEqual: "!="}

func (o Op) String() string {
	if o >= OpLess && o <= OpNotEqual {
		return opNames[o]
	}
	return "?"
}

// holds reports whether observed compared with limit by o is true.
func (o Op) holds(observed, limit float64) bool {
	switch o {
	case OpLess:
		return observed < limit
	case OpLessEq:
		return observed <= limit
	case OpGreater:
		return observed > limit
	case OpGreaterEq:
		return observed >= limit
	case OpEqual:
		return observed == limit
	case OpNotEqual:
		return observed != limit
	}
	return false
}

// totalNames are the accounting's figures a threshold can name.
var totalNames = map[string]bool{
	"planned": true, "accepted": true, "rejected": true, "failed": true, "not_started": true,
	"attempted": true, "sessions": true, "errors": true, "cut_off": true,
}

// rateNames are the rates, per second of the sending window.
var rateNames = map[string]bool{"rate": true, "offered": true, "throughput": true}

// deliveryNames are the end-to-end counts of the runs reconciled with their sinks
// (E2ERun): they have no data in a run no sink was asked about.
var deliveryNames = map[string]bool{"delivered": true, "delivered_late": true, "lost": true, "duplicates": true, "unexpected": true}

// MaxThresholdLen bounds a threshold's text.
const MaxThresholdLen = 256

// ParseThreshold reads one threshold expression.
func ParseThreshold(s string) (Threshold, error) {
	if len(s) > MaxThresholdLen {
		return Threshold{}, fmt.Errorf("threshold: longer than %d bytes", MaxThresholdLen)
	}
	p := &thresholdParser{src: s}
	t, err := p.parse()
	if err != nil {
		return Threshold{}, fmt.Errorf("threshold %q: %w", s, err)
	}
	return t, nil
}

// ParseThresholds reads several; the error names the first that does not parse.
func ParseThresholds(exprs []string) ([]Threshold, error) {
	out := make([]Threshold, 0, len(exprs))
	for _, e := range exprs {
		t, err := ParseThreshold(e)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// thresholdParser is a recursive-descent parser over the expression's bytes.
type thresholdParser struct {
	src string
	pos int
}

func (p *thresholdParser) errorf(format string, args ...any) error {
	return fmt.Errorf("at column %d: %s", p.pos+1, fmt.Sprintf(format, args...))
}

func (p *thresholdParser) skipSpace() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t') {
		p.pos++
	}
}

func (p *thresholdParser) peek() byte {
	if p.pos < len(p.src) {
		return p.src[p.pos]
	}
	return 0
}

func (p *thresholdParser) parse() (Threshold, error) {
	p.skipSpace()
	m, err := p.metric()
	if err != nil {
		return Threshold{}, err
	}
	p.skipSpace()
	op, err := p.op()
	if err != nil {
		return Threshold{}, err
	}
	p.skipSpace()
	t := Threshold{Metric: m, Op: op}
	if err := p.value(&t); err != nil {
		return Threshold{}, err
	}
	return t, nil
}

// word reads a run of letters, digits, '_' and '-'.
func (p *thresholdParser) word() string {
	start := p.pos
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			p.pos++
			continue
		}
		break
	}
	return p.src[start:p.pos]
}

// metric reads a phase statistic, a name, or an error key pattern.
func (p *thresholdParser) metric() (Metric, error) {
	first := p.field()
	if first == "" {
		return Metric{}, p.errorf("expected a metric (eod.p99, errors, rate, rcpt:perm:550, …)")
	}
	if p.peek() == ':' {
		return p.pattern(first)
	}
	if strings.Contains(first, ".") || first == "*" {
		return Metric{}, p.errorf("%q is not a metric", first)
	}
	if p.peek() == '.' {
		p.pos++
		return p.phaseMetric(first)
	}
	name := strings.ToLower(first)
	switch {
	case totalNames[name]:
		return Metric{Kind: KindTotal, Name: name}, nil
	case rateNames[name]:
		return Metric{Kind: KindRate, Name: name}, nil
	case deliveryNames[name]:
		return Metric{Kind: KindDelivery, Name: name}, nil
	}
	if _, ok := CounterByName(name); ok {
		return Metric{Kind: KindCounter, Name: name}, nil
	}
	if ph, ok := PhaseByName(name); ok {
		return Metric{}, p.errorf("phase %s needs a statistic: %s.p99, %s.max, %s.mean, %s.count", ph, ph, ph, ph, ph)
	}
	return Metric{}, p.errorf("unknown metric %q", first)
}

// field reads one error-key field: a word, '*', or an enhanced code's dotted digits.
func (p *thresholdParser) field() string {
	if p.peek() == '*' {
		p.pos++
		return "*"
	}
	start := p.pos
	for {
		p.word()
		if p.peek() == '.' && p.pos+1 < len(p.src) && isDigit(p.src[p.pos+1]) && start < p.pos && isDigitsAndDots(p.src[start:p.pos]) {
			p.pos++ // 5.1.1: part of an enhanced code, not a statistic
			continue
		}
		return p.src[start:p.pos]
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isDigitsAndDots(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) && s[i] != '.' {
			return false
		}
	}
	return s != ""
}

// pattern reads an error key prefix after its first field.
func (p *thresholdParser) pattern(first string) (Metric, error) {
	fields := []string{first}
	for p.peek() == ':' {
		p.pos++
		f := p.field()
		if f == "" {
			return Metric{}, p.errorf("expected an error key field after ':'")
		}
		fields = append(fields, f)
	}
	return Metric{Kind: KindErrors, Name: strings.Join(fields, ":"), Pattern: fields}, nil
}

// phaseMetric reads the statistic after "PHASE.".
func (p *thresholdParser) phaseMetric(name string) (Metric, error) {
	ph, ok := PhaseByName(strings.ToLower(name))
	if !ok {
		return Metric{}, p.errorf("unknown phase %q", name)
	}
	m := Metric{Kind: KindPhase, Name: ph.String(), Phase: ph}
	at := p.pos
	agg := strings.ToLower(p.word())
	if a, ok := aggNames[agg]; ok {
		m.Agg = a
		return m, nil
	}
	if agg == "med" {
		m.Agg, m.Pct = AggPercentile, 50
		return m, nil
	}
	if len(agg) == 0 || agg[0] != 'p' {
		p.pos = at
		return Metric{}, p.errorf("expected a statistic (p99, p(99.9), min, max, mean, count) after %s.", ph)
	}
	p.pos = at + 1
	q, err := p.percentile()
	if err != nil {
		return Metric{}, err
	}
	m.Agg, m.Pct = AggPercentile, q
	return m, nil
}

// percentile reads NUM or (NUM) after 'p': a percentile strictly between 0 and 100.
func (p *thresholdParser) percentile() (float64, error) {
	paren := p.peek() == '('
	if paren {
		p.pos++
	}
	start := p.pos
	for p.pos < len(p.src) && isDigit(p.src[p.pos]) {
		p.pos++
	}
	if p.peek() == '.' && p.pos+1 < len(p.src) && isDigit(p.src[p.pos+1]) {
		p.pos++
		for p.pos < len(p.src) && isDigit(p.src[p.pos]) {
			p.pos++
		}
	}
	num := p.src[start:p.pos]
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || !(v > 0 && v < 100) {
		return 0, p.errorf("a percentile between 0 and 100 exclusive, got %q", num)
	}
	if paren {
		if p.peek() != ')' {
			return 0, p.errorf("expected ')'")
		}
		p.pos++
	}
	return v, nil
}

// op reads the comparison.
func (p *thresholdParser) op() (Op, error) {
	rest := p.src[p.pos:]
	for _, o := range []Op{OpLessEq, OpGreaterEq, OpEqual, OpNotEqual, OpLess, OpGreater} {
		if strings.HasPrefix(rest, o.String()) {
			p.pos += len(o.String())
			return o, nil
		}
	}
	if rest == "" {
		return 0, p.errorf("expected a comparison (<, <=, >, >=, ==, !=) and a value")
	}
	return 0, p.errorf("expected a comparison (<, <=, >, >=, ==, !=), got %q", rest[:1])
}

// value reads the limit, in the unit the metric calls for.
func (p *thresholdParser) value(t *Threshold) error {
	v := strings.TrimRight(p.src[p.pos:], " \t")
	if v == "" {
		return p.errorf("expected a value after %s", t.Op)
	}
	if i := strings.IndexAny(v, " \t"); i >= 0 {
		p.pos += i
		return p.errorf("unexpected %q after the value", strings.TrimSpace(v[i:]))
	}
	switch t.Metric.kindOfValue() {
	case valueDuration:
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return p.errorf("%s is a time: want a duration such as 500ms or 2s, got %q", t.Metric, v)
		}
		t.Value = float64(d)
		return nil
	case valueRate:
		v = strings.TrimSuffix(v, "/s")
		return p.number(v, &t.Value, "a rate in messages per second")
	}
	if num, ok := strings.CutSuffix(v, "%"); ok {
		t.Percent = true
		return p.number(num, &t.Value, "a percentage")
	}
	return p.number(v, &t.Value, "a count")
}

func (p *thresholdParser) number(s string, dst *float64, what string) error {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || strings.ContainsAny(s, "xXpP_") {
		return p.errorf("want %s, got %q", what, s)
	}
	*dst = f
	return nil
}

type valueKind uint8

const (
	valueCount valueKind = iota
	valueDuration
	valueRate
)

func (m Metric) kindOfValue() valueKind {
	switch {
	case m.Kind == KindPhase && m.Agg != AggCount:
		return valueDuration
	case m.Kind == KindRate:
		return valueRate
	}
	return valueCount
}

// String is the metric as ParseThreshold reads it.
func (m Metric) String() string {
	if m.Kind != KindPhase {
		return m.Name
	}
	switch m.Agg {
	case AggMin:
		return m.Name + ".min"
	case AggMax:
		return m.Name + ".max"
	case AggMean:
		return m.Name + ".mean"
	case AggCount:
		return m.Name + ".count"
	}
	return m.Name + ".p" + strconv.FormatFloat(m.Pct, 'f', -1, 64)
}

// String is the threshold in canonical form: ParseThreshold(t.String()) is t.
func (t Threshold) String() string {
	var v string
	switch {
	case t.Metric.kindOfValue() == valueDuration:
		v = time.Duration(t.Value).String()
	case t.Percent:
		v = strconv.FormatFloat(t.Value, 'g', -1, 64) + "%"
	default:
		v = strconv.FormatFloat(t.Value, 'g', -1, 64)
	}
	return t.Metric.String() + t.Op.String() + v
}

// errNoData is a threshold on a figure the run has no sample of.
var errNoData = errors.New("no data")

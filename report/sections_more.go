package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// errorCounters are the counters the errors chart draws besides the error keys' total.
var errorCounters = []string{"messages_rejected", "messages_failed", "sessions_failed", "recipients_rejected", "dropped", "late"}

func (p *page) errorSection() error {
	p.section("errors", "Errors")
	c := chart{ID: "chart-errors", Title: "Errors per second", XLabel: "seconds since the start", YLabel: "count", X: scaleLinear}
	anyErrors := false
	for i, r := range p.runs {
		rep := r.Report
		if rep.Summary.Errors == 0 && len(rep.Errors) == 0 {
			continue
		}
		anyErrors = true
		if len(p.runs) > 1 {
			c.Series = append(c.Series, series{Name: r.Name + " errors", Color: colour(i), Points: errorSeries(rep)})
			continue
		}
		c.Series = append(c.Series, series{Name: "errors (all keys)", Color: colour(0), Points: errorSeries(rep)})
		for j, name := range errorCounters {
			if rep.Counters[name] > 0 {
				c.Series = append(c.Series, series{Name: name, Color: colour(j + 1), Dash: "6 3", Points: countSeries(rep, name)})
			}
		}
	}
	if !anyErrors {
		p.para("No errors.")
		p.endSection()
		return nil
	}
	p.chart(c)
	if byKey, ok := p.errorKeyChart(); ok {
		p.chart(byKey)
		p.para("Each error key's count per second (the most frequent keys; the table has them all): <code>phase:class:code[:enhanced]</code>.")
	} else {
		p.para("The per-second series count every error key together (this document has no per-key series); the table breaks them down by key: <code>phase:class:code[:enhanced]</code>.")
	}
	p.errorTable()
	p.endSection()
	return nil
}

// errorKeysDrawn is how many error keys the by-key chart draws per run, the most
// frequent first: more lines than colours tell apart are not read.
const errorKeysDrawn = 6

// errorKeyChart is each error key's count per second, for the documents whose intervals
// carry them (error_keys); ok is false when none does.
func (p *page) errorKeyChart() (chart, bool) {
	c := chart{ID: "chart-errors-by-key", Title: "Errors per second by key", XLabel: "seconds since the start", YLabel: "count", X: scaleLinear}
	for i, r := range p.runs {
		rep := r.Report
		if !hasErrorKeys(rep) {
			continue
		}
		for j, e := range rep.Errors {
			if j == errorKeysDrawn {
				break
			}
			name, colourIndex, dash := e.Key, j, ""
			if len(p.runs) > 1 {
				name, colourIndex = r.Name+" "+e.Key, i
				dash = []string{"", "6 3", "2 2", "8 2 2 2", "4 4", "1 3"}[j]
			}
			c.Series = append(c.Series, series{Name: name, Color: colour(colourIndex), Dash: dash, Points: errorKeySeries(rep, e.Key)})
		}
	}
	return c, len(c.Series) > 0
}

func hasErrorKeys(r *metrics.Report) bool {
	for _, iv := range r.Intervals {
		if len(iv.ErrorKeys) > 0 {
			return true
		}
	}
	return false
}

// errorTable lists the error keys (most frequent first in the first run that has each),
// their counts side by side and their first texts.
func (p *page) errorTable() {
	var keys []string
	texts := map[string][]string{}
	for _, r := range p.runs {
		for _, e := range r.Report.Errors {
			if _, ok := texts[e.Key]; !ok {
				keys = append(keys, e.Key)
				texts[e.Key] = e.Texts
			}
		}
	}
	header := append(p.runHeader("key"), "texts")
	var rows [][]cell
	for _, k := range keys {
		row := []cell{{text: k}}
		for _, r := range p.runs {
			n := int64(0)
			for _, e := range r.Report.Errors {
				if e.Key == k {
					n = e.Count
				}
			}
			row = append(row, cell{text: fmt.Sprint(n)})
		}
		rows = append(rows, append(row, cell{text: strings.Join(texts[k], " | "), class: "texts"}))
	}
	p.table(header, rows)
}

// sessionCounters are the session and TLS counters the table shows, before the cipher
// suites'.
var sessionCounters = []string{"sessions_opened", "sessions_failed", "messages_cut_off", "recipients_accepted", "recipients_rejected", "bytes_sent",
	"tls_handshakes", "tls_resumed", "tls_version_1_0", "tls_version_1_1", "tls_version_1_2", "tls_version_1_3", "tls_certificate_failed"}

func (p *page) sessions() error {
	p.section("sessions", "Sessions and TLS")
	c := chart{ID: "chart-sessions", Title: "Sessions and TLS handshakes per second", XLabel: "seconds since the start", YLabel: "per second", X: scaleLinear}
	for i, r := range p.runs {
		for j, name := range []string{"sessions_opened", "sessions_failed", "tls_handshakes"} {
			if r.Report.Counters[name] == 0 {
				continue
			}
			s := series{Name: name, Color: colour(j), Points: counterSeries(r.Report, name)}
			if len(p.runs) > 1 {
				s.Name, s.Color, s.Dash = r.Name+" "+name, colour(i), []string{"", "2 3", "6 3"}[j]
			}
			c.Series = append(c.Series, s)
		}
	}
	p.chart(c)
	names := append([]string(nil), sessionCounters...)
	var ciphers []string
	for _, r := range p.runs {
		for name := range r.Report.Counters {
			if strings.HasPrefix(name, "tls_cipher_") && !contains(ciphers, name) {
				ciphers = append(ciphers, name)
			}
		}
	}
	sort.Strings(ciphers)
	var rows [][]cell
	for _, name := range append(names, ciphers...) {
		row, nonZero := []cell{{text: name}}, false
		for _, r := range p.runs {
			v := r.Report.Counters[name]
			nonZero = nonZero || v != 0
			row = append(row, cell{text: fmt.Sprint(v)})
		}
		if nonZero || !strings.HasPrefix(name, "tls_") {
			rows = append(rows, row)
		}
	}
	p.table(p.runHeader("counter"), rows)
	p.endSection()
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func verdictObserved(v metrics.Verdict) string {
	if v.NoData {
		return "no data"
	}
	return "observed " + v.Text
}

func (p *page) thresholds() error {
	var exprs []string
	for _, r := range p.runs {
		for _, v := range r.Report.Thresholds {
			if !contains(exprs, v.Threshold) {
				exprs = append(exprs, v.Threshold)
			}
		}
	}
	if len(exprs) == 0 {
		return nil
	}
	p.section("thresholds", "Thresholds")
	var rows [][]cell
	for _, expr := range exprs {
		row := []cell{{text: expr}}
		for _, r := range p.runs {
			c := cell{text: "–"}
			for _, v := range r.Report.Thresholds {
				if v.Threshold != expr {
					continue
				}
				c = cell{text: "✗ fails: " + verdictObserved(v), class: "fail"}
				if v.Pass {
					c = cell{text: "✓ holds: " + verdictObserved(v), class: "pass"}
				}
			}
			row = append(row, c)
		}
		rows = append(rows, row)
	}
	p.table(p.runHeader("threshold"), rows)
	p.endSection()
	return nil
}

func (p *page) delivery() error {
	type traced struct {
		name string
		run  metrics.E2ERun
		rep  *metrics.Report
	}
	var all []traced
	for _, r := range p.runs {
		if r.Report.E2E == nil {
			continue
		}
		for _, e := range r.Report.E2E.Runs {
			all = append(all, traced{r.Name + " (" + e.Run + ")", e, r.Report})
		}
	}
	if len(all) == 0 {
		return nil
	}
	p.section("delivery", "End-to-end delivery")
	dist := chart{ID: "chart-delivery-dist", Title: "delivery: latency by percentile", XLabel: "percentile", YLabel: "delivery", X: scalePercentile, YTime: true}
	overTime := chart{ID: "chart-delivery-time", Title: "Delivered per second", XLabel: "seconds since the start", YLabel: "messages/s", X: scaleLinear}
	var rows [][]cell
	for i, t := range all {
		e := t.run
		pts, err := percentileCurve(e.Delivery)
		if err != nil {
			return fmt.Errorf("%s: delivery: %w", t.name, err)
		}
		dist.Series = append(dist.Series, series{Name: t.name, Color: colour(i), Points: pts})
		var delivered []point
		for _, iv := range e.Intervals {
			delivered = append(delivered, point{secondsAt(t.rep.Start, iv), perSecond(iv.Counters["delivered"], iv)})
		}
		overTime.Series = append(overTime.Series, series{Name: t.name, Color: colour(i), Points: delivered})
		rows = append(rows, deliveryRow(t.name, e))
	}
	p.body.WriteString(`<div class="charts">`)
	p.chart(dist)
	p.chart(overTime)
	p.body.WriteString("</div>\n")
	p.table([]string{"run (trace id)", "accepted", "delivered", "late", "lost", "duplicates", "unexpected", "p50", "p99", "max", "sinks"}, rows)
	p.endSection()
	return nil
}

func deliveryRow(name string, e metrics.E2ERun) []cell {
	row := []cell{{text: name}, {text: fmt.Sprint(e.Accepted.Len())}}
	if !e.Reconciled() {
		return append(row, cell{text: "no sink asked (go-smtp-source reconcile)", class: "l"})
	}
	lost := cell{text: fmt.Sprint(e.Lost)}
	if e.Lost > 0 {
		lost.class = "fail"
	}
	row = append(row, cell{text: fmt.Sprint(e.Delivered)}, cell{text: fmt.Sprint(e.DeliveredLate)}, lost,
		cell{text: fmt.Sprint(e.Duplicates)}, cell{text: fmt.Sprint(e.Unexpected)})
	d := e.Delivery
	for _, v := range []int64{d.P50Ns, d.P99Ns, d.MaxNs} {
		row = append(row, cell{text: formatNs(float64(v))})
	}
	var sinks []string
	for _, s := range e.Sinks {
		desc := fmt.Sprintf("%s: seen %d, clock offset %s", s.Name, s.Seen.Len(), formatNs(float64(s.ClockOffsetNs)))
		if s.Error != "" {
			desc = s.Name + ": " + s.Error
		}
		sinks = append(sinks, desc)
	}
	return append(row, cell{text: strings.Join(sinks, "; "), class: "l"})
}

func (p *page) findMax() error {
	c := chart{ID: "chart-find-max", Title: "Capacity search: achieved against asked", XLabel: "step", YLabel: "messages/s", X: scaleLinear}
	var rows [][]cell
	for i, r := range p.runs {
		fm := r.Report.FindMax
		if fm == nil {
			continue
		}
		var asked, achieved []point
		for j, s := range fm.Steps {
			asked = append(asked, point{float64(j + 1), s.Rate})
			achieved = append(achieved, point{float64(j + 1), s.Achieved})
			held := cell{text: "held", class: "pass"}
			if !s.Held {
				held = cell{text: "lost", class: "fail"}
			}
			rows = append(rows, []cell{{text: r.Name}, {text: fmt.Sprint(j + 1)}, {text: formatRate(s.Rate)}, held,
				{text: formatRate(s.Achieved)}, {text: fmt.Sprint(s.Dropped)}, {text: fmt.Sprint(s.Late)},
				{text: formatNs(float64(s.LatencyNs))}, {text: formatNs(float64(s.EODNs))}, {text: s.Error, class: "l"}})
		}
		c.Series = append(c.Series, series{Name: r.Name + " asked", Color: colour(i), Dash: "2 3", Points: asked},
			series{Name: r.Name + " achieved", Color: colour(i), Points: achieved})
	}
	if len(rows) == 0 {
		return nil
	}
	p.section("find-max", "Capacity search")
	for _, r := range p.runs {
		if fm := r.Report.FindMax; fm != nil {
			p.para("%s: highest rate that held every threshold: %s.", esc(r.Name), esc(formatRate(fm.Highest)))
		}
	}
	p.chart(c)
	p.table([]string{"run", "step", "rate", "verdict", "achieved", "dropped", "late", "latency p99", "eod p99", "error"}, rows)
	p.endSection()
	return nil
}

func (p *page) sources() error {
	var rows [][]cell
	for _, r := range p.runs {
		for _, s := range r.Report.Sources {
			rows = append(rows, []cell{{text: r.Name}, {text: s.Name, class: "l"}, {text: formatNs(float64(s.ElapsedNs))},
				{text: fmt.Sprint(s.Totals.Planned)}, {text: fmt.Sprint(s.Totals.Accepted)}, {text: fmt.Sprint(s.Totals.Rejected)},
				{text: fmt.Sprint(s.Totals.Failed)}, {text: formatRate(s.Summary.AchievedPerSec)}})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	p.section("sources", "Merged sources")
	p.table([]string{"run", "source", "elapsed", "planned", "accepted", "rejected", "failed", "achieved"}, rows)
	p.endSection()
	return nil
}

// plans shows each run's plan as dotted paths and values, side by side; a value that
// differs from the baseline's is marked.
func (p *page) plans() error {
	flat := make([]map[string]string, len(p.runs))
	var keys []string
	for i, r := range p.runs {
		flat[i] = map[string]string{}
		if len(r.Report.Plan) == 0 {
			continue
		}
		var v any
		dec := json.NewDecoder(bytes.NewReader(r.Report.Plan))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("%s: plan: %w", r.Name, err)
		}
		flatten("", v, flat[i])
		for k := range flat[i] {
			if !contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	if len(keys) == 0 {
		return nil
	}
	sort.Strings(keys)
	p.section("plan", "Plan")
	var rows [][]cell
	for _, k := range keys {
		row := []cell{{text: k}}
		for i := range p.runs {
			v, ok := flat[i][k]
			c := cell{text: v, class: "l"}
			if i > 0 && (v != flat[0][k] || !ok) {
				c.class = "l differs"
			}
			row = append(row, c)
		}
		rows = append(rows, row)
	}
	p.table(p.runHeader("setting"), rows)
	p.endSection()
	return nil
}

// flatten turns a JSON value into dotted paths ("load.rate") and their values.
func flatten(prefix string, v any, out map[string]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			flatten(join(prefix, k), child, out)
		}
	case []any:
		allScalar := true
		for _, child := range v {
			switch child.(type) {
			case map[string]any, []any:
				allScalar = false
			}
		}
		if allScalar {
			parts := make([]string, len(v))
			for i, child := range v {
				parts[i] = fmt.Sprint(child)
			}
			out[prefix] = "[" + strings.Join(parts, ", ") + "]"
			return
		}
		for i, child := range v {
			flatten(fmt.Sprintf("%s[%d]", prefix, i), child, out)
		}
	case nil:
		out[prefix] = "null"
	case json.Number:
		out[prefix] = v.String()
		if ns, err := v.Int64(); err == nil && strings.HasSuffix(prefix, "_ns") {
			out[prefix] = formatNs(float64(ns))
		}
	default:
		out[prefix] = fmt.Sprint(v)
	}
}

func join(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

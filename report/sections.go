package report

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// planView is what the page reads of a document's plan (plan.Plan's JSON form; a
// version-1 document's plan leaves these empty).
type planView struct {
	Target   string `json:"target"`
	Sessions int    `json:"sessions"`
	Messages int64  `json:"messages"`
	Load     struct {
		Model  string  `json:"model"`
		Rate   float64 `json:"rate"`
		Stages []struct {
			DurationNs int64   `json:"duration_ns"`
			Target     float64 `json:"target"`
		} `json:"stages"`
	} `json:"load"`
}

func planOf(r *metrics.Report) planView {
	var v planView
	_ = json.Unmarshal(r.Plan, &v) // a plan of another shape shows as empty
	return v
}

// cell is one table cell: its text (escaped when written) and its class.
type cell struct{ text, class string }

// table writes a table; the first column is left-aligned.
func (p *page) table(header []string, rows [][]cell) {
	b := &p.body
	b.WriteString("<table><tr>")
	for i, h := range header {
		class := ""
		if i == 0 {
			class = ` class="l"`
		}
		fmt.Fprintf(b, "<th%s>%s</th>", class, esc(h))
	}
	b.WriteString("</tr>\n")
	for _, row := range rows {
		b.WriteString("<tr>")
		for i, c := range row {
			class := c.class
			if i == 0 {
				class = strings.TrimSpace("l " + class)
			}
			if class != "" {
				class = ` class="` + class + `"`
			}
			fmt.Fprintf(b, "<td%s>%s</td>", class, esc(c.text))
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</table>\n")
}

// runHeader is a table's header: the first column's name, then one column per run.
func (p *page) runHeader(first string) []string {
	h := []string{first}
	for _, r := range p.runs {
		h = append(h, r.Name)
	}
	return h
}

// figure is one row of the side-by-side summary.
type figure struct {
	label  string
	value  func(*metrics.Report) (float64, bool) // false: the run has no such figure
	format func(float64) string
	worse  int // +1: higher is worse, −1: lower is worse, 0: neither
}

func count(v float64) string { return fmt.Sprintf("%.0f", v) }

func (p *page) summary() error {
	p.section("summary", "Summary")
	figures := []figure{
		{"planned", total(func(t metrics.Totals) int64 { return t.Planned }), count, 0},
		{"accepted", total(func(t metrics.Totals) int64 { return t.Accepted }), count, 0},
		{"rejected", total(func(t metrics.Totals) int64 { return t.Rejected }), count, 1},
		{"failed", total(func(t metrics.Totals) int64 { return t.Failed }), count, 1},
		{"not started", total(func(t metrics.Totals) int64 { return t.NotStarted }), count, 1},
		{"sessions", total(func(t metrics.Totals) int64 { return t.Sessions }), count, 0},
		{"elapsed", func(r *metrics.Report) (float64, bool) { return float64(r.ElapsedNs), true }, formatNs, 0},
		{"offered rate", func(r *metrics.Report) (float64, bool) { return r.Summary.OfferedPerSec, true }, formatRate, 0},
		{"achieved rate", func(r *metrics.Report) (float64, bool) { return r.Summary.AchievedPerSec, true }, formatRate, -1},
		{"success", func(r *metrics.Report) (float64, bool) { return r.Summary.SuccessRatio, true }, percent, -1},
		{"errors", func(r *metrics.Report) (float64, bool) { return float64(r.Summary.Errors), true }, count, 1},
		{"dropped", counter("dropped"), count, 1},
		{"late", counter("late"), count, 1},
	}
	for _, phase := range []string{"txn", "eod", "latency", "delivery"} {
		for _, pct := range []int{50, 99} {
			figures = append(figures, figure{fmt.Sprintf("%s p%d", phase, pct), phaseFigure(phase, pct), formatNs, 1})
		}
	}
	var rows [][]cell
	for _, f := range figures {
		if row, ok := p.figureRow(f); ok {
			rows = append(rows, row)
		}
	}
	p.table(p.runHeader(""), rows)
	if len(p.runs) > 1 {
		p.para("Changes are against the baseline, %s; a cell is marked when the change exceeds %.0f%%.", esc(p.runs[0].Name), 100*p.opt.Tolerance)
	}
	p.endSection()
	return nil
}

func total(of func(metrics.Totals) int64) func(*metrics.Report) (float64, bool) {
	return func(r *metrics.Report) (float64, bool) { return float64(of(r.Totals)), true }
}

func counter(name string) func(*metrics.Report) (float64, bool) {
	return func(r *metrics.Report) (float64, bool) { v, ok := r.Counters[name]; return float64(v), ok }
}

func percent(v float64) string { return fmt.Sprintf("%.2f%%", 100*v) }

// phaseFigure is a phase's 50th or 99th percentile; "delivery" is the end-to-end
// delivery latency of the first traced run.
func phaseFigure(phase string, pct int) func(*metrics.Report) (float64, bool) {
	return func(r *metrics.Report) (float64, bool) {
		ps, ok := r.Phase(phase)
		if phase == "delivery" {
			ok = r.E2E != nil && len(r.E2E.Runs) > 0
			if ok {
				ps = r.E2E.Runs[0].Delivery
			}
		}
		if !ok || ps.Count == 0 {
			return 0, false
		}
		if pct == 50 {
			return float64(ps.P50Ns), true
		}
		return float64(ps.P99Ns), true
	}
}

// figureRow is one figure for every run, each after the first with its change from the
// baseline, marked when it exceeds the tolerance; false when no run has the figure.
func (p *page) figureRow(f figure) ([]cell, bool) {
	row := []cell{{text: f.label}}
	base, baseOK := f.value(p.runs[0].Report)
	present := false
	for i, r := range p.runs {
		v, ok := f.value(r.Report)
		if !ok {
			row = append(row, cell{text: "–"})
			continue
		}
		present = true
		c := cell{text: f.format(v)}
		if i > 0 && baseOK {
			c.text += " (" + change(base, v) + ")"
			c.class = p.changeClass(f.worse, base, v)
		}
		row = append(row, c)
	}
	return row, present
}

// changeClass marks a change beyond the tolerance as a regression or an improvement.
func (p *page) changeClass(worse int, base, v float64) string {
	tol := p.opt.Tolerance
	up, down := v > base*(1+tol) || base == 0 && v > 0, v < base*(1-tol)
	switch {
	case worse > 0 && up, worse < 0 && down:
		return "regress"
	case worse > 0 && down, worse < 0 && up:
		return "improve"
	}
	return ""
}

func (p *page) comparison() error {
	if len(p.runs) < 2 {
		return nil
	}
	p.section("comparison", "Comparison with the baseline")
	for _, r := range p.runs[1:] {
		found := Compare(p.runs[0], r, p.opt.Tolerance)
		fmt.Fprintf(&p.body, "<h3>%s against %s</h3>\n", esc(r.Name), esc(p.runs[0].Name))
		if len(found) == 0 {
			p.para("No change beyond %.0f%%.", 100*p.opt.Tolerance)
			continue
		}
		p.body.WriteString("<ul>\n")
		for _, f := range found {
			class, word := "improve", "improvement"
			if f.Regression {
				class, word = "regress", "regression"
			}
			fmt.Fprintf(&p.body, "<li class=\"%s\"><b>%s:</b> %s</li>\n", class, word, esc(f.Text))
		}
		p.body.WriteString("</ul>\n")
	}
	p.endSection()
	return nil
}

func (p *page) throughput() error {
	p.section("throughput", "Throughput")
	c := chart{ID: "chart-throughput", Title: "Messages per second", XLabel: "seconds since the start", YLabel: "messages/s", X: scaleLinear}
	single := len(p.runs) == 1
	for i, r := range p.runs {
		name := func(what string) string {
			if single {
				return what
			}
			return r.Name + " " + what
		}
		col := func(j int) string {
			if single {
				return colour(j)
			}
			return colour(i)
		}
		if t := targetSeries(planOf(r.Report), r.Report.Elapsed().Seconds()); t != nil {
			c.Series = append(c.Series, series{Name: name("target (plan)"), Color: col(2), Dash: "2 3", Points: t})
		}
		c.Series = append(c.Series,
			series{Name: name("offered"), Color: col(1), Dash: "6 3", Points: offeredSeries(r.Report)},
			series{Name: name("achieved"), Color: col(0), Points: achievedSeries(r.Report)})
	}
	p.chart(c)
	p.para("Offered: the messages that ended (accepted, rejected, failed) or were dropped for want of a free session, per second; achieved: those the server answered (accepted or rejected). Each point is one second of the run, at its end.")
	p.endSection()
	return nil
}

// percentileStyles are the percentiles drawn over time, each with its dash (several runs)
// and colour (one run).
var percentileStyles = []struct {
	pct  int
	dash string
}{{50, "2 3"}, {90, "6 3"}, {99, ""}}

func (p *page) latencyOverTime() error {
	names := map[string]bool{}
	for _, r := range p.runs {
		for _, n := range intervalPhases(r.Report) {
			names[n] = true
		}
	}
	if len(names) == 0 {
		return nil
	}
	p.section("latency-time", "Latency over time")
	p.body.WriteString(`<div class="charts">`)
	for _, phase := range phaseOrder(names) {
		c := chart{ID: "chart-time-" + phase, Title: phase + ": p50, p90, p99 per second", XLabel: "seconds since the start", YLabel: phase, X: scaleLinear, YTime: true}
		for i, r := range p.runs {
			for j, st := range percentileStyles {
				s := series{Name: fmt.Sprintf("p%d", st.pct), Color: colour(j), Points: quantileSeries(r.Report.Start, r.Report.Intervals, phase, st.pct)}
				if len(p.runs) > 1 {
					s.Name, s.Color, s.Dash = r.Name+" "+s.Name, colour(i), st.dash
				}
				c.Series = append(c.Series, s)
			}
		}
		p.chart(c)
	}
	p.body.WriteString("</div>\n")
	p.endSection()
	return nil
}

func (p *page) latencyDistribution() error {
	names := map[string]bool{}
	for _, r := range p.runs {
		for _, ps := range r.Report.Phases {
			if ps.Count > 0 {
				names[ps.Phase] = true
			}
		}
	}
	if len(names) == 0 {
		return nil
	}
	p.section("latency", "Latency distribution")
	p.body.WriteString(`<div class="charts">`)
	order := phaseOrder(names)
	for _, phase := range order {
		c := chart{ID: "chart-dist-" + phase, Title: phase + ": latency by percentile", XLabel: "percentile", YLabel: phase, X: scalePercentile, YTime: true}
		for i, r := range p.runs {
			ps, ok := r.Report.Phase(phase)
			if !ok {
				continue
			}
			pts, err := percentileCurve(ps)
			if err != nil {
				return fmt.Errorf("%s: %w", r.Name, err)
			}
			c.Series = append(c.Series, series{Name: r.Name, Color: colour(i), Points: pts})
		}
		p.chart(c)
	}
	p.body.WriteString("</div>\n")
	p.phaseTable(order)
	p.endSection()
	return nil
}

// phaseTable lists every phase's statistics, the runs side by side.
func (p *page) phaseTable(order []string) {
	header := []string{"phase", "run", "n", "min", "mean", "p50", "p90", "p99", "p99.9", "max"}
	if len(p.runs) == 1 {
		header = append(header[:1], header[2:]...)
	}
	var rows [][]cell
	for _, phase := range order {
		for _, r := range p.runs {
			ps, ok := r.Report.Phase(phase)
			if !ok {
				continue
			}
			row := []cell{{text: phase}}
			if len(p.runs) > 1 {
				row = append(row, cell{text: r.Name, class: "l"})
			}
			row = append(row, cell{text: fmt.Sprint(ps.Count)})
			for _, v := range []int64{ps.MinNs, ps.MeanNs, ps.P50Ns, ps.P90Ns, ps.P99Ns, ps.P999Ns, ps.MaxNs} {
				row = append(row, cell{text: formatNs(float64(v))})
			}
			rows = append(rows, row)
		}
	}
	p.table(header, rows)
}

func (p *page) runInfo() error {
	p.section("runs", "Runs")
	type field struct {
		label string
		of    func(*metrics.Report) string
	}
	info := func(of func(*metrics.RunInfo) string) func(*metrics.Report) string {
		return func(r *metrics.Report) string {
			if r.Run == nil {
				return ""
			}
			return of(r.Run)
		}
	}
	fields := []field{
		{"start", func(r *metrics.Report) string { return r.Start.UTC().Format(time.RFC3339Nano) }},
		{"end", func(r *metrics.Report) string { return r.End.UTC().Format(time.RFC3339Nano) }},
		{"tool", info(func(i *metrics.RunInfo) string { return i.Version })},
		{"host", info(func(i *metrics.RunInfo) string { return i.Host })},
		{"kernel", info(func(i *metrics.RunInfo) string { return i.Kernel })},
		{"CPUs, event loops", info(func(i *metrics.RunInfo) string { return fmt.Sprintf("%d, %d", i.CPUs, i.EventLoops) })},
		{"plan fingerprint", info(func(i *metrics.RunInfo) string { return i.PlanFingerprint })},
		{"worker", info(func(i *metrics.RunInfo) string { return i.Worker })},
		{"schema version", func(r *metrics.Report) string { return fmt.Sprint(r.SchemaVersion) }},
	}
	var rows [][]cell
	for _, f := range fields {
		row, present := []cell{{text: f.label}}, false
		for _, r := range p.runs {
			v := f.of(r.Report)
			present = present || v != ""
			row = append(row, cell{text: v, class: "l"})
		}
		if present {
			rows = append(rows, row)
		}
	}
	p.table(p.runHeader(""), rows)
	p.endSection()
	return nil
}

// Package report renders go-smtp-source's result documents (metrics.Report) as one
// self-contained HTML page: the charts are SVG drawn here, the style sheet is inline, and
// the page has no script, so it shows the same offline, printed or mailed. With several
// runs, the first is the baseline: their figures are overlaid in the charts, set side by
// side in the tables, and what got worse is named (Compare).
package report

import (
	"errors"
	"fmt"
	"html"
	"io"
	"strings"
	"time"

	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// Run is one document to render and the name the page gives it (its file's name).
type Run struct {
	Name   string
	Report *metrics.Report
}

// Options shape the page.
type Options struct {
	Title     string  // the page's title; default "go-smtp-source report"
	Tolerance float64 // the change Compare lets pass (a fraction); 0: DefaultTolerance
}

// WriteHTML renders the runs as one HTML page.
func WriteHTML(w io.Writer, runs []Run, o Options) error {
	page, err := Render(runs, o)
	if err != nil {
		return err
	}
	if _, err := w.Write(page); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// Render renders the runs as one HTML page.
func Render(runs []Run, o Options) ([]byte, error) {
	if len(runs) == 0 {
		return nil, errors.New("report: no run to render")
	}
	for i, r := range runs {
		if r.Report == nil {
			return nil, fmt.Errorf("report: run %d (%s) has no document", i+1, r.Name)
		}
	}
	if o.Title == "" {
		o.Title = "go-smtp-source report"
	}
	if o.Tolerance <= 0 {
		o.Tolerance = DefaultTolerance
	}
	p := &page{runs: runs, opt: o}
	if err := p.build(); err != nil {
		return nil, err
	}
	return []byte(p.sb.String()), nil
}

// page is the HTML being written.
type page struct {
	runs []Run
	opt  Options
	sb   strings.Builder
	toc  []string // "id\x00title" of each section, for the contents line
	body strings.Builder
}

func (p *page) build() error {
	for _, section := range []func() error{
		p.summary, p.comparison, p.throughput, p.latencyOverTime, p.latencyDistribution,
		p.errorSection, p.sessions, p.thresholds, p.delivery, p.findMax, p.sources, p.plans, p.runInfo,
	} {
		if err := section(); err != nil {
			return err
		}
	}
	p.head()
	p.sb.WriteString(p.body.String())
	p.sb.WriteString("</main></body></html>\n")
	return nil
}

// section starts a section and lists it in the contents.
func (p *page) section(id, title string) {
	p.toc = append(p.toc, id+"\x00"+title)
	fmt.Fprintf(&p.body, "<section id=\"%s\"><h2>%s</h2>\n", id, esc(title))
}

func (p *page) endSection() { p.body.WriteString("</section>\n") }

func (p *page) chart(c chart) {
	if c.drawable() {
		c.render(&p.body)
	}
}

func (p *page) para(format string, args ...any) {
	fmt.Fprintf(&p.body, "<p>%s</p>\n", fmt.Sprintf(format, args...))
}

func (p *page) head() {
	sb := &p.sb
	sb.WriteString("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n")
	sb.WriteString(`<meta name="viewport" content="width=device-width, initial-scale=1">` + "\n")
	fmt.Fprintf(sb, "<title>%s</title>\n<style>%s</style></head>\n<body><main>\n", esc(p.opt.Title), styleSheet)
	fmt.Fprintf(sb, "<h1>%s</h1>\n<ul class=\"runs\">\n", esc(p.opt.Title))
	for i, r := range p.runs {
		role := ""
		if len(p.runs) > 1 && i == 0 {
			role = " (baseline)"
		}
		fmt.Fprintf(sb, "<li><span class=\"swatch\" style=\"background:%s\"></span><b>%s</b>%s: %s, %s, target %s</li>\n",
			colour(i), esc(r.Name), role, r.Report.Start.UTC().Format(time.RFC3339), esc(metrics.FormatDuration(r.Report.Elapsed())), esc(planOf(r.Report).Target))
	}
	sb.WriteString("</ul>\n<nav>")
	for i, entry := range p.toc {
		id, title, _ := strings.Cut(entry, "\x00")
		if i > 0 {
			sb.WriteString(" · ")
		}
		fmt.Fprintf(sb, `<a href="#%s">%s</a>`, id, esc(title))
	}
	sb.WriteString("</nav>\n")
}

func esc(s string) string { return html.EscapeString(s) }

// formatNs is a time as the text report shows it.
func formatNs(ns float64) string { return metrics.FormatDuration(time.Duration(ns)) }

func formatRate(v float64) string { return fmt.Sprintf("%.1f/s", v) }

const styleSheet = `
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;margin:0;background:#fafafa}
main{max-width:1340px;margin:0 auto;padding:8px 20px 40px}
h1{font-size:22px;margin:12px 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ccc}
h3{font-size:15px;margin:16px 0 6px}
nav{margin:8px 0;font-size:13px}nav a{color:#0060a0}
ul.runs{list-style:none;padding:0;margin:4px 0}
.swatch{display:inline-block;width:12px;height:12px;margin-right:6px;vertical-align:-1px}
table{border-collapse:collapse;margin:6px 0;background:#fff;font-variant-numeric:tabular-nums}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:right;vertical-align:top}
th{background:#f0f0f0}td.l,th.l{text-align:left}
td.regress{background:#fde0dc}td.improve{background:#dff3e4}td.fail{background:#fde0dc;font-weight:600}
td.pass{background:#dff3e4}td.differs{background:#fff4d6}
.texts{font-family:ui-monospace,monospace;font-size:12px;color:#555;text-align:left}
li.regress{color:#b00020}li.improve{color:#1b5e20}
.charts{display:flex;flex-wrap:wrap;gap:12px}
figure.chart{margin:0;width:max-content;background:#fff;border:1px solid #ddd}
svg text{font:11px system-ui,sans-serif;fill:#333}svg text.title{font-size:13px;font-weight:600}
svg .frame{fill:none;stroke:#999}svg .grid{stroke:#e4e4e4}svg text.axis{font-size:12px}
`

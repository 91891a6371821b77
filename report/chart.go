package report

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
)

// A chart is drawn as inline SVG at report time, so the page needs neither a script nor a
// network to show it, and the test can read what was drawn from the markup.

// scale maps data values to the unit interval of an axis.
type scale uint8

const (
	scaleLinear     scale = iota + 1 // from 0 (or the data's minimum, when negative) to a round maximum
	scalePercentile                  // x is a quantile q in [0, 1), drawn at log10(1/(1−q)): HdrHistogram's percentile plot
)

// point is one data point: x in the axis's own unit (seconds, a quantile), y in the
// chart's y unit (a duration in ns for latency charts, a count or a rate otherwise).
type point struct{ X, Y float64 }

// series is one line of a chart.
type series struct {
	Name   string
	Color  string
	Dash   string // SVG stroke-dasharray; "" for a solid line
	Points []point
}

// chart is a line chart with a legend.
type chart struct {
	ID     string // the element id, unique in the page
	Title  string
	XLabel string
	YLabel string
	X      scale
	YTime  bool // y values are nanoseconds: the axis picks µs, ms or s
	Series []series
}

const (
	chartW, chartH                   = 640, 300
	padLeft, padRight, padTop, padBo = 64, 30, 28, 44
	legendRowH                       = 16
)

// palette is the runs' and series' colours (distinct in print and for colour-blind readers:
// Okabe–Ito, its pale yellow last, and a grey).
var palette = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#777777", "#F0E442"}

func colour(i int) string { return palette[i%len(palette)] }

// drawable reports whether the chart has something to draw: a series with a point.
func (c *chart) drawable() bool {
	for _, s := range c.Series {
		if len(s.Points) > 0 {
			return true
		}
	}
	return false
}

// bounds are the data's extent, widened to round tick values.
type bounds struct{ x0, x1, y0, y1 float64 }

func (c *chart) bounds() bounds {
	b := bounds{x0: math.Inf(1), x1: math.Inf(-1), y0: 0, y1: math.Inf(-1)}
	for _, s := range c.Series {
		for _, p := range s.Points {
			x := c.xValue(p.X)
			b.x0, b.x1 = math.Min(b.x0, x), math.Max(b.x1, x)
			b.y0, b.y1 = math.Min(b.y0, p.Y), math.Max(b.y1, p.Y)
		}
	}
	if c.X == scaleLinear {
		b.x0 = math.Min(b.x0, 0) // time and step axes start at 0
	}
	if c.X == scalePercentile {
		b.x0 = 0
		b.x1 = math.Max(2, math.Ceil(b.x1)) // at least to 99%
	}
	if b.x1 <= b.x0 {
		b.x1 = b.x0 + 1
	}
	if b.y1 <= b.y0 {
		b.y1 = b.y0 + 1
	}
	b.y1 = niceCeil(b.y1)
	return b
}

// xValue is where x sits on the axis before scaling: itself, or log10(1/(1−q)).
func (c *chart) xValue(x float64) float64 {
	if c.X == scalePercentile {
		return -math.Log10(1 - math.Min(x, 1-1e-12))
	}
	return x
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*e*(1+1e-9) {
			return m * e
		}
	}
	return 10 * e
}

// linearTicks are about n round values from lo to hi.
func linearTicks(lo, hi float64, n int) []float64 {
	step := niceCeil((hi - lo) / float64(n))
	var ticks []float64
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		ticks = append(ticks, v)
	}
	return ticks
}

// render writes the chart as an SVG element inside a figure.
func (c *chart) render(sb *strings.Builder) {
	b := c.bounds()
	legendRows := (len(c.Series) + 2) / 3
	h := chartH + legendRows*legendRowH
	plotW, plotH := float64(chartW-padLeft-padRight), float64(chartH-padTop-padBo)
	px := func(x float64) float64 { return padLeft + (c.xValue(x)-b.x0)/(b.x1-b.x0)*plotW }
	py := func(y float64) float64 { return padTop + plotH - (y-b.y0)/(b.y1-b.y0)*plotH }
	fmt.Fprintf(sb, `<figure class="chart" id="%s"><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">`,
		c.ID, chartW, h, chartW, h, html.EscapeString(c.Title))
	fmt.Fprintf(sb, `<text class="title" x="%d" y="18">%s</text>`, padLeft, html.EscapeString(c.Title))
	c.renderAxes(sb, b, px, py)
	for i, s := range c.Series {
		c.renderSeries(sb, s, px, py)
		lx, ly := padLeft+(i%3)*190, chartH+(i/3)*legendRowH
		fmt.Fprintf(sb, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/><text x="%d" y="%d" class="legend">%s</text>`,
			lx, ly-4, lx+18, ly-4, s.Color, dashAttr(s.Dash), lx+22, ly, html.EscapeString(s.Name))
	}
	sb.WriteString("</svg></figure>\n")
}

func dashAttr(d string) string {
	if d == "" {
		return ""
	}
	return ` stroke-dasharray="` + d + `"`
}

// renderSeries draws one series as a path; a lone point as a dot, so that it shows.
func (c *chart) renderSeries(sb *strings.Builder, s series, px, py func(float64) float64) {
	if len(s.Points) == 0 {
		return
	}
	if len(s.Points) == 1 {
		p := s.Points[0]
		fmt.Fprintf(sb, `<circle class="series" cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s</title></circle>`, px(p.X), py(p.Y), s.Color, html.EscapeString(s.Name))
		return
	}
	fmt.Fprintf(sb, `<path class="series" fill="none" stroke="%s" stroke-width="1.6"%s d="`, s.Color, dashAttr(s.Dash))
	for i, p := range s.Points {
		cmd := 'L'
		if i == 0 {
			cmd = 'M'
		}
		fmt.Fprintf(sb, "%c%.1f %.1f", cmd, px(p.X), py(p.Y))
	}
	fmt.Fprintf(sb, `"><title>%s</title></path>`, html.EscapeString(s.Name))
}

// renderAxes draws the frame, the grid, the ticks' labels and the axes' names.
func (c *chart) renderAxes(sb *strings.Builder, b bounds, px, py func(float64) float64) {
	bottom, right := float64(chartH-padBo), float64(chartW-padRight)
	fmt.Fprintf(sb, `<rect class="frame" x="%d" y="%d" width="%d" height="%d"/>`, padLeft, padTop, chartW-padLeft-padRight, chartH-padTop-padBo)
	unit, div := "", 1.0
	if c.YTime {
		unit, div = timeUnit(b.y1)
	}
	for _, v := range linearTicks(b.y0, b.y1, 5) {
		y := py(v)
		fmt.Fprintf(sb, `<line class="grid" x1="%d" y1="%.1f" x2="%.0f" y2="%.1f"/><text class="tick" x="%d" y="%.1f" text-anchor="end">%s</text>`,
			padLeft, y, right, y, padLeft-4, y+4, formatTick(v/div))
	}
	for _, t := range c.xTicks(b) {
		x := px(t.at)
		fmt.Fprintf(sb, `<line class="grid" x1="%.1f" y1="%d" x2="%.1f" y2="%.0f"/><text class="tick" x="%.1f" y="%.0f" text-anchor="middle">%s</text>`,
			x, padTop, x, bottom, x, bottom+14, t.label)
	}
	ylabel := c.YLabel
	if unit != "" {
		ylabel += " (" + unit + ")"
	}
	fmt.Fprintf(sb, `<text class="axis" x="%d" y="%.0f" text-anchor="middle">%s</text>`, padLeft+(chartW-padLeft-padRight)/2, bottom+32, html.EscapeString(c.XLabel))
	fmt.Fprintf(sb, `<text class="axis" transform="translate(14 %d) rotate(-90)" text-anchor="middle">%s</text>`, padTop+(chartH-padTop-padBo)/2, html.EscapeString(ylabel))
}

type tick struct {
	at    float64 // in data units (a quantile for the percentile axis)
	label string
}

func (c *chart) xTicks(b bounds) []tick {
	if c.X != scalePercentile {
		var ticks []tick
		for _, v := range linearTicks(b.x0, b.x1, 8) {
			ticks = append(ticks, tick{v, formatTick(v)})
		}
		return ticks
	}
	var ticks []tick
	for d := 0; float64(d) <= b.x1+1e-9; d++ {
		q := 1 - math.Pow(10, -float64(d))
		ticks = append(ticks, tick{q, percentLabel(d)})
	}
	return ticks
}

// percentLabel names the quantile 1 − 10^−d: 0%, 90%, 99%, 99.9%, …
func percentLabel(d int) string {
	switch d {
	case 0:
		return "0%"
	case 1:
		return "90%"
	case 2:
		return "99%"
	}
	return "99." + strings.Repeat("9", d-2) + "%"
}

// timeUnit picks the unit a time axis reads in, for values up to maxNs.
func timeUnit(maxNs float64) (string, float64) {
	switch {
	case maxNs >= 10e9:
		return "s", 1e9
	case maxNs >= 10e6:
		return "ms", 1e6
	case maxNs >= 10e3:
		return "µs", 1e3
	}
	return "ns", 1
}

func formatTick(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

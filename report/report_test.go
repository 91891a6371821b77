package report

import (
	"encoding/xml"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/metrics"
)

var figureRE = regexp.MustCompile(`(?s)<figure class="chart" id="([^"]+)">(.*?)</figure>`)

// drawnChart is what a chart's SVG holds: its size and the series it drew.
type drawnChart struct {
	width, height float64
	paths         [][]point // each path's vertices
	dots          []point
}

// charts parses every chart of a page (the SVG is XML), by id.
func charts(t *testing.T, page string) map[string]drawnChart {
	t.Helper()
	out := map[string]drawnChart{}
	for _, m := range figureRE.FindAllStringSubmatch(page, -1) {
		if _, dup := out[m[1]]; dup {
			t.Errorf("chart id %s twice", m[1])
		}
		out[m[1]] = parseChart(t, m[1], m[2])
	}
	return out
}

func parseChart(t *testing.T, id, svg string) drawnChart {
	t.Helper()
	var c drawnChart
	dec := xml.NewDecoder(strings.NewReader(svg))
	for {
		tok, err := dec.Token()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("chart %s: not well-formed SVG: %v", id, err)
			}
			return c
		}
		el, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		attr := func(name string) string {
			for _, a := range el.Attr {
				if a.Name.Local == name {
					return a.Value
				}
			}
			return ""
		}
		switch {
		case el.Name.Local == "svg":
			c.width, _ = strconv.ParseFloat(attr("width"), 64)
			c.height, _ = strconv.ParseFloat(attr("height"), 64)
		case el.Name.Local == "path" && attr("class") == "series":
			c.paths = append(c.paths, pathPoints(t, attr("d")))
		case el.Name.Local == "circle" && attr("class") == "series":
			x, _ := strconv.ParseFloat(attr("cx"), 64)
			y, _ := strconv.ParseFloat(attr("cy"), 64)
			c.dots = append(c.dots, point{x, y})
		}
	}
}

func pathPoints(t *testing.T, d string) []point {
	t.Helper()
	var pts []point
	for _, seg := range regexp.MustCompile(`[ML]`).Split(d, -1)[1:] {
		var p point
		if _, err := fmt.Sscanf(seg, "%g %g", &p.X, &p.Y); err != nil {
			t.Fatalf("path %q: %v", d, err)
		}
		pts = append(pts, p)
	}
	return pts
}

// drawn checks that a chart drew something inside its plot area: a path through two
// distinct points at least, or a dot.
func (c drawnChart) drawn() error {
	inside := func(p point) bool {
		return p.X >= padLeft-0.5 && p.X <= c.width-padRight+0.5 && p.Y >= padTop-0.5 && p.Y <= chartH-padBo+0.5
	}
	n := len(c.dots)
	for _, p := range c.dots {
		if !inside(p) {
			return fmt.Errorf("dot %v outside the plot", p)
		}
	}
	for _, path := range c.paths {
		for _, p := range path {
			if !inside(p) {
				return fmt.Errorf("point %v outside the plot", p)
			}
		}
		if len(path) >= 2 && slices.ContainsFunc(path, func(p point) bool { return p != path[0] }) {
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("nothing drawn (%d paths, %d dots)", len(c.paths), len(c.dots))
	}
	return nil
}

// expectedCharts are the charts a document calls for: throughput, errors and sessions
// (it has them), one over time per interval phase, one percentile plot per phase with
// samples, and the delivery charts of its traced run.
func expectedCharts(r *metrics.Report) []string {
	ids := []string{"chart-throughput", "chart-errors", "chart-errors-by-key", "chart-sessions", "chart-delivery-dist", "chart-delivery-time"}
	for _, phase := range intervalPhases(r) {
		ids = append(ids, "chart-time-"+phase)
	}
	for _, ps := range r.Phases {
		if ps.Count > 0 {
			ids = append(ids, "chart-dist-"+ps.Phase)
		}
	}
	return ids
}

// Every chart is present and drawn for a real run: TLS, rejections, the open model's
// interval phases, every phase's distribution, the end-to-end delivery.
func TestEveryChartDrawnForARealRun(t *testing.T) {
	r := realReport(t)
	if r.Counters["tls_handshakes"] == 0 || r.Summary.Errors == 0 || len(r.Intervals) < 2 {
		t.Fatalf("the fixture lacks what it is for: %d handshakes, %d errors, %d intervals", r.Counters["tls_handshakes"], r.Summary.Errors, len(r.Intervals))
	}
	page, err := Render([]Run{{Name: "run.json", Report: r}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := charts(t, string(page))
	want := expectedCharts(r)
	for _, phase := range []string{"connect", "tls_handshake", "eod", "txn", "latency", "schedule_lag"} {
		if !slices.Contains(want, "chart-time-"+phase) && !slices.Contains(want, "chart-dist-"+phase) {
			t.Errorf("the document has no %s phase", phase)
		}
	}
	for _, id := range want {
		c, ok := got[id]
		if !ok {
			t.Errorf("chart %s missing", id)
			continue
		}
		if err := c.drawn(); err != nil {
			t.Errorf("chart %s: %v", id, err)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d charts, want %d: %v", len(got), len(want), want)
	}
}

// The page states the document's figures: each threshold with its verdict, the error
// keys with their counts, the delivery figures, the plan's rate.
func TestPageStatesTheFigures(t *testing.T) {
	r := realReport(t)
	page, err := Render([]Run{{Name: "run.json", Report: r}}, Options{Title: "fixture <run>"})
	if err != nil {
		t.Fatal(err)
	}
	s := string(page)
	if !strings.Contains(s, "<title>fixture &lt;run&gt;</title>") {
		t.Error("title not escaped or missing")
	}
	if len(r.Thresholds) != len(fixtureThresholds) {
		t.Fatalf("verdicts %+v", r.Thresholds)
	}
	for _, v := range r.Thresholds {
		verdict := "✗ fails: "
		if v.Pass {
			verdict = "✓ holds: "
		}
		if !strings.Contains(s, ">"+esc(v.Threshold)+"</td><td class=\"") || !strings.Contains(s, verdict+verdictObserved(v)) {
			t.Errorf("threshold %s (%v) not stated", v.Threshold, v.Pass)
		}
	}
	for _, e := range r.Errors {
		if !strings.Contains(s, fmt.Sprintf("<td class=\"l\">%s</td><td>%d</td>", esc(e.Key), e.Count)) {
			t.Errorf("error key %s ×%d not stated", e.Key, e.Count)
		}
	}
	e := r.E2E.Runs[0]
	if e.Delivered == 0 || !strings.Contains(s, fmt.Sprintf("<td>%d</td><td>%d</td>", e.Accepted.Len(), e.Delivered)) {
		t.Errorf("delivery %d of %d not stated", e.Delivered, e.Accepted.Len())
	}
	if !strings.Contains(s, `<td class="l">load.rate</td><td class="l">150</td>`) {
		t.Error("the plan's rate is not shown")
	}
	if strings.Contains(s, "<script") || regexp.MustCompile(`(src|href)="[a-z]*:?//`).MatchString(s) {
		t.Error("the page has a script or loads something")
	}
}

// The percentile plot is the histogram's: at 90% and 99% it reads the document's p90
// and p99 exactly, it never decreases, and it ends at the exact maximum.
func TestPercentileCurveIsTheHistogram(t *testing.T) {
	r := realReport(t)
	for _, ps := range r.Phases {
		if ps.Count < 100 {
			continue
		}
		pts, err := percentileCurve(ps)
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i < len(pts); i++ {
			if pts[i].Y < pts[i-1].Y || pts[i].X <= pts[i-1].X {
				t.Fatalf("%s: not increasing at %d: %v %v", ps.Phase, i, pts[i-1], pts[i])
			}
		}
		if last := pts[len(pts)-1]; last.Y != float64(ps.MaxNs) {
			t.Errorf("%s ends at %v, max %d", ps.Phase, last, ps.MaxNs)
		}
		at := func(q float64) float64 {
			for _, p := range pts {
				if math.Abs(p.X-q) < 1e-12 {
					return p.Y
				}
			}
			t.Fatalf("%s: no point at %v", ps.Phase, q)
			return 0
		}
		if at(0.9) != float64(ps.P90Ns) || at(0.99) != float64(ps.P99Ns) {
			t.Errorf("%s: curve p90 %v p99 %v, document %d %d", ps.Phase, at(0.9), at(0.99), ps.P90Ns, ps.P99Ns)
		}
	}
}

// slowerEOD is the document with the achieved rate scaled by rate and, when slower, every
// end-of-data reply later by the phase's own maximum (histograms and statistics shifted
// exactly: p50 and p99 at least double, however fast the fixture ran): a regression
// made on purpose.
func slowerEOD(t *testing.T, slower bool, rate float64) *metrics.Report {
	t.Helper()
	r := realReport(t)
	for i, ps := range r.Phases {
		if ps.Phase == "eod" && slower {
			shifted, err := ps.ShiftedBy(time.Duration(ps.MaxNs))
			if err != nil {
				t.Fatal(err)
			}
			r.Phases[i] = shifted
		}
	}
	r.Summary.AchievedPerSec *= rate
	return r
}

// Several runs: the regression made on purpose is named, and nothing else; the same run
// twice names nothing; the page overlays both and marks the cells.
func TestComparisonNamesTheRegression(t *testing.T) {
	a := Run{Name: "a.json", Report: realReport(t)}
	if found := Compare(a, Run{Name: "same.json", Report: realReport(t)}, DefaultTolerance); len(found) != 0 {
		t.Errorf("the same run compared with itself: %+v", found)
	}
	b := Run{Name: "b.json", Report: slowerEOD(t, true, 0.5)}
	found := Compare(a, b, DefaultTolerance)
	var named []string
	for _, f := range found {
		if !f.Regression || f.Run != "b.json" {
			t.Errorf("unexpected finding %+v", f)
		}
		named = append(named, f.Metric)
	}
	slices.Sort(named)
	if want := []string{"achieved rate", "eod p50", "eod p99"}; !slices.Equal(named, want) {
		t.Errorf("named %v, want %v", named, want)
	}
	page, err := Render([]Run{a, b}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := string(page)
	for _, f := range found {
		if !strings.Contains(s, `<li class="regress"><b>regression:</b> `+esc(f.Text)+"</li>") {
			t.Errorf("finding %q not on the page", f.Text)
		}
	}
	if !regexp.MustCompile(`<td class="l">eod p99</td><td>[^<]+</td><td class="regress">[^<]+\(\+[0-9.]+%\)</td>`).MatchString(s) {
		t.Error("the summary does not mark b's eod p99")
	}
	got := charts(t, s)
	if c := got["chart-dist-eod"]; len(c.paths) != 2 {
		t.Fatalf("eod's percentile plot overlays %d runs, want 2", len(c.paths))
	}
	// The shifted curve lies above the baseline's everywhere: drawn higher (smaller y).
	base, slow := got["chart-dist-eod"].paths[0], got["chart-dist-eod"].paths[1]
	if base[len(base)/2].Y <= slow[len(slow)/2].Y {
		t.Errorf("b's eod curve is not above a's: %v vs %v", slow[len(slow)/2], base[len(base)/2])
	}
}

// A tolerance above the change names nothing.
func TestComparisonTolerance(t *testing.T) {
	a := Run{Name: "a.json", Report: realReport(t)}
	b := Run{Name: "b.json", Report: slowerEOD(t, false, 0.95)}
	if found := Compare(a, b, DefaultTolerance); len(found) != 0 {
		t.Errorf("5%% slower named at 10%%: %+v", found)
	}
	if found := Compare(a, b, 0.01); len(found) != 1 || found[0].Metric != "achieved rate" {
		t.Errorf("5%% slower at 1%%: %+v", found)
	}
}

// Documents the page cannot draw are refused with an error, not a panic.
func TestRenderRefusesBadDocuments(t *testing.T) {
	if _, err := Render(nil, Options{}); err == nil {
		t.Error("no run: no error")
	}
	if _, err := Render([]Run{{Name: "x"}}, Options{}); err == nil {
		t.Error("a run without a document: no error")
	}
	r := realReport(t)
	r.Phases[0].Histogram = "HISTFAAAAB" + strings.Repeat("A", 20)
	_, err := Render([]Run{{Name: "corrupt.json", Report: r}}, Options{})
	if err == nil || !strings.Contains(err.Error(), "corrupt.json") || !strings.Contains(err.Error(), r.Phases[0].Phase) {
		t.Errorf("a corrupt histogram: %v", err)
	}
}

package report

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// browserLog is what the page did that it should not: console messages of level warning
// or error, uncaught exceptions, and requests for anything but the page itself.
type browserLog struct {
	mu       sync.Mutex
	problems []string
	requests []string
}

func (b *browserLog) listen(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			b.problems = append(b.problems, "console."+string(ev.Type))
		}
	case *runtime.EventExceptionThrown:
		b.problems = append(b.problems, "exception: "+ev.ExceptionDetails.Text)
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
			b.problems = append(b.problems, "log "+string(ev.Entry.Source)+": "+ev.Entry.Text)
		}
	case *network.EventRequestWillBeSent:
		b.requests = append(b.requests, ev.Request.URL)
	}
}

// drawnInBrowser is a chart as the browser laid it out: its box and the length of each
// series it drew (a path's, or a dot's box).
type drawnInBrowser struct {
	ID     string    `json:"id"`
	Width  float64   `json:"w"`
	Height float64   `json:"h"`
	Drawn  []float64 `json:"drawn"`
}

const measureCharts = `[...document.querySelectorAll('figure.chart')].map(f => {
	const svg = f.querySelector('svg'), box = svg.getBoundingClientRect();
	const drawn = [...svg.querySelectorAll('.series')].map(e =>
		e.tagName === 'path' ? e.getTotalLength() : e.getBBox().width * e.getBBox().height);
	return {id: f.id, w: box.width, h: box.height, drawn};
})`

// The pages of a real run, and of it against a slower copy, in Debian's chromium,
// headless, from file:// URLs: each loads with nothing on the console and no request
// beyond itself, every chart is laid out and drawn (two curves in each percentile plot
// of the comparison), and a screenshot of the whole page is taken.
func TestPageInChromium(t *testing.T) {
	bin := testpeer.Require(t, "chromium")
	r := realReport(t)
	a := Run{Name: "a.json", Report: r}
	b := Run{Name: "b.json", Report: slowerEOD(t, true, 0.5)}
	for _, tc := range []struct {
		name string
		runs []Run
	}{{"one run", []Run{a}}, {"two runs", []Run{a, b}}} {
		t.Run(tc.name, func(t *testing.T) {
			charts := pageInChromium(t, bin, tc.runs)
			var ids []string
			for _, c := range charts {
				ids = append(ids, c.ID)
				drawn := 0
				for _, v := range c.Drawn {
					if v > 0 {
						drawn++
					}
				}
				if c.Width < chartW-1 || c.Height < chartH-1 || drawn == 0 {
					t.Errorf("chart %s: %gx%g, series drawn %v", c.ID, c.Width, c.Height, c.Drawn)
				}
				if strings.HasPrefix(c.ID, "chart-dist-") && drawn != len(tc.runs) {
					t.Errorf("chart %s: %d curves drawn, want %d", c.ID, drawn, len(tc.runs))
				}
			}
			want := expectedCharts(r)
			slices.Sort(ids)
			slices.Sort(want)
			if !slices.Equal(ids, want) {
				t.Errorf("charts in the browser %v, want %v", ids, want)
			}
		})
	}
}

// pageInChromium renders the runs into the test's directory, loads the page in chromium,
// checks what it logged and requested, keeps and checks its screenshot, and returns its
// charts as laid out.
func pageInChromium(t *testing.T, bin string, runs []Run) []drawnInBrowser {
	t.Helper()
	page, err := Render(runs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "report.html")
	if err := os.WriteFile(file, page, 0o644); err != nil {
		t.Fatal(err)
	}
	logged := &browserLog{}
	charts, shot := loadInChromium(t, bin, (&url.URL{Scheme: "file", Path: file}).String(), logged)
	logged.mu.Lock()
	defer logged.mu.Unlock()
	if len(logged.problems) > 0 {
		t.Errorf("the console: %q", logged.problems)
	}
	if len(logged.requests) != 1 || !strings.HasPrefix(logged.requests[0], "file://") {
		t.Errorf("requests %q, want the page's only", logged.requests)
	}
	checkScreenshot(t, filepath.Join(dir, "report.png"), shot)
	return charts
}

// loadInChromium opens the page in a headless chromium (the DevTools protocol over a
// pipe, so no port), measures its charts and takes a screenshot of the whole page. The
// browser's process is killed when its 2 minutes are up or the function returns.
func loadInChromium(t *testing.T, bin, pageURL string, logged *browserLog) ([]drawnInBrowser, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), // a throwaway profile that chromedp removes once the browser is gone
		chromedp.NoSandbox,     // root in CI: chromium's sandbox refuses to run as root
		chromedp.DisableGPU, chromedp.WindowSize(1340, 1000),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND"), // nothing outside the file, even by mistake
	)
	allocCtx, stopBrowser := chromedp.NewExecAllocator(ctx, opts...)
	defer stopBrowser()
	tabCtx, closeTab := chromedp.NewContext(allocCtx, chromedp.WithListener(logged.listen))
	defer closeTab()
	if err := chromedp.Do(tabCtx, chromedp.Navigate(pageURL)); err != nil {
		t.Fatalf("chromium: load %s: %v", pageURL, err)
	}
	charts, err := chromedp.Run(tabCtx, chromedp.Evaluate[[]drawnInBrowser](measureCharts))
	if err != nil {
		t.Fatalf("chromium: measure the charts: %v", err)
	}
	shot, err := chromedp.Run(tabCtx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("chromium: screenshot: %v", err)
	}
	return charts, shot
}

// checkScreenshot keeps the screenshot in the test's directory and checks it is a page's:
// a PNG as wide as the window and taller than a screen, with the charts' colours in it.
func checkScreenshot(t *testing.T, path string, shot []byte) {
	t.Helper()
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot %s: %v", path, err)
	}
	b := img.Bounds()
	colours := map[[3]uint32]bool{}
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
		}
	}
	if b.Dx() < 1000 || b.Dy() < 2000 || len(colours) < 50 || !hasPaletteColour(img, palette[0]) {
		t.Errorf("screenshot %s: %dx%d, %d colours", path, b.Dx(), b.Dy(), len(colours))
	}
	t.Logf("screenshot %s: %dx%d, %d bytes", path, b.Dx(), b.Dy(), len(shot))
}

// hasPaletteColour reports whether the first series colour shows (a drawn line).
func hasPaletteColour(img image.Image, hex string) bool {
	var want [3]uint32
	for i := range want {
		for _, c := range hex[1+2*i : 3+2*i] {
			want[i] = want[i]*16 + uint32(strings.IndexRune("0123456789ABCDEF", c))
		}
	}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if [3]uint32{r >> 8, g >> 8, bl >> 8} == want {
				return true
			}
		}
	}
	return false
}

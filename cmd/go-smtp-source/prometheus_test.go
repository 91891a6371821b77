package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// startPrometheus runs Debian's Prometheus on loopback, scraping target's /metrics
// every second, with its storage in the test's directory; it returns its HTTP API's
// base URL. Prometheus cannot say which port it bound, so the test picks one below the
// ephemeral range (testpeer.FixedPort) and tries again when another process took it first.
func startPrometheus(t *testing.T, target string) string {
	t.Helper()
	bin := testpeer.Require(t, "prometheus")
	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	yml := fmt.Sprintf("global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n"+
		"scrape_configs:\n  - job_name: gss\n    static_configs:\n      - targets: ['%s']\n", target)
	if err := os.WriteFile(config, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	for try := 0; try < 3; try++ {
		addr := fmt.Sprintf("127.0.0.1:%d", testpeer.FixedPort(t, "127.0.0.1"))
		p := testpeer.Start(t, bin, "--config.file="+config, "--web.listen-address="+addr,
			"--storage.tsdb.path="+filepath.Join(dir, fmt.Sprintf("data%d", try)), "--log.level=warn")
		base := "http://" + addr
		ready := false
		testpeer.Poll(30*time.Second, 50*time.Millisecond, func() bool {
			if exited, _ := p.Wait(0); exited {
				return true // the port was taken: another one
			}
			resp, err := http.Get(base + "/-/ready")
			if err != nil {
				return false
			}
			resp.Body.Close()
			ready = resp.StatusCode == http.StatusOK
			return ready
		})
		if ready {
			return base
		}
		p.Stop()
		if !strings.Contains(p.Stderr.String(), "address already in use") {
			t.Fatalf("prometheus did not start; stderr:\n%s", p.Stderr.String())
		}
	}
	t.Fatal("prometheus: no free port in 3 tries")
	return ""
}

// promSeries is one series of a query's result: an instant vector's value, or a range
// vector's values, each a [time, "number"] pair.
type promSeries struct {
	Value  [2]any   `json:"value"`
	Values [][2]any `json:"values"`
}

// promAPI evaluates a PromQL expression at time at (zero: now) through Prometheus's HTTP
// API.
func promAPI(t *testing.T, base, expr string, at time.Time) []promSeries {
	t.Helper()
	q := url.Values{"query": {expr}}
	if !at.IsZero() {
		q.Set("time", strconv.FormatFloat(float64(at.UnixNano())/1e9, 'f', 3, 64))
	}
	resp, err := http.Get(base + "/api/v1/query?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []promSeries `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Status != "success" {
		t.Fatalf("query %q: %v %s", expr, err, body.Error)
	}
	return body.Data.Result
}

// promQuery is an instant query's first value; ok is false when the result is empty.
func promQuery(t *testing.T, base, expr string, at time.Time) (v float64, ok bool) {
	t.Helper()
	result := promAPI(t, base, expr, at)
	if len(result) == 0 {
		return 0, false
	}
	s, _ := result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}

// waitPromQuery polls a query until it returns a value that satisfies ok.
func waitPromQuery(t *testing.T, base, expr string, within time.Duration, ok func(float64) bool) float64 {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		v, found := promQuery(t, base, expr, time.Time{})
		if found && ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v (found %v) after %v", expr, v, found, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// promSamples are the samples Prometheus stored of a range-vector selector's first
// series, evaluated now: their times and values.
func promSamples(t *testing.T, base, selector string) (at []time.Time, v []float64) {
	t.Helper()
	result := promAPI(t, base, selector, time.Time{})
	if len(result) == 0 {
		t.Fatalf("query %q: no series", selector)
	}
	for _, s := range result[0].Values {
		sec, _ := s[0].(float64)
		n, err := strconv.ParseFloat(fmt.Sprint(s[1]), 64)
		if err != nil {
			t.Fatalf("query %q: sample %v", selector, s)
		}
		at, v = append(at, time.UnixMilli(int64(math.Round(sec*1000)))), append(v, n)
	}
	return at, v
}

// checkStampedCounts checks that each sample Prometheus stored of the accepted count
// is the count at the end of one of the report's seconds, stamped with that end (to the
// millisecond), the run's result stamped after its last second, or 0 (unstamped) before the first
// was added;
// and that the samples went up during the run.
func checkStampedCounts(t *testing.T, at []time.Time, v []float64, r *metrics.Report) {
	t.Helper()
	ends := make(map[int64]float64) // a second's end (ms) → the count then
	var sum int64
	var second, last int64 // the second and the last seconds' ends
	for i, iv := range r.Intervals {
		sum += iv.Counters["messages_accepted"]
		last = iv.Start.Add(time.Duration(iv.DurationNs)).UnixMilli()
		ends[last] = float64(sum)
		if i == 1 {
			second = last
		}
	}
	rising := 0
	for i := range at {
		ms := at[i].UnixMilli()
		if v[i] == float64(r.Totals.Accepted) && ms >= last || v[i] == 0 && ms < second {
			continue // the result, after Final; nothing yet, stamped when scraped
		}
		want, ok := ends[ms]
		if !ok {
			want, ok = ends[ms+1] // the end's wall time is a rounded nanosecond reading
		}
		if !ok || v[i] != want {
			t.Errorf("sample %d at %v: %v; the report's count at that second's end: %v (a second ends then: %v)", i, at[i], v[i], want, ok)
		}
		if i > 0 && v[i] > v[i-1] {
			rising++
		}
	}
	if rising < 3 {
		t.Errorf("the accepted count rose in %d of %d samples during a 6 s run scraped every second", rising, len(at))
	}
}

var metricsAddrLine = regexp.MustCompile(`metrics: listening on http://(\S+)/metrics`)

// The real Prometheus scrapes --metrics-addr (port 0, the address printed on stderr)
// once a second during an open-model run, and once more after it (--metrics-linger):
// its HTTP API then returns the accepted count of the JSON report, exactly; each sample
// it stored is the report's count at the end of a second, stamped with that time; and
// the rate over the run's last seconds is within 10 % of the report's achieved rate.
func TestPrometheusScrapesARun(t *testing.T) {
	_, sinkAddr := startGoSink(t)
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	jsonFile := filepath.Join(t.TempDir(), "run.json")
	start := time.Now().Add(6 * time.Second) // Prometheus scrapes before the first message
	src := testpeer.Start(t, bin, "--metrics-addr", "127.0.0.1:0", "--metrics-linger", "30s", "--start-at", start.UTC().Format(time.RFC3339Nano),
		"--rate", "100", "--duration", "6s", "--json", jsonFile, sinkAddr)
	waitStderrMatch(t, src, metricsAddrLine.String(), 10*time.Second)
	target := metricsAddrLine.FindStringSubmatch(src.Stderr.String())[1]
	prom := startPrometheus(t, target)
	waitPromQuery(t, prom, `up{job="gss"}`, 15*time.Second, func(v float64) bool { return v == 1 })
	probe := testpeer.ProbeScheduling(t) // across the run

	if code := waitExit(t, src, 60*time.Second); code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, src.Stderr.String())
	}
	r := readReport(t, jsonFile)
	if r.Totals.Accepted == 0 {
		t.Fatalf("nothing accepted: %+v", r.Totals)
	}
	waitPromQuery(t, prom, `max_over_time(gosmtpsource_messages_total{outcome="accepted"}[5m])`, 15*time.Second,
		func(v float64) bool { return v == float64(r.Totals.Accepted) })
	at, v := promSamples(t, prom, `gosmtpsource_messages_total{outcome="accepted"}[5m]`)
	checkStampedCounts(t, at, v, r)
	// The rate over the 4 s up to the last second's sample before the result's: the
	// samples are exact, but a stall of the source (measured meanwhile) puts its messages
	// into the next second.
	last := len(at) - 1
	for last > 0 && v[last] == float64(r.Totals.Accepted) {
		last--
	}
	end := at[last].Add(time.Millisecond)
	late := probe.Stop().Worst()
	rate, ok := promQuery(t, prom, `rate(gosmtpsource_messages_total{outcome="accepted"}[4s])`, end)
	want := r.Summary.AchievedPerSec
	if tolerance := want/10 + want*late.Seconds()/3; !ok || math.Abs(rate-want) > tolerance {
		t.Errorf("rate at %v: %v (found %v), the report's achieved rate %v (± %.1f: 10%% and stalls of %v)", end, rate, ok, want, tolerance, late)
	}
	if t.Failed() {
		for i := range at {
			t.Logf("sample %v %v", at[i].Format("15:04:05.000"), v[i])
		}
		for _, iv := range r.Intervals {
			t.Logf("second %v +%v accepted %d", iv.Start.Format("15:04:05.000"), time.Duration(iv.DurationNs), iv.Counters["messages_accepted"])
		}
	}
	if n, ok := promQuery(t, prom, `max_over_time(gosmtpsource_phase_seconds_count{phase="latency"}[5m])`, time.Time{}); !ok || n != float64(r.Totals.Accepted) {
		t.Errorf("latency histogram: %v samples (found %v), want %d", n, ok, r.Totals.Accepted)
	}
}

// A coordinator's --metrics-addr serves the merged run: Prometheus sees both workers
// reporting, and after the run the merged report's accepted count, exactly, and its
// latency histogram's count.
func TestPrometheusScrapesACoordinator(t *testing.T) {
	t.Parallel() // exact counts, each wait bounded generously: runs beside the other parallel tests
	s := startCountingSink(t)
	c := startCoordinator(t, 2, "--metrics-addr", "127.0.0.1:0", "--metrics-linger", "30s", "--rate", "100", "--duration", "5s", s.addr)
	target := metricsAddrLine.FindStringSubmatch(c.coord.Stderr.String())
	if target == nil {
		t.Fatalf("no metrics address: %s", c.coord.Stderr.String())
	}
	prom := startPrometheus(t, target[1])
	waitPromQuery(t, prom, `up{job="gss"}`, 15*time.Second, func(v float64) bool { return v == 1 })
	for i := 0; i < 2; i++ {
		c.startWorker(t, fmt.Sprintf("w%d", i))
	}
	if code := waitExit(t, c.coord, 60*time.Second); code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, c.coord.Stderr.String())
	}
	r := readReport(t, c.json)
	if r.Totals.Accepted == 0 {
		t.Fatalf("nothing accepted: %+v", r.Totals)
	}
	waitPromQuery(t, prom, `max_over_time(gosmtpsource_messages_total{outcome="accepted"}[5m])`, 15*time.Second,
		func(v float64) bool { return v == float64(r.Totals.Accepted) })
	if n, ok := promQuery(t, prom, `max_over_time(gosmtpsource_cluster_workers{state="reporting"}[5m])`, time.Time{}); !ok || n != 2 {
		t.Errorf("workers reporting: %v (found %v), want 2", n, ok)
	}
	if n, ok := promQuery(t, prom, `max_over_time(gosmtpsource_phase_seconds_count{phase="latency"}[5m])`, time.Time{}); !ok || n != float64(r.Totals.Accepted) {
		t.Errorf("latency histogram: %v samples (found %v), want %d", n, ok, r.Totals.Accepted)
	}
}

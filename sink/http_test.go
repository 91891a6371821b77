package sink

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestHTTPHandlerRequests(t *testing.T) {
	srv, _ := startServer(t, nil)
	hs := httptest.NewServer(srv.HTTPHandler())
	defer hs.Close()
	for _, tt := range []struct {
		path, method string
		status       int
		body         string
	}{
		{"/stats", "GET", 200, `"sessions": 0`},
		{"/trace", "GET", 404, "--trace"},
		{"/metrics", "GET", 200, "gosmtpsink_sessions_total 0"},
		{"/stats", "POST", 405, ""},
		{"/nothing", "GET", 404, ""},
	} {
		req, _ := http.NewRequest(tt.method, hs.URL+tt.path, nil)
		resp, err := hs.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || !strings.Contains(string(b), tt.body) {
			t.Errorf("%s %s: %d %q, want %d with %q", tt.method, tt.path, resp.StatusCode, b, tt.status, tt.body)
		}
	}
	traced, _ := startServer(t, func(c *Config) { c.TraceHeader = DefaultTraceHeader })
	ts := httptest.NewServer(traced.HTTPHandler())
	defer ts.Close()
	for query, status := range map[string]int{"": 200, "?run=a&run=b&since=1800000000&ranges=0": 200,
		"?since=yesterday": 400, "?ranges=2": 400, "?since=-1": 400} {
		resp, err := ts.Client().Get(ts.URL + "/trace" + query)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != status {
			t.Errorf("/trace%s: %d, want %d", query, resp.StatusCode, status)
		}
	}
}

// BenchmarkServerHTTP measures the cost of serving /metrics, /stats and /trace: one
// server takes traced messages from 8 connections in pairs of blocks of 200,000 (about a
// second each), one block with nobody reading its HTTP endpoints, the other with all three
// read at its start and every second after (as often as a go-smtp-source --e2e-sink
// poller, more often than Prometheus). The endpoints read the loops' counters only when
// asked, so the scraped/plain ratio of msg/s must stay above 0.97. Each pair runs its
// blocks in alternating order and the median of the pairs' ratios is reported, which keeps
// the machine's drift and other processes' bursts out of the ratio:
//
//	go test -run '^$' -bench ServerHTTP -benchtime 4000000x -count 3 ./sink/
func BenchmarkServerHTTP(b *testing.B) {
	const block = 200_000
	srv, addr := startBenchServer(b)
	hs := httptest.NewServer(srv.HTTPHandler())
	defer hs.Close()
	driveMessages(b, addr, 8, 3_000_000_000, block) // warm up: pages, buffers, connections
	var took, cpu [2]time.Duration
	var sent [2]int
	var wallRatios, cpuRatios []float64
	runBlock := func(scraped, k int) (wall, cpuTime time.Duration) {
		stop := func() {}
		if scraped == 1 {
			stop = scrapeEverySecond(hs.URL, "/metrics", "/stats", "/trace?ranges=0")
		}
		start, cpuStart := time.Now(), processCPU()
		driveMessages(b, addr, 8, sent[0]+sent[1], k)
		stop()
		wall, cpuTime = time.Since(start), processCPU()-cpuStart
		took[scraped] += wall
		cpu[scraped] += cpuTime
		sent[scraped] += k
		return wall, cpuTime
	}
	b.ResetTimer()
	for pair := 0; sent[0]+sent[1] < b.N; pair++ {
		k := min(block, (b.N-sent[0]-sent[1]+1)/2)
		var wall, cpuTime [2]time.Duration
		first := pair % 2
		wall[first], cpuTime[first] = runBlock(first, k)
		wall[1-first], cpuTime[1-first] = runBlock(1-first, k)
		wallRatios = append(wallRatios, float64(wall[0])/float64(wall[1]))
		cpuRatios = append(cpuRatios, float64(cpuTime[0])/float64(cpuTime[1]))
	}
	b.StopTimer()
	if len(wallRatios) < 2 {
		return // too short to compare (the 1-iteration probe)
	}
	slices.Sort(wallRatios)
	slices.Sort(cpuRatios)
	b.ReportMetric(float64(sent[0])/took[0].Seconds(), "msg/s-plain")
	b.ReportMetric(float64(sent[1])/took[1].Seconds(), "msg/s-http")
	b.ReportMetric(wallRatios[len(wallRatios)/2], "http/plain-msg/s")
	// The process's CPU per message (server and clients together), plain over scraped:
	// what the throughput ratio is on a machine where the sink is CPU-bound, less
	// sensitive than wall time to what else the machine runs.
	b.ReportMetric(cpuRatios[len(cpuRatios)/2], "http/plain-cpu")
	// The direct cost: the CPU of one set of requests, handled on this goroutine's own
	// thread, over the process's CPU per second at full load (what a scrape a second
	// takes from the sink).
	b.ReportMetric(scrapeCPU(srv.HTTPHandler()).Seconds()/(cpu[0].Seconds()/took[0].Seconds()), "scrape-cpu-share")
}

// scrapeCPU is the thread CPU time of one request to each endpoint, the median of 21.
func scrapeCPU(h http.Handler) time.Duration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var times []time.Duration
	for i := 0; i < 21; i++ {
		start := threadCPU()
		for _, p := range []string{"/metrics", "/stats", "/trace?ranges=0"} {
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
		}
		times = append(times, threadCPU()-start)
	}
	slices.Sort(times)
	return times[len(times)/2]
}

func threadCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_THREAD, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processCPU is the process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startBenchServer(b *testing.B) (*Server, string) {
	srv, err := NewServer(Config{Listen: "tcp4://127.0.0.1:0", EventLoops: 1, TraceHeader: DefaultTraceHeader})
	if err != nil {
		b.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	<-srv.Ready()
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-served
	})
	return srv, srv.Addr().String()
}

func scrapeEverySecond(base string, paths ...string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			for _, p := range paths {
				if resp, err := http.Get(base + p); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// driveMessages sends n traced messages, numbered from base+1, over conns connections,
// ten pipelined at a time.
func driveMessages(b *testing.B, addr string, conns, base, n int) {
	var wg sync.WaitGroup
	per := (n + conns - 1) / conns
	for c := 0; c < conns; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			if err := sendBatches(addr, base+c*per, min(per, n-c*per)); err != nil {
				b.Error(err)
			}
		}(c)
	}
	wg.Wait()
}

func sendBatches(addr string, base, n int) error {
	if n <= 0 {
		return nil
	}
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	r := bufio.NewReader(nc)
	if _, err := r.ReadString('\n'); err != nil {
		return err
	}
	var batch []byte
	for sent := 0; sent < n; {
		batch = batch[:0]
		k := min(10, n-sent)
		for i := 0; i < k; i++ {
			seq := base + sent + i + 1
			batch = fmt.Appendf(batch, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nX-GSS-Trace: bench %d %d\r\nSubject: s\r\n\r\nbody\r\n.\r\n", seq, time.Now().UnixNano())
		}
		if _, err := nc.Write(batch); err != nil {
			return err
		}
		for got := 0; got < 4*k; got++ {
			if _, err := r.ReadString('\n'); err != nil {
				return err
			}
		}
		sent += k
	}
	return nil
}

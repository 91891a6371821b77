package sink

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
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
// server takes traced messages from 8 connections in blocks of 100,000, alternately with
// nobody reading its HTTP endpoints and with all three read at the block's start and then
// every second (as Prometheus and a go-smtp-source --e2e-sink poller would, or more
// often). The endpoints read the loops' counters only when asked, so the ratio
// scraped/plain (msg/s) must stay above 0.97. Alternating blocks in one run keeps the
// machine's drift out of the ratio:
//
//	go test -run '^$' -bench ServerHTTP -benchtime 2000000x -count 5 ./sink/
func BenchmarkServerHTTP(b *testing.B) {
	const block = 100_000
	srv, addr := startBenchServer(b)
	hs := httptest.NewServer(srv.HTTPHandler())
	defer hs.Close()
	driveMessages(b, addr, 8, 3_000_000_000, block) // warm up: pages, buffers, connections
	var took [2]time.Duration
	var sent [2]int
	b.ResetTimer()
	for round := 0; sent[0]+sent[1] < b.N; round++ {
		k, scraped := min(block, b.N-sent[0]-sent[1]), round%2
		stop := func() {}
		if scraped == 1 {
			stop = scrapeEverySecond(hs.URL, "/metrics", "/stats", "/trace?ranges=0")
		}
		start := time.Now()
		driveMessages(b, addr, 8, sent[0]+sent[1], k)
		took[scraped] += time.Since(start)
		stop()
		sent[scraped] += k
	}
	b.StopTimer()
	if sent[1] == 0 {
		return // too short to compare (the 1-iteration probe)
	}
	plain, withHTTP := float64(sent[0])/took[0].Seconds(), float64(sent[1])/took[1].Seconds()
	b.ReportMetric(plain, "msg/s-plain")
	b.ReportMetric(withHTTP, "msg/s-http")
	b.ReportMetric(withHTTP/plain, "http/plain")
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

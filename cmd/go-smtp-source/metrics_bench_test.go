package main

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/engine"
	"github.com/go-smtp-source/go-smtp-source/plan"
	"github.com/go-smtp-source/go-smtp-source/sink"
)

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// metricsBlock runs one block of messages to addr, with --metrics-addr's endpoint
// scraped once a second when scraped, and returns its msg/s and CPU per message.
func metricsBlock(b *testing.B, addr string, messages int64, scraped bool) (rate float64, cpuPerMsg time.Duration) {
	p := plan.Defaults()
	p.Target, p.Messages, p.Sessions = addr, messages, 20
	p.Session.Hostname, p.Session.Reuse = "source.test", true
	p = p.WithDefaults()
	var h engine.Hooks
	stop := func() {}
	if scraped {
		var stderr bytes.Buffer
		o := metricsOptions{addr: "127.0.0.1:0"}
		if err := o.start("bench", &stderr); err != nil {
			b.Fatal(err)
		}
		o.hook(&h)
		url := regexp.MustCompile(`listening on (\S+)`).FindStringSubmatch(stderr.String())[1]
		done := make(chan struct{})
		scraper := make(chan struct{})
		go func() {
			defer close(scraper)
			for t := time.NewTicker(time.Second); ; {
				if resp, err := http.Get(url); err == nil {
					resp.Body.Close()
				}
				select {
				case <-done:
					t.Stop()
					return
				case <-t.C:
				}
			}
		}()
		stop = func() { close(done); <-scraper; o.stop() }
	}
	start, cpu := time.Now(), cpuTime(b)
	res, err := engine.Run(context.Background(), p, h)
	wall, used := time.Since(start), cpuTime(b)-cpu
	stop()
	if err != nil || res.Accepted != messages {
		b.Fatalf("%d of %d accepted: %v", res.Accepted, messages, err)
	}
	return float64(messages) / wall.Seconds(), used / time.Duration(messages)
}

// BenchmarkMetricsAddr measures what --metrics-addr costs a run: pairs of blocks of
// b.N messages (20 kept connections, an in-process go-smtp-sink on one event loop), one
// without the endpoint and one with it (the wiring go-smtp-source uses) scraped once a
// second, in alternating order. It reports the medians over the pairs of the msg/s
// ratio and of the CPU-per-message ratio (the process's user + system time: less
// disturbed than wall time by the other programs on the machine).
func BenchmarkMetricsAddr(b *testing.B) {
	srv, err := sink.NewServer(sink.Config{Listen: "tcp4://127.0.0.1:0", EventLoops: 1})
	if err != nil {
		b.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	<-srv.Ready()
	b.Cleanup(func() { _ = srv.Shutdown(context.Background()); <-served })
	addr := srv.Addr().String()
	const pairs = 5
	var rateRatio, cpuRatio []float64
	var offRate, onRate float64
	for i := range pairs {
		var off, on float64
		var offCPU, onCPU time.Duration
		if i%2 == 0 {
			off, offCPU = metricsBlock(b, addr, int64(b.N), false)
			on, onCPU = metricsBlock(b, addr, int64(b.N), true)
		} else {
			on, onCPU = metricsBlock(b, addr, int64(b.N), true)
			off, offCPU = metricsBlock(b, addr, int64(b.N), false)
		}
		offRate, onRate = offRate+off/pairs, onRate+on/pairs
		rateRatio = append(rateRatio, on/off)
		cpuRatio = append(cpuRatio, float64(onCPU)/float64(offCPU))
	}
	median := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
	b.ReportMetric(offRate, "msg/s-off")
	b.ReportMetric(onRate, "msg/s-on")
	b.ReportMetric(median(rateRatio), "on/off-msg/s")
	b.ReportMetric(median(cpuRatio), "on/off-cpu/msg")
}

package sink

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// HTTPHandler serves what the sink knows over HTTP (go-smtp-sink --http):
//
//   - /stats: the --stats document (Snapshot) as it is now;
//   - /trace: the --trace document (TraceDocument); ?run=ID (repeatable) picks runs,
//     ?since=UNIX-SECONDS keeps the intervals from that second on, ?ranges=0 leaves out
//     seen_set and ?histograms=0 the histograms' encodings (for a poller that only wants
//     the figures); 404 without --trace;
//   - /metrics: the counters for Prometheus, read from the loops' counters when scraped.
func (s *Server) HTTPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, s.stats.Snapshot().JSON())
	})
	mux.HandleFunc("GET /trace", s.serveTrace)
	mux.Handle("GET /metrics", s.MetricsHandler())
	return mux
}

// MetricsHandler serves the sink's metrics for Prometheus (HTTPHandler's /metrics, and
// go-smtp-sink --metrics-addr's), read from the loops' counters when scraped.
func (s *Server) MetricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newCollector(s.stats),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

func writeJSON(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
}

func (s *Server) serveTrace(w http.ResponseWriter, r *http.Request) {
	q, err := parseTraceQuery(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	doc, ok := s.TraceDocument(q)
	if !ok {
		http.Error(w, "tracing is off: start go-smtp-sink with --trace", http.StatusNotFound)
		return
	}
	writeJSON(w, doc.JSON())
}

func parseTraceQuery(r *http.Request) (TraceQuery, error) {
	v := r.URL.Query()
	q := TraceQuery{Runs: v["run"]}
	if since := v.Get("since"); since != "" {
		sec, err := strconv.ParseInt(since, 10, 64)
		if err != nil || sec < 0 || sec > 1<<40 {
			return q, fmt.Errorf("since=%q: want Unix seconds", since)
		}
		q.Since = time.Unix(sec, 0)
	}
	for name, off := range map[string]*bool{"ranges": &q.NoRanges, "histograms": &q.NoHistograms} {
		switch value := v.Get(name); value {
		case "", "1":
		case "0":
			*off = true
		default:
			return q, fmt.Errorf("%s=%q: want 0 or 1", name, value)
		}
	}
	return q, nil
}

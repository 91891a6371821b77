package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// --metrics-addr serves --http's /metrics, and only it, on a listener of its own (port
// 0: the address is printed on stderr): the counts of the messages just sent.
func TestMetricsAddr(t *testing.T) {
	s := startGoSink(t, "--http", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0")
	if !s.WaitOutput("metrics: listening on ", 10*time.Second) {
		t.Fatalf("no metrics address on stderr: %s", s.Stderr.String())
	}
	m := regexp.MustCompile(`go-smtp-sink: metrics: listening on (http://\S+)/metrics\n`).FindStringSubmatch(s.Stderr.String())
	if m == nil {
		t.Fatalf("stderr: %q", s.Stderr.String())
	}
	metricsBase, httpBase := m[1], "http://"+httpAddr(t, s)
	c := dialRaw(t, s.Addr)
	c.roundTrip("", "220")
	c.roundTrip("HELO client\r\n", "250")
	for i := 0; i < 3; i++ {
		c.roundTrip("MAIL FROM:<a@example.com>\r\n", "250")
		c.roundTrip("RCPT TO:<b@example.com>\r\n", "250")
		c.roundTrip("DATA\r\n", "354")
		c.roundTrip("Subject: m\r\n\r\nbody\r\n.\r\n", "250")
	}
	accepted := func(base string) float64 {
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(strings.NewReader(string(testpeer.HTTPGet(t, base+"/metrics"))))
		if err != nil {
			t.Fatalf("%s/metrics does not parse: %v", base, err)
		}
		f := families["gosmtpsink_messages_accepted_total"]
		if f == nil || len(f.Metric) != 1 {
			t.Fatalf("%s/metrics: no gosmtpsink_messages_accepted_total", base)
		}
		return f.Metric[0].GetCounter().GetValue()
	}
	if a, b := accepted(metricsBase), accepted(httpBase); a != 3 || b != 3 {
		t.Errorf("accepted: --metrics-addr %v, --http %v, want 3", a, b)
	}
	resp, err := http.Get(metricsBase + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("--metrics-addr serves /stats: %d", resp.StatusCode)
	}
}

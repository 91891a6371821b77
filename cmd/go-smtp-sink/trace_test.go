package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
	"github.com/go-smtp-source/go-smtp-source/sink"
)

// httpAddr reads the address --http printed on stderr.
func httpAddr(t *testing.T, s *goSink) string {
	t.Helper()
	return announcedAddr(t, s, `go-smtp-sink: http: listening on (\S+)\n`)
}

// metricsListenAddr is the address --metrics-addr's listener bound, as go-smtp-sink says.
func metricsListenAddr(t *testing.T, s *goSink) string {
	t.Helper()
	return announcedAddr(t, s, `go-smtp-sink: metrics: listening on http://(\S+)/metrics\n`)
}

// announcedAddr waits for the line matching expr on the sink's stderr and returns its
// first group.
func announcedAddr(t *testing.T, s *goSink, expr string) string {
	t.Helper()
	re := regexp.MustCompile(expr)
	var m []string
	testpeer.Eventually(t, 10*time.Second, 10*time.Millisecond, "the address on stderr ("+expr+")", func() bool {
		m = re.FindStringSubmatch(s.Stderr.String())
		return m != nil
	})
	return m[1]
}

// sendTraced delivers one message carrying "X-GSS-Trace: run seq sent" over c, trying
// again after a refused RCPT (the sink refuses some at random in this test).
func sendTraced(c *rawClient, run string, seq int, sent time.Time) {
	c.t.Helper()
	for tries := 0; ; tries++ {
		c.roundTrip("MAIL FROM:<a@example.com>\r\n", "250 ")
		if reply := c.reply("RCPT TO:<b@example.com>\r\n"); strings.HasPrefix(reply, "250 ") {
			break
		} else if !strings.HasPrefix(reply, "550 ") || tries > 20 {
			c.t.Fatalf("RCPT: %q", reply)
		}
		c.roundTrip("RSET\r\n", "250 ")
	}
	c.roundTrip("DATA\r\n", "354 ")
	c.roundTrip(fmt.Sprintf("Subject: traced\r\nX-GSS-Trace: %s %d %d\r\n\r\nbody\r\n.\r\n", run, seq, sent.UnixNano()), "250 ")
}

// reply sends cmd and returns the last line of its reply.
func (c *rawClient) reply(cmd string) string {
	c.t.Helper()
	if _, err := c.conn.Write([]byte(cmd)); err != nil {
		c.t.Fatal(err)
	}
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("after %q: %v", cmd, err)
		}
		if len(line) < 4 || line[3] != '-' {
			return line
		}
	}
}

// TestTraceEndToEnd sends crafted trace headers from a test client, swaks and
// go-smtp-source -F, then checks /trace, /stats, /metrics (parsed with Prometheus' text
// parser) and the --trace-file written at exit against each other and against what was
// sent.
func TestTraceEndToEnd(t *testing.T) {
	traceFile := filepath.Join(t.TempDir(), "trace.json")
	s := startGoSink(t, "--trace-file", traceFile, "--http", "127.0.0.1:0", "--reject", "rcpt=550:10%", "--seed", "3")
	base := "http://" + httpAddr(t, s)

	c := dialRaw(t, s.Addr)
	c.roundTrip("", "220 ")
	c.roundTrip("EHLO trace.test\r\n", "250 ")
	sent := time.Now().Add(-100 * time.Millisecond)
	for seq := 1; seq <= 50; seq++ {
		if seq != 7 && seq != 23 {
			sendTraced(c, "t1", seq, sent)
		}
	}
	sendTraced(c, "t1", 5, sent)
	for seq := 1; seq <= 3; seq++ {
		sendTraced(c, "t2", seq, sent)
	}
	c.roundTrip("DATA\r\n", "503 ") // no transaction
	swaksTraced(t, s)
	fileAccepted := sourceWithTraceFile(t, s)

	var doc sink.TraceDocument
	if err := json.Unmarshal(testpeer.HTTPGet(t, base+"/trace"), &doc); err != nil {
		t.Fatal(err)
	}
	runs := map[string]sink.TraceRun{}
	for _, r := range doc.Runs {
		runs[r.Run] = r
	}
	t1, t2, sw, file := runs["t1"], runs["t2"], runs["sw"], runs["file"]
	if len(runs) != 4 || t1.Seen != 48 || t1.Duplicates != 1 || !slices.Equal(t1.DuplicateSeqs, []uint64{5}) ||
		t1.Missing != 2 || !slices.Equal(t1.MissingSeqs, []uint64{7, 23}) || t1.SeenSet != "1-6,8-22,24-50" {
		t.Errorf("t1: %+v", t1)
	}
	if t1.Delivery.Count != 48 || t1.Delivery.MinNs < int64(100*time.Millisecond) || t1.Delivery.MaxNs > int64(time.Since(sent)) {
		t.Errorf("t1 delivery %+v", t1.Delivery)
	}
	if t2.Seen != 3 || t2.SeenSet != "1-3" || t2.Missing != 0 || sw.Seen != 1 || sw.Lowest != 9 || sw.Missing != 8 ||
		file.Seen != 1 || file.Duplicates != fileAccepted-1 {
		t.Errorf("t2 %+v\nsw %+v\nfile %+v (go-smtp-source: %d accepted)", t2, sw, file, fileAccepted)
	}
	checkMetricsMatchStats(t, base, t1)

	st := s.stop(t)
	var saved sink.TraceDocument
	b, err := os.ReadFile(traceFile)
	if err != nil || json.Unmarshal(b, &saved) != nil {
		t.Fatalf("--trace-file: %v %s", err, b)
	}
	if len(saved.Runs) != 4 || saved.Runs[2].Run != "t1" || saved.Runs[2].SeenSet != t1.SeenSet || saved.Runs[2].Delivery.Histogram != t1.Delivery.Histogram ||
		st.Trace.Seen != 48+3+1+1 || st.Trace.Duplicates != 1+fileAccepted-1 || st.Trace.WithoutHeader != 0 {
		t.Errorf("saved runs %d, t1 %+v\nstats %+v", len(saved.Runs), saved.Runs[2], st.Trace)
	}
}

// swaksTraced sends one message with a trace header from swaks, again if its RCPT was
// refused.
func swaksTraced(t *testing.T, s *goSink) {
	t.Helper()
	header := "X-GSS-Trace: sw 9 " + strconv.FormatInt(time.Now().UnixNano(), 10)
	for tries := 0; tries < 10; tries++ {
		res := testpeer.Swaks(t, s.Addr, "--to", "c@example.com", "--header", header)
		if res.ExitCode == 0 {
			return
		}
		if !strings.Contains(res.Stdout, "<** 550 ") {
			t.Fatalf("swaks: %v", res)
		}
	}
	t.Fatal("swaks: RCPT refused ten times")
}

// sourceWithTraceFile sends five copies of one traced message with go-smtp-source -F;
// it returns how many the sink accepted (the others were refused at RCPT).
func sourceWithTraceFile(t *testing.T, s *goSink) int64 {
	t.Helper()
	msg := filepath.Join(t.TempDir(), "msg.txt")
	content := "Subject: from a file\nX-GSS-Trace: file 1 " + strconv.FormatInt(time.Now().UnixNano(), 10) + "\n\nbody\n"
	if err := os.WriteFile(msg, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := sourceReport(t, s, "-A", "-d", "-m", "5", "-F", msg)
	if rep.Totals.Accepted == 0 {
		t.Fatalf("go-smtp-source -F: nothing accepted: %+v", rep.Totals)
	}
	return rep.Totals.Accepted
}

// checkMetricsMatchStats scrapes /metrics and /stats (no traffic in between) and compares.
func checkMetricsMatchStats(t *testing.T, base string, t1 sink.TraceRun) {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(testpeer.HTTPGet(t, base+"/metrics"))))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	var st sink.Snapshot
	if err := json.Unmarshal(testpeer.HTTPGet(t, base+"/stats"), &st); err != nil {
		t.Fatal(err)
	}
	value := func(name string, labels ...string) (float64, bool) {
		f := families[name]
		if f == nil {
			return 0, false
		}
		for _, m := range f.Metric {
			if hasLabels(m, labels...) {
				switch {
				case m.Counter != nil:
					return m.Counter.GetValue(), true
				case m.Gauge != nil:
					return m.Gauge.GetValue(), true
				case m.Histogram != nil:
					return float64(m.Histogram.GetSampleCount()), true
				}
			}
		}
		return 0, false
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   int64
	}{
		{"gosmtpsink_sessions_total", nil, st.Sessions},
		{"gosmtpsink_messages_accepted_total", nil, st.MessagesAccepted},
		{"gosmtpsink_recipients_total", nil, st.Recipients},
		{"gosmtpsink_transactions_total", nil, st.Transactions},
		{"gosmtpsink_bytes_total", nil, st.Bytes},
		{"gosmtpsink_refusals_total", []string{"kind", "reject", "key", "rcpt:perm:550:5.3.0"}, st.Refusals["reject"]["rcpt:perm:550:5.3.0"]},
		{"gosmtpsink_trace_seen_total", []string{"run", "t1"}, t1.Seen},
		{"gosmtpsink_trace_duplicates_total", []string{"run", "t1"}, t1.Duplicates},
		{"gosmtpsink_trace_missing", []string{"run", "t1"}, t1.Missing},
		{"gosmtpsink_delivery_latency_seconds", []string{"run", "t1"}, t1.Delivery.Count},
		{"gosmtpsink_trace_unusable_total", []string{"reason", "malformed"}, st.Trace.Malformed},
	} {
		got, ok := value(c.name, c.labels...)
		if !ok || got != float64(c.want) {
			t.Errorf("%s%v = %v (found %v), --stats/trace say %d", c.name, c.labels, got, ok, c.want)
		}
	}
	if st.Refusals["reject"]["rcpt:perm:550:5.3.0"] == 0 {
		t.Error("no refusal to compare")
	}
}

func hasLabels(m *dto.Metric, pairs ...string) bool {
	for i := 0; i+1 < len(pairs); i += 2 {
		found := false
		for _, l := range m.Label {
			if l.GetName() == pairs[i] && l.GetValue() == pairs[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

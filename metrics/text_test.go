package metrics

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// textLines maps each line's first word to its whitespace-separated fields.
func textLines(out string) map[string][]string {
	lines := map[string][]string{}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			if _, seen := lines[f[0]]; !seen {
				lines[f[0]] = f
			}
		}
	}
	return lines
}

func textReport(t *testing.T) *Report {
	t.Helper()
	s := NewSnapshot()
	for _, ns := range []int64{1_000_000, 2_000_000, 20_512_000} {
		s.Record(EOD, ns)
	}
	s.Record(Connect, 45_000)
	s.Add(RecipientsAccepted, 2)
	s.Add(RecipientsRejected, 1)
	s.Add(BytesSent, 12345)
	s.Add(SessionsFailed, 1)
	s.Error(ReplyErrorKey("rcpt", 550, "5.1.1"), "550 5.1.1 <x@example.com>: Recipient address rejected")
	s.Error(NetErrorKey("connect", errRefused), "dial tcp 127.0.0.1:25: connect: connection refused")
	totals := Totals{Planned: 4, Accepted: 2, Rejected: 1, Failed: 0, NotStarted: 1, Sessions: 2}
	return NewReport(nil, testStart, 1500*time.Millisecond, totals, s, nil)
}

func TestWriteText(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteText(&buf, textReport(t)); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	lines := textLines(out)
	for word, want := range map[string]string{
		"Messages":            "Messages [total, rate, throughput] 3, 2.00/s, 1.33/s",
		"Duration":            "Duration [total] 1.5s",
		"Accounting":          "Accounting [planned, accepted, rejected, failed, not started] 4, 2, 1, 0, 1",
		"Sessions":            "Sessions [established, failed] 2, 1",
		"Recipients":          "Recipients [accepted, rejected] 2, 1",
		"Bytes":               "Bytes [sent] 12345",
		"Success":             "Success [ratio] 66.67%",
		"Reply":               "Reply codes [code:count] 2xx:2 550:1 net:1",
		"Errors":              "Errors [total, keys] 2, 2",
		"Phase":               "Phase n min mean p50 p90 p99 p99.9 max",
		"connect":             "connect 1 45µs 45µs 45µs 45µs 45µs 45µs 45µs",
		"eod":                 "eod 3 1ms 7.837ms 2ms 20.512ms 20.512ms 20.512ms 20.512ms",
		"Error":               "Error count first text",
		"rcpt:perm:550:5.1.1": "rcpt:perm:550:5.1.1 1 550 5.1.1 <x@example.com>: Recipient address rejected",
		"connect:net:refused": "connect:net:refused 1 dial tcp 127.0.0.1:25: connect: connection refused",
	} {
		if got := strings.Join(lines[word], " "); got != want {
			t.Errorf("line %q:\n got %q\nwant %q\n%s", word, got, want, out)
		}
	}
	if _, ok := lines["Open"]; ok {
		t.Error("open-model line in a closed-model report")
	}
	if _, ok := lines["Source"]; ok {
		t.Error("source table in a single report")
	}
	// Columns line up: every phase row ends where the header does.
	var phaseRows []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "Phase") || strings.HasPrefix(l, "connect ") || strings.HasPrefix(l, "eod ") {
			phaseRows = append(phaseRows, l)
		}
	}
	for _, l := range phaseRows[1:] {
		if len([]rune(l)) != len([]rune(phaseRows[0])) {
			t.Errorf("ragged phase table:\n%s", strings.Join(phaseRows, "\n"))
			break
		}
	}
}

func TestWriteTextMergedAndOpenModel(t *testing.T) {
	a := textReport(t)
	a.Origin = "node-a.json"
	s := NewSnapshot()
	s.Record(ScheduleLag, 3000)
	s.Record(Latency, 5_000_000)
	s.Add(Late, 7)
	b := NewReport(nil, testStart.Add(100*time.Millisecond), time.Second, Totals{Planned: 1, Accepted: 1}, s, nil)
	b.Origin = "node-b.json"
	m, _, err := Merge([]*Report{a, b}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteText(&buf, m); err != nil {
		t.Fatal(err)
	}
	lines := textLines(buf.String())
	for word, want := range map[string]string{
		"Open":         "Open model [dropped, late] 0, 7",
		"Accounting":   "Accounting [planned, accepted, rejected, failed, not started] 5, 3, 1, 0, 1",
		"schedule_lag": "schedule_lag 1 3µs 3µs 3µs 3µs 3µs 3µs 3µs",
		"Source":       "Source start duration planned accepted rejected failed rate throughput",
		"node-a.json":  "node-a.json 12:00:00.300 1.5s 4 2 1 0 2.00/s 1.33/s",
		"node-b.json":  "node-b.json 12:00:00.400 1s 1 1 0 0 1.00/s 1.00/s",
	} {
		if got := strings.Join(lines[word], " "); got != want {
			t.Errorf("line %q:\n got %q\nwant %q\n%s", word, got, want, buf.String())
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 45 * time.Microsecond: "45µs", 20_512_345: "20.512ms", 1_500_123_456: "1.500123s",
		123_000_001_499: "2m3.000001s", 999: "1µs",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%d) = %q, want %q", d, got, want)
		}
	}
}

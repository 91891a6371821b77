package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// liveLineRe is metrics.FormatLive's line, as a single run and a cluster coordinator
// both print it after the program's name.
var liveLineRe = regexp.MustCompile(`^\S*go-smtp-source: (?P<elapsed>\d+)s(?:/(?P<total>\d+)s)?` +
	`(?:  done (?P<done>\d+)/(?P<planned>\d+))?(?:  target (?P<target>\d+)/s)?  achieved (?P<rate>\d+)/s` +
	`  (?:latency|service) p99 (?P<latency>\S+)  eod p99 (?P<eod>\S+)(?:  delivery p99 \S+)?` +
	`  accepted (?P<accepted>\d+)(?:  delivered \d+)?  rejected (?P<rejected>\d+)  failed (?P<failed>\d+)` +
	`  late (?P<late>\d+)  dropped (?P<dropped>\d+)  conns open (?P<open>\d+)(?:  workers (?P<workers>\d+)  lost (?P<lost>\d+))?$`)

// parsedLive is one parsed live line: its numbers by name (absent fields are missing),
// and its p99s as printed.
type parsedLive struct {
	text            string
	n               map[string]int64
	latency, eodP99 string
}

// liveLines parses every live line of a process's stderr (lines rewritten in place
// too); a line that names the live view's fields but does not parse fails the test.
func liveLines(t *testing.T, stderr string) []parsedLive {
	t.Helper()
	var lines []parsedLive
	for _, text := range strings.FieldsFunc(stderr, func(r rune) bool { return r == '\n' || r == '\r' }) {
		text = strings.TrimSuffix(text, "\x1b[K")
		if !strings.Contains(text, "  achieved ") {
			continue
		}
		m := liveLineRe.FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("a live line not in FormatLive's form: %q", text)
		}
		l := parsedLive{text: text, n: make(map[string]int64)}
		for i, name := range liveLineRe.SubexpNames() {
			switch {
			case name == "" || m[i] == "":
			case name == "latency":
				l.latency = m[i]
			case name == "eod":
				l.eodP99 = m[i]
			default:
				v, err := strconv.ParseInt(m[i], 10, 64)
				if err != nil {
					t.Fatalf("%q: %s: %v", text, name, err)
				}
				l.n[name] = v
			}
		}
		lines = append(lines, l)
	}
	return lines
}

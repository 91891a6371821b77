package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
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

// On a terminal (a pseudo-terminal from util-linux script) the coordinator rewrites its
// merged line in place, as a single run does (carriage return, clear to the end of the
// line), and its other lines clear it first; the lines parse as a single run's.
func TestClusterLiveViewOnATerminal(t *testing.T) {
	script := testpeer.Require(t, "script")
	s := startCountingSink(t)
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	token := "test-token-tty"
	cmd := fmt.Sprintf("stty cols 400; exec %s --cluster-listen 127.0.0.1:0 --cluster-token %s --cluster-workers 1 "+
		"--cluster-join-timeout 30s --max-start-late 1s --rate 100 --duration 3s %s", bin, token, s.addr)
	coord := testpeer.Start(t, script, "-q", "-e", "-c", cmd, "/dev/null")
	waitTerminal(t, coord, "waiting for", 15*time.Second)
	// Its NATS server bound port 0 and said where, on the terminal.
	url := regexp.MustCompile(`embedded NATS server on (nats://[^\s;]+)`).FindStringSubmatch(coord.Stdout.String())
	if url == nil {
		t.Fatalf("no NATS address from the coordinator:\n%q", coord.Stdout.String())
	}
	testpeer.Start(t, bin, "worker", "--nats", url[1], "--token", token, "--name", "w0")
	if code := waitExit(t, coord, 60*time.Second); code != exitOK {
		t.Fatalf("exit %d; output:\n%q", code, coord.Stdout.String())
	}
	out := coord.Stdout.String()
	if !strings.Contains(out, "\r\x1b[K") || !strings.Contains(out, "conns open") {
		t.Fatalf("no line rewritten in place:\n%q", out)
	}
	lines := liveLines(t, out)
	if len(lines) < 2 || lines[len(lines)-1].n["workers"] != 1 {
		t.Fatalf("%d live lines:\n%q", len(lines), out)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "  achieved ") && strings.Contains(l, "cluster: ") && !strings.Contains(l, "\r\x1b[K") {
			t.Errorf("a line printed over the live line without clearing it: %q", l)
		}
	}
}

// waitTerminal waits until a process's terminal output (its stdout under script) holds
// text.
func waitTerminal(t *testing.T, p *testpeer.Process, text string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(p.Stdout.String(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q within %v; output:\n%q", text, within, p.Stdout.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

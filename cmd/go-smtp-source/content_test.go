package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// contentMarker starts every record of the sink's dump (-S), so the test can split them.
const contentMarker = "\x01MSG\n"

// sendToDump runs go-smtp-source with args to a go-smtp-sink that dumps every message
// into one file, and returns the messages as the server received them (LF line ends,
// the dump's), in the order they arrived.
func sendToDump(t *testing.T, messages int, args ...string) [][]byte {
	t.Helper()
	return sendShareToDump(t, messages, messages, args...)
}

// sendShareToDump is sendToDump for a shard: messages is the whole run's count, and the
// shard's share arrives.
func sendShareToDump(t *testing.T, total, messages int, args ...string) [][]byte {
	t.Helper()
	dump := filepath.Join(t.TempDir(), "dump")
	_, addr := startGoSink(t, "-D", dump, "-S", `\001MSG\n`)
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	args = append(append([]string{"-m", strconv.Itoa(total), "-M", "source.test", "-d"}, args...), addr)
	res := testpeer.Run(t, 2*time.Minute, bin, args...)
	want := strconv.Itoa(messages) + " accepted"
	if res.ExitCode != 0 || !strings.Contains(res.Stderr, want) {
		t.Fatalf("exit %d, want %q: %v", res.ExitCode, want, res)
	}
	b, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, rec := range bytes.Split(b, []byte(contentMarker))[1:] {
		out = append(out, recordMessage(t, rec))
	}
	if len(out) != messages {
		t.Fatalf("%d messages in the dump, want %d", len(out), messages)
	}
	return out
}

// recordMessage is the message of a dump record (LF line ends): the record's X- lines
// and the sink's Received header (with its continuation lines) come first, and it ends
// with an empty line.
func recordMessage(t *testing.T, rec []byte) []byte {
	t.Helper()
	i := bytes.Index(rec, []byte("\nReceived: "))
	if i < 0 || !bytes.HasSuffix(rec, []byte("\n\n")) {
		t.Fatalf("record without a message: %q", rec)
	}
	for i = i + 1; ; {
		i += bytes.IndexByte(rec[i:], '\n') + 1
		if rec[i] != '\t' {
			break
		}
	}
	return rec[i : len(rec)-1]
}

// wireSize is a dumped message's size on the wire before the final dot: its lines
// ended by CRLF (the dump drops the CR).
func wireSize(msg []byte) int { return len(msg) + bytes.Count(msg, []byte("\n")) }

// The sizes of 10,000 messages at go-smtp-sink follow --size's lognormal distribution:
// each quantile within 2% of the distribution's own, computed here from its definition
// (median·e^(σz)); a fixed size is exact.
func TestSizeDistributionAtSink(t *testing.T) {
	const median, sigma, n = 2048.0, 1.2, 10000
	sizes := dumpSizes(t, n, "-s", "8", "--seed", "7", "--size", "lognormal:median=2k,sigma=1.2")
	slices.Sort(sizes)
	for _, q := range []struct{ p, z float64 }{
		{0.10, -1.2815516}, {0.25, -0.6744898}, {0.50, 0}, {0.75, 0.6744898}, {0.90, 1.2815516}, {0.99, 2.3263479},
	} {
		want := median * math.Exp(sigma*q.z)
		got := sizes[int(q.p*n)]
		if math.Abs(got-want)/want > 0.02 {
			t.Errorf("p%g: %g bytes, want %.0f ± 2%%", q.p*100, got, want)
		}
	}
	for _, m := range sendToDump(t, 20, "--size", "1000") {
		if wireSize(m) != 1000 {
			t.Fatalf("--size 1000 sent %d bytes: %q", wireSize(m), m)
		}
	}
	for _, size := range dumpSizes(t, 20, "--size", "1000") {
		if size != 1000 {
			t.Fatalf("--size 1000: the dump's reader counts %g bytes", size)
		}
	}
}

// The same seed sends the same messages (apart from Date and Message-Id, which name the
// process and its start); another seed sends others.
func TestSizeSeedReproducible(t *testing.T) {
	run := func(seed string) []string {
		var out []string
		for _, m := range sendToDump(t, 200, "--seed", seed, "--size", "uniform:100-20k") {
			var keep []string
			for _, line := range strings.Split(string(m), "\n") {
				if !strings.HasPrefix(line, "Date: ") && !strings.HasPrefix(line, "Message-Id: ") {
					keep = append(keep, line)
				}
			}
			out = append(out, strings.Join(keep, "\n"))
		}
		return out
	}
	a, b, c := run("11"), run("11"), run("12")
	if !slices.Equal(a, b) {
		t.Fatal("--seed 11 twice: the messages differ")
	}
	if slices.Equal(a, c) {
		t.Fatal("--seed 11 and --seed 12 sent the same messages")
	}
}

// A malformed content or envelope option is one line naming it, exit status 2, and no
// connection to the server.
func TestContentBadInput(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--size", "lognormal:median=30k"}, "--size: distribution"},
		{[]string{"--size", "1k:50%,2k:40%"}, "add up to 90"},
		{[]string{"--size", "0"}, "--size 0: sizes must be positive"},
		{[]string{"--size", "10k", "-l", "100"}, "--size fills generated bodies"},
		{[]string{"--seed", "-1"}, "--seed: want an unsigned 64-bit integer"},
		{[]string{"--body", "text"}, "give --size"},
		{[]string{"--corpus", "/nonexistent/maildir"}, "--corpus: stat /nonexistent/maildir"},
		{[]string{"--corpus", "/dev/null"}, "--corpus: /dev/null: no messages in it"},
		{[]string{"--corpus", ".", "-S", "x"}, "not with --subject"},
		{[]string{"--rcpt-file", "/nonexistent/rcpts"}, "--rcpt-file: open /nonexistent/rcpts"},
		{[]string{"--from-file", "/dev/null"}, "--from-file /dev/null: no addresses in it"},
		{[]string{"--rcpt-count", "1:80%,2-5:18%"}, "--rcpt-count: distribution"},
		{[]string{"--rcpt-count", "uniform:0-3"}, "counts from 1"},
		{[]string{"--rcpt-count", "2", "-r", "3"}, "in place of -r"},
		{[]string{"--rcpt-domains", "a.example"}, "--rcpt-domains:"},
		{[]string{"--header", "X-Test: {seq} {sequence}"}, "unknown token {sequence}"},
		{[]string{"-S", "{random:0}"}, "-S: token {random:0}"},
		{[]string{"--header", "no colon"}, "want NAME: VALUE"},
		{[]string{"-o", "--header", "X-A: b"}, "not with -o or -F"},
		{[]string{"--size", "1k", "--body", "lorem"}, "--body: want smtp-source, text or random"},
		{[]string{"--size", "1k", "--attach", "uniform:5-"}, "--attach: distribution"},
	} {
		res := testpeer.Run(t, time.Minute, bin, append(tc.args, ln.Addr().String())...)
		lines := strings.Split(strings.TrimSpace(res.Stderr), "\n")
		code := exitUsage
		if strings.Contains(tc.want, ": open ") || strings.Contains(tc.want, "--corpus: ") {
			code = exitFatal // an unreadable file, as with -F
		}
		if res.ExitCode != code || len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
			t.Errorf("%q: exit %d, stderr %q, want one line with %q", tc.args, res.ExitCode, res.Stderr, tc.want)
		}
	}
	ln.(*net.TCPListener).SetDeadline(time.Now())
	if c, err := ln.Accept(); err == nil {
		c.Close()
		t.Fatal("a connection reached the server")
	}
}

// --body random and --attach arrive at go-smtp-sink as MIME multipart messages of the
// drawn size whose attachment decodes (base64 lines of at most 76) to its drawn size.
func TestBodyAndAttachAtSink(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		attach func(int) bool
	}{
		{[]string{"--size", "20k", "--body", "random"}, func(n int) bool { return n > 14000 && n <= 20480*57/78 }},
		{[]string{"--size", "uniform:8k-16k", "--body", "text", "--attach", "uniform:1000-3000"}, func(n int) bool { return n >= 1000 && n <= 3000 }},
	} {
		for _, m := range sendToDump(t, 100, append(tc.args, "--seed", "5", "-s", "4")...) {
			msg, err := mail.ReadMessage(bytes.NewReader(m))
			if err != nil {
				t.Fatal(err)
			}
			_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
			if err != nil {
				t.Fatalf("%v: %q", err, m[:200])
			}
			r := multipart.NewReader(msg.Body, params["boundary"])
			if _, err := r.NextPart(); err != nil {
				t.Fatalf("text part: %v", err)
			}
			part, err := r.NextRawPart()
			if err != nil {
				t.Fatalf("attachment: %v", err)
			}
			raw, _ := io.ReadAll(part)
			for _, line := range strings.Split(string(raw), "\n") {
				if len(line) > 76 {
					t.Fatalf("base64 line of %d", len(line))
				}
			}
			data, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(string(raw), "\n", ""))
			if err != nil || !tc.attach(len(data)) {
				t.Fatalf("%v: attachment of %d bytes: %v", tc.args, len(data), err)
			}
			if _, err := r.NextPart(); err != io.EOF {
				t.Fatalf("after the attachment: %v", err)
			}
		}
	}
}

// -S and --header tokens arrive rendered per message at go-smtp-sink; the same seed draws
// the same uuid and random text for the same message.
func TestTemplatesAtSink(t *testing.T) {
	args := []string{"-s", "1", "-r", "2", "--seed", "3", "-S", "msg {seq} for {rcpt}", "--header", "X-Seq: {seq}",
		"--header", "X-Id: {uuid} {random:16}", "--header", "X-From: {from} worker {worker}"}
	first := sendToDump(t, 30, args...)
	ids := map[string]bool{}
	for i, m := range first {
		seq := i + 1 // one session: the messages arrive in order
		for _, want := range []string{
			"\nSubject: msg " + strconv.Itoa(seq) + " for foo" + strconv.Itoa(2*(seq-1)) + "@source.test\n",
			"\nX-Seq: " + strconv.Itoa(seq) + "\n", "\nX-From: foo@source.test worker 0\n"} {
			if !strings.Contains(string(m), want) {
				t.Fatalf("message %d has no %q:\n%s", seq, want, m)
			}
		}
		ids[lineOf(m, "X-Id")] = true
	}
	if len(ids) != 30 {
		t.Fatalf("%d distinct X-Id values in 30 messages", len(ids))
	}
	again := sendToDump(t, 30, args...)
	for i := range again {
		if lineOf(again[i], "X-Id") != lineOf(first[i], "X-Id") {
			t.Fatalf("message %d: X-Id differs with the same seed", i+1)
		}
	}
}

func lineOf(msg []byte, name string) string {
	for _, l := range strings.Split(string(msg), "\n") {
		if strings.HasPrefix(l, name+": ") {
			return l
		}
	}
	return ""
}

// A -F file with tokens arrives rendered per message, with a Message-Id of its own.
func TestFileTemplateAtSink(t *testing.T) {
	file := filepath.Join(t.TempDir(), "msg.eml")
	if err := os.WriteFile(file, []byte("Subject: n {seq}\nMessage-Id: <same@x>\n\n.body {seq} {uuid}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for i, m := range sendToDump(t, 20, "-s", "1", "-F", file) {
		seq := strconv.Itoa(i + 1)
		if !strings.HasPrefix(string(m), "Subject: n "+seq+"\nMessage-Id: <") || !strings.Contains(string(m), "\n\n.body "+seq+" ") {
			t.Fatalf("message %s: %q", seq, m)
		}
		ids[lineOf(m, "Message-Id")] = true
	}
	if len(ids) != 20 {
		t.Fatalf("%d Message-Ids for 20 messages", len(ids))
	}
}

// recordEnvelope is a dump record's MAIL and RCPT arguments (the sink's X- lines).
func recordEnvelopes(t *testing.T, dump []byte) (mails []string, rcpts [][]string) {
	for _, rec := range bytes.Split(dump, []byte(contentMarker))[1:] {
		var r []string
		for _, line := range strings.Split(string(rec), "\n") {
			if a, ok := strings.CutPrefix(line, "X-Mail-Args: "); ok {
				mails = append(mails, a)
			}
			if a, ok := strings.CutPrefix(line, "X-Rcpt-Args: "); ok {
				r = append(r, a)
			}
		}
		rcpts = append(rcpts, r)
	}
	return mails, rcpts
}

// --from-file and --rcpt-file are used in turn; --rcpt-count and --rcpt-domains draw
// per message, in their proportions.
func TestEnvelopeAtSink(t *testing.T) {
	dir := t.TempDir()
	from, rcpt := filepath.Join(dir, "from"), filepath.Join(dir, "rcpt")
	os.WriteFile(from, []byte("# senders\na@one.example\n\nb@one.example\n"), 0o600)
	os.WriteFile(rcpt, []byte("x@two.example\ny@two.example\nz@two.example\n"), 0o600)
	dump := filepath.Join(dir, "dump")
	_, addr := startGoSink(t, "-D", dump, "-S", `\001MSG\n`)
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	res := testpeer.Run(t, time.Minute, bin, "-s", "1", "-m", "6", "-r", "2", "--from-file", from, "--rcpt-file", rcpt, addr)
	if res.ExitCode != 0 {
		t.Fatalf("%v", res)
	}
	b, _ := os.ReadFile(dump)
	mails, rcpts := recordEnvelopes(t, b)
	wantRcpt := []string{"x", "y", "z"}
	for i := range mails {
		if want := "<" + []string{"a", "b"}[i%2] + "@one.example>"; mails[i] != want {
			t.Fatalf("message %d: MAIL %q, want %q", i+1, mails[i], want)
		}
		for k, r := range rcpts[i] {
			if want := "<" + wantRcpt[(2*i+k)%3] + "@two.example>"; r != want {
				t.Fatalf("message %d: RCPT %q, want %q", i+1, r, want)
			}
		}
	}
	dump = filepath.Join(dir, "dump2")
	_, addr = startGoSink(t, "-D", dump, "-S", `\001MSG\n`)
	res = testpeer.Run(t, time.Minute, bin, "-s", "4", "-m", "2000", "-d", "--seed", "1", "--rcpt-count", "1:80%,2-5:18%,50:2%",
		"--rcpt-domains", "a.example:70,b.example:30", addr)
	if res.ExitCode != 0 {
		t.Fatalf("%v", res)
	}
	b, _ = os.ReadFile(dump)
	_, rcpts = recordEnvelopes(t, b)
	counts, domains, total := map[string]int{}, map[string]int{}, 0
	for _, r := range rcpts {
		switch n := len(r); {
		case n == 1:
			counts["1"]++
		case n >= 2 && n <= 5:
			counts["2-5"]++
		case n == 50:
			counts["50"]++
		default:
			t.Fatalf("%d recipients", n)
		}
		for _, a := range r {
			domains[a[strings.IndexByte(a, '@')+1:len(a)-1]]++
			total++
		}
	}
	if len(rcpts) != 2000 || math.Abs(float64(counts["1"])/2000-0.8) > 0.03 || math.Abs(float64(counts["2-5"])/2000-0.18) > 0.03 ||
		math.Abs(float64(counts["50"])/2000-0.02) > 0.01 {
		t.Fatalf("%d messages, recipient counts %v", len(rcpts), counts)
	}
	if len(domains) != 2 || math.Abs(float64(domains["a.example"])/float64(total)-0.7) > 0.03 {
		t.Fatalf("domains %v of %d", domains, total)
	}
}

// Split over shards (--shard i/n), a run with a seed sends each message, by its global
// number, the size, headers and first line of text one process sends (the Message-Id of
// a shard is longer, "pid-run", so its body is cut a few bytes shorter to keep the size).
func TestSeedAcrossShards(t *testing.T) {
	args := []string{"-s", "2", "--seed", "21", "--size", "uniform:200-9k", "--body", "text", "--header", "X-Seq: {seq} {uuid}"}
	bySeq := func(msgs [][]byte) map[string]string {
		out := map[string]string{}
		for _, m := range msgs {
			keep := []string{strconv.Itoa(wireSize(m))}
			lines := strings.Split(string(m), "\n")
			for i, line := range lines {
				if line == "" {
					keep = append(keep, lines[i+1][:min(20, len(lines[i+1]))])
					break
				}
				if !strings.HasPrefix(line, "Date: ") && !strings.HasPrefix(line, "Message-Id: ") {
					keep = append(keep, line)
				}
			}
			out[lineOf(m, "X-Seq")] = strings.Join(keep, "\n")
		}
		return out
	}
	whole := bySeq(sendToDump(t, 40, args...))
	split := bySeq(sendShareToDump(t, 40, 20, append(args, "--shard", "0/2")...))
	for k, v := range bySeq(sendShareToDump(t, 40, 20, append(args, "--shard", "1/2")...)) {
		split[k] = v
	}
	if len(whole) != 40 || len(split) != 40 {
		t.Fatalf("%d and %d distinct messages", len(whole), len(split))
	}
	for k, v := range whole {
		if split[k] != v {
			t.Fatalf("%s differs between one process and two shards", k)
		}
	}
}

// corpusMessages writes a corpus of awkward messages: bare LF and CRLF line ends, a line
// of 2,000 bytes, 8-bit bytes, lines starting with dots, and headers to be replaced.
func corpusMessages(t *testing.T, dir string) (bodies map[string]string) {
	long := strings.Repeat("0123456789", 200)
	msgs := []string{
		"From: old@x\nTo: old@y\nDate: Mon, 1 Jan 2001 00:00:00 +0000\nMessage-ID: <old@x>\nSubject: corpus 0\n\nbare LF\n.leading dot\n..two dots\n.\nend\n",
		"Subject: corpus 1\r\nFrom: old@x\r\nMessage-Id:\r\n <folded@x>\r\n\r\nCRLF body\r\n" + long + "\r\n.\r\n",
		"Subject: corpus 2\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nh\xc3\xa9llo w\xf6rld \xff\xfe\n\n.\n",
	}
	bodies = map[string]string{}
	for i, m := range msgs {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d.eml", i)), []byte(m), 0o600); err != nil {
			t.Fatal(err)
		}
		body := strings.ReplaceAll(m, "\r\n", "\n")
		bodies[fmt.Sprintf("corpus %d", i)] = body[strings.Index(body, "\n\n")+2:]
	}
	return bodies
}

// 1,000 messages from a corpus arrive intact at go-smtp-sink (bodies compared after the
// sink's un-stuffing), each with a new Date and Message-Id and the envelope's From and To.
func TestCorpusAtSink(t *testing.T) {
	dir := t.TempDir()
	bodies := corpusMessages(t, dir)
	ids := map[string]bool{}
	for _, m := range sendToDump(t, 1000, "-s", "4", "-f", "s@source.test", "-t", "r@sink.test", "--corpus", dir) {
		s := string(m)
		head, body, ok := strings.Cut(s, "\n\n")
		want, known := bodies[strings.TrimPrefix(lineOf(m, "Subject"), "Subject: ")]
		if !ok || !known || body != want {
			t.Fatalf("message %q\nbody %q\nwant %q", head, body, want)
		}
		if !strings.HasPrefix(head, "From: <s@source.test>\nTo: <r@sink.test>\nDate: ") || strings.Contains(head, "old@") ||
			strings.Contains(head, "folded") || strings.Count(head, "Date: ") != 1 {
			t.Fatalf("headers %q", head)
		}
		ids[lineOf(m, "Message-Id")] = true
	}
	if len(ids) != 1000 {
		t.Fatalf("%d Message-Ids for 1,000 messages", len(ids))
	}
	mbox := filepath.Join(t.TempDir(), "box.mbox")
	os.WriteFile(mbox, []byte("From a@b Mon Jan 1 00:00:00 2001\nSubject: m1\n\n>From quoted\n\nFrom c@d Mon Jan 1 00:00:00 2001\nSubject: m2\n\ntwo\n"), 0o600)
	got := sendToDump(t, 2, "-s", "1", "--corpus", mbox, "--corpus-keep-headers")
	if !strings.HasSuffix(string(got[0]), "Subject: m1\n\nFrom quoted\n\n") || !strings.HasSuffix(string(got[1]), "Subject: m2\n\ntwo\n") {
		t.Fatalf("mbox messages %q", got)
	}
}

// dumpSizes is sendToDump for many messages: their wire sizes, read from the dump a line
// at a time (the test process stays small: TestHugeValuesBounded measures the RSS of the
// processes it starts, which begin as a copy of it).
func dumpSizes(t *testing.T, messages int, args ...string) []float64 {
	t.Helper()
	dump := filepath.Join(t.TempDir(), "dump")
	_, addr := startGoSink(t, "-D", dump, "-S", `\001MSG\n`)
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	args = append(append([]string{"-m", strconv.Itoa(messages), "-M", "source.test", "-d"}, args...), addr)
	if res := testpeer.Run(t, 2*time.Minute, bin, args...); res.ExitCode != 0 {
		t.Fatalf("%v", res)
	}
	f, err := os.Open(dump)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var sizes []float64
	size, inMessage, afterReceived := -1, false, false
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) == 0 && err != nil {
			break
		}
		switch {
		case string(line) == contentMarker:
			if size >= 0 {
				sizes = append(sizes, float64(size-2)) // the record's closing empty line
			}
			size, inMessage, afterReceived = 0, false, false
		case inMessage:
			size += len(line) + 1 // the CR the dump drops
		case bytes.HasPrefix(line, []byte("Received: ")):
			afterReceived = true
		case afterReceived && line[0] != '\t':
			inMessage, size = true, len(line)+1
		}
	}
	if size >= 0 {
		sizes = append(sizes, float64(size-2))
	}
	if len(sizes) != messages {
		t.Fatalf("%d messages in the dump, want %d", len(sizes), messages)
	}
	return sizes
}

// corpusTemplates writes a corpus whose first two messages hold tokens (a CSS brace, an
// unknown {name} and a stray brace too; a leading dot), one with its own Message-Id, one
// without; the third holds none.
func corpusTemplates(t *testing.T) string {
	dir := t.TempDir()
	msgs := []string{
		"Subject: t0 {seq}\nMessage-Id: <own0.{seq}@x>\nX-Rcpt: {rcpt}\n\n.dot {seq} {uuid}\np{margin:0} {name} {seq\n",
		"Subject: t1 {seq}\n\nbody {rcpt} {uuid}\n",
		"Subject: t2 fixed\nMessage-Id: <own2@x>\n\nno tokens p{x:1}\n",
	}
	for i, m := range msgs {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d.eml", i)), []byte(m), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// corpusTemplateWant is message seq of corpusTemplates's corpus as go-smtp-sink stores it,
// after the generated From, To and Date (and Message-Id unless kept): a pattern, the
// UUID any.
func corpusTemplateWant(seq int, keep bool) *regexp.Regexp {
	n := strconv.Itoa(seq)
	uuid := `[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`
	id := `Message-Id: <[0-9a-f.]+@source\.test>\n`
	want := []string{
		"Subject: t0 " + n + "\nMessage-Id: <own0." + n + "@x>\nX-Rcpt: r@sink.test\n\n.dot " + n + " " + uuid + "\n" +
			regexp.QuoteMeta("p{margin:0} {name} {seq") + "\n",
		"Subject: t1 " + n + "\n\nbody r@sink.test " + uuid + "\n",
		"Subject: t2 fixed\nMessage-Id: <own2@x>\n\nno tokens " + regexp.QuoteMeta("p{x:1}") + "\n",
	}[(seq-1)%3]
	if !keep {
		want = strings.ReplaceAll(want, "Message-Id: <own0."+n+"@x>\n", "")
		want = id + strings.ReplaceAll(want, "Message-Id: <own2@x>\n", "")
	}
	return regexp.MustCompile(`^From: <s@source\.test>\nTo: <r@sink\.test>\nDate: [^\n]+\n` + want + `$`)
}

// A corpus whose messages hold tokens arrives at go-smtp-sink rendered per message (each
// its own {seq}, {rcpt}, {uuid}), with DATA and with BDAT (one chunk or many, SIZE= what
// arrived): braces that are no token ({name} too, by -F's rule) stay text, the leading
// dot arrives as it was; each message gets a new Message-Id in place of its own, or with
// --keep-message-id keeps its own (its tokens rendered) and one without gets none.
func TestCorpusTemplateAtSink(t *testing.T) {
	dir := corpusTemplates(t)
	base := []string{"-s", "1", "-f", "s@source.test", "-t", "r@sink.test", "--corpus", dir}
	for _, extra := range [][]string{{}, {"--bdat"}, {"--bdat=16", "--pipelining", "--mail-size"},
		{"--keep-message-id"}, {"--keep-message-id", "--bdat", "--mail-size"}} {
		keep := slices.Contains(extra, "--keep-message-id")
		recs, _ := sendToSinkRecords(t, 9, append(base, extra...)...)
		uuids := map[string]bool{}
		for i, r := range recs {
			if !corpusTemplateWant(i+1, keep).Match(r.msg) {
				t.Fatalf("%v: message %d:\n%s", extra, i+1, r.msg)
			}
			if slices.Contains(extra, "--mail-size") && r.size(t) != wireSize(r.msg) {
				t.Fatalf("%v: message %d: SIZE=%d, %d bytes arrived", extra, i+1, r.size(t), wireSize(r.msg))
			}
			if i%3 == 0 {
				uuids[strings.Fields(string(r.msg[bytes.Index(r.msg, []byte("\n.dot ")):]))[2]] = true
			}
		}
		if len(uuids) != 3 {
			t.Fatalf("%v: %d UUIDs for 3 messages", extra, len(uuids))
		}
	}
}

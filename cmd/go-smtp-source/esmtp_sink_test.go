package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/go-smtp-source/go-smtp-source/sink"
	"github.com/go-smtp-source/go-smtp-source/sink/sinktest"
)

// startESMTPSink runs go-smtp-sink's engine in this process, dumping every message to
// one file; it returns the address and the server.
func startESMTPSink(t *testing.T, dump string, proxy bool) (string, *sink.Server) {
	t.Helper()
	srv := sinktest.Start(t, sink.Config{EventLoops: 1, DumpFile: dump, ProxyProtocol: proxy})
	return srv.Addr().String(), srv
}

// TestESMTPAtGoSMTPSink: go-smtp-sink takes the ESMTP options' traffic, counts each
// extension in its stats and keeps the parameters in its dumps.
func TestESMTPAtGoSMTPSink(t *testing.T) {
	dump := filepath.Join(t.TempDir(), "dump")
	addr, srv := startESMTPSink(t, dump, false)
	code, stderr := runCLI(t, "-s", "2", "-m", "10", "-r", "2", "-d", "--pipelining", "--mail-size", "--smtputf8",
		"--8bitmime", "always", "--dsn-ret", "FULL", "--dsn-notify", "FAILURE", "--xclient", "ADDR=192.0.2.0/28,NAME=c.example",
		"--bdat=100", "-l", "250", "--timeout", "30s", addr)
	if got := summary(t, stderr); code != 0 || got[1] != 10 {
		t.Fatalf("exit %d, %v\n%s", code, got, stderr)
	}
	st := srv.Stats().Snapshot()
	want := sink.ESMTPCounts{MailSize: 10, Body8BitMIME: 10, SMTPUTF8: 10, DSNMail: 10, DSNRcpt: 20, XClient: 2}
	if st.ESMTP != want || st.MessagesAccepted != 10 || st.BDATChunks < 30 {
		t.Fatalf("esmtp %+v (want %+v), accepted %d, BDAT chunks %d", st.ESMTP, want, st.MessagesAccepted, st.BDATChunks)
	}
	b, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"SMTPUTF8", "RET=FULL", "ENVID=", "NOTIFY=FAILURE", "ORCPT=rfc822;"} {
		if !strings.Contains(string(b), s) {
			t.Fatalf("%s not in the dump:\n%.2000s", s, b)
		}
	}
}

// With --proxy-protocol on both sides, go-smtp-sink takes each session's client from its
// PROXY header (v1 and v2): counted, and the dump's client is the header's.
func TestProxyProtocolAtGoSMTPSink(t *testing.T) {
	for _, v := range []string{"v1", "v2"} {
		dump := filepath.Join(t.TempDir(), "dump")
		addr, srv := startESMTPSink(t, dump, true)
		code, stderr := runCLI(t, "-s", "2", "-m", "6", "--proxy-protocol", v, "--proxy-source", "192.0.2.1,2001:db8::5", "--timeout", "30s", addr)
		if got := summary(t, stderr); code != 0 || got[1] != 6 {
			t.Fatalf("%s: exit %d, %v\n%s", v, code, got, stderr)
		}
		if n := srv.Stats().Snapshot().ESMTP.ProxyHeaders; n != 6 {
			t.Fatalf("%s: %d PROXY headers counted, want 6", v, n)
		}
		b, err := os.ReadFile(dump)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(string(b), "[192.0.2.1]") < 3 || strings.Count(string(b), "[ipv6:2001:db8::5]") < 3 || strings.Contains(string(b), "127.0.0.1") {
			t.Fatalf("%s: dump clients:\n%.3000s", v, b)
		}
	}
}

// sinkRecord is one message as go-smtp-sink dumped it: MAIL's arguments, and the message
// (LF line ends, the dump's).
type sinkRecord struct {
	mailArgs string
	msg      []byte
}

// size is the SIZE= MAIL carried, or -1.
func (r sinkRecord) size(t *testing.T) int {
	_, v, ok := strings.Cut(r.mailArgs, " SIZE=")
	if !ok {
		return -1
	}
	n, err := strconv.Atoi(strings.Fields(v)[0])
	if err != nil {
		t.Fatalf("MAIL arguments %q: %v", r.mailArgs, err)
	}
	return n
}

// sendToSinkRecords runs go-smtp-source (-d -M source.test and args) to an in-process
// go-smtp-sink that dumps every message, and returns its records in the order they
// arrived and the bytes of content the sink counted (all of each BDAT chunk; DATA's
// lines with their stuffing dots).
func sendToSinkRecords(t *testing.T, messages int, args ...string) ([]sinkRecord, int64) {
	t.Helper()
	dump := filepath.Join(t.TempDir(), "dump")
	srv := sinktest.Start(t, sink.Config{EventLoops: 1, DumpFile: dump, DumpPrefix: contentMarker})
	args = append([]string{"-m", strconv.Itoa(messages), "-M", "source.test", "-d", "--timeout", "30s"}, args...)
	code, stderr := runCLI(t, append(args, srv.Addr().String())...)
	if got := summary(t, stderr); code != 0 || got[1] != messages {
		t.Fatalf("%v: exit %d, %v\n%s", args, code, got, stderr)
	}
	b, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	var out []sinkRecord
	for _, rec := range bytes.Split(b, []byte(contentMarker))[1:] {
		args, _, _ := strings.Cut(string(rec[bytes.Index(rec, []byte("X-Mail-Args: "))+len("X-Mail-Args: "):]), "\n")
		out = append(out, sinkRecord{mailArgs: args, msg: recordMessage(t, rec)})
	}
	if len(out) != messages {
		t.Fatalf("%d messages in the dump, want %d", len(out), messages)
	}
	return out, srv.Stats().Snapshot().Bytes
}

// withoutDateAndID is a message without its Date and Message-Id lines (they name the run).
func withoutDateAndID(msg []byte) string {
	var keep []string
	for _, line := range strings.Split(string(msg), "\n") {
		if !strings.HasPrefix(line, "Date: ") && !strings.HasPrefix(line, "Message-Id: ") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

// A corpus of awkward messages (bare LF, a 2,000-byte line, 8-bit bytes, leading dots)
// sent with BDAT, in one chunk or many, pipelined or not, arrives at go-smtp-sink as
// DATA delivers it: the same messages as the DATA run's (which the sink un-stuffed) and
// the corpus's bodies; every octet the sink counted is one of them, and SIZE= is each
// message's size.
func TestCorpusWithBDATAtSink(t *testing.T) {
	dir := t.TempDir()
	bodies := corpusMessages(t, dir)
	base := []string{"-s", "1", "-f", "s@source.test", "-t", "r@sink.test", "--corpus", dir}
	data, _ := sendToSinkRecords(t, 9, base...)
	for _, extra := range [][]string{{"--bdat"}, {"--bdat=100", "--mail-size"}, {"--bdat=1000", "--pipelining", "--mail-size"}} {
		got, counted := sendToSinkRecords(t, 9, append(base, extra...)...)
		total := 0
		for i, r := range got {
			if withoutDateAndID(r.msg) != withoutDateAndID(data[i].msg) {
				t.Fatalf("%v: message %d\n%q\nDATA delivered\n%q", extra, i+1, r.msg, data[i].msg)
			}
			_, body, _ := strings.Cut(string(r.msg), "\n\n")
			if want := bodies[strings.TrimPrefix(lineOf(r.msg, "Subject"), "Subject: ")]; body != want {
				t.Fatalf("%v: message %d body %q, want %q", extra, i+1, body, want)
			}
			if size := r.size(t); slices.Contains(extra, "--mail-size") && size != wireSize(r.msg) {
				t.Fatalf("%v: message %d: SIZE=%d, %d bytes arrived", extra, i+1, size, wireSize(r.msg))
			}
			total += wireSize(r.msg)
		}
		if counted != int64(total) {
			t.Fatalf("%v: the sink counted %d octets of BDAT chunks, the messages are %d", extra, counted, total)
		}
	}
}

// A -F file with tokens (and lines starting with dots) rendered per message: each
// message's SIZE= is the bytes go-smtp-sink received for it, with BDAT (one chunk or
// many, pipelined or not) and with DATA.
func TestFileTemplateSizeAtSink(t *testing.T) {
	file := filepath.Join(t.TempDir(), "msg.eml")
	content := "Subject: n {seq}\nX-Id: {uuid}\n\n.body {seq} {random:12}\n..two dots\n.\n" + strings.Repeat("line {seq}\n", 40)
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, extra := range [][]string{{"--bdat"}, {"--bdat=64", "--pipelining"}, {"--bdat=500"}, {}} {
		args := append([]string{"-s", "2", "-F", file, "--mail-size"}, extra...)
		recs, counted := sendToSinkRecords(t, 20, args...)
		sizes, total := map[int]bool{}, 0
		for _, r := range recs {
			size := r.size(t)
			if size != wireSize(r.msg) || !strings.Contains(string(r.msg), "\n\n.body ") {
				t.Fatalf("%v: SIZE=%d, %d bytes arrived: %q", extra, size, wireSize(r.msg), r.msg)
			}
			sizes[size] = true
			total += size
		}
		if len(sizes) < 2 {
			t.Fatalf("%v: every message of %d bytes: the tokens were not rendered per message", extra, total/20)
		}
		// DATA's count has a dot more per stuffed line: three a message here.
		if len(extra) > 0 && counted != int64(total) || len(extra) == 0 && counted != int64(total+3*20) {
			t.Fatalf("%v: the sink counted %d octets, the SIZE= values add up to %d", extra, counted, total)
		}
	}
}

// --8bitmime auto is decided message by message: go-smtp-sink counts BODY=8BITMIME on
// exactly the messages that hold an 8-bit byte, from a corpus of mixed messages and from
// a sender list with one 8-bit address (shown in From:).
func TestEightBitAutoPerMessageAtSink(t *testing.T) {
	dir := t.TempDir()
	corpus := filepath.Join(dir, "corpus")
	if err := os.Mkdir(corpus, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, msg := range map[string]string{
		"1": "Subject: a\n\nascii\n",
		"2": "Subject: b\nContent-Type: text/plain; charset=utf-8\n\nh\xc3\xa9llo\n",
		"3": "Subject: c\n\nascii too\n",
	} {
		if err := os.WriteFile(filepath.Join(corpus, name), []byte(msg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	senders := filepath.Join(dir, "senders")
	if err := os.WriteFile(senders, []byte("a@test.example\nj\xc3\xb6rg@test.example\nb@test.example\nc@test.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		want int64 // of 12 messages
	}{
		{"corpus", []string{"--corpus", corpus}, 4},
		{"sender list", []string{"--from-file", senders}, 3},
	} {
		addr, srv := startESMTPSink(t, filepath.Join(dir, c.name+".dump"), false)
		args := append([]string{"-s", "1", "-m", "12", "-d", "--8bitmime", "auto", "--timeout", "30s"}, c.args...)
		code, stderr := runCLI(t, append(args, addr)...)
		if got := summary(t, stderr); code != 0 || got[1] != 12 {
			t.Fatalf("%s: exit %d, %v\n%s", c.name, code, got, stderr)
		}
		if n := srv.Stats().Snapshot().ESMTP.Body8BitMIME; n != c.want {
			t.Errorf("%s: %d MAIL commands with BODY=8BITMIME, want %d of 12", c.name, n, c.want)
		}
	}
}

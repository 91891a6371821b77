package sink

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The dump of smtp-source's default message, as Postfix smtp-sink wrote it (reference
// postfix.md §2.3), with our id.
const wantDump = "X-Client-Addr: 127.0.0.1\nX-Client-Proto: SMTP\nX-Helo-Args: vm\nX-Mail-Args: <foo@vm>\n" +
	"X-Rcpt-Args: <foo@vm>\nReceived: from vm ([127.0.0.1])\n\tby smtp-sink (smtp-sink) with SMTP id 00000001;\n" +
	"\tSat, 28 Nov 2026 17:47:20 +0000 (UTC)\nFrom: <foo@vm>\nTo: <foo@vm>\n" +
	"Subject: dump me\n\nLa de da de da 1.\n.dot\r\n\n"

func TestDumpFileFormat(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "shared")
	e := newTestEnv(t, func(c *Config) { c.DumpFile = file })
	s := newSession(e, "127.0.0.1")
	runSession(s, "HELO vm\r\nMAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\nDATA\r\nFrom: <foo@vm>\r\nTo: <foo@vm>\r\n"+
		"Subject: dump me\r\n\r\nLa de da de da 1.\r\n..dot\r\r\n.\r\n"+
		"MAIL FROM:<x>\r\nRCPT TO:<y>\r\nRSET\r\n", nil) // the second transaction never completes: not dumped
	if err := e.dump.close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(wantDump, ".dot\r\n", ".dot\n", 1); string(got) != want {
		t.Errorf("dump\n got %q\nwant %q", got, want)
	}
}

func TestDumpPerMessageFilesAndSpill(t *testing.T) {
	dir := t.TempDir()
	e := newTestEnv(t, func(c *Config) {
		c.DumpDir = filepath.Join(dir, "%Y/m.")
		c.DumpSpill = 64 // force the spill to an unlinked file
		c.DumpPrefix = ">>START\n"
	})
	s := newSession(e, "local")
	body := strings.Repeat("0123456789", 50)
	runSession(s, "MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\n"+body+"\r\n.\r\n", nil)
	name := filepath.Join(dir, "2026", "m.00000001")
	got, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	want := ">>START\nX-Client-Addr: local\nX-Client-Proto: SMTP\nX-Mail-Args: <a>\nX-Rcpt-Args: <b>\n" +
		"Received: from [local] ([local])\n\tby smtp-sink (smtp-sink) with SMTP id 00000001;\n" +
		"\tSat, 28 Nov 2026 17:47:20 +0000 (UTC)\n" + body + "\n\n"
	if string(got) != want {
		t.Errorf("dump\n got %q\nwant %q", got, want)
	}
	if st := e.stats.Snapshot(); st.DumpErrors != 0 {
		t.Errorf("dump errors: %d", st.DumpErrors)
	}
}

func TestDumpBDATContent(t *testing.T) {
	file := filepath.Join(t.TempDir(), "shared")
	e := newTestEnv(t, func(c *Config) { c.DumpFile = file })
	s := newSession(e, "127.0.0.1")
	// BDAT content is not dot-stuffed: a leading "." stays; CRs go, as in DATA dumps.
	runSession(s, "EHLO c\r\nMAIL FROM:<a>\r\nRCPT TO:<b>\r\nBDAT 9\r\nS: x\r\n\r\n.BDAT 4 LAST\r\n.y\r\n", nil)
	if err := e.dump.close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	want := "X-Client-Addr: 127.0.0.1\nX-Client-Proto: ESMTP\nX-Helo-Args: c\nX-Mail-Args: <a>\nX-Rcpt-Args: <b>\n" +
		"Received: from c ([127.0.0.1])\n\tby smtp-sink (smtp-sink) with ESMTP id 00000001;\n" +
		"\tSat, 28 Nov 2026 17:47:20 +0000 (UTC)\nS: x\n\n..y\n\n"
	if string(got) != want {
		t.Errorf("BDAT dump\n got %q\nwant %q", got, want)
	}
}

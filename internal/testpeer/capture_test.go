package testpeer

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// captureDialogue sends each chunk in its own write and returns every byte the server
// answered until it closed the connection.
func captureDialogue(t *testing.T, addr string, chunks ...string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	replies := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(c)
		replies <- string(b)
	}()
	for _, ch := range chunks {
		if _, err := c.Write([]byte(ch)); err != nil {
			t.Fatalf("write %q: %v", ch, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return <-replies
}

func TestCaptureSMTPPipelinedAndSplit(t *testing.T) {
	s := StartCapture(t, CaptureOptions{})
	sent := "EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n" +
		"Subject: s\r\n\r\n..dot\r\nbare\rcr\r\r\n.\r\nRSET\r\nNOOP\r\nBDAT 1\r\nQUIT\r\n"
	// Pipelined in one write, then again split into single bytes.
	for _, chunks := range [][]string{{sent}, strings.Split(sent, "")} {
		got := captureDialogue(t, s.Addr, chunks...)
		want := "220 capture ESMTP\r\n" +
			"250-capture\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 DSN\r\n" +
			"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok\r\n" +
			"250 2.1.0 Ok\r\n250 2.0.0 Ok\r\n500 5.5.1 Error: unknown command\r\n221 Bye\r\n"
		if got != want {
			t.Errorf("replies (%d chunks):\n got %q\nwant %q", len(chunks), got, want)
		}
	}
	if err := s.WaitConns(2, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	for i, c := range s.Conns() {
		if string(c.Bytes()) != sent {
			t.Errorf("connection %d recorded %q, want %q", i+1, c.Bytes(), sent)
		}
		if c.End() != "server closed after 221" {
			t.Errorf("connection %d ended with %q", i+1, c.End())
		}
	}
}

func TestCaptureLMTPAndRejects(t *testing.T) {
	s := StartCapture(t, CaptureOptions{LMTP: true, Hostname: "lmtp", Banner: "220 hello",
		Reject: []CaptureReject{{Prefix: "rcpt to:<2", Reply: "550 5.1.1 no"}, {Prefix: ".", Reply: "554-a\r\n554 b"}}})
	want := "220 hello\r\n250-lmtp\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 DSN\r\n" +
		"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 no\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n554-a\r\n554 b\r\n"
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	_, _ = c.Write([]byte("LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<1a@b>\r\nRCPT TO:<2a@b>\r\nRCPT TO:<3a@b>\r\nDATA\r\nx\r\n.\r\n"))
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	for b.Len() < len(want) {
		line, err := r.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			break
		}
	}
	if b.String() != want {
		t.Errorf("replies:\n got %q\nwant %q", b.String(), want)
	}

	// Without rejects, LMTP answers the end of data once per accepted RCPT.
	s2 := StartCapture(t, CaptureOptions{LMTP: true})
	got := captureDialogue(t, s2.Addr, "LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n.\r\nQUIT\r\n")
	if !strings.HasSuffix(got, "354 End data with <CR><LF>.<CR><LF>\r\n250 2.2.0 Ok\r\n250 2.2.0 Ok\r\n221 Bye\r\n") {
		t.Errorf("LMTP replies: %q", got)
	}

	// A reject with Close ends the connection after its reply.
	s3 := StartCapture(t, CaptureOptions{Reject: []CaptureReject{{Prefix: "MAIL", Reply: "421 4.0.0 bye", Close: true}}})
	got = captureDialogue(t, s3.Addr, "HELO x\r\nMAIL FROM:<>\r\n")
	if got != "220 capture ESMTP\r\n250 capture\r\n421 4.0.0 bye\r\n" {
		t.Errorf("421 replies: %q", got)
	}
	if err := s3.WaitConns(1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if e := s3.Conns()[0].End(); e != "server closed after 421" {
		t.Errorf("end: %q", e)
	}
}

package main

import (
	"bufio"
	"net"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// rawClient is a minimal SMTP client that times each reply.
type rawClient struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	conn.(*net.TCPConn).SetNoDelay(true)
	t.Cleanup(func() { conn.Close() })
	return &rawClient{t: t, conn: conn, r: bufio.NewReader(conn)}
}

// roundTrip sends cmd and returns the reply and how long it took to arrive.
func (c *rawClient) roundTrip(cmd, wantPrefix string) time.Duration {
	c.t.Helper()
	start := time.Now()
	if cmd != "" {
		if _, err := c.conn.Write([]byte(cmd)); err != nil {
			c.t.Fatal(err)
		}
	}
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("after %q: %v", cmd, err)
		}
		if len(line) >= 4 && line[3] == '-' {
			continue
		}
		if !strings.HasPrefix(line, wantPrefix) {
			c.t.Fatalf("after %q: reply %q, want %q", cmd, line, wantPrefix)
		}
		return time.Since(start)
	}
}

// TestDelayAccuracyFromClient measures, from the client side, that injected RCPT and
// end-of-data delays hold to within a few milliseconds.
func TestDelayAccuracyFromClient(t *testing.T) {
	for _, tt := range []struct {
		name      string
		opts      []string
		rcpt, dot time.Duration
	}{
		{"--delay", []string{"--delay", "rcpt=20ms,dot=40ms"}, 20 * time.Millisecond, 40 * time.Millisecond},
		{"-W seconds", []string{"-W", "rcpt:0.015", "-W", ".:0.03"}, 15 * time.Millisecond, 30 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := startGoSink(t, tt.opts...)
			c := dialRaw(t, s.Addr)
			c.roundTrip("", "220 ")
			c.roundTrip("EHLO timing\r\n", "250 ")
			var rcpts, dots []time.Duration
			probe := testpeer.ProbeScheduling(t)
			for i := 0; i < 10; i++ {
				c.roundTrip("MAIL FROM:<a@b>\r\n", "250 ")
				rcpts = append(rcpts, c.roundTrip("RCPT TO:<c@d>\r\n", "250 "))
				c.roundTrip("DATA\r\n", "354 ")
				dots = append(dots, c.roundTrip("Subject: t\r\n\r\nx\r\n.\r\n", "250 "))
			}
			sched := probe.Stop()
			checkDelays(t, "RCPT", rcpts, tt.rcpt, sched)
			checkDelays(t, "end of data", dots, tt.dot, sched)
		})
	}
}

// checkDelays checks replies that the sink delayed by want: none sooner, and the median
// and worst later by at most 3 ms and 15 ms plus what the machine's scheduling delay,
// measured meanwhile, explains: each reply waits for two wake-ups (the sink's timer, the
// client's read), each as late as the probe's p99 (the median) or as
// SchedulingDelay.Worst (the worst).
func checkDelays(t *testing.T, what string, got []time.Duration, want time.Duration, sched testpeer.SchedulingDelay) {
	t.Helper()
	slices.Sort(got)
	median, worst := got[len(got)/2], got[len(got)-1]
	if got[0] < want {
		t.Errorf("%s: a reply came after %v, before the %v delay", what, got[0], want)
	}
	medianBound, worstBound := want+3*time.Millisecond+2*sched.P99(), want+15*time.Millisecond+2*sched.Worst()
	if median > medianBound || worst > worstBound {
		t.Errorf("%s: delay %v, measured median %v (at most %v), worst %v (at most %v): %v", what, want, median, medianBound, worst, worstBound, got)
	}
	t.Logf("%s: want %v, median %v, worst %v", what, want, median, worst)
}

func TestDelayProbability(t *testing.T) {
	s := startGoSink(t, "--delay", "rcpt=30ms:50%")
	c := dialRaw(t, s.Addr)
	c.roundTrip("", "220 ")
	c.roundTrip("MAIL FROM:<a@b>\r\n", "250 ")
	slow, fast := 0, 0
	for i := 0; i < 40; i++ {
		if c.roundTrip("RCPT TO:<c@d>\r\n", "250 ") >= 30*time.Millisecond {
			slow++
		} else {
			fast++
		}
	}
	if slow == 0 || fast == 0 {
		t.Errorf("probability 50%%: %d delayed, %d not", slow, fast)
	}
}

func TestBDATCounted(t *testing.T) {
	s := startGoSink(t, "--unique-header", "Message-Id")
	c := dialRaw(t, s.Addr)
	c.roundTrip("", "220 ")
	c.roundTrip("EHLO bdat\r\n", "250 ")
	c.roundTrip("MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n", "250 ")
	c.roundTrip("", "250 ")
	c.roundTrip("BDAT 21\r\nMessage-Id: <1@x>\r\n\r\n", "250 2.0.0 Ok: 21 octets received")
	c.roundTrip("BDAT 5 LAST\r\nbody\n", "250 2.0.0 Ok: queued as ")
	c.roundTrip("QUIT\r\n", "221 ")
	st := s.stop(t)
	if st.MessagesAccepted != 1 || st.BDATChunks != 2 || st.Bytes != 26 || st.Unique.Distinct != 1 {
		t.Errorf("counters %+v unique %+v", st, st.Unique)
	}
}

func TestSignalsWriteStats(t *testing.T) {
	source := testpeer.Require(t, "smtp-source")
	s := startGoSink(t)
	if res := testpeer.Run(t, 30*time.Second, source, "-m", "7", s.Addr); res.ExitCode != 0 {
		t.Fatal(res)
	}
	if err := s.Cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	testpeer.Eventually(t, 5*time.Second, 10*time.Millisecond, "the stats file after SIGUSR1", func() bool {
		_, err := os.Stat(s.Stats)
		return err == nil
	})
	if st := readStats(t, s.Stats); st.MessagesAccepted != 7 {
		t.Errorf("SIGUSR1 stats: %+v", st)
	}
	if s.Exited() {
		t.Fatal("SIGUSR1 ended the sink")
	}
	if st := s.stop(t); st.MessagesAccepted != 7 || st.SessionsClosed != 8 { // SIGTERM: exit 0, stats
		t.Errorf("SIGTERM stats: %+v", st)
	}
}

func TestVerboseTrace(t *testing.T) {
	source := testpeer.Require(t, "smtp-source")
	s := startGoSink(t, "-v")
	if res := testpeer.Run(t, 30*time.Second, source, s.Addr); res.ExitCode != 0 {
		t.Fatal(res)
	}
	s.stop(t)
	for _, want := range []string{"go-smtp-sink: connect (AF_INET 127.0.0.1)\n", "go-smtp-sink: HELO ", "go-smtp-sink: MAIL FROM:<foo@", "go-smtp-sink: QUIT\n", "go-smtp-sink: disconnect\n"} {
		if !strings.Contains(s.Stderr.String(), want) {
			t.Errorf("-v output lacks %q:\n%s", want, s.Stderr.String())
		}
	}
}

func TestUserDropsPrivileges(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	source := testpeer.Require(t, "smtp-source")
	dir := testpeer.WritableDir(t)
	dump := dir + "/dump"
	s := startGoSink(t, "-u", "nobody", "-D", dump)
	if res := testpeer.Run(t, 30*time.Second, source, s.Addr); res.ExitCode != 0 {
		t.Fatal(res)
	}
	st, err := os.Stat(dump)
	if err != nil {
		t.Fatal(err)
	}
	if uid := st.Sys().(*syscall.Stat_t).Uid; uid == 0 {
		t.Errorf("dump written by uid %d; -u nobody should have dropped root", uid)
	}
}

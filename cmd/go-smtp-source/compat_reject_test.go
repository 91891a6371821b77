package main_test

// TestCompatReject: server rejections, with and without -A, against the capture server.
// smtp-source's reaction is part of the byte stream (RSET after a rejected MAIL, RCPT or
// DATA; no QUIT after a 421; a new connection for the next message even with -d; nothing
// more after a fatal rejection), so the client bytes must match per connection, as must
// the number of connections, the exit code, and stderr: smtp-source's warning/fatal
// lines, in order, with the program name normalised (go-smtp-source's summary report
// at the end is its own). How the client closes (FIN or smtp-source's RST) is not
// compared: RST-on-close is go-smtp-source's --linger0, a deliberate difference.

import (
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

func TestCompatReject(t *testing.T) {
	source := testpeer.Require(t, "smtp-source")
	tool := compatUnderTest(t)

	soft := "450 4.3.0 Error: command failed"
	hard := "550 5.3.0 Error: command failed"
	cases := []struct {
		name   string
		args   []string
		opts   testpeer.CaptureOptions
		status int // smtp-source's exit status, checked to keep the harness honest
	}{
		{name: "A-banner-554", args: []string{"-A"},
			opts: testpeer.CaptureOptions{Banner: "554 5.3.2 not today"}},
		{name: "A-helo-550", args: []string{"-A"},
			opts: testpeer.CaptureOptions{Reject: []testpeer.CaptureReject{{Prefix: "HELO", Reply: hard}}}},
		{name: "A-mail-550-m2", args: []string{"-A", "-m", "2"},
			opts: testpeer.CaptureOptions{Reject: []testpeer.CaptureReject{{Prefix: "MAIL", Reply: hard}}}},
		{name: "A-d-mail-multiline-550-m2", args: []string{"-A", "-d", "-m", "2"},
			opts: testpeer.CaptureOptions{Reject: []testpeer.CaptureReject{{Prefix: "MAIL", Reply: "550-line one\r\n550 line two"}}}},
		{name: "A-d-rcpt-450-m2", args: []string{"-A", "-d", "-m", "2"},
			opts: testpeer.CaptureOptions{Reject: []testpeer.CaptureReject{{Prefix: "RCPT", Reply: soft}}}},
		{name: "A-d-rcpt2-550-r3-m2", args: []string{"-A", "-d", "-r", "3", "-m", "2"},
			opts: testpeer.CaptureOptions{Reject: []testpeer.CaptureReject{{Prefix: "RCPT TO:<2", Reply: hard}}}},
		{name: "A-d-data-554-m2", args: []string{"-A", "-d", "-m", "2"},
			opts: testpeer.CaptureOptions{Reject: []testpeer.CaptureReject{{Prefix: "DATA", Reply: "554 5.5.1 no data"}}}},
		{name: "A-d-dot-554-m2", args: []string{"-A", "-d", "-m", "2"},
			opts: testpeer.CaptureOptions{Reject: []testpeer.CaptureReject{{Prefix: ".", Reply: "554 5.7.1 spam"}}}},
		{name: "A-d-mail-421-m2", args: []string{"-A", "-d", "-m", "2"},
			opts: testpeer.CaptureOptions{Reject: []testpeer.CaptureReject{{Prefix: "MAIL", Reply: "421 4.0.0 Server closing connection", Close: true}}}},
		{name: "A-d-mail-421-noclose-m2", args: []string{"-A", "-d", "-m", "2"},
			opts: testpeer.CaptureOptions{Reject: []testpeer.CaptureReject{{Prefix: "MAIL", Reply: "421 4.0.0 Server closing connection"}}}},
		{name: "A-c-d-rcpt-450-m3", args: []string{"-A", "-c", "-d", "-m", "3"},
			opts: testpeer.CaptureOptions{Reject: []testpeer.CaptureReject{{Prefix: "RCPT", Reply: soft}}}},
		{name: "fatal-rcpt-450", args: []string{"-m", "2"}, status: 1,
			opts: testpeer.CaptureOptions{Reject: []testpeer.CaptureReject{{Prefix: "RCPT", Reply: soft}}}},
		{name: "fatal-helo-550", args: []string{}, status: 1,
			opts: testpeer.CaptureOptions{Reject: []testpeer.CaptureReject{{Prefix: "HELO", Reply: hard}}}},
		{name: "fatal-dot-554-d-m2", args: []string{"-d", "-m", "2"}, status: 1,
			opts: testpeer.CaptureOptions{Reject: []testpeer.CaptureReject{{Prefix: ".", Reply: "554 5.7.1 spam"}}}},
		{name: "c-fatal-dot-554-d-m3", args: []string{"-c", "-d", "-m", "3"}, status: 1,
			opts: testpeer.CaptureOptions{Reject: []testpeer.CaptureReject{{Prefix: ".", Reply: "554 5.7.1 spam"}}}},
		{name: "fatal-data-multiline", args: []string{}, status: 1,
			opts: testpeer.CaptureOptions{Reject: []testpeer.CaptureReject{{Prefix: "DATA", Reply: "554-first\r\n554-second\r\n554 third"}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			refSrv := testpeer.StartCapture(t, tc.opts)
			gotSrv := testpeer.StartCapture(t, tc.opts)
			// Fatal exits sleep 1 s in smtp-source: run both at once.
			refCh := make(chan testpeer.Result, 1)
			go func() {
				defer close(refCh)
				refCh <- testpeer.Run(t, compatRunLimit, source, append(append([]string{}, tc.args...), refSrv.Addr)...)
			}()
			got := testpeer.Run(t, compatRunLimit, tool.path, append(tool.args(nil, tc.args...), gotSrv.Addr)...)
			ref, ok := <-refCh
			if !ok {
				t.FailNow()
			}
			if ref.ExitCode != tc.status {
				t.Fatalf("harness: smtp-source should exit %d: %s", tc.status, ref)
			}
			if got.ExitCode != ref.ExitCode {
				t.Errorf("exit code: smtp-source %d, go-smtp-source %d", ref.ExitCode, got.ExitCode)
			}
			if got.Stdout != ref.Stdout {
				t.Errorf("stdout:\n  smtp-source:    %q\n  go-smtp-source: %q", ref.Stdout, got.Stdout)
			}
			refLines := compatStderrLines(ref.Stderr, source)
			gotLines := compatOursDiagnostics(t, tool, got.Stderr)
			if d := compatDiff(refLines, gotLines); d != "" {
				t.Errorf("stderr differs (program name normalised to PROG; go-smtp-source's summary report at the end is not compared):\n%s", d)
			}

			_ = refSrv.WaitConns(1, 5*time.Second)
			_ = gotSrv.WaitConns(1, 5*time.Second)
			refConns, gotConns := refSrv.Conns(), gotSrv.Conns()
			if len(gotConns) != len(refConns) {
				t.Errorf("connections: smtp-source %d, go-smtp-source %d", len(refConns), len(gotConns))
			}
			for i, c := range refConns {
				compatLog(t, "smtp-source connection %d (%s), stderr %q:\n%s", i+1, c.End(), ref.Stderr, c.Bytes())
			}
			for i := 0; i < len(refConns) && i < len(gotConns); i++ {
				want := compatNormaliseStream(refConns[i].Bytes())
				have := compatNormaliseStream(gotConns[i].Bytes())
				if want != have {
					t.Errorf("connection %d: client byte streams differ (Date and Message-Id values normalised)\n%s\n%s",
						i+1, compatFirstByteDiff(want, have), compatDiff(compatSplitLines(want), compatSplitLines(have)))
				}
				if we, ge := compatEnd(refConns[i].End()), compatEnd(gotConns[i].End()); we != ge {
					t.Errorf("connection %d ended differently: smtp-source %q, go-smtp-source %q", i+1, we, ge)
				}
			}
		})
	}
}

// compatEnd maps how a connection ended onto what is compared: FIN and RST from the
// client are the same here (smtp-source's RST-on-close is go-smtp-source's --linger0).
func compatEnd(e string) string {
	switch e {
	case "client closed", "client reset":
		return "client closed the connection"
	}
	return e
}

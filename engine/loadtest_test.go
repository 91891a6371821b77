package engine

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/plan"
)

// timedRun runs a test plan and measures how long Run took.
func timedRun(t *testing.T, tr *testRun) (Result, error, time.Duration) {
	t.Helper()
	start := time.Now()
	res, err := runTest(context.Background(), tr)
	elapsed := time.Since(start)
	checkAccounting(t, res)
	return res, err, elapsed
}

// keysOnly lists a snapshot's error keys, sorted.
func keysOnly(s *metrics.Snapshot) []string {
	var out []string
	for _, e := range s.Errors() {
		out = append(out, e.Key)
	}
	return out
}

// --duration is a hard limit: against a server that accepts connections and never says
// a word, no message starts after D, the sessions in flight get the grace, then are cut
// off (counted as cut off, not as the server's failures), and the run ends by
// D + grace + 2 s whatever the 300 s timeout says.
func TestDurationIsHardAgainstASilentServer(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tweak func(*testRun)
	}{
		{"open model", func(tr *testRun) {
			tr.Load.Model, tr.Load.Rate, tr.Messages = plan.ModelOpen, 40, 60 // due over 1.5 s
			tr.Errors.OnError = plan.OnErrorContinue
		}},
		{"closed model, -m with --max-duration", func(tr *testRun) { tr.Sessions, tr.Messages = 5, 1000 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := config(t, testpeer.ListenSilent(t), 0, 1)
			tr.Session.Timeout, tr.Connect.Timeout = 300*time.Second, 300*time.Second
			tr.MaxDuration, tr.Grace = 1500*time.Millisecond, 500*time.Millisecond
			tc.tweak(tr)
			res, err, elapsed := timedRun(t, tr)
			if err != nil {
				t.Fatalf("err %v: reaching the planned end is no error", err)
			}
			if bound := tr.MaxDuration + tr.Grace + 2*time.Second; elapsed > bound || elapsed < tr.MaxDuration {
				t.Fatalf("the run took %v, want between D (%v) and D + grace + 2 s (%v)", elapsed, tr.MaxDuration, bound)
			}
			cut := res.Metrics.Counter(metrics.MessagesCutOff)
			if res.Accepted != 0 || res.Failed == 0 || cut != res.Failed || res.Metrics.Counter(metrics.SessionsFailed) != 0 {
				t.Fatalf("%+v, cut off %d: every message in flight is cut off, none failed by the server", res, cut)
			}
			if keys := keysOnly(res.Metrics); len(keys) != 1 || keys[0] != "banner:cut_off" {
				t.Fatalf("error keys %v, want only banner:cut_off", keys)
			}
			if res.Sending > tr.MaxDuration+100*time.Millisecond || res.Drain() < tr.Grace/2 {
				t.Fatalf("sending window %v, drain %v: the window ends at D, the grace is drain", res.Sending, res.Drain())
			}
		})
	}
}

// With --on-error continue a failure fails the message it hit and the session goes on
// with the next after a backoff: a reset, a timeout and refused connects each cost one
// message, under the key that names the cause, and the run completes.
func TestContinueAfterFailures(t *testing.T) {
	srv := testpeer.StartScripted(t, testpeer.ScriptedOptions{Scripts: []testpeer.SMTPScript{
		{Replies: map[string]string{"MAIL": testpeer.FaultReset}},
		{Replies: map[string]string{"banner": testpeer.FaultSilent}},
		{Replies: map[string]string{".": "250 2.0.0 Ok: queued as A\r\n", "RCPT": "550 5.1.1 no such user\r\n"}},
		{}, // the rest: accepted
	}})
	tr := config(t, srv.Addr, 1, 6)
	tr.Session.Timeout, tr.Errors.OnError = 300*time.Millisecond, plan.OnErrorContinue
	ev := &events{}
	tr.Events = ev
	res, err, _ := timedRun(t, tr)
	if err != nil {
		t.Fatalf("err %v", err)
	}
	if got := outcomes(res); got != "3a 1r 2f 0-" {
		t.Fatalf("outcomes %s, want 3a 1r 2f 0-", got)
	}
	if got := errorKeys(res.Metrics); got != "[banner:net:timeout=1 mail:net:reset=1 rcpt:perm:550:5.1.1=1]" {
		t.Fatalf("error keys %s", got)
	}
	if res.Metrics.Counter(metrics.SessionsFailed) != 2 || ev.count() != 3 {
		t.Fatalf("sessions_failed %d, warnings %q", res.Metrics.Counter(metrics.SessionsFailed), ev.warnings)
	}

	// A port nobody listens on: every connect is refused, every message fails, and the
	// backoff grows between them (10, 20, 40 ms).
	tr = config(t, closedPort(t), 1, 4)
	tr.Errors.OnError = plan.OnErrorContinue
	res, err, elapsed := timedRun(t, tr)
	if err != nil || res.Failed != 4 || errorKeys(res.Metrics) != "[connect:net:refused=4]" {
		t.Fatalf("err %v, %+v, keys %s", err, res, errorKeys(res.Metrics))
	}
	if min := backoffDelay(0) + backoffDelay(1) + backoffDelay(2); elapsed < min {
		t.Fatalf("4 refused connects took %v: the backoff between them is at least %v", elapsed, min)
	}
}

func TestBackoffDelay(t *testing.T) {
	want := []time.Duration{10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000}
	for i, w := range want {
		if got := backoffDelay(i); got != w*time.Millisecond {
			t.Errorf("backoffDelay(%d) = %v, want %v", i, got, w*time.Millisecond)
		}
	}
	if backoffDelay(1000) != backoffMax {
		t.Error("no cap")
	}
}

// closedPort is a loopback address that refuses connections.
func closedPort(t *testing.T) string { return testpeer.ClosedPort(t) }

// The error budget ends the run with its own error once more messages were rejected or
// failed than it allows: a count at once, a share once 100 messages have an outcome, or
// at the end.
func TestErrorBudget(t *testing.T) {
	rejecting := testpeer.StartScripted(t, script(map[string]string{"RCPT": "550 5.1.1 no such user\r\n"})).Addr
	for _, tc := range []struct {
		name     string
		messages int64
		tweak    func(*testRun)
		want     string // the error
		outcomes int64  // at least, when the budget broke
	}{
		{"a count", 500, func(tr *testRun) { tr.Errors.MaxErrors = 5 }, "error budget exceeded: 6 of 6 messages rejected or failed, more than 5", 6},
		{"a share", 500, func(tr *testRun) { tr.Errors.MaxErrorsPercent = 50 }, "error budget exceeded: 100 of 100 messages rejected or failed, more than 50%", 100},
		{"a share, at the end", 20, func(tr *testRun) { tr.Errors.MaxErrorsPercent = 10 }, "error budget exceeded: 20 of 20 messages rejected or failed, more than 10%", 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := config(t, rejecting, 1, tc.messages)
			tr.Errors.OnError = plan.OnErrorContinue
			tc.tweak(tr)
			res, err, _ := timedRun(t, tr)
			var be *ErrorBudgetError
			if !errors.As(err, &be) || err.Error() != tc.want {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			if res.Rejected < tc.outcomes || tc.messages > tc.outcomes && res.NotStarted == 0 {
				t.Fatalf("%+v: the run should stop at the breach", res)
			}
		})
	}
}

// --threshold-abort stops the run once a threshold is lost, not before its delay: here
// "errors<3" against a server that rejects every recipient.
func TestThresholdAbort(t *testing.T) {
	rejecting := testpeer.StartScripted(t, script(map[string]string{"RCPT": "550 5.1.1 no such user\r\n"})).Addr
	tr := config(t, rejecting, 0, 400)
	tr.Load.Model, tr.Load.Rate, tr.Errors.OnError = plan.ModelOpen, 50, plan.OnErrorContinue // 8 s of arrivals
	tr.Thresholds = plan.Thresholds{Exprs: []string{"errors<3", "accepted>=1000"}, Abort: true, AbortDelay: 1500 * time.Millisecond}
	res, err, elapsed := timedRun(t, tr)
	var te *ThresholdError
	if !errors.As(err, &te) || len(te.Breached) != 1 || te.Breached[0].Threshold != "errors<3" {
		t.Fatalf("err %v, want the threshold errors<3 lost (accepted>=1000 can still be reached)", err)
	}
	if elapsed < tr.Thresholds.AbortDelay || elapsed > tr.Thresholds.AbortDelay+3*time.Second || res.NotStarted < 200 {
		t.Fatalf("stopped after %v (%+v), want soon after the %v delay", elapsed, res, tr.Thresholds.AbortDelay)
	}
	if !strings.Contains(err.Error(), "errors<3 (observed ") {
		t.Fatalf("the error does not say what was observed: %v", err)
	}
}

// Repeated warnings of one key are passed on a few a second, the rest counted: 300
// rejections under -A are 300 warnings reported, at most warningsPerKey a second shown.
func TestRepeatedWarnings(t *testing.T) {
	rejecting := testpeer.StartScripted(t, script(map[string]string{"RCPT": "550 5.1.1 no such user\r\n"})).Addr
	tr := config(t, rejecting, 4, 300)
	tr.Session.AllowReject, tr.Session.Reuse = true, true
	ev := &events{}
	tr.Events = ev
	res, err, elapsed := timedRun(t, tr)
	if err != nil || res.Rejected != 300 {
		t.Fatalf("err %v, %+v", err, res)
	}
	seconds := int(elapsed/time.Second) + 2 // the flushes the run saw, at most
	if ev.count() != 300 || len(ev.warnings) > warningsPerKey*seconds {
		t.Fatalf("%d warnings reported, %d shown in %v: want 300, at most %d a second shown", ev.count(), len(ev.warnings), elapsed, warningsPerKey)
	}
}

// The sending window ends with the last message started or answered; a session stuck
// until its timeout after that is drain, and rates are over the window. The timeout is
// long enough for the other session's 39 messages to end well inside it even under the
// race detector on a busy machine (they took 0.6 s there once, against a 1 s timeout).
func TestSendingWindowAndDrain(t *testing.T) {
	srv := testpeer.StartScripted(t, testpeer.ScriptedOptions{Scripts: []testpeer.SMTPScript{
		{Replies: map[string]string{".": testpeer.FaultSilent}}, {}}})
	tr := config(t, srv.Addr, 2, 40)
	tr.Session.Timeout, tr.Errors.OnError = 3*time.Second, plan.OnErrorContinue
	res, err, _ := timedRun(t, tr)
	if err != nil || res.Accepted != 39 || res.Failed != 1 {
		t.Fatalf("err %v, %+v", err, res)
	}
	if res.Drain() < tr.Session.Timeout/2 || res.Sending > res.Elapsed-tr.Session.Timeout/2 {
		t.Fatalf("window %v, drain %v of %v: the stuck session's timeout is drain", res.Sending, res.Drain(), res.Elapsed)
	}
	if want := float64(39) / res.Sending.Seconds(); res.AchievedRate() != want || res.Answered != 39 {
		t.Fatalf("achieved %.1f/s, want %.1f/s", res.AchievedRate(), want)
	}
	doc := metrics.ResultReport(nil, nil, res.Measured())
	if doc.Window == nil || doc.Window.DrainNs != int64(res.Drain()) || doc.Summary.AchievedPerSec != res.AchievedRate() {
		t.Fatalf("document window %+v, summary %+v", doc.Window, doc.Summary)
	}
}

// --log-messages: every message has its Message-Id, connection, end time and total
// latency; a failed one says in which phase it failed, and when.
func TestMessageLogColumns(t *testing.T) {
	srv := testpeer.StartScripted(t, testpeer.ScriptedOptions{Scripts: []testpeer.SMTPScript{
		{}, {Replies: map[string]string{"RCPT": testpeer.FaultReset}}, {}}})
	var log bytes.Buffer
	tr := config(t, srv.Addr, 1, 3)
	tr.Errors.OnError, tr.MessageLog = plan.OnErrorContinue, &log
	res, err, _ := timedRun(t, tr)
	if err != nil || outcomes(res) != "2a 0r 1f 0-" {
		t.Fatalf("err %v, %s", err, outcomes(res))
	}
	rows, err := csv.NewReader(&log).ReadAll()
	if err != nil || len(rows) != 4 {
		t.Fatalf("%d rows, %v:\n%s", len(rows), err, log.String())
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	ids := map[string]bool{}
	for _, row := range rows[1:] {
		get := func(name string) string { return row[col[name]] }
		num := func(name string) int64 { n, _ := strconv.ParseFloat(get(name), 64); return int64(n) }
		if !strings.HasPrefix(get("message_id"), "<") || !strings.HasSuffix(get("message_id"), "@vm>") || ids[get("message_id")] {
			t.Fatalf("message_id %q", get("message_id"))
		}
		ids[get("message_id")] = true
		if num("conn") < 1 || num("end_unix_ns") < num("start_unix_ns") || num("latency_us") <= 0 {
			t.Fatalf("row %v", row)
		}
		switch get("outcome") {
		case "accepted":
			if get("phase") != "" {
				t.Fatalf("an accepted row with a phase: %v", row)
			}
		case "failed":
			if get("phase") != "rcpt" || !strings.Contains(get("error"), "lost connection while sending recipient") || num("conn") != 2 {
				t.Fatalf("failed row %v", row)
			}
		}
	}
}

package engine

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/plan"
)

// faultSink is the go-smtp-sink binary on a fixed loopback address, which a test
// stalls (SIGSTOP), kills and starts again on the same address: a testpeer.FixedPort,
// since a port it bound as port 0 could be taken by another port-0 server while it is
// down.
type faultSink struct {
	t    *testing.T
	bin  string
	addr string
	proc *testpeer.Process
}

func startFaultSink(t *testing.T) *faultSink {
	f := &faultSink{t: t, bin: testpeer.BuildCommand(t, "go-smtp-sink")}
	for range 3 {
		f.addr = fmt.Sprintf("127.0.0.1:%d", testpeer.FixedPort(t, "127.0.0.1"))
		if f.start() {
			return f
		}
		f.proc.Stop() // another program was given the same port: draw again
	}
	t.Fatalf("go-smtp-sink shared its port three times")
	return nil
}

// start starts the sink on f.addr and reports whether it listens there alone.
func (f *faultSink) start() (alone bool) {
	f.proc = testpeer.Start(f.t, f.bin, "--loops", "1", f.addr, "1024")
	if err := testpeer.WaitAccepting(f.addr, 10*time.Second); err != nil {
		f.t.Errorf("go-smtp-sink: %v; stderr %s", err, f.proc.Stderr.String())
		return false
	}
	_, port, _ := net.SplitHostPort(f.addr)
	n, _ := strconv.Atoi(port)
	alone, err := testpeer.SoleListener(f.proc.Cmd.Process.Pid, n)
	if err != nil {
		f.t.Errorf("go-smtp-sink's sockets: %v", err)
	}
	return alone
}

// restart starts the sink again after kill, on the same address.
func (f *faultSink) restart() {
	if !f.start() {
		f.t.Errorf("go-smtp-sink restarted on %s shares it with another program", f.addr)
	}
}

func (f *faultSink) signal(sig syscall.Signal) {
	if err := f.proc.Cmd.Process.Signal(sig); err != nil {
		f.t.Errorf("signal %v: %v", sig, err)
	}
}

// kill ends the sink at once: connections with commands it has not read are reset,
// and connects are refused until it starts again.
func (f *faultSink) kill() {
	f.signal(syscall.SIGKILL)
	_, _ = f.proc.Wait(5 * time.Second)
}

// fault is one step of a fault schedule: at At after the start, do.
type fault struct {
	at time.Duration
	do func()
}

// runFaults runs the schedule from now on a goroutine; the returned function waits for
// it to end.
func runFaults(schedule []fault) (wait func()) {
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, f := range schedule {
			time.Sleep(time.Until(start.Add(f.at)))
			f.do()
		}
	}()
	return func() { <-done }
}

// An open-model run with --on-error continue survives what a struggling server does
// to it — a stall past the timeout, a crash that resets connections, refused connects
// while it is down — and goes on once it is back: every message is accounted for, the
// error keys name the causes (never net:other), messages are accepted after each
// fault, and the run ends within D + grace + 2 s.
func TestContinueSurvivesSinkFaults(t *testing.T) {
	s := startFaultSink(t)
	tr := config(t, s.addr, 0, 0)
	tr.Load.Model, tr.Load.Rate, tr.Errors.OnError = plan.ModelOpen, 40, plan.OnErrorContinue
	tr.MaxDuration, tr.Grace = 8*time.Second, time.Second
	tr.Messages = int64(tr.Load.Rate * tr.MaxDuration.Seconds())
	tr.Session.Timeout, tr.Connect.Timeout = time.Second, time.Second
	wait := runFaults([]fault{
		{1 * time.Second, func() { s.signal(syscall.SIGSTOP) }}, // commands pile up unread
		{1500 * time.Millisecond, s.kill},                       // … and are reset
		{2500 * time.Millisecond, s.restart},                    // refused until now
		{4 * time.Second, func() { s.signal(syscall.SIGSTOP) }}, // a stall past the 1 s timeout
		{5500 * time.Millisecond, func() { s.signal(syscall.SIGCONT) }},
	})
	res := survivesFaults(t, tr, wait, [][2]time.Duration{{3 * time.Second, 4 * time.Second}, {6 * time.Second, 8 * time.Second}})
	if res.Accepted < res.Planned/3 || res.Failed == 0 {
		t.Errorf("%+v", res)
	}
	t.Logf("%s; error keys %s", outcomes(res), errorKeys(res.Metrics))
}

// acceptedBetween is what the per-second series counts as accepted between from and to
// after the run's start.
func acceptedBetween(res Result, from, to time.Duration) int64 {
	var n int64
	for _, iv := range res.Intervals {
		if at := iv.Start.Sub(res.Start); at >= from && at < to {
			n += iv.Counters[metrics.MessagesAccepted.String()]
		}
	}
	return n
}

// An interrupt during the planned end's grace (the server stalled) ends the run at once,
// and what it cuts off is aborted, not cut off.
func TestInterruptDuringGrace(t *testing.T) {
	s := startFaultSink(t)
	tr := config(t, s.addr, 0, 0)
	tr.Load.Model, tr.Load.Rate, tr.Errors.OnError = plan.ModelOpen, 20, plan.OnErrorContinue
	tr.MaxDuration, tr.Grace, tr.Messages = time.Second, 30*time.Second, 20
	s.signal(syscall.SIGSTOP)
	defer s.signal(syscall.SIGCONT)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(2*time.Second, cancel) // in the grace
	start := time.Now()
	res, err := runTest(ctx, tr)
	checkAccounting(t, res)
	if err != ErrInterrupted || time.Since(start) > 5*time.Second {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
	if keys := errorKeys(res.Metrics); !strings.Contains(keys, ":aborted") || strings.Contains(keys, "cut_off") {
		t.Fatalf("error keys %s: an interrupt aborts", keys)
	}
}

// postfixFaults is Postfix's smtpd under its master, limited to a few smtpd processes,
// which a test stalls, kills (master and children, by PID) and starts again.
type postfixFaults struct {
	t     *testing.T
	smtpd *testpeer.PostfixSMTPD
	proc  *testpeer.Process
}

func startPostfixFaults(t *testing.T, processes int) *postfixFaults {
	ca := testpeer.NewCA(t, "faults CA")
	leaf := ca.Issue(t, testpeer.LocalhostSpec())
	p := testpeer.StartPostfixSMTPDLimited(t, leaf.CertPEM, leaf.KeyPEM, processes)
	return &postfixFaults{t: t, smtpd: p, proc: p.Process}
}

// processes is the master's PID and its children's (smtpd, qmgr, …), from /proc.
func (f *postfixFaults) processes() []int {
	master := f.proc.Cmd.Process.Pid
	pids := []int{master}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid …: comm may hold spaces, so read after its last ')'.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(master) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func (f *postfixFaults) signal(sig syscall.Signal) {
	for _, pid := range f.processes() {
		_ = syscall.Kill(pid, sig)
	}
}

// kill ends the master and every child at once (stopped first, so that none reads what
// the clients sent meanwhile: those connections are reset); connects are refused until
// start.
func (f *postfixFaults) kill() {
	pids := f.processes()
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	_, _ = f.proc.Wait(5 * time.Second)
}

// start runs the master again with the same configuration, on the address it bound as
// port 0 the first time: the master binds without SO_REUSEPORT, so should another
// program have taken the port while it was down, the master fails to bind (reported
// here), and SoleListener confirms it listens there alone.
func (f *postfixFaults) start() {
	masterCF := filepath.Join(f.smtpd.Dir, "conf", "master.cf")
	b, err := os.ReadFile(masterCF)
	if err != nil {
		f.t.Errorf("postfix master again: %v", err)
		return
	}
	b = bytes.Replace(b, []byte("127.0.0.1:0 inet"), []byte(f.smtpd.Addr+" inet"), 1)
	if err := os.WriteFile(masterCF, b, 0o644); err != nil {
		f.t.Errorf("postfix master again: %v", err)
		return
	}
	f.proc = testpeer.Start(f.t, f.proc.Cmd.Path, f.proc.Cmd.Args[1:]...)
	if err := testpeer.WaitAccepting(f.smtpd.Addr, 15*time.Second); err != nil {
		f.t.Errorf("postfix master again: %v; stderr %s", err, f.proc.Stderr.String())
		return
	}
	_, port, _ := net.SplitHostPort(f.smtpd.Addr)
	n, _ := strconv.Atoi(port)
	if alone, err := testpeer.SoleListener(f.proc.Cmd.Process.Pid, n); !alone || err != nil {
		f.t.Errorf("postfix master again on %s: not alone there (%v)", f.smtpd.Addr, err)
	}
}

// The same against Postfix's smtpd limited to three processes: stalled, killed (resets,
// then refused connects), started again, stalled past the timeout.
func TestContinueSurvivesPostfixFaults(t *testing.T) {
	pf := startPostfixFaults(t, 3)
	tr := config(t, pf.smtpd.Addr, 0, 0)
	tr.Load.Model, tr.Load.Rate, tr.Errors.OnError = plan.ModelOpen, 40, plan.OnErrorContinue
	tr.MaxDuration, tr.Grace = 9*time.Second, time.Second
	tr.Messages = int64(tr.Load.Rate * tr.MaxDuration.Seconds())
	tr.Session.Timeout, tr.Connect.Timeout = time.Second, time.Second
	wait := runFaults([]fault{
		{1 * time.Second, func() { pf.signal(syscall.SIGSTOP) }},
		{1500 * time.Millisecond, pf.kill},
		{2500 * time.Millisecond, pf.start},
		{5 * time.Second, func() { pf.signal(syscall.SIGSTOP) }},
		{6500 * time.Millisecond, func() { pf.signal(syscall.SIGCONT) }},
	})
	defer pf.signal(syscall.SIGCONT)
	res := survivesFaults(t, tr, wait, [][2]time.Duration{{4 * time.Second, 5 * time.Second}, {7 * time.Second, 9 * time.Second}})
	t.Logf("%s; error keys %s", outcomes(res), errorKeys(res.Metrics))
}

// survivesFaults runs tr while its faults are acted out (wait: until they are), and
// checks that the run went on to its hard end, that the error keys name each fault's
// cause (refused, timeout, reset) and that messages were accepted again in each window
// after a fault.
func survivesFaults(t *testing.T, tr *testRun, wait func(), after [][2]time.Duration) Result {
	t.Helper()
	res, err, elapsed := timedRun(t, tr)
	wait()
	if err != nil {
		t.Fatalf("err %v: the run should go on", err)
	}
	if bound := tr.MaxDuration + tr.Grace + 2*time.Second; elapsed > bound {
		t.Fatalf("the run took %v, want at most %v", elapsed, bound)
	}
	keys := errorKeys(res.Metrics)
	for _, cause := range []string{"connect:net:refused", ":net:timeout", ":net:reset"} {
		if !strings.Contains(keys, cause) {
			t.Errorf("no %s among the error keys %s", cause, keys)
		}
	}
	if strings.Contains(keys, ":other") {
		t.Errorf("an error key names no cause: %s", keys)
	}
	for _, window := range after {
		if n := acceptedBetween(res, window[0], window[1]); n == 0 {
			t.Errorf("nothing accepted between %v and %v, after a fault", window[0], window[1])
		}
	}
	return res
}

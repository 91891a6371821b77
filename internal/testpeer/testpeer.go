// Package testpeer starts the real programs that tests talk to (Postfix smtp-sink and
// smtp-source, swaks, the project's own binaries) on loopback, and stops them by PID.
//
// It is imported only by tests.
package testpeer

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// WritableDir returns a new temporary directory that an unprivileged peer (smtp-sink runs
// as "nobody" when the tests run as root) can write into. It is removed when the test ends.
func WritableDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "gss-peer-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// Process is a peer program started by a test.
type Process struct {
	Cmd    *exec.Cmd
	Stdout *syncBuffer
	Stderr *syncBuffer
	done   chan struct{}
	err    error
}

// Start runs a program in the background; it is killed by PID (SIGTERM, then SIGKILL)
// when the test ends if it has not exited by then.
func Start(t testing.TB, path string, args ...string) *Process {
	t.Helper()
	return start(t, exec.Command(path, args...))
}

// StartInteractive is Start with a pipe to the program's standard input, for a peer the
// test drives line by line (openssl s_client and s_server take commands there).
func StartInteractive(t testing.TB, path string, args ...string) (*Process, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(path, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return start(t, cmd), stdin
}

func start(t testing.TB, cmd *exec.Cmd) *Process {
	t.Helper()
	p := &Process{Cmd: cmd, Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, done: make(chan struct{})}
	p.Cmd.Stdout = p.Stdout
	p.Cmd.Stderr = p.Stderr
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	go func() { p.err = p.Cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.Stop() })
	return p
}

// Stop ends the process by its PID: SIGTERM, then SIGKILL after two seconds.
func (p *Process) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(2 * time.Second):
		_ = p.Cmd.Process.Kill()
		<-p.done
	}
}

// Wait waits for the process to exit by itself, at most d; it reports whether it did.
func (p *Process) Wait(d time.Duration) (exited bool, err error) {
	select {
	case <-p.done:
		return true, p.err
	case <-time.After(d):
		return false, nil
	}
}

// Output is what the process has written so far: its standard output, then its standard
// error.
func (p *Process) Output() string { return p.Stdout.String() + p.Stderr.String() }

// WaitOutput waits until the process has written text on either output, at most within;
// it reports whether it did.
func (p *Process) WaitOutput(text string, within time.Duration) bool {
	return Poll(within, 10*time.Millisecond, func() bool {
		return strings.Contains(p.Stdout.String(), text) || strings.Contains(p.Stderr.String(), text)
	})
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Sink is a running Postfix smtp-sink.
type Sink struct {
	*Process
	Addr string // host:port, or unix:/path for a unix-domain sink
}

// StartPostfixSink starts Postfix's smtp-sink on a loopback port of its own (it binds
// port 0; the test reads which port from /proc) with the given options (for example
// "-D", dumpfile, or "-L") and a listen backlog of 1024.
func StartPostfixSink(t testing.TB, opts ...string) *Sink {
	t.Helper()
	return StartPostfixSinkAt(t, "127.0.0.1:0", opts...)
}

// StartPostfixSinkAt is StartPostfixSink on a given "host:port" (port 0: one of its own)
// or "unix:PATH".
func StartPostfixSinkAt(t testing.TB, listen string, opts ...string) *Sink {
	t.Helper()
	return startPostfixSink(t, listen, opts)
}

// StartPostfixSinkUnix is StartPostfixSink on a unix-domain socket; Addr is "unix:PATH".
func StartPostfixSinkUnix(t testing.TB, opts ...string) *Sink {
	t.Helper()
	path := filepath.Join(WritableDir(t), "sink.sock")
	return startPostfixSink(t, "unix:"+path, opts)
}

func startPostfixSink(t testing.TB, listen string, opts []string) *Sink {
	t.Helper()
	bin := Require(t, "smtp-sink")
	args := []string{}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "nobody") // smtp-sink refuses to run as root without it
	}
	args = append(args, opts...)
	args = append(args, listen, "1024")
	s := &Sink{Process: Start(t, bin, args...), Addr: listen}
	if !strings.HasPrefix(listen, "unix:") {
		s.Addr = WaitListening(t, s.Process, 10*time.Second)
	}
	// The readiness probe, one session without a command, is in smtp-sink's counts (-c).
	if err := WaitAccepting(s.Addr, 10*time.Second); err != nil {
		t.Fatalf("smtp-sink %v: %v; stderr: %s", args, err, s.Stderr.String())
	}
	return s
}

// WaitAccepting waits until a TCP "host:port" or "unix:/path" address accepts a connection.
func WaitAccepting(addr string, within time.Duration) error {
	network, address := "tcp", addr
	if strings.HasPrefix(addr, "unix:") {
		network, address = "unix", strings.TrimPrefix(addr, "unix:")
	}
	var err error
	if Poll(within, 20*time.Millisecond, func() bool {
		var c net.Conn
		if c, err = net.DialTimeout(network, address, time.Second); err == nil {
			c.Close()
		}
		return err == nil
	}) {
		return nil
	}
	return fmt.Errorf("nothing accepting on %s after %v: %w", addr, within, err)
}

var (
	buildMu    sync.Mutex
	buildCache = map[string]string{}
)

// BuildCommand builds one of the project's commands (for example "go-smtp-source") once
// per test binary and returns the executable's path.
func BuildCommand(t testing.TB, name string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := buildCache[name]; ok {
		return p
	}
	root := ModuleRoot(t)
	dir, err := os.MkdirTemp("", "gss-bin-")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", out, "./cmd/"+name)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/%s: %v\n%s", name, err, b)
	}
	buildCache[name] = out
	return out
}

// ModuleRoot is the directory holding go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate module root")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Result is how a finished command ended.
type Result struct {
	Stdout, Stderr string
	ExitCode       int // -1 when killed by the time limit
	Elapsed        time.Duration
}

// Run runs a program to completion, bounded by limit; a run that exceeds the limit is
// killed and reported with ExitCode -1.
func Run(t testing.TB, limit time.Duration, path string, args ...string) Result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	res := Result{}
	select {
	case <-done:
		res.ExitCode = cmd.ProcessState.ExitCode()
	case <-time.After(limit):
		_ = cmd.Process.Kill()
		<-done
		res.ExitCode = -1
	}
	res.Elapsed = time.Since(start)
	res.Stdout, res.Stderr = stdout.String(), stderr.String()
	return res
}

// String renders a result for failure messages.
func (r Result) String() string {
	return "exit " + strconv.Itoa(r.ExitCode) + " after " + r.Elapsed.Round(time.Millisecond).String() +
		"\nstdout: " + r.Stdout + "\nstderr: " + r.Stderr
}

// syncBuffer is a bytes.Buffer safe for a process writer and a test reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Command wire compares go-smtp-source's per-message phase times with the kernel's own
// packet timestamps: tcpdump on loopback with nanosecond timestamps records one
// non-pipelining connection to go-smtp-sink, which delays its replies at random, while
// --log-messages records what go-smtp-source measured. For each MAIL, RCPT, DATA and
// final dot, the wire's phase is the time from the packet carrying the command to the
// packet carrying its reply; the table shows how much longer ours is (median, p99).
//
// Usage (make bench runs it; tcpdump needs root or CAP_NET_RAW):
//
//	wire -source bin/go-smtp-source -sink bin/go-smtp-sink [-m 2000] [-out FILE]
package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Goals (issue 18): ours minus the wire's, per phase.
const (
	goalMedian = 30 * time.Microsecond
	goalP99    = 200 * time.Microsecond
)

var phases = []string{"mail", "rcpt", "data", "eod"}

func main() {
	source := flag.String("source", "bin/go-smtp-source", "the go-smtp-source binary")
	sinkBin := flag.String("sink", "bin/go-smtp-sink", "the go-smtp-sink binary")
	messages := flag.Int("m", 2000, "messages, over one connection")
	out := flag.String("out", "", "also write the table to this file")
	flag.Parse()
	table, err := run(*source, *sinkBin, *messages)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wire:", err)
		os.Exit(1)
	}
	fmt.Print(table)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(table), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "wire:", err)
			os.Exit(1)
		}
	}
}

func run(source, sinkBin string, messages int) (string, error) {
	dir, err := os.MkdirTemp("", "wire")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	port, err := freePort()
	if err != nil {
		return "", err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	sink := exec.Command(sinkBin, "--seed", "1", "--delay", "mail=3ms:0.5,rcpt=1ms:0.5,data=2ms:0.3,.=5ms:0.5", addr, "100")
	if err := sink.Start(); err != nil {
		return "", fmt.Errorf("go-smtp-sink: %w", err)
	}
	defer stop(sink)
	pcap := filepath.Join(dir, "wire.pcap")
	dump, err := startTcpdump(pcap, port)
	if err != nil {
		return "", err
	}
	log := filepath.Join(dir, "messages.csv")
	cmd := exec.Command(source, "-d", "-s", "1", "-m", strconv.Itoa(messages), "--log-messages", log, addr)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := waitListening(addr); err != nil {
		stop(dump)
		return "", err
	}
	runErr := cmd.Run()
	if runErr != nil {
		stop(dump)
		return "", fmt.Errorf("go-smtp-source: %w: %s", runErr, stderr.String())
	}
	caught := drained(pcap, port)
	stop(dump)
	if caught != nil {
		return "", caught
	}
	wire, err := wirePhases(pcap, port)
	if err != nil {
		return "", err
	}
	ours, err := loggedPhases(log)
	if err != nil {
		return "", err
	}
	return compare(ours, wire, messages)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startTcpdump starts the capture and returns once tcpdump says it is listening.
// -U writes each packet out as it comes, so that drained() can tell when it has caught up.
func startTcpdump(file string, port int) (*exec.Cmd, error) {
	cmd := exec.Command("tcpdump", "-i", "lo", "-n", "-U", "-B", "65536", "--time-stamp-precision=nano",
		"-w", file, "tcp port "+strconv.Itoa(port))
	w := &announcement{want: "listening on", seen: make(chan struct{})}
	cmd.Stderr = w
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("tcpdump (Debian: apt-get install tcpdump): %w", err)
	}
	exited := make(chan struct{})
	go func() { <-w.seen; close(exited) }()
	select {
	case <-exited:
		return cmd, nil
	case <-time.After(10 * time.Second):
		stop(cmd)
		return nil, fmt.Errorf("tcpdump not capturing after 10s (root or CAP_NET_RAW is needed): %s", w.text())
	}
}

// announcement watches a process's stderr for a line.
type announcement struct {
	mu   sync.Mutex
	buf  strings.Builder
	want string
	seen chan struct{}
	once sync.Once
}

func (a *announcement) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.buf.Write(p)
	if strings.Contains(a.buf.String(), a.want) {
		a.once.Do(func() { close(a.seen) })
	}
	return len(p), nil
}

func (a *announcement) text() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.buf.String()
}

// drained waits until the capture holds the session's QUIT: tcpdump drops what it has
// not read from the kernel when it is stopped, and a busy machine leaves it behind.
func drained(file string, port int) error {
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		segs, err := readPcap(file, port)
		if err != nil {
			continue // a packet half written
		}
		for _, s := range segs {
			if s.toServer && bytes.HasPrefix(s.payload, []byte("QUIT\r\n")) {
				return nil
			}
		}
	}
	return errors.New("tcpdump had not captured the session's QUIT after 20s")
}

func waitListening(addr string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("go-smtp-sink not listening on %s after 10s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends a process with SIGINT (tcpdump then writes out what it holds) and waits.
func stop(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// loggedPhases reads --log-messages: each phase's durations in message order.
func loggedPhases(file string) (map[string][]time.Duration, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) < 2 {
		return nil, fmt.Errorf("%s: no messages logged (%v)", file, err)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	out := map[string][]time.Duration{}
	for _, row := range rows[1:] {
		for _, p := range phases {
			i, ok := col[p+"_us"]
			if !ok {
				return nil, fmt.Errorf("%s: no column %s_us", file, p)
			}
			us, err := strconv.ParseFloat(row[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%s: %s_us %q: %w", file, p, row[i], err)
			}
			out[p] = append(out[p], time.Duration(us*1e3))
		}
	}
	return out, nil
}

// compare prints ours minus the wire's per phase, message by message.
func compare(ours, wire map[string][]time.Duration, messages int) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "Phase times against the kernel's packet timestamps (tcpdump on lo, ns), %d messages, one connection, no pipelining, random reply delays:\n\n", messages)
	b.WriteString("| phase | n | ours − wire, median | p99 | min | goal (median ≤ 30 µs, p99 ≤ 200 µs) |\n|---|---:|---:|---:|---:|---|\n")
	for _, p := range phases {
		o, w := ours[p], wire[p]
		if len(o) != len(w) || len(o) == 0 {
			return "", fmt.Errorf("%s: %d phases logged, %d on the wire", p, len(o), len(w))
		}
		diff := make([]time.Duration, len(o))
		for i := range o {
			diff[i] = o[i] - w[i]
		}
		slices.Sort(diff)
		med, p99 := diff[len(diff)/2], diff[len(diff)*99/100]
		verdict := "**pass**"
		if med > goalMedian || p99 > goalP99 {
			verdict = "**FAIL**"
		}
		fmt.Fprintf(&b, "| `%s` | %d | %s | %s | %s | %s |\n", p, len(diff), us(med), us(p99), us(diff[0]), verdict)
	}
	return b.String(), nil
}

func us(d time.Duration) string { return fmt.Sprintf("%.1f µs", float64(d)/1e3) }

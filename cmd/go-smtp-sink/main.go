// Command go-smtp-sink is a multi-core SMTP/LMTP sink, a drop-in for Postfix's
// smtp-sink(1) with delays in milliseconds, fault injection, BDAT, AUTH and counters.
//
//	go-smtp-sink [options] [inet:][host]:port backlog
//	go-smtp-sink [options] unix:pathname backlog
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/go-smtp-source/go-smtp-source/internal/buildinfo"
	"github.com/go-smtp-source/go-smtp-source/internal/tlsburst"
	"github.com/go-smtp-source/go-smtp-source/sink"
)

var errUsage = errors.New("usage")

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// run is the whole program; it returns the exit status: 0 after a signal or a -M/-n
// limit, 1 for a usage or start-up error (smtp-sink's "fatal:").
func run(argv []string, stdout, stderr io.Writer) int {
	prog := filepath.Base(argv[0])
	errOut := &lockedWriter{w: stderr}
	fatal := func(format string, args ...any) int {
		fmt.Fprintf(errOut, "%s: fatal: "+format+"\n", append([]any{prog}, args...)...)
		return 1
	}
	if len(argv) == 2 && argv[1] == "--version" {
		fmt.Fprintln(stdout, buildinfo.Version("go-smtp-sink"))
		return 0
	}
	if len(argv) > 1 && argv[1] == "completion" {
		return runCompletion(prog, argv[2:], stdout, errOut)
	}
	opts, err := parseArgs(prog, argv[1:])
	if err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			if err := printHelp(stdout, prog); err != nil {
				return fatal("%v", err)
			}
			return 0
		}
		if !errors.Is(err, errUsage) {
			fmt.Fprintf(errOut, "%s: %v\n", prog, err)
		}
		return fatal(usageText, prog)
	}
	for _, o := range opts.ignoredOpts {
		fmt.Fprintf(errOut, "%s: warning: option %s is not implemented; ignored\n", prog, o)
	}
	cfg, err := serverConfig(prog, opts, errOut)
	if err != nil {
		return fatal("%v", err)
	}
	if opts.cpuProfile != "" {
		stop, err := startCPUProfile(opts.cpuProfile)
		if err != nil {
			return fatal("%v", err)
		}
		defer stop()
	}
	httpListener, err := listenHTTP(opts)
	if err != nil {
		return fatal("%v", err)
	}
	metricsListener, err := listenMetrics(opts)
	if err != nil {
		closeListeners(httpListener)
		return fatal("%v", err)
	}
	srv, served, err := startServer(cfg)
	if err != nil {
		closeListeners(httpListener, metricsListener)
		return fatal("%v", err)
	}
	defer serveHTTP(prog, httpListener, srv, errOut)()
	defer serveMetrics(prog, metricsListener, srv, errOut)()
	m := &monitor{prog: prog, opts: opts, srv: srv, stdout: stdout, errOut: errOut}
	status := m.serve(served)
	if status == 0 { // Serve has not ended: stop it
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := srv.Shutdown(ctx); err != nil {
			fmt.Fprintf(errOut, "%s: warning: shutdown: %v\n", prog, err)
		}
		cancel()
	}
	if opts.counters {
		m.showCounters() // the final counts, every connection closed
	}
	m.writeStats()
	return status
}

// serverConfig completes the sink's configuration: the listen address, -v's trace and
// -u/-R's privilege drop after the bind.
func serverConfig(prog string, opts *options, errOut io.Writer) (sink.Config, error) {
	cfg := opts.cfg
	var err error
	if cfg.Listen, err = sink.ParseListenAddress(opts.listen, opts.family); err != nil {
		return cfg, err
	}
	if opts.verbose {
		cfg.Trace = func(line string) { fmt.Fprintf(errOut, "%s: %s\n", prog, line) }
	}
	if opts.user != "" || opts.rootDir != "" {
		cfg.AfterListen = func() error { return dropPrivileges(opts.user, opts.rootDir) }
	}
	return cfg, nil
}

// startCPUProfile profiles the process into file until stop.
func startCPUProfile(file string) (stop func(), err error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %v", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// startServer starts the sink and waits until it listens; served then reports the end
// of Serve.
func startServer(cfg sink.Config) (*sink.Server, chan error, error) {
	srv, err := sink.NewServer(cfg)
	if err != nil {
		return nil, nil, err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	select {
	case err := <-served:
		if err == nil {
			err = errors.New("server stopped at start")
		}
		return nil, nil, err
	case <-srv.Ready():
	}
	return srv, served, nil
}

// monitor watches a running sink: signals, -c's counters, --stats, the -M/-n limits,
// and the end of TLS handshake bursts.
type monitor struct {
	prog         string
	opts         *options
	srv          *sink.Server
	stdout       io.Writer
	errOut       io.Writer
	lastCounters string
	burst        tlsburst.Detector
	handshakes   int64
}

// serve watches until a signal, a -M/-n limit or the server's end, and returns the exit
// status (1 when the server failed).
func (m *monitor) serve(served chan error) int {
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR1)
	signal.Ignore(syscall.SIGPIPE)
	defer signal.Stop(signals)
	counterTick, burstTick, stop := m.tickers()
	defer stop()
	for {
		select {
		case <-burstTick:
			m.checkBurst()
		case sig := <-signals:
			if sig != syscall.SIGUSR1 {
				return 0
			}
			m.writeStats()
		case <-m.srv.Done():
			m.drain()
			return 0
		case err := <-served:
			fmt.Fprintf(m.errOut, "%s: fatal: %v\n", m.prog, err)
			return 1
		case <-counterTick:
			m.showCounters()
		}
	}
}

// tickers are -c's (every 100 ms) and, with TLS, the handshake burst watch's (every
// second); nil channels when not needed.
func (m *monitor) tickers() (counters, burst <-chan time.Time, stop func()) {
	var ts []*time.Ticker
	tick := func(d time.Duration) <-chan time.Time {
		t := time.NewTicker(d)
		ts = append(ts, t)
		return t.C
	}
	if m.opts.counters {
		counters = tick(100 * time.Millisecond)
	}
	if m.opts.cfg.TLS != nil {
		burst = tick(time.Second)
	}
	return counters, burst, func() {
		for _, t := range ts {
			t.Stop()
		}
	}
}

// checkBurst gives a burst of TLS handshakes' garbage back to the system once the burst
// is over (tlsburst).
func (m *monitor) checkBurst() {
	n := m.srv.Stats().Snapshot().TLSHandshakes
	if m.burst.Second(n - m.handshakes) {
		go debug.FreeOSMemory() // a full collection: off this loop
	}
	m.handshakes = n
}

// drain lets the sessions in flight end (the client's QUIT) for a moment after -M/-n.
func (m *monitor) drain() {
	for grace := time.Now().Add(2 * time.Second); time.Now().Before(grace); {
		if m.srv.Stats().Snapshot().SessionsActive == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (m *monitor) showCounters() {
	snap := m.srv.Stats().Snapshot()
	line := fmt.Sprintf("sess=%d quit=%d mesg=%d\r", snap.SessionsClosed, snap.Quits, snap.MessagesAccepted)
	if line != m.lastCounters {
		m.lastCounters = line
		io.WriteString(m.stdout, line)
	}
}

func (m *monitor) writeStats() {
	m.writeTraceFile()
	if m.opts.statsFile == "" {
		return
	}
	if err := writeFileAtomic(m.opts.statsFile, m.srv.Stats().Snapshot().JSON()); err != nil {
		fmt.Fprintf(m.errOut, "%s: warning: stats: %v\n", m.prog, err)
	}
}

// dropPrivileges is smtp-sink's -R (chroot) and -u (setgid/setuid) after the bind.
func dropPrivileges(name, root string) error {
	var uid, gid int
	if name != "" {
		u, err := user.Lookup(name)
		if err != nil {
			return fmt.Errorf("-u %s: %w", name, err)
		}
		if uid, err = strconv.Atoi(u.Uid); err != nil {
			return fmt.Errorf("-u %s: uid %q: %w", name, u.Uid, err)
		}
		if gid, err = strconv.Atoi(u.Gid); err != nil {
			return fmt.Errorf("-u %s: gid %q: %w", name, u.Gid, err)
		}
	}
	if root != "" {
		if err := syscall.Chroot(root); err != nil {
			return fmt.Errorf("-R %s: %w", root, err)
		}
		if err := os.Chdir("/"); err != nil {
			return fmt.Errorf("-R %s: %w", root, err)
		}
	}
	if name == "" {
		return nil
	}
	if err := syscall.Setgroups([]int{gid}); err != nil {
		return fmt.Errorf("-u %s: setgroups: %w", name, err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("-u %s: setgid: %w", name, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("-u %s: setuid: %w", name, err)
	}
	return nil
}

// writeFileAtomic replaces a file in one rename, so a reader never sees half of it.
func writeFileAtomic(name string, data []byte) error {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

// lockedWriter serialises lines written from several event loops.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

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
	opts, err := parseArgs(prog, argv[1:])
	if err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Fprintf(stdout, usageText+"\n", prog)
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
	cfg := opts.cfg
	cfg.Listen, err = sink.ParseListenAddress(opts.listen, opts.family)
	if err != nil {
		return fatal("%v", err)
	}
	if opts.verbose {
		cfg.Trace = func(line string) { fmt.Fprintf(errOut, "%s: %s\n", prog, line) }
	}
	if opts.user != "" || opts.rootDir != "" {
		cfg.AfterListen = func() error { return dropPrivileges(opts.user, opts.rootDir) }
	}
	if opts.cpuProfile != "" {
		f, err := os.Create(opts.cpuProfile)
		if err != nil {
			return fatal("%v", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return fatal("cpu profile: %v", err)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	srv, err := sink.NewServer(cfg)
	if err != nil {
		return fatal("%v", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	select {
	case err := <-served:
		if err == nil {
			err = errors.New("server stopped at start")
		}
		return fatal("%v", err)
	case <-srv.Ready():
	}

	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR1)
	signal.Ignore(syscall.SIGPIPE)
	defer signal.Stop(signals)

	var counterTick <-chan time.Time
	if opts.counters {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		counterTick = t.C
	}
	// After a burst of TLS handshakes, give its garbage back to the system (tlsburst).
	var burstTick <-chan time.Time
	var burst tlsburst.Detector
	var lastHandshakes int64
	if cfg.TLS != nil {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		burstTick = t.C
	}
	lastCounters := ""
	showCounters := func() {
		snap := srv.Stats().Snapshot()
		line := fmt.Sprintf("sess=%d quit=%d mesg=%d\r", snap.SessionsClosed, snap.Quits, snap.MessagesAccepted)
		if line != lastCounters {
			lastCounters = line
			io.WriteString(stdout, line)
		}
	}
	writeStats := func() {
		if opts.statsFile == "" {
			return
		}
		if err := writeFileAtomic(opts.statsFile, srv.Stats().Snapshot().JSON()); err != nil {
			fmt.Fprintf(errOut, "%s: warning: stats: %v\n", prog, err)
		}
	}

	status := 0
loop:
	for {
		select {
		case <-burstTick:
			n := srv.Stats().Snapshot().TLSHandshakes
			if burst.Second(n - lastHandshakes) {
				go debug.FreeOSMemory() // a full collection: off this loop
			}
			lastHandshakes = n
		case sig := <-signals:
			if sig == syscall.SIGUSR1 {
				writeStats()
				continue
			}
			break loop
		case <-srv.Done():
			// -M/-n reached: let the sessions in flight end (the client's QUIT) for a moment.
			for grace := time.Now().Add(2 * time.Second); time.Now().Before(grace); {
				if srv.Stats().Snapshot().SessionsActive == 0 {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			break loop
		case err := <-served:
			fmt.Fprintf(errOut, "%s: fatal: %v\n", prog, err)
			status = 1
			served = nil
			break loop
		case <-counterTick:
			showCounters()
		}
	}
	if served != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := srv.Shutdown(ctx); err != nil {
			fmt.Fprintf(errOut, "%s: warning: shutdown: %v\n", prog, err)
		}
		cancel()
	}
	if opts.counters {
		showCounters() // the final counts, every connection closed
	}
	writeStats()
	return status
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

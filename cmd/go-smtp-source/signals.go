package main

import (
	"context"
	"math"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// interruption turns SIGINT/SIGTERM into a cancelled context and remembers which signal
// came, for the exit status (130 or 143).
type interruption struct {
	mu   sync.Mutex
	sig  os.Signal
	sigs chan os.Signal
}

// onInterrupt returns a context cancelled by SIGINT or SIGTERM, and the interruption to
// ask afterwards; release stops listening.
func onInterrupt() (ctx context.Context, in *interruption, release func()) {
	ctx, cancel := context.WithCancel(context.Background())
	in = &interruption{sigs: make(chan os.Signal, 1)}
	signal.Notify(in.sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		if s, ok := <-in.sigs; ok {
			in.mu.Lock()
			in.sig = s
			in.mu.Unlock()
			cancel()
		}
	}()
	return ctx, in, func() {
		signal.Stop(in.sigs)
		cancel()
	}
}

// exitStatus is 130 after SIGINT, 143 after SIGTERM, and 0 when no signal came.
func (in *interruption) exitStatus() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	switch in.sig {
	case nil:
		return exitOK
	case syscall.SIGTERM:
		return exitTerminated
	default:
		return exitInterrupted
	}
}

// ignoreSIGPIPE makes a write to a closed stdout or stderr fail with EPIPE instead of
// killing the process, as smtp-source's signal(SIGPIPE, SIG_IGN) does: a reader that
// went away (… | head -1) must neither stop the traffic nor lose the accounting and the
// --json file. Without it Go exits with SIGPIPE on such a write to fd 1 or 2.
func ignoreSIGPIPE() { signal.Ignore(syscall.SIGPIPE) }

// openFilesLimit is the open-files limit the run has, which Go raised to the hard limit
// at start, as Postfix's open_limit() does; -1 if unknown.
func openFilesLimit() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > math.MaxInt32 {
		return -1
	}
	return int(rl.Cur)
}

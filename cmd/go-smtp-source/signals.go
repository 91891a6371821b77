package main

import (
	"context"
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

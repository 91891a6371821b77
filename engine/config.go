// Package engine runs an SMTP load: session slots driven by gnet event loops (one per
// core, no goroutine per session), dialing with net.Dialer, per-session timeouts and
// delays on timers, exact accounting of every planned message.
package engine

import (
	"errors"
	"net"
	"time"

	"github.com/go-smtp-source/go-smtp-source/protocol"
)

// Config is one run. The CLI builds it; nothing here reads flags or prints.
type Config struct {
	Target   Target
	Family   Family
	Sessions int   // -s: session slots working in parallel
	Messages int64 // -m: messages in total, shared by all slots

	// Protocol is the SMTP behaviour shared by all sessions. Template must be set;
	// Source is filled in by the engine.
	Protocol protocol.Config

	ConnectTries   int           // -C: tries per slot on failed connects (at least 1)
	ConnectTimeout time.Duration // per connect; 0 means Timeout
	Timeout        time.Duration // longest wait for the server at any step
	FixedDelay     time.Duration // -w: pause after each message
	RandomDelay    time.Duration // -R: pause of a random 0..RandomDelay (whole seconds) after each message
	SourceAddrs    []net.IP      // --source-addr: local addresses, used round-robin
	WindowSize     int           // -T: SO_SNDBUF and SO_RCVBUF before connect
	Linger0        bool          // --linger0: close with RST, like smtp-source
	EventLoops     int           // 0: one per CPU
	Grace          time.Duration // after an interrupt, how long in-flight sessions may finish

	Events Events // where warnings, the -v transcript and -c ticks go; may be nil
}

// Events receives what a run reports while it runs. Calls come from event-loop and
// dialing goroutines at once: implementations synchronise themselves.
type Events interface {
	Warning(err error)                  // a rejection under -A, or a retried connect
	Trace(line []byte, fromServer bool) // -v transcript lines
	DotSent()                           // -c: a message's final "." went out
}

// Result is what a run did. Accepted+Rejected+Failed+NotStarted == Planned, always.
type Result struct {
	Planned    int64
	Accepted   int64
	Rejected   int64
	Failed     int64
	NotStarted int64
	Sessions   int64 // connections established
	Elapsed    time.Duration
	Phases     [protocol.NumPhases]PhaseTotal
}

// PhaseTotal sums one phase over the run.
type PhaseTotal struct {
	Count int64
	Nanos int64
}

// Mean is the average duration of the phase.
func (p PhaseTotal) Mean() time.Duration {
	if p.Count == 0 {
		return 0
	}
	return time.Duration(p.Nanos / p.Count)
}

// ErrInterrupted is returned when the run was stopped from outside (SIGINT/SIGTERM).
var ErrInterrupted = errors.New("interrupted")

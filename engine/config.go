// Package engine runs an SMTP load: session slots driven by gnet event loops (one per
// core, no goroutine per session), dialing with net.Dialer, per-session timeouts and
// delays on timers, exact accounting of every planned message.
package engine

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/gnetlog"
	"github.com/go-smtp-source/go-smtp-source/metrics"
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
	MaxConnecting  int           // connects in progress at once (default 64; smtp-source makes one at a time)
	Timeout        time.Duration // longest wait for the server at any step
	FixedDelay     time.Duration // -w: pause after each message
	RandomDelay    time.Duration // -R: pause of a random 0..RandomDelay (whole seconds) after each message
	SourceAddrs    []net.IP      // --source-addr: local addresses, used round-robin
	WindowSize     int           // -T: SO_SNDBUF and SO_RCVBUF before connect
	Linger0        bool          // --linger0: close with RST, like smtp-source
	EventLoops     int           // 0: one per CPU
	Grace          time.Duration // after an interrupt, how long in-flight sessions may finish

	// Open model (any of Rate or Stages set): messages arrive on a schedule whatever
	// the server does; Messages then caps the count (0: what the schedule produces).
	Rate        float64       // messages per second (the start rate when Stages are given)
	Stages      []Stage       // linear ramps of the rate
	MaxSessions int           // sessions opened as needed up to this (default 1000)
	DropAfter   time.Duration // a due message that finds no session for this long is dropped (default 1s)
	LateAfter   time.Duration // pick-up later than this after the due time counts as late (default 10ms)

	// SessionStages ramps the number of sessions (closed model, like k6's ramping VUs):
	// targets reached linearly over each stage, Sessions caps them; the run ends with the
	// stages, or earlier when Messages (if > 0) are all sent.
	SessionStages []Stage

	// Shard, when set, is the part of the run this process owns (a cluster worker or a
	// --shard i/n run): Messages and Rate stay the whole run's; this process sends only
	// its messages, under their global numbers and due times.
	Shard *Shard
	// StartAt, when set, is the shared start (t0) of a run spread over several processes:
	// the run waits for it, and fails with ErrMissedStart when it is already more than
	// MaxStartLate past.
	StartAt      time.Time
	MaxStartLate time.Duration // default 100ms

	NoMetrics bool // record no phases, counters or errors (to measure what recording costs)

	// TLS is the client TLS configuration (server name, roots, versions, session cache),
	// shared by all connections; required when Protocol.TLS or Protocol.ImplicitTLS is set.
	TLS *tls.Config

	Events   Events         // where warnings, the -v transcript and -c ticks go; may be nil
	Progress func(Progress) // called once a second from a sampler goroutine; may be nil
	// OnInterval receives each second's full measurements as it closes (for an interval
	// log), from the sampler goroutine; may be nil.
	OnInterval func(start, end time.Time, snap *metrics.Snapshot)
	MessageLog io.Writer // --log-messages: one CSV line per message; may be nil
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

	Start     time.Time          // wall clock at the run's epoch
	Metrics   *metrics.Snapshot  // everything recorded, merged over loops and intervals
	Intervals []metrics.Interval // one per wall-clock second of the run
}

// ErrMissedStart is returned when StartAt had passed before the run could start.
var ErrMissedStart = errors.New("missed the shared start time")

// ErrInterrupted is returned when the run was stopped from outside (SIGINT/SIGTERM).
var ErrInterrupted = errors.New("interrupted")

// silentLogger is what the engine gives gnet: the project's one silent gnet logger.
type silentLogger = gnetlog.Silent

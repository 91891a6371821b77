package sink

import (
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// env is what every session of one server shares: configuration, pre-rendered replies,
// counters, the dump writer, the queue-id source, and the sources of time and chance.
type env struct {
	cfg    Config
	stats  *Stats
	dump   *dumpWriter
	ids    *idSource
	random func() float64
	clock  func() time.Time
	// now is the monotonic time in ns (greylisting, rate limits).
	now    func() int64
	seed   uint64
	push   *pushback
	trace  *tracer // nil without --trace
	banner []byte
	ehlo   []byte
	// ehloStartTLS is ehlo with STARTTLS, for sessions that can still start TLS.
	ehloStartTLS []byte
}

func newEnv(cfg Config, stats *Stats) *env {
	cfg = cfg.withDefaults()
	seed := cfg.Seed
	if seed == 0 {
		seed = 1 + rand.Uint64N(1<<53-1) // exact in any JSON reader's floating point
	}
	epoch := time.Now()
	e := &env{
		cfg:    cfg,
		stats:  stats,
		ids:    newIDSource(rand.Uint32()),
		random: newRandomStream(seed, streamDelays).float64,
		clock:  time.Now,
		now:    func() int64 { return int64(time.Since(epoch)) },
		seed:   seed,
	}
	e.push = newPushback(&e.cfg, seed)
	if cfg.TraceHeader != "" {
		e.trace = newTracer(&e.cfg, func() time.Time { return e.clock() })
	}
	stats.attach(e)
	e.dump = newDumpWriter(&e.cfg, e.clock)
	e.banner = banner(&e.cfg)
	e.ehlo = ehloReply(&e.cfg, false)
	e.ehloStartTLS = ehloReply(&e.cfg, true)
	return e
}

// idSource hands out queue ids: 8 hex digits, like smtp-sink's dump ids, counting up from
// a random start, so ids are unique within a run of up to 2^32 messages.
type idSource struct{ n atomic.Uint32 }

func newIDSource(start uint32) *idSource {
	s := &idSource{}
	s.n.Store(start)
	return s
}

const hexDigits = "0123456789abcdef"

func (s *idSource) next(id *[8]byte) {
	v := s.n.Add(1)
	for i := 7; i >= 0; i-- {
		id[i] = hexDigits[v&0xf]
		v >>= 4
	}
}

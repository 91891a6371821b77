package sink

import (
	"fmt"
	"hash/maphash"
	"sync"
	"time"
)

// Greylist is --greylist: the first attempt of each (client address, sender, recipient)
// triplet is refused at RCPT with "450 4.7.1"; the same triplet is accepted once Delay has
// passed since that first attempt, until Expire after it.
type Greylist struct {
	Enabled bool
	// Delay is how long a triplet must wait after its first attempt; default 5 minutes
	// (postgrey's). A retry before then is refused again.
	Delay time.Duration
	// Expire is how long a triplet is remembered after its first attempt; default 24 h.
	// An expired triplet is greylisted afresh.
	Expire time.Duration
	// MaxEntries bounds the table; when it is full the oldest triplet is forgotten
	// (counted as evicted). Default 1,000,000 (about 40 MB).
	MaxEntries int
}

// Greylisting defaults.
const (
	DefaultGreylistDelay  = 5 * time.Minute
	DefaultGreylistExpire = 24 * time.Hour
	DefaultGreylistMax    = 1_000_000
)

func (g Greylist) withDefaults() Greylist {
	if g.Delay == 0 && g.Enabled {
		g.Delay = DefaultGreylistDelay
	}
	if g.Expire == 0 {
		g.Expire = DefaultGreylistExpire
	}
	if g.MaxEntries == 0 {
		g.MaxEntries = DefaultGreylistMax
	}
	return g
}

func (g Greylist) validate() error {
	if !g.Enabled {
		return nil
	}
	if g.Delay < 0 || g.Expire < 0 || g.MaxEntries < 0 {
		return fmt.Errorf("sink config: negative greylist setting %+v", g)
	}
	if g.Expire != 0 && g.Expire <= g.Delay {
		return fmt.Errorf("sink config: greylist expiry %v is not longer than its delay %v", g.Expire, g.Delay)
	}
	return nil
}

// greylistTable remembers triplets by a 64-bit hash (a collision, about one in 2^64 per
// pair, would let a triplet through early) with their first attempt, oldest first in a
// queue: expiry and eviction both take from its head.
type greylistTable struct {
	cfg  Greylist
	seed maphash.Seed

	mu      sync.Mutex
	first   map[uint64]int64 // triplet → first attempt (server ns)
	queue   []greyEntry      // in order of first attempt; head is queue[head]
	head    int
	evicted int64
	refused int64
	passed  int64
}

type greyEntry struct {
	key   uint64
	first int64
}

func newGreylistTable(cfg Greylist) *greylistTable {
	return &greylistTable{cfg: cfg, seed: maphash.MakeSeed(), first: make(map[uint64]int64)}
}

// triplet hashes a client address, a sender and a recipient (already normalised).
func (g *greylistTable) triplet(client string, sender, rcpt []byte) uint64 {
	var h maphash.Hash
	h.SetSeed(g.seed)
	h.WriteString(client)
	h.WriteByte(0)
	h.Write(sender)
	h.WriteByte(0)
	h.Write(rcpt)
	return h.Sum64()
}

// check records an attempt of triplet key at now and says whether it may pass.
func (g *greylistTable) check(key uint64, now int64) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.expire(now)
	first, known := g.first[key]
	if !known {
		g.insert(key, now)
		g.refused++
		return false
	}
	if now-first < int64(g.cfg.Delay) {
		g.refused++
		return false
	}
	g.passed++
	return true
}

// expire forgets the triplets whose first attempt is older than the expiry.
func (g *greylistTable) expire(now int64) {
	for g.head < len(g.queue) && now-g.queue[g.head].first >= int64(g.cfg.Expire) {
		g.drop()
	}
}

func (g *greylistTable) insert(key uint64, now int64) {
	for len(g.first) >= g.cfg.MaxEntries && g.head < len(g.queue) {
		g.drop()
		g.evicted++
	}
	g.first[key] = now
	if g.head > 1024 && g.head > len(g.queue)/2 {
		n := copy(g.queue, g.queue[g.head:])
		g.queue, g.head = g.queue[:n], 0
	}
	g.queue = append(g.queue, greyEntry{key, now})
}

// drop forgets the oldest triplet.
func (g *greylistTable) drop() {
	e := g.queue[g.head]
	g.queue[g.head] = greyEntry{}
	g.head++
	if g.first[e.key] == e.first {
		delete(g.first, e.key)
	}
}

// GreylistCounts is the greylist's part of the stats.
type GreylistCounts struct {
	Refused int64 `json:"refused"` // RCPTs answered 450 4.7.1 (first attempts and early retries)
	Passed  int64 `json:"passed"`  // RCPTs of known triplets accepted after the delay
	Entries int64 `json:"entries"` // triplets remembered now
	Evicted int64 `json:"evicted"` // triplets forgotten before their expiry because the table was full
}

func (g *greylistTable) counts() GreylistCounts {
	g.mu.Lock()
	defer g.mu.Unlock()
	return GreylistCounts{Refused: g.refused, Passed: g.passed, Entries: int64(len(g.first)), Evicted: g.evicted}
}

// mailPath is the address of a MAIL or RCPT argument, for the greylist: what is inside
// the angle brackets (or the first word without them), lower-cased into dst.
func mailPath(dst, args []byte) []byte {
	p := pathArgs(args)
	if len(p) > 0 && p[0] == '<' {
		p = p[1:]
		for i, c := range p {
			if c == '>' {
				p = p[:i]
				break
			}
		}
	} else {
		for i, c := range p {
			if isBlank(c) {
				p = p[:i]
				break
			}
		}
	}
	dst = dst[:0]
	for _, c := range p {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

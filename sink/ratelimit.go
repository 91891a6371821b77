package sink

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RateLimit is one --rate-limit: a token bucket on messages (MAIL commands), per client
// address or per connection. A MAIL beyond the rate gets "451 4.7.1" and the session
// carries on (the default), or "421 4.7.0" and the connection is closed (Close).
type RateLimit struct {
	// Rate is the sustained rate in messages per second.
	Rate float64
	// Burst is how many messages may come back to back before the rate applies; default 1
	// (the messages are spaced at least 1/Rate apart), so a client that keeps asking gets
	// exactly Rate per second.
	Burst int
	// PerConnection applies the bucket to each connection instead of each client address.
	PerConnection bool
	// Close answers 421 4.7.0 and closes the connection instead of 451 4.7.1.
	Close bool
}

// String renders the limit in --rate-limit syntax.
func (r RateLimit) String() string {
	s := strconv.FormatFloat(r.Rate, 'g', -1, 64) + "/s"
	if r.Burst > 1 {
		s += ",burst=" + strconv.Itoa(r.Burst)
	}
	if r.PerConnection {
		s += ",per=connection"
	}
	if r.Close {
		s += ",reply=421"
	}
	return s
}

// ParseRateLimit reads --rate-limit's "RATE/UNIT[,burst=N][,per=client|connection]
// [,reply=451|421]": RATE a positive number, UNIT s, m or h (also sec, min, hour), for
// example "200/s", "3000/m,burst=10", "5/s,per=connection,reply=421".
func ParseRateLimit(spec string) (RateLimit, error) {
	items := strings.Split(spec, ",")
	rate, err := parseRate(strings.TrimSpace(items[0]))
	if err != nil {
		return RateLimit{}, fmt.Errorf("bad --rate-limit %q: %w", spec, err)
	}
	r := RateLimit{Rate: rate, Burst: 1}
	for _, item := range items[1:] {
		if err := r.setOption(strings.TrimSpace(item)); err != nil {
			return RateLimit{}, fmt.Errorf("bad --rate-limit %q: %w", spec, err)
		}
	}
	return r, r.validate()
}

// parseRate reads "200/s" into messages per second.
func parseRate(s string) (float64, error) {
	num, unit, ok := strings.Cut(s, "/")
	if !ok {
		return 0, fmt.Errorf("rate %q: want number/unit (200/s)", s)
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || !(n > 0) || math.IsInf(n, 0) {
		return 0, fmt.Errorf("rate %q: want a positive number", num)
	}
	var per time.Duration
	switch strings.ToLower(unit) {
	case "s", "sec", "second":
		per = time.Second
	case "m", "min", "minute":
		per = time.Minute
	case "h", "hour":
		per = time.Hour
	default:
		return 0, fmt.Errorf("rate unit %q: want s, m or h", unit)
	}
	return n / per.Seconds(), nil
}

func (r *RateLimit) setOption(item string) error {
	name, value, _ := strings.Cut(item, "=")
	switch name {
	case "burst":
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 || n > 1<<30 {
			return fmt.Errorf("burst %q: want a positive count", value)
		}
		r.Burst = n
	case "per":
		switch value {
		case "client":
			r.PerConnection = false
		case "connection":
			r.PerConnection = true
		default:
			return fmt.Errorf("per %q: want client or connection", value)
		}
	case "reply":
		switch value {
		case "451":
			r.Close = false
		case "421":
			r.Close = true
		default:
			return fmt.Errorf("reply %q: want 451 or 421", value)
		}
	default:
		return fmt.Errorf("unknown option %q: want burst=, per= or reply=", item)
	}
	return nil
}

func (r RateLimit) validate() error {
	interval := 1e9 / r.Rate
	if !(r.Rate > 0) || interval < 1 || interval > float64(math.MaxInt64)/float64(r.Burst+1) {
		return fmt.Errorf("bad rate limit %s: want at most 10^9 messages a second, and a burst of that many intervals within 292 years", r)
	}
	if r.Burst < 0 {
		return fmt.Errorf("bad rate limit %s: negative burst", r)
	}
	return nil
}

// gcra is a token bucket as the generic cell rate algorithm keeps it: one number, the
// theoretical arrival time of the next message. A message at now passes when now is no
// earlier than tat minus the burst tolerance; it then moves tat on by one interval.
type gcra struct {
	interval  int64 // ns between messages at the rate
	tolerance int64 // (burst − 1) intervals
}

func newGCRA(r RateLimit) gcra {
	interval := int64(math.Round(1e9 / r.Rate))
	burst := max(r.Burst, 1)
	return gcra{interval: interval, tolerance: int64(burst-1) * interval}
}

// allow decides for a message at now, updating *tat when it passes.
func (g gcra) allow(tat *int64, now int64) bool {
	t := max(*tat, now)
	if t-g.tolerance > now {
		return false
	}
	*tat = t + g.interval
	return true
}

// maxRateClients bounds the client addresses a per-client limit tracks at once. An
// address whose bucket has refilled is equivalent to an unknown one and is forgotten
// first; beyond that, an arbitrary one (counted).
const maxRateClients = 1 << 16

// clientBuckets is a per-client-address rate limit, shared by the loops.
type clientBuckets struct {
	g       gcra
	mu      sync.Mutex
	tat     map[string]int64
	evicted int64
}

func newClientBuckets(r RateLimit) *clientBuckets {
	return &clientBuckets{g: newGCRA(r), tat: make(map[string]int64)}
}

func (b *clientBuckets) allow(client string, now int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	tat, ok := b.tat[client]
	if !ok && len(b.tat) >= maxRateClients {
		b.sweep(now)
	}
	pass := b.g.allow(&tat, now)
	b.tat[client] = tat
	return pass
}

// sweep forgets the addresses whose bucket is full again, and an arbitrary one if none is.
func (b *clientBuckets) sweep(now int64) {
	for k, tat := range b.tat {
		if tat <= now {
			delete(b.tat, k)
		}
	}
	for k := range b.tat {
		if len(b.tat) < maxRateClients {
			break
		}
		delete(b.tat, k)
		b.evicted++
	}
}

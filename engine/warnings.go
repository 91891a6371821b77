package engine

import (
	"fmt"
	"sort"
	"sync"
)

// warningsPerKey is how many warnings of one error key are passed on per second; the
// rest are counted, and reported once a second as one RepeatedWarning. A thousand
// rejections print a handful of lines and a count, not a thousand lines.
const warningsPerKey = 5

// RepeatedWarning counts the warnings of one error key that were not passed on in the
// last second.
type RepeatedWarning struct {
	Key   string
	Count int64
}

func (w *RepeatedWarning) Error() string {
	return fmt.Sprintf("%d more %s warnings in the last second, not shown", w.Count, w.Key)
}

// warnLimiter passes warnings on to Events, at most warningsPerKey per key between two
// flushes (the sampler flushes once a second, and once at the end).
type warnLimiter struct {
	ev   Events
	mu   sync.Mutex
	seen map[string]int64 // warnings per key since the last flush
}

func newWarnLimiter(ev Events) *warnLimiter {
	return &warnLimiter{ev: ev, seen: make(map[string]int64)}
}

// warn passes err on unless its key has had its share this second. It is called from
// event loops and dialing goroutines at once; the Events call is made outside the lock,
// so that warnings of different sessions are never serialised behind a slow writer
// longer than Events itself makes them.
func (w *warnLimiter) warn(key string, err error) {
	w.mu.Lock()
	w.seen[key]++
	pass := w.seen[key] <= warningsPerKey
	w.mu.Unlock()
	if pass {
		w.ev.Warning(err)
	}
}

// flush reports the keys that had more than their share, in key order, and starts a new
// second.
func (w *warnLimiter) flush() {
	w.mu.Lock()
	var over []RepeatedWarning
	for key, n := range w.seen {
		if n > warningsPerKey {
			over = append(over, RepeatedWarning{Key: key, Count: n - warningsPerKey})
		}
	}
	clear(w.seen)
	w.mu.Unlock()
	sort.Slice(over, func(i, j int) bool { return over[i].Key < over[j].Key })
	for i := range over {
		w.ev.Warning(&over[i])
	}
}

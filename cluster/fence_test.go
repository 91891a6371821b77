package cluster

import (
	"strings"
	"testing"
	"time"
)

// A worker's fence counts a heartbeat as fresh by when the coordinator sent it (on the
// coordinator's clock, converted with the measured offset), not by when it arrived: a
// worker resumed after a pause reads old heartbeats first, and they do not let it send.
// A heartbeat that names its shard fences it for good.
func TestFenceAdmits(t *testing.T) {
	const offset = int64(5 * time.Second) // the coordinator's clock is 5 s ahead
	const stopAfter = 2500 * time.Millisecond
	beat := func(sentAgo time.Duration, lost ...int) []byte {
		return encode(Heartbeat{SentUnixNs: time.Now().Add(-sentAgo).UnixNano() + offset, Lost: lost})
	}
	var f fence
	f.init()
	if !f.admit() {
		t.Fatal("not admitted before heartbeats are timed")
	}
	f.shard.Store(1)
	f.timed(offset, stopAfter)
	f.heartbeat(beat(0))
	if !f.admit() {
		t.Fatalf("not admitted after a fresh heartbeat (stale %v)", f.stale())
	}
	// A pause of 3 s: the heartbeats read on waking were sent before it.
	f.freshNs.Store(f.sinceBase() - int64(3*time.Second))
	for _, ago := range []time.Duration{3 * time.Second, 2900 * time.Millisecond, 2600 * time.Millisecond} {
		f.heartbeat(beat(ago))
	}
	if f.admit() {
		t.Fatalf("admitted after stale heartbeats (stale %v)", f.stale())
	}
	if kind, why := f.check(); kind != StopSilent || !strings.Contains(why, "lost the coordinator") {
		t.Errorf("check: %v %q", kind, why)
	}
	f.heartbeat(beat(10 * time.Millisecond))
	if !f.admit() {
		t.Fatalf("not admitted after a fresh heartbeat (stale %v)", f.stale())
	}
	f.heartbeat(beat(0, 0, 2)) // others lost
	if !f.admit() {
		t.Fatal("fenced by another shard's loss")
	}
	f.heartbeat(beat(0, 1))
	f.heartbeat(beat(0))
	if f.admit() {
		t.Fatal("admitted after it was declared lost")
	}
	if kind, _ := f.check(); kind != StopFenced {
		t.Errorf("check: %v", kind)
	}
}

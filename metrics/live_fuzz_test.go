package metrics

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzLiveSecond feeds a cluster worker's second of measurements, as a report carries
// it, to its decoder: whatever the bytes, it decodes or refuses without a panic, and
// what it decodes encodes and decodes again to the same counts.
func FuzzLiveSecond(f *testing.F) {
	s := NewSnapshot()
	for i := 1; i <= 50; i++ {
		s.Record(Latency, int64(i)*int64(time.Millisecond))
		s.Record(EOD, int64(i)*int64(time.Microsecond))
	}
	s.Add(MessagesAccepted, 50)
	s.Error("net:timeout", "")
	seed, _ := json.Marshal(NewLiveSecond(time.Unix(1, 0), time.Unix(2, 0), s))
	f.Add(seed)
	f.Add([]byte(`{"counters":{"messages_accepted":-3},"errors":{"x":-1},"phases":[{"phase":"eod","count":1}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var ls LiveSecond
		if json.Unmarshal(data, &ls) != nil {
			return
		}
		snap, err := ls.Snapshot()
		if err != nil {
			return
		}
		again, err := NewLiveSecond(time.Unix(1, 0), time.Unix(2, 0), snap).Snapshot()
		if err != nil {
			t.Fatalf("re-encoded second refused: %v", err)
		}
		for p := Phase(0); p < NumPhases; p++ {
			if again.Count(p) != snap.Count(p) || again.Sum(p) != snap.Sum(p) {
				t.Fatalf("%v: %d/%v, then %d/%v", p, snap.Count(p), snap.Sum(p), again.Count(p), again.Sum(p))
			}
		}
		for c := Counter(0); c < NumCounters; c++ {
			if again.Counter(c) != snap.Counter(c) {
				t.Fatalf("%v: %d, then %d", c, snap.Counter(c), again.Counter(c))
			}
		}
	})
}

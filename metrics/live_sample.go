package metrics

import (
	"fmt"
	"time"
)

// LiveSample is what one process adds to a merged live view at one of its samples (a
// cluster worker's, once a second): the figures of its line that add up across processes,
// and its last second's measurements in mergeable form — histograms, never percentiles,
// since percentiles do not add up.
type LiveSample struct {
	TotalNs    int64       `json:"total_ns,omitempty"`    // the planned length (Live.Total)
	Planned    int64       `json:"planned,omitempty"`     // this process's messages (Live.Planned)
	TargetRate float64     `json:"target_rate,omitempty"` // this process's share of the schedule's rate now
	Late       int64       `json:"late,omitempty"`        // since the start
	Dropped    int64       `json:"dropped,omitempty"`     // since the start
	Corrected  bool        `json:"corrected,omitempty"`   // latency is CO-corrected (open model)
	Second     *LiveSecond `json:"second,omitempty"`      // the measurements since the previous sample
}

// NewLiveSample is l's additive part, with the measurements snap holds of the interval
// from start to end.
func NewLiveSample(l Live, start, end time.Time, snap *Snapshot) LiveSample {
	s := LiveSample{TotalNs: int64(l.Total), TargetRate: l.TargetRate, Late: l.Late, Dropped: l.Dropped, Corrected: l.Corrected}
	if l.Planned > 0 {
		s.Planned = l.Planned
	}
	if snap != nil {
		s.Second = NewLiveSecond(start, end, snap)
	}
	return s
}

// LiveSecond is one interval's measurements as a message carries them: its counters and
// errors by key (without their texts), and every phase's statistics with its histogram.
type LiveSecond struct {
	StartUnixNs int64            `json:"start_unix_ns"`
	EndUnixNs   int64            `json:"end_unix_ns"`
	Counters    map[string]int64 `json:"counters,omitempty"`
	Errors      map[string]int64 `json:"errors,omitempty"`
	Phases      []PhaseStats     `json:"phases,omitempty"`
}

// NewLiveSecond encodes the interval from start to end that s holds.
func NewLiveSecond(start, end time.Time, s *Snapshot) *LiveSecond {
	ls := &LiveSecond{StartUnixNs: start.UnixNano(), EndUnixNs: end.UnixNano()}
	for c := Counter(0); c < NumCounters; c++ {
		if n := s.Counter(c); n != 0 {
			if ls.Counters == nil {
				ls.Counters = make(map[string]int64)
			}
			ls.Counters[c.String()] = n
		}
	}
	for key, e := range s.errors {
		if ls.Errors == nil {
			ls.Errors = make(map[string]int64, len(s.errors))
		}
		ls.Errors[key] = e.count
	}
	for _, p := range s.Phases() {
		ps := newPhaseStats(p.String(), s.phases[p], true)
		ps.hist = nil // the encoding is what travels
		ls.Phases = append(ls.Phases, ps)
	}
	return ls
}

// Snapshot decodes the interval's measurements; names this program does not know are
// left out, a histogram of another geometry or a corrupt one is an error.
func (ls *LiveSecond) Snapshot() (*Snapshot, error) {
	s := NewSnapshot()
	if ls == nil {
		return s, nil
	}
	for name, n := range ls.Counters {
		if c, ok := CounterByName(name); ok {
			s.counters[c] += n
		}
	}
	for key, n := range ls.Errors {
		if n > 0 {
			s.errorN(key, n, "")
		}
	}
	for i := range ls.Phases {
		p, ok := PhaseByName(ls.Phases[i].Phase)
		if !ok || ls.Phases[i].Count <= 0 {
			continue
		}
		ps, err := ls.Phases[i].phaseSnapshot()
		if err != nil {
			return nil, fmt.Errorf("live second: %w", err)
		}
		if s.phases[p] == nil {
			ps.hist = ps.hist.Clone() // the decoded one stays ls's
			s.phases[p] = ps
		} else {
			s.phases[p].merge(ps)
		}
	}
	return s, nil
}

// LiveP99s are the p99s the live line shows of one second's measurements: the latency
// (CO-corrected from each message's due time when corrected, else the service time) and
// the end of data. 0: no message ended in it.
func LiveP99s(snap *Snapshot, corrected bool) (latency, eod time.Duration) {
	if snap == nil {
		return 0, 0
	}
	phase := ServiceTime
	if corrected {
		phase = Latency
	}
	return snap.Quantile(phase, 0.99), snap.Quantile(EOD, 0.99)
}

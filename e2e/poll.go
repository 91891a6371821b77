package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// Defaults of Config.
const (
	DefaultInterval = time.Second
	DefaultTimeout  = 5 * time.Second
	// pollLag is how long after a whole second a poll goes: go-smtp-sink closes each
	// second's interval about a millisecond after it.
	pollLag = 50 * time.Millisecond
)

// Config is what a Poller asks and whom.
type Config struct {
	// Sinks are go-smtp-sink --http addresses: "http://host:port" (/trace is added) or
	// the /trace URL itself.
	Sinks    []string
	Run      string        // the trace run id
	Header   string        // the trace header's name, which the sinks must count
	Interval time.Duration // between polls (DefaultInterval)
	Timeout  time.Duration // per request (DefaultTimeout)
}

// Live is the sinks' figures for the live view.
type Live struct {
	Delivered   int64         // distinct numbers seen so far, summed over the sinks
	DeliveryP99 time.Duration // the last whole second's delivery p99, the largest over the sinks; 0: no delivery in it
	Answered    int           // sinks that answered the last poll
	Sinks       int
}

// Poller asks the sinks what they have seen of a run: once a second while it goes on
// (the cheap form, for the live view), then, at its end, until every accepted message
// has been seen or the wait is over, and once more for everything.
type Poller struct {
	cfg    Config
	client *http.Client
	sinks  []*sinkState

	mu   sync.Mutex
	live Live

	stop context.CancelFunc
	done chan struct{}
}

// sinkState is one sink as the poller knows it.
type sinkState struct {
	name  string // as given
	url   *url.URL
	clock Clock // the smallest round trip's offset so far (RTT 0: none yet)
	err   error // the last poll's
}

// NewPoller checks the configuration; Start begins the live polls.
func NewPoller(cfg Config) (*Poller, error) {
	if len(cfg.Sinks) == 0 {
		return nil, errors.New("e2e: no sink to poll")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	p := &Poller{cfg: cfg, client: &http.Client{Timeout: cfg.Timeout}}
	for _, s := range cfg.Sinks {
		u, err := TraceURL(s)
		if err != nil {
			return nil, err
		}
		p.sinks = append(p.sinks, &sinkState{name: s, url: u})
	}
	p.live.Sinks = len(p.sinks)
	return p, nil
}

// TraceURL is the /trace URL of a sink given as "http://host:port" or by that URL.
func TraceURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("e2e sink %q: want go-smtp-sink's --http address, http://HOST:PORT", s)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("e2e sink %q: want http://HOST:PORT[/trace], without a query, fragment or user", s)
	}
	switch strings.TrimSuffix(u.Path, "/") {
	case "":
		u.Path = "/trace"
	case "/trace":
	default:
		return nil, fmt.Errorf("e2e sink %q: the path is go-smtp-sink's /trace", s)
	}
	return u, nil
}

// Start polls the sinks once a second (just after each whole second, when the sinks
// have closed it) until Finish.
func (p *Poller) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	p.stop, p.done = cancel, make(chan struct{})
	go func() {
		defer close(p.done)
		timer := time.NewTimer(time.Hour)
		defer timer.Stop()
		for {
			now := time.Now()
			timer.Reset(now.Truncate(time.Second).Add(p.cfg.Interval + pollLag).Sub(now))
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
				p.pollLive(ctx)
			}
		}
	}()
}

// Stop ends the live polls (Finish does too); it may be called more than once.
func (p *Poller) Stop() {
	if p.stop != nil {
		p.stop()
		<-p.done
	}
}

// Live is the figures of the last poll.
func (p *Poller) Live() Live {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.live
}

// query is one request's parameters.
type query struct {
	since      time.Time // the series from this second (zero: all of it)
	ranges     bool      // with the seen set
	histograms bool      // with the histograms' encodings
}

// pollLive asks every sink for the cheap form and sets the live figures: the last whole
// second's p99 from its interval.
func (p *Poller) pollLive(ctx context.Context) {
	last := time.Now().Truncate(time.Second).Add(-time.Second)
	docs := p.fetchAll(ctx, query{since: last})
	l := Live{Sinks: len(p.sinks)}
	for i, doc := range docs {
		if doc == nil {
			continue
		}
		l.Answered++
		tr, ok := doc.run(p.cfg.Run)
		if !ok {
			continue
		}
		l.Delivered += tr.Seen
		if p99, ok := secondP99(tr, last); ok {
			l.DeliveryP99 = max(l.DeliveryP99, p.clock(i).onSourceClock(p99))
		}
	}
	p.mu.Lock()
	p.live = l
	p.mu.Unlock()
}

// secondP99 is the delivery p99 of the second starting at sec, if anything arrived in it.
func secondP99(tr *TraceRun, sec time.Time) (time.Duration, bool) {
	for _, iv := range tr.Intervals {
		if !iv.Start.Equal(sec) {
			continue
		}
		for _, ps := range iv.Phases {
			if ps.Phase == metrics.Delivery.String() && ps.Count > 0 {
				return time.Duration(ps.P99Ns), true
			}
		}
	}
	return 0, false
}

// clock is sink i's clock as measured so far.
func (p *Poller) clock(i int) Clock {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sinks[i].clock
}

// fetchAll asks every sink at once; a sink that did not answer has a nil document (and
// its error kept).
func (p *Poller) fetchAll(ctx context.Context, q query) []*TraceDocument {
	docs := make([]*TraceDocument, len(p.sinks))
	var wg sync.WaitGroup
	for i, s := range p.sinks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			doc, err := p.fetch(ctx, s, q)
			p.mu.Lock()
			s.err = err
			p.mu.Unlock()
			docs[i] = doc
		}()
	}
	wg.Wait()
	return docs
}

// fetch asks one sink for the run, and keeps the clock sample if its round trip is the
// shortest yet: the sink's time in the document against the request's midpoint.
func (p *Poller) fetch(ctx context.Context, s *sinkState, q query) (*TraceDocument, error) {
	u := *s.url
	v := url.Values{"run": {p.cfg.Run}}
	if !q.since.IsZero() {
		v.Set("since", strconv.FormatInt(q.since.Unix(), 10))
	}
	if !q.ranges {
		v.Set("ranges", "0")
	}
	if !q.histograms {
		v.Set("histograms", "0")
	}
	u.RawQuery = v.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("e2e sink %s: %w", s.name, err)
	}
	sent := time.Now()
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("e2e sink %s: %w", s.name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("e2e sink %s: %s (is it go-smtp-sink --trace --http?)", s.name, resp.Status)
	}
	doc, err := ReadDocument(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("e2e sink %s: %w", s.name, err)
	}
	rtt := time.Since(sent)
	if !strings.EqualFold(doc.Header, p.cfg.Header) {
		return nil, fmt.Errorf("e2e sink %s: it counts header %s, the run sends %s", s.name, doc.Header, p.cfg.Header)
	}
	p.mu.Lock()
	if s.clock.RTT == 0 || rtt < s.clock.RTT {
		s.clock = Clock{Offset: doc.Time.Sub(sent.Add(rtt / 2)), RTT: max(rtt, 1)}
	}
	p.mu.Unlock()
	return doc, nil
}

// Finish ends the live polls and reconciles: it asks the sinks for their seen sets once
// per interval until every accepted number has been seen or wait is over (the deadline),
// then once more for everything, and returns run with what the sinks saw, the numbers
// seen by the deadline, and its figures derived. A sink that cannot be asked is recorded
// with its error (it has seen nothing), and its error returned among the warnings.
func (p *Poller) Finish(ctx context.Context, run metrics.E2ERun, wait time.Duration) (metrics.E2ERun, []error) {
	p.Stop()
	onTime := p.waitForAll(ctx, run.Accepted, time.Now().Add(wait))
	run.Deadline, run.OnTime = time.Now().UTC(), onTime
	docs := p.fetchAll(context.WithoutCancel(ctx), query{ranges: true, histograms: true})
	var warnings []error
	run.Sinks = nil
	for i, doc := range docs {
		s := p.sinks[i]
		if doc == nil {
			warnings = append(warnings, s.err)
			run.Sinks = append(run.Sinks, metrics.E2ESink{Name: s.name, Error: s.err.Error(), Seen: metrics.NewSeqSet(),
				Delivery: metrics.PhaseStats{Phase: metrics.Delivery.String()}})
			continue
		}
		rec, err := Record(s.name, doc, run.Run, p.clock(i))
		if err != nil {
			warnings = append(warnings, err)
			rec = metrics.E2ESink{Name: s.name, Error: err.Error(), Seen: metrics.NewSeqSet(), Delivery: metrics.PhaseStats{Phase: metrics.Delivery.String()}}
		}
		run.Sinks = append(run.Sinks, rec)
	}
	if err := run.Derive(); err != nil {
		warnings = append(warnings, err)
	}
	return run, warnings
}

// waitForAll polls the sinks' seen sets until they hold every accepted number, the
// deadline passes or ctx ends (an interrupt: stop waiting), and returns their union at
// the last poll.
func (p *Poller) waitForAll(ctx context.Context, accepted *metrics.SeqSet, deadline time.Time) *metrics.SeqSet {
	for {
		seen := metrics.NewSeqSet()
		for i, doc := range p.fetchAll(ctx, query{since: time.Now(), ranges: true}) {
			if doc == nil {
				continue
			}
			if tr, ok := doc.run(p.cfg.Run); ok {
				if set, err := metrics.ParseSeqRanges(tr.SeenSet); err == nil {
					seen.Union(set)
				} else {
					p.setErr(i, fmt.Errorf("e2e sink %s: seen_set: %w", p.sinks[i].name, err))
				}
			}
		}
		left := time.Until(deadline)
		if metrics.Difference(accepted, seen).Len() == 0 || left <= 0 {
			return seen
		}
		select {
		case <-ctx.Done():
			return seen
		case <-time.After(min(left, p.cfg.Interval)):
		}
	}
}

func (p *Poller) setErr(i int, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sinks[i].err = err
}

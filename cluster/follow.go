package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// follow collects reports and final results until every worker has delivered or is lost.
func (c *coordinator) follow(ctx context.Context) error {
	live := time.NewTicker(c.cfg.ReportInterval / 4)
	defer live.Stop()
	c.parts, c.done = make(map[int][][]byte), make(map[int]bool)
	var runErr error
	for c.pending() > 0 {
		select {
		case <-ctx.Done():
			if c.out.Aborted == "" {
				c.abort("the coordinator was interrupted")
				c.cfg.Event("interrupted: aborting the run")
			}
			ctx = context.Background()
		case now := <-live.C:
			c.checkLiveness(now)
		case m := <-c.msgs:
			if err := c.take(m); err != nil && runErr == nil {
				runErr = err
			}
		}
		c.progress()
	}
	c.out.StartSkew = c.startSkew()
	switch {
	case runErr != nil:
		return runErr
	case c.out.Incomplete:
		return ErrWorkerLost
	case c.out.Aborted != "":
		return errors.New(c.out.Aborted)
	}
	return nil
}

// pending is the number of workers neither done nor lost.
func (c *coordinator) pending() int {
	n := 0
	for k, w := range c.out.Workers {
		if !c.done[k] && !w.Lost {
			n++
		}
	}
	return n
}

// take handles one message while the run goes: a part of a final result, or what
// handle takes. A worker's failed run aborts the others and is returned; the result of
// a lost worker, or of one that stopped because it may be lost, is kept apart.
func (c *coordinator) take(m *nats.Msg) error {
	k, ok := shardOf(m.Subject, "final")
	if !ok || k >= len(c.out.Workers) {
		c.handle(m)
		return nil
	}
	f, doc, complete, err := c.final(m, k)
	if err != nil {
		c.cfg.Event(err.Error())
		return nil
	}
	w := &c.out.Workers[k]
	if !complete || c.done[k] || w.Late != nil {
		return nil
	}
	if !w.Lost && f.Stopped.selfLost() {
		c.declareLost(k, fmt.Sprintf("worker %s (shard %d) lost: it stopped by itself, having heard no fresh heartbeat for %v", w.Name, k, c.cfg.stopAfter()))
	}
	if w.Lost {
		c.keepLate(w, f, doc)
		return nil
	}
	c.done[k] = true
	c.timeline.settle(k)
	w.Document, w.Error = doc, f.Error
	if !f.StartAt.IsZero() {
		w.Started = f.StartAt.Add(time.Duration(w.OffsetNs))
	}
	if w.Error == "" || c.out.Aborted != "" {
		return nil
	}
	err = fmt.Errorf("worker %s: %s", w.Name, w.Error)
	c.abort(err.Error())
	return err
}

// keepLate keeps a lost worker's final result apart from the merge: the messages it
// sent after it was declared lost are not the run's, and the run's report shows them
// separately.
func (c *coordinator) keepLate(w *WorkerResult, f Final, doc []byte) {
	late := &LateResult{Document: doc, Error: f.Error}
	counts := "no result document"
	if len(doc) > 0 {
		if r, err := metrics.ReadReport(bytes.NewReader(doc)); err == nil {
			late.Totals = &r.Totals
			counts = fmt.Sprintf("%d accepted, %d rejected, %d failed, %d not started", r.Totals.Accepted, r.Totals.Rejected, r.Totals.Failed, r.Totals.NotStarted)
		} else {
			counts = fmt.Sprintf("an unreadable result document (%v)", err)
		}
	}
	w.Late = late
	c.cfg.Event(fmt.Sprintf("late result of lost worker %s (shard %d), kept out of the merge: %s", w.Name, w.Shard, counts))
}

// final takes one part of a worker's final result; complete says the result is whole,
// and doc is then the document it carried (nil if none).
func (c *coordinator) final(m *nats.Msg, k int) (f Final, doc []byte, complete bool, err error) {
	if err := json.Unmarshal(m.Data, &f); err != nil {
		return f, nil, false, fmt.Errorf("final result of shard %d: %w", k, err)
	}
	_ = m.Respond([]byte("ok")) // acknowledged even when repeated or late: parts are idempotent
	w := &c.out.Workers[k]
	if !w.Lost {
		w.LastSeen = time.Now()
	}
	if f.Parts < 1 || f.Part < 0 || f.Part >= f.Parts || f.Parts > 1<<16 {
		return f, nil, false, fmt.Errorf("final result of shard %d: part %d of %d", k, f.Part, f.Parts)
	}
	if len(c.parts[k]) != f.Parts {
		c.parts[k] = make([][]byte, f.Parts)
	}
	c.parts[k][f.Part] = append([]byte{}, f.Data...)
	for _, p := range c.parts[k] {
		if p == nil {
			return f, nil, false, nil
		}
	}
	for _, p := range c.parts[k] {
		doc = append(doc, p...)
	}
	if len(doc) == 0 {
		doc = nil
	}
	return f, doc, true, nil
}

// checkLiveness declares lost the workers that have not reported for MissedReports
// intervals (those done excepted).
func (c *coordinator) checkLiveness(now time.Time) {
	for k := range c.out.Workers {
		w := &c.out.Workers[k]
		if w.Lost || c.done[k] || now.Sub(w.LastSeen) <= c.cfg.lostAfter() {
			continue
		}
		c.declareLost(k, fmt.Sprintf("worker %s (shard %d) lost: no report since %s; %d of its %d messages unaccounted for",
			w.Name, w.Shard, w.LastSeen.UTC().Format(time.RFC3339Nano), w.Unaccounted(), w.Planned))
	}
}

// declareLost makes a worker lost for good: it is fenced (every heartbeat from now on
// names it, starting with one sent at once), nothing it sends later is merged, and the
// run is aborted unless ContinueOnLoss.
func (c *coordinator) declareLost(k int, reason string) {
	w := &c.out.Workers[k]
	w.Lost = true
	c.out.Incomplete = true
	c.mu.Lock()
	c.lost = append(c.lost, k)
	c.mu.Unlock()
	c.heartbeat()
	c.timeline.settle(k)
	c.cfg.Event(reason)
	if !c.cfg.ContinueOnLoss {
		c.abort(reason)
	}
}

// progress hands the live view the last whole second every running worker has
// reported, once, with what was measured up to it.
func (c *coordinator) progress() {
	if c.cfg.Progress == nil && c.cfg.OnInterval == nil || c.timeline == nil {
		return
	}
	from := c.timeline.shown
	p, measured, ok := c.timeline.next()
	if !ok {
		return
	}
	for _, w := range c.out.Workers {
		if w.Lost {
			p.Lost++
		} else {
			p.Workers++
		}
	}
	if c.cfg.OnInterval != nil {
		start := c.out.StartAt
		if from > 0 {
			start = time.Unix(from, 0)
		}
		c.cfg.OnInterval(start, c.out.StartAt.Add(p.Elapsed), measured)
	}
	if c.cfg.Progress != nil {
		c.cfg.Progress(p)
	}
}

// startSkew is the spread of the workers' actual starts, on the coordinator's clock.
func (c *coordinator) startSkew() time.Duration {
	var starts []time.Time
	for _, w := range c.out.Workers {
		if !w.Started.IsZero() {
			starts = append(starts, w.Started)
		}
	}
	if len(starts) < 2 {
		return 0
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i].Before(starts[j]) })
	return starts[len(starts)-1].Sub(starts[0])
}

// handle answers joins (at any time: refused once the roster is frozen) and takes reports.
func (c *coordinator) handle(m *nats.Msg) {
	if m.Subject == c.subj("join") {
		c.join(m)
		return
	}
	k, ok := shardOf(m.Subject, "report")
	if !ok || k >= len(c.out.Workers) {
		return
	}
	var r Report
	if json.Unmarshal(m.Data, &r) != nil {
		return
	}
	w := &c.out.Workers[k]
	if w.Lost {
		return // lost is final: a late report does not bring it back
	}
	w.LastSeen = time.Now()
	if r.Seq > w.Last.Seq {
		w.Last = r
	}
	if c.timeline != nil {
		c.timeline.add(k, r)
	}
}

// join answers a worker asking to join: a place in the roster, or why not.
func (c *coordinator) join(m *nats.Msg) {
	var req JoinRequest
	refuse := func(kind, reason, event string) {
		_ = m.Respond(encode(JoinReply{Reject: kind, Reason: reason}))
		c.cfg.Event(event)
	}
	switch {
	case json.Unmarshal(m.Data, &req) != nil || req.Worker == "":
		_ = m.Respond(encode(JoinReply{Reject: "bad", Reason: "unreadable join request"}))
	case req.Version != c.cfg.Version:
		refuse("version", fmt.Sprintf("worker version %q, coordinator %q: run the same build everywhere", req.Version, c.cfg.Version),
			fmt.Sprintf("refused worker %s (%s): version %q, not %q: run the same build everywhere", req.Worker, req.Host, req.Version, c.cfg.Version))
	case c.frozen:
		refuse("started", "the run has its workers already (late joiners are refused)", fmt.Sprintf("refused late worker %s", req.Worker))
	case slices.ContainsFunc(c.out.Workers, func(w WorkerResult) bool { return w.Name == req.Worker }):
		refuse("duplicate", fmt.Sprintf("a worker named %s has joined already", req.Worker),
			fmt.Sprintf("refused worker %s (%s): a worker of that name has joined already (give each worker its own --name)", req.Worker, req.Host))
	default:
		k := len(c.out.Workers)
		c.out.Workers = append(c.out.Workers, WorkerResult{Name: req.Worker, Host: req.Host, Shard: k, LastSeen: time.Now()})
		c.weights = append(c.weights, max(req.Weight, 1))
		_ = m.Respond(encode(JoinReply{Shard: k}))
		c.cfg.Event(fmt.Sprintf("worker %s (%s) joined as shard %d", req.Worker, req.Host, k))
	}
}

// shardOf reads the shard from a subject gss.v4.<run>.<kind>.<shard>.
func shardOf(subj, kind string) (int, bool) {
	parts := strings.Split(subj, ".")
	if len(parts) != 5 || parts[3] != kind {
		return 0, false
	}
	k, err := strconv.Atoi(parts[4])
	return k, err == nil && k >= 0
}

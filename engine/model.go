package engine

// loadModel decides when messages start and how many sessions carry them, as vegeta's
// Pacer makes arrival models pluggable. The closed model keeps a fixed number of sessions
// busy (smtp-source's -s); the open model releases messages on a schedule whatever the
// server does (--rate, --stages); the session ramp is the closed model with a moving
// number of sessions (--stages-of sessions). A new model — a capacity search, a replay of
// recorded arrivals — is one more implementation.
//
// Methods are called from dialing goroutines, event loops and timers at once:
// implementations synchronise themselves. A slot calls take, exhausted, pause and closed
// only while it owns itself (see slot).
type loadModel interface {
	// start begins the load once the event loops run. Whatever it keeps running (a
	// dispatcher, a controller) holds one of the runner's active tokens until it is done.
	start()
	// take gives s its next message, on a new connection or on its open one (-d): the
	// message and when it was due. ok is false when none will come for s.
	take(s *slot, now int64) (d due, ok bool)
	// exhausted reports that s's connection should QUIT after the message in hand.
	exhausted(s *slot) bool
	// pause: s's connection is between messages (protocol.StepPause). The model resumes
	// it later with handOver: with the next message, or with none to QUIT.
	pause(s *slot)
	// closed: s's connection is gone and s holds no message. The model starts s's next
	// connection, parks s, or finishes it (runner.slotDone).
	closed(s *slot)
	// interrupt: the run is being stopped from outside; sessions idle between messages
	// must learn that no message will come.
	interrupt()
	// scheduled reports that messages have due times: their lag and latency are recorded.
	scheduled() bool
}

// newModel picks the run's load model: an arrival schedule makes it open, session
// stages make it a ramp, and otherwise it is smtp-source's closed model.
func newModel(r *runner, sched *Schedule) loadModel {
	switch {
	case sched != nil:
		return &openModel{r: r, sched: sched}
	case len(r.cfg.SessionStages) > 0:
		return &sessionRamp{closedModel: closedModel{r: r}, sched: RampingRate(0, r.cfg.SessionStages, 0)}
	default:
		return closedModel{r: r}
	}
}

// closedModel is smtp-source's: Sessions slots, each taking the next message from the
// shared budget when it is done with the last, after the -w/-R pause.
type closedModel struct{ r *runner }

func (m closedModel) start() {
	slots := make([]*slot, min(int64(m.r.cfg.Sessions), m.r.local)) // more would never connect
	for i := range slots {
		slots[i] = m.r.addSlot() // all counted active before any can finish
	}
	for _, s := range slots {
		s.startNext()
	}
}

func (m closedModel) take(_ *slot, now int64) (due, bool) {
	seq, ok := m.r.claim()
	return due{seq: seq, at: now}, ok
}

func (m closedModel) exhausted(*slot) bool { return m.r.exhausted() }

func (m closedModel) pause(s *slot) { s.resumeAfter(m.r.delay()) }

func (m closedModel) closed(s *slot) {
	if m.r.stopping.Load() || s.client.OutOfMessages() {
		m.r.slotDone()
		return
	}
	s.startAnother()
}

func (closedModel) interrupt() {}

func (closedModel) scheduled() bool { return false }

package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/plan"
	"github.com/go-smtp-source/go-smtp-source/protocol"
)

// runner is one run: the shared message budget, the gnet client and the slots.
type runner struct {
	gnet.BuiltinEventEngine

	cfg      Config
	proto    protocol.Config
	addr     net.Addr
	epoch    time.Time
	cli      *gnet.Client
	dialers  []*net.Dialer
	nextDial atomic.Uint64
	model    loadModel

	claimed  atomic.Int64
	local    int64       // messages this process owns (all of them without a Shard)
	stopping atomic.Bool // no new message may start

	dials      *dialQueue // slots waiting to connect, served by MaxConnecting goroutines
	dialCtx    context.Context
	cancelDial context.CancelFunc

	enrollMu sync.RWMutex // Enroll after Client.Stop blocks forever; Stop takes the write lock
	stopped  bool         // under enrollMu
	shut     atomic.Bool  // shutdown has begun: connections closing now were cut off

	active  atomic.Int64 // slots not finished, and the model's tokens
	allDone chan struct{}

	fatalOnce sync.Once
	fatalErr  error
	fatalCh   chan struct{}
	haltOnce  sync.Once
	halt      chan struct{} // closed when no new message may start (fatal, interrupt, shutdown)

	slotsMu sync.Mutex
	slots   []*slot

	unbounded bool // no message count: the run lasts as long as its stages
	recs      *recorders
	sampling  chan struct{} // closed to stop the sampler
	sampled   chan struct{} // closed when the sampler has stopped
	msgLog    *messageLog
	inFlight  atomic.Int64 // connections open
	conns     atomic.Int64 // connections established so far: the last one's number
	loops     int          // event loops running

	sched     *Schedule    // the open model's arrivals; nil otherwise
	lastDue   atomic.Int64 // the open model: the due time of the last message released (ns since the epoch)
	stoppedAt atomic.Int64 // ns since the epoch when no message could start any more; 0 until then
	cutOff    atomic.Bool  // the planned end (MaxDuration) stopped the run: what the grace leaves is cut off
	warns     *warnLimiter

	accepted *metrics.SeqRecorder // the accepted messages' numbers (a traced run); nil otherwise

	budgeted bool         // the plan has an error budget: outcomes are counted as they come
	outcomes atomic.Int64 // messages with an outcome so far (budgeted runs)
	errs     atomic.Int64 // of which rejected or failed, not cut off
}

// stop forbids new messages from now on.
func (r *runner) stop() {
	r.stoppedAt.CompareAndSwap(0, max(r.now(), 1))
	r.stopping.Store(true)
	r.haltOnce.Do(func() { close(r.halt) })
}

// addSlot creates one more session slot.
func (r *runner) addSlot() *slot {
	r.slotsMu.Lock()
	defer r.slotsMu.Unlock()
	s := newSlot(r, len(r.slots))
	r.slots = append(r.slots, s)
	r.active.Add(1)
	return s
}

func (r *runner) allSlots() []*slot {
	r.slotsMu.Lock()
	defer r.slotsMu.Unlock()
	return append([]*slot(nil), r.slots...)
}

func (r *runner) now() int64 { return int64(time.Since(r.epoch)) }

// claim takes one message from the shared budget (closed model).
func (r *runner) claim() (int64, bool) {
	if r.stopping.Load() {
		return 0, false
	}
	n := r.claimed.Add(1)
	if n > r.local {
		r.claimed.Add(-1)
		return 0, false
	}
	if r.cfg.Shard != nil {
		return r.cfg.Shard.Global(n-1) + 1, true
	}
	return n, true
}

// admitted asks Hooks.Admit whether a message may start; once refused, the run starts
// no more.
func (r *runner) admitted() bool {
	if r.cfg.Admit == nil || r.cfg.Admit() {
		return true
	}
	r.stop()
	return false
}

// exhausted reports that no message is left to start.
func (r *runner) exhausted() bool {
	return r.stopping.Load() || r.claimed.Load() >= r.local
}

// fatal stops the run with err, as smtp-source's msg_fatal does (without the exit).
func (r *runner) fatal(err error) {
	r.fatalOnce.Do(func() {
		r.fatalErr = err
		r.stop()
		close(r.fatalCh)
	})
}

// Run runs a plan as it is (its defaults filled, see plan.WithDefaults): p.Messages
// messages over p.Sessions parallel session slots (or the plan's load model), or its
// shard's part of them, and returns the accounting. The error is an invalid plan, the
// fatal condition that stopped the run early (a rejection without -A, a lost
// connection, a timeout, a failed connect), ErrInterrupted when ctx was cancelled, or
// nil.
func Run(ctx context.Context, p plan.Plan, hooks Hooks) (Result, error) {
	cfg, err := newConfig(p, hooks)
	if err != nil {
		return Result{}, err
	}
	return runConfig(ctx, cfg)
}

// runConfig runs a resolved plan: it works out the load model's schedule and this
// process's messages, then runs.
func runConfig(ctx context.Context, cfg Config) (Result, error) {
	var sched *Schedule
	switch {
	case cfg.Rate > 0 && len(cfg.Stages) > 0:
		sched = RampingRate(cfg.Rate, cfg.Stages, cfg.Messages)
	case len(cfg.Stages) > 0:
		sched = RampingRate(0, cfg.Stages, cfg.Messages)
	case cfg.Rate > 0:
		sched = ConstantRate(cfg.Rate, cfg.Messages)
	}
	if sched != nil {
		cfg.Messages = sched.Total()
		cfg.Sessions = cfg.MaxSessions
	}
	unbounded := false
	if len(cfg.SessionStages) > 0 && sched == nil {
		if cfg.Messages <= 0 {
			cfg.Messages, unbounded = math.MaxInt64/4, true
		}
		if cfg.Sessions < 1 {
			cfg.Sessions = math.MaxInt32 // no cap beyond the stages' targets
		}
	}
	if cfg.Sessions < 1 || cfg.Messages < 1 {
		return Result{Planned: cfg.Messages, NotStarted: cfg.Messages}, errors.New("engine: sessions and messages must be positive")
	}
	local := cfg.Messages
	if cfg.Shard != nil {
		if err := cfg.Shard.Validate(); err != nil {
			return Result{}, err
		}
		local = cfg.Shard.Count(cfg.Messages)
	}
	if err := checkTLS(&cfg); err != nil {
		return Result{Planned: local, NotStarted: local}, err
	}
	return run(ctx, cfg, local, sched, unbounded)
}

// run is a run with its plan resolved, phase by phase: resolve the target, start the
// event loops, wait for a shared start, load, wait for the end, stop.
func run(ctx context.Context, cfg Config, local int64, sched *Schedule, unbounded bool) (Result, error) {
	notStarted := Result{Planned: local, NotStarted: local}
	addr, err := cfg.Target.Resolve(ctx, cfg.Family)
	if err != nil {
		return notStarted, err
	}
	r := newRunner(cfg, addr, local, sched, unbounded)
	defer r.release()
	if err := r.startLoops(); err != nil {
		return notStarted, err
	}
	if err := r.awaitStart(ctx); err != nil {
		_ = r.cli.Stop()
		return notStarted, err
	}
	r.begin()
	return r.end(r.wait(ctx))
}

// newRunner sets a run up: its protocol configuration, load model, dialers and dialing
// goroutines (release ends them).
func newRunner(cfg Config, addr net.Addr, local int64, sched *Schedule, unbounded bool) *runner {
	r := &runner{
		cfg:       cfg,
		addr:      addr,
		local:     local,
		unbounded: unbounded,
		sched:     sched,
		warns:     newWarnLimiter(cfg.Events),
		budgeted:  cfg.MaxErrors > 0 || cfg.MaxErrorsPercent > 0,
		allDone:   make(chan struct{}),
		fatalCh:   make(chan struct{}),
		halt:      make(chan struct{}),
		dials:     newDialQueue(),
	}
	r.proto = cfg.Protocol
	r.proto.PauseBetween = cfg.FixedDelay > 0 || cfg.RandomDelay > 0 ||
		sched != nil && cfg.Protocol.ReuseConnection // open model: the dispatcher says when
	r.model = newModel(r, sched)
	if cfg.Trace != nil {
		r.accepted = metrics.NewSeqRecorder(acceptedLimit(cfg.Messages, unbounded))
	}
	for i := 0; i < cfg.MaxConnecting; i++ {
		go r.dials.serve()
	}
	r.dialCtx, r.cancelDial = context.WithCancel(context.Background())
	r.dialers = newDialers(cfg, addr)
	return r
}

// acceptedLimit is the highest sequence number a traced run can accept: its messages,
// all shards together (a run as long as its stages: any).
func acceptedLimit(messages int64, unbounded bool) uint64 {
	if unbounded || messages <= 0 {
		return 0
	}
	return uint64(messages)
}

// release ends the dialing goroutines, however the run ended.
func (r *runner) release() {
	r.dials.close()
	r.cancelDial()
}

// startLoops starts the gnet event loops: one per CPU unless told, never more than
// sessions.
func (r *runner) startLoops() error {
	loops := r.cfg.EventLoops
	if loops <= 0 {
		loops = runtime.NumCPU()
	}
	if loops > r.cfg.Sessions {
		loops = r.cfg.Sessions
	}
	r.loops = loops
	cli, err := gnet.NewClient(r,
		gnet.WithNumEventLoop(loops),
		gnet.WithReadBufferCap(16<<10), // per loop; SMTP replies are small
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogger(silentLogger{}))
	if err != nil {
		return fmt.Errorf("event loops: %w", err)
	}
	if err := cli.Start(); err != nil {
		return fmt.Errorf("event loops: %w", err)
	}
	r.cli = cli
	return nil
}

// awaitStart waits for the shared start of a run spread over several processes
// (StartAt), and refuses it when it has passed by more than MaxStartLate: before the
// wait, and again when the wait ends, since a process stopped (SIGSTOP, a frozen VM)
// during the wait wakes up late, and a late start would shift its whole schedule.
func (r *runner) awaitStart(ctx context.Context) error {
	if r.cfg.StartAt.IsZero() {
		return nil
	}
	tooLate := func() error {
		if late := time.Since(r.cfg.StartAt); late > r.cfg.MaxStartLate {
			return fmt.Errorf("%w: %v late", ErrMissedStart, late)
		}
		return nil
	}
	if err := tooLate(); err != nil {
		return err
	}
	select {
	case <-time.After(time.Until(r.cfg.StartAt)):
		return tooLate()
	case <-ctx.Done():
		return ErrInterrupted
	}
}

// begin is the run's epoch: recording starts, and the load model starts the load.
func (r *runner) begin() {
	r.epoch = time.Now()
	if r.proto.Template != nil {
		r.proto.Template.SetTraceEpoch(r.epoch.UnixNano())
	}
	r.recs = newRecorders(r.epoch, r.cfg.NoMetrics)
	r.recs.onSample = r.cfg.OnInterval
	if r.cfg.MessageLog != nil {
		r.msgLog = newMessageLog(r.cfg.MessageLog, r.epoch.UnixNano())
	}
	r.sampling, r.sampled = make(chan struct{}), make(chan struct{})
	go r.recs.run(r, r.sampling, r.sampled)
	r.model.start()
}

// wait returns when every message is done, a fatal error has stopped the run, or the
// run was interrupted (ErrInterrupted) or reached its planned end (MaxDuration) and the
// sessions in flight have had their grace period to finish.
func (r *runner) wait(ctx context.Context) error {
	var planned <-chan time.Time
	if d := r.cfg.MaxDuration; d > 0 {
		t := time.NewTimer(time.Until(r.epoch.Add(d)))
		defer t.Stop()
		planned = t.C
	}
	var err error
	select {
	case <-r.allDone:
		return nil
	case <-r.fatalCh:
		return nil
	case <-ctx.Done():
		err = ErrInterrupted
	case <-planned:
		r.cutOff.Store(true)
	}
	r.closeWindow()
	grace := time.NewTimer(r.cfg.Grace)
	defer grace.Stop()
	interrupt := ctx.Done()
	if err != nil {
		interrupt = nil // interrupted already
	}
	select {
	case <-r.allDone:
	case <-r.fatalCh:
	case <-grace.C:
	case <-interrupt: // during the planned end's grace: what is left is aborted
		r.cutOff.Store(false)
		err = ErrInterrupted
	}
	return err
}

// closeWindow ends the sending window: no message starts from now on; sessions idle
// between messages are told none will come, and pauses and backoffs end at once, so
// that only sessions in the middle of a message use the grace period.
func (r *runner) closeWindow() {
	r.stop()
	r.model.interrupt()
	for _, s := range r.allSlots() {
		s.cutWait()
	}
}

// end stops what is still running and accounts for the run. A fatal error wins over an
// interrupt.
func (r *runner) end(runErr error) (Result, error) {
	elapsed := time.Since(r.epoch)
	r.shutdown()
	<-r.allDone
	close(r.sampling)
	<-r.sampled
	r.recs.sample(time.Now()) // the loops have stopped: the last interval is complete
	r.warns.flush()
	if r.fatalErr != nil {
		runErr = r.fatalErr
	}
	if err := r.checkBudget(r.errs.Load(), r.outcomes.Load(), true); err != nil && runErr == nil {
		runErr = err
	}
	res := r.result(elapsed)
	if r.msgLog != nil {
		if err := r.msgLog.close(); err != nil && runErr == nil {
			runErr = fmt.Errorf("--log-messages: %w", err)
		}
	}
	return res, runErr
}

// shutdown stops everything still running: dials are cancelled, delays end, and the
// event loops close the remaining connections (their messages count as failed, aborted).
func (r *runner) shutdown() {
	r.stop()
	r.shut.Store(true)
	r.cancelDial()
	for _, s := range r.dials.close() {
		s.abandon(r.endErr()) // claimed, never connected
	}
	for _, s := range r.allSlots() {
		s.cutWait()
	}
	r.enrollMu.Lock()
	r.stopped = true
	r.enrollMu.Unlock()
	_ = r.cli.Stop()
	for _, s := range r.allSlots() {
		s.finishCut() // a close that waited for a handshake's report the loops will not run
	}
}

func (r *runner) result(elapsed time.Duration) Result {
	res := Result{Planned: r.local, Elapsed: elapsed, Start: r.epoch,
		Metrics: r.recs.total, Intervals: r.recs.intervals, EventLoops: r.loops, Trace: r.cfg.Trace}
	if r.accepted != nil {
		res.AcceptedSeqs = r.accepted.Set()
	}
	last := r.lastDue.Load()
	for _, s := range r.allSlots() {
		res.Accepted += s.accepted
		res.Rejected += s.rejected
		res.Failed += s.failed
		res.Sessions += s.sessions
		res.Answered += s.answered
		last = max(last, s.lastStart, s.lastAnswer)
	}
	res.Sending = sendingWindow(last, r.stoppedAt.Load(), elapsed)
	if r.unbounded {
		res.Planned = res.Accepted + res.Rejected + res.Failed
	}
	res.NotStarted = res.Planned - res.Accepted - res.Rejected - res.Failed
	return res
}

// sendingWindow is the window from the epoch to the last message started, due or
// answered (last), cut at the moment the run stopped (stopped, 0: never) and at most the
// run's elapsed time.
func sendingWindow(last, stopped int64, elapsed time.Duration) time.Duration {
	w := time.Duration(last)
	if stopped > 0 && w > time.Duration(stopped) {
		w = time.Duration(stopped)
	}
	if w <= 0 || w > elapsed {
		w = elapsed
	}
	return w
}

// outcome counts one message's outcome for the error budget; isError: rejected or
// failed, not cut off by the run's end.
func (r *runner) outcome(isError bool) {
	if !r.budgeted {
		return
	}
	n := r.outcomes.Add(1)
	if !isError {
		return
	}
	if err := r.checkBudget(r.errs.Add(1), n, false); err != nil {
		r.fatal(err)
	}
}

// checkBudget is the budget's verdict over errs errors among n outcomes: a count is
// checked at once; a share once plan.BudgetMinMessages have an outcome, or at the end
// (final).
func (r *runner) checkBudget(errs, n int64, final bool) error {
	c := &r.cfg
	switch {
	case c.MaxErrors > 0 && errs > c.MaxErrors:
		return &ErrorBudgetError{Errors: errs, Outcomes: n, Budget: strconv.FormatInt(c.MaxErrors, 10)}
	case c.MaxErrorsPercent > 0 && n > 0 && (final || n >= plan.BudgetMinMessages) &&
		float64(errs)*100 > c.MaxErrorsPercent*float64(n):
		return &ErrorBudgetError{Errors: errs, Outcomes: n, Budget: strconv.FormatFloat(c.MaxErrorsPercent, 'g', -1, 64) + "%"}
	}
	return nil
}

func (r *runner) slotDone() {
	if r.active.Add(-1) == 0 {
		close(r.allDone)
	}
}

// delay is the pause after a message (-w, -R); zero without them.
func (r *runner) delay() time.Duration {
	if r.cfg.RandomDelay > 0 {
		secs := int64(r.cfg.RandomDelay / time.Second)
		return time.Duration(rand.Int64N(secs+1)) * time.Second
	}
	return r.cfg.FixedDelay
}

func newDialers(cfg Config, addr net.Addr) []*net.Dialer {
	control := func(_ context.Context, network, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			if cfg.WindowSize > 0 {
				if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, cfg.WindowSize); serr != nil {
					return
				}
				if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, cfg.WindowSize); serr != nil {
					return
				}
			}
			if len(cfg.SourceAddrs) > 0 && (network == "tcp4" || network == "tcp6" || network == "tcp") {
				// Choose the port at connect(), not bind(): ports are then shared across
				// destinations instead of being unique per source address.
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}
	base := net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: -1, ControlContext: control}
	if _, ok := addr.(*net.TCPAddr); !ok || len(cfg.SourceAddrs) == 0 {
		d := base
		return []*net.Dialer{&d}
	}
	ds := make([]*net.Dialer, len(cfg.SourceAddrs))
	for i, ip := range cfg.SourceAddrs {
		d := base
		d.LocalAddr = &net.TCPAddr{IP: ip}
		ds[i] = &d
	}
	return ds
}

func (r *runner) dialer() *net.Dialer {
	if len(r.dialers) == 1 {
		return r.dialers[0]
	}
	return r.dialers[(r.nextDial.Add(1)-1)%uint64(len(r.dialers))]
}

// OnOpen starts the session of the slot that dialed this connection.
func (r *runner) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	s := c.Context().(*slot)
	s.opened(c)
	return nil, gnet.None
}

// OnTraffic feeds the server's bytes to the slot's machine.
func (r *runner) OnTraffic(c gnet.Conn) gnet.Action {
	return c.Context().(*slot).traffic(c)
}

// OnClose ends the slot's session and, unless the run is over, starts its next one.
func (r *runner) OnClose(c gnet.Conn, err error) gnet.Action {
	c.Context().(*slot).closed(err)
	return gnet.None
}

type nopEvents struct{}

func (nopEvents) Warning(error)      {}
func (nopEvents) Trace([]byte, bool) {}
func (nopEvents) DotSent()           {}

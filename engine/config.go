// Package engine runs an SMTP load: session slots driven by gnet event loops (one per
// core, no goroutine per session), dialing with net.Dialer, per-session timeouts and
// delays on timers, exact accounting of every planned message.
package engine

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/gnetlog"
	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/plan"
	"github.com/go-smtp-source/go-smtp-source/protocol"
)

// Hooks is what a run takes besides its plan: what cannot be serialised (callbacks,
// writers, a built TLS configuration) and what must not be (AUTH secrets). The zero
// value is a run nobody watches.
type Hooks struct {
	Events   Events         // where warnings, the -v transcript and -c ticks go; may be nil
	Progress func(Progress) // called once a second from a sampler goroutine; may be nil
	// OnInterval receives each second's full measurements as it closes (for an interval
	// log), from the sampler goroutine; may be nil.
	OnInterval func(start, end time.Time, snap *metrics.Snapshot)
	MessageLog io.Writer // --log-messages: one CSV line per message; may be nil
	Trace      bool      // report every command and reply line to Events.Trace (-v)

	// TLS is the client TLS configuration shared by all connections; nil builds it from
	// the plan (TLSConfig) when the plan asks for TLS.
	TLS *tls.Config
	// Credentials are the AUTH users and passwords, used round-robin: required when the
	// plan has Auth (the plan names them; the caller reads the secrets).
	Credentials []protocol.Credential
	// Admit, when set, is asked before each message starts (from dialing goroutines,
	// event loops and the open model's dispatcher at once: it must be quick and
	// synchronise itself); false stops the run from starting messages, as an interrupt
	// does. A cluster worker answers false once it may have been declared lost.
	Admit func() bool
}

// Config is a plan as the engine runs it: resolved into the protocol machine's
// configuration, this process's part of a shard, and the hooks. Run builds it from a
// plan; nothing outside the engine does.
type Config struct {
	Target   Target
	Family   Family
	Sessions int   // session slots working in parallel (this shard's share)
	Messages int64 // messages in total, all shards together

	// Protocol is the SMTP behaviour shared by all sessions; Source is filled in by the
	// engine.
	Protocol protocol.Config

	ConnectTries   int
	ConnectTimeout time.Duration
	MaxConnecting  int
	Timeout        time.Duration
	FixedDelay     time.Duration
	RandomDelay    time.Duration
	SourceAddrs    []net.IP
	WindowSize     int
	Linger0        bool
	EventLoops     int // 0: one per CPU
	Grace          time.Duration

	// Open model (Rate or Stages set).
	Rate        float64
	Stages      []Stage
	MaxSessions int // this shard's share
	DropAfter   time.Duration
	LateAfter   time.Duration

	SessionStages []Stage // closed model with ramped sessions

	Shard        *plan.Ownership // the messages this process owns; nil: all of them
	Trace        *plan.Trace     // messages carry the trace header; the accepted ones are recorded
	StartAt      time.Time
	MaxStartLate time.Duration

	NoMetrics bool
	TLS       *tls.Config

	// MaxDuration is the hard end of the sending window (0: none): no message starts
	// after it, sessions in flight get Grace, then are cut off.
	MaxDuration time.Duration
	// Continue: a session's failure fails its message and the session reconnects after
	// a backoff (OnErrorContinue); otherwise the first failure ends the run.
	Continue bool
	// The error budget: the run ends once more than MaxErrors messages, or more than
	// MaxErrorsPercent of those with an outcome, were rejected or failed (0: no limit).
	MaxErrors        int64
	MaxErrorsPercent float64
	// Thresholds, with ThresholdAbort, stop the run as soon as one is lost, once
	// AbortDelay has passed.
	Thresholds     []metrics.Threshold
	ThresholdAbort bool
	AbortDelay     time.Duration

	Events     Events
	Progress   func(Progress)
	OnInterval func(start, end time.Time, snap *metrics.Snapshot)
	MessageLog io.Writer
	Admit      func() bool
}

// newConfig resolves a plan for running: it validates it, parses the target, renders
// the message template and the protocol configuration, builds the TLS configuration
// (unless hooks bring one) and works out this shard's part.
func newConfig(p plan.Plan, h Hooks) (Config, error) {
	if err := p.Validate(); err != nil {
		return Config{}, fmt.Errorf("plan: %w", err)
	}
	target, err := ParseTarget(p.Target)
	if err != nil {
		return Config{}, err
	}
	pc, err := protocolConfig(p, h)
	if err != nil {
		return Config{}, err
	}
	cfg := Config{
		Target: target, Family: p.Family, Sessions: p.Sessions, Messages: p.Messages, Protocol: pc,
		ConnectTries: p.Connect.Tries, ConnectTimeout: p.Connect.Timeout, MaxConnecting: p.Connect.MaxConnecting,
		Timeout: p.Session.Timeout, FixedDelay: p.Session.FixedDelay, RandomDelay: p.Session.RandomDelay,
		SourceAddrs: p.Local.SourceAddrs, WindowSize: p.Connect.WindowSize, Linger0: p.Connect.Linger0,
		EventLoops: p.Local.EventLoops, Grace: p.Grace,
		MaxSessions: p.Load.MaxSessions, DropAfter: p.Load.DropAfter, LateAfter: p.Load.LateAfter,
		StartAt: p.StartAt, MaxStartLate: p.MaxStartLate, NoMetrics: p.NoMetrics, TLS: h.TLS,
		Events: h.Events, Progress: h.Progress, OnInterval: h.OnInterval, MessageLog: h.MessageLog, Admit: h.Admit,
		MaxDuration: p.MaxDuration, Continue: p.Errors.OnError == plan.OnErrorContinue,
		MaxErrors: p.Errors.MaxErrors, MaxErrorsPercent: p.Errors.MaxErrorsPercent,
		ThresholdAbort: p.Thresholds.Abort, AbortDelay: p.Thresholds.AbortDelay, Trace: p.Trace,
	}
	if cfg.Thresholds, err = metrics.ParseThresholds(p.Thresholds.Exprs); err != nil {
		return Config{}, fmt.Errorf("plan: thresholds: %w", err)
	}
	switch p.Load.Model {
	case plan.ModelOpen:
		cfg.Rate, cfg.Stages = p.Load.Rate, stages(p.Load.Stages)
	case plan.ModelRampingSessions:
		cfg.SessionStages = stages(p.Load.Stages)
	}
	if cfg.Events == nil {
		cfg.Events = nopEvents{}
	}
	if cfg.TLS == nil && p.TLS.Encrypted() {
		if cfg.TLS, err = TLSConfig(p); err != nil {
			return Config{}, err
		}
	}
	return cfg, applyShard(p, &cfg)
}

// applyShard makes cfg this shard's part of the run: the messages it owns (of the whole
// run's count, stages included) and its share of the sessions (or of the open model's
// session cap).
func applyShard(p plan.Plan, cfg *Config) error {
	if p.Shard == nil {
		return nil
	}
	cfg.Messages = TotalMessages(p)
	if err := p.CheckShares(p.Shard.Weights, cfg.Messages); err != nil {
		return fmt.Errorf("shard %v: %w", p.Shard, err)
	}
	split, err := plan.NewSplit(p.Shard.Weights)
	if err != nil {
		return err
	}
	cfg.Shard = split.Shard(p.Shard.Index)
	share := int(split.Share(p.Shard.Index, p.SplitSessions()))
	if p.OpenModel() {
		cfg.MaxSessions = share
	} else {
		cfg.Sessions = share
	}
	return nil
}

// TotalMessages is a plan's whole message count: Messages, or for the open model with
// stages and no count, what the schedule produces (0 for a run as long as its stages).
func TotalMessages(p plan.Plan) int64 {
	if p.Messages > 0 || p.Load.Model != plan.ModelOpen || len(p.Load.Stages) == 0 {
		return p.Messages
	}
	return RampingRate(p.Load.Rate, stages(p.Load.Stages), 0).Total()
}

func stages(st []plan.Stage) []Stage {
	out := make([]Stage, len(st))
	for i, s := range st {
		out[i] = Stage(s)
	}
	return out
}

// protocolConfig renders the message template and the session's protocol settings.
// The HELO host name defaults to this machine's (each worker's own in a cluster); the
// Date header and the Message-Id's process ID are this process's, at the run's start.
func protocolConfig(p plan.Plan, h Hooks) (protocol.Config, error) {
	myhostname := p.Session.Hostname
	if myhostname == "" {
		var err error
		if myhostname, err = os.Hostname(); err != nil {
			return protocol.Config{}, fmt.Errorf("gethostname: %w", err)
		}
	}
	m := p.Message
	defaultAddr := "foo@" + myhostname
	spec := protocol.MessageSpec{
		Sender: defaultAddr, Recipient: defaultAddr, Recipients: m.Recipients, NumberRecipients: m.NumberRecipients,
		Hostname: myhostname, Headers: !m.NoHeaders && m.File == nil, Subject: m.Subject,
		Date: protocol.FormatDate(time.Now()), PID: os.Getpid(),
	}
	if p.Shard != nil { // a run spread over processes: its start tells its Message-Ids from other runs'
		start := p.StartAt
		if start.IsZero() {
			start = time.Now()
		}
		spec.Run = uint64(start.UnixNano())
	}
	if t := p.Trace; t != nil {
		spec.Trace = &protocol.TraceSpec{Header: t.Header, Run: t.Run}
	}
	if m.From != nil {
		spec.Sender = *m.From
	}
	if m.To != nil {
		spec.Recipient = *m.To
	}
	if m.Numbering == "3.7" {
		spec.Numbering = protocol.NumberingPostfix37
	}
	switch {
	case m.File != nil:
		spec.Content = protocol.FileContent(m.File.Content)
	case m.Length > 0:
		spec.Length = m.Length // sent from a pattern, not rendered
	default:
		spec.Content = protocol.DefaultContent()
	}
	if err := applyContent(&spec, m); err != nil {
		return protocol.Config{}, err
	}
	if p.Shard != nil {
		spec.Worker = p.Shard.Index
	}
	pc := protocol.Config{
		Greeting: greeting(p), Hostname: myhostname, LMTP: p.Session.LMTP, Pipelining: p.Session.Pipelining,
		ReuseConnection: p.Session.Reuse, Trace: h.Trace,
		// With --on-error continue a rejection is counted and the session goes on, as -A has it.
		AllowReject: p.Session.AllowReject || p.Errors.OnError == plan.OnErrorContinue,
		Template:    protocol.NewTemplate(spec),
	}
	switch {
	case p.TLS.Wrapper:
		pc.TLS, pc.ImplicitTLS = protocol.TLSRequired, true
	case p.TLS.Level == plan.TLSMay:
		pc.TLS = protocol.TLSMay
	case p.TLS.Encrypted():
		pc.TLS = protocol.TLSRequired
	}
	var err error
	if pc.ESMTP, err = esmtpConfig(p, pc.Template); err != nil {
		return protocol.Config{}, err
	}
	if a := p.Auth; a != nil {
		if len(h.Credentials) == 0 {
			return protocol.Config{}, errors.New("auth: the plan names AUTH credentials, and none were given")
		}
		pc.Auth = &protocol.AuthConfig{Mechanism: a.Mechanism, Credentials: protocol.NewRoundRobin(h.Credentials), Insecure: a.Insecure}
	}
	return pc, nil
}

// greeting is the plan's greeting, HELO upgraded to EHLO when STARTTLS or AUTH (EHLO
// extensions) are asked for.
func greeting(p plan.Plan) protocol.Greeting {
	switch p.Session.Greeting {
	case plan.GreetNone:
		return protocol.GreetNone
	case plan.GreetLHLO:
		return protocol.GreetLHLO
	case plan.GreetEHLO:
		return protocol.GreetEHLO
	}
	if p.TLS.Encrypted() || p.Auth != nil || p.ESMTP.NeedsEHLO() {
		return protocol.GreetEHLO
	}
	return protocol.GreetHELO
}

// TLSConfig builds the client TLS configuration a plan asks for (nil when it asks for
// none), reading the files it names: Postfix's may and encrypt encrypt without checking
// the certificate; verify and secure check it against the CA file (or the system roots)
// for the server name (or the target's host). Errors name the plan's fields.
func TLSConfig(p plan.Plan) (*tls.Config, error) {
	t := p.TLS
	if !t.Encrypted() {
		return nil, nil
	}
	lo, err := plan.TLSVersion(t.MinVersion)
	if err != nil {
		return nil, fmt.Errorf("tls.min_version: %w", err)
	}
	hi, err := plan.TLSVersion(t.MaxVersion)
	if err != nil {
		return nil, fmt.Errorf("tls.max_version: %w", err)
	}
	ciphers, err := plan.CipherSuites(t.Ciphers)
	if err != nil {
		return nil, fmt.Errorf("tls.ciphers: %w", err)
	}
	tc := &tls.Config{MinVersion: lo, MaxVersion: hi, CipherSuites: ciphers, ServerName: t.ServerName}
	if tc.ServerName == "" {
		if target, err := ParseTarget(p.Target); err == nil {
			tc.ServerName = target.Host
		}
	}
	if t.Level == plan.TLSMay || t.Level == plan.TLSEncrypt {
		tc.InsecureSkipVerify = true // Postfix's may/encrypt: encrypted, certificate not checked
	} else if tc.RootCAs, err = caPool(t.CAFile); err != nil {
		return nil, err
	}
	if t.CertFile != "" {
		pair, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls.cert_file/tls.key_file: %v", err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	if t.Resume {
		tc.ClientSessionCache = tls.NewLRUClientSessionCache(64)
	}
	return tc, nil
}

// caPool reads a PEM file of certificate authorities (nil, the system's, without one).
func caPool(file string) (*x509.CertPool, error) {
	if file == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("tls.ca_file: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("tls.ca_file %s: no PEM certificate in it", file)
	}
	return pool, nil
}

// Events receives what a run reports while it runs. Calls come from event-loop and
// dialing goroutines at once: implementations synchronise themselves.
type Events interface {
	// Warning: a rejection under -A, a retried connect, a failure the run goes on
	// after. At most a few a second per error key; then one *RepeatedWarning a second
	// counts the others.
	Warning(err error)
	Trace(line []byte, fromServer bool) // -v transcript lines
	DotSent()                           // -c: a message's final "." went out
}

// Result is what a run did. Accepted+Rejected+Failed+NotStarted == Planned, always.
type Result struct {
	Planned    int64
	Accepted   int64
	Rejected   int64
	Failed     int64
	NotStarted int64
	Sessions   int64 // connections established
	Elapsed    time.Duration

	Start     time.Time          // wall clock at the run's epoch
	Metrics   *metrics.Snapshot  // everything recorded, merged over loops and intervals
	Intervals []metrics.Interval // one per wall-clock second of the run

	// Sending is the sending window: from the start until no message started or was
	// answered any more, or until the run stopped (its planned end, an interrupt, a
	// fatal error), whichever came first. Elapsed − Sending is the drain. Answered is
	// the messages accepted or rejected within it.
	Sending  time.Duration
	Answered int64
	// EventLoops is the number of event loops the run used.
	EventLoops int
	// Trace is the plan's trace (nil: none), and AcceptedSeqs the sequence numbers of the
	// messages accepted, which a sink behind the MTA should see.
	Trace        *plan.Trace
	AcceptedSeqs *metrics.SeqSet
}

// Drain is how long the run went on after its sending window: sessions finishing,
// timing out, or cut off.
func (r Result) Drain() time.Duration { return r.Elapsed - r.Sending }

// AchievedRate is the messages answered per second of the sending window.
func (r Result) AchievedRate() float64 {
	if r.Sending <= 0 {
		return 0
	}
	return float64(r.Answered) / r.Sending.Seconds()
}

// Figures is the run's figures for thresholds.
func (r Result) Figures() metrics.Figures {
	snap := r.Metrics
	if snap == nil {
		snap = metrics.NewSnapshot()
	}
	t := r.Measured().Totals
	return metrics.Figures{Totals: t, Snap: snap, Window: r.Sending, Answered: r.Answered}
}

// Measured is the run's measurements as a result document takes them
// (metrics.ResultReport).
func (r Result) Measured() metrics.RunResult {
	var e2e *metrics.E2ERun
	if r.Trace != nil {
		e2e = &metrics.E2ERun{Run: r.Trace.Run, Header: r.Trace.Header, Accepted: r.AcceptedSeqs}
	}
	return metrics.RunResult{Start: r.Start, Elapsed: r.Elapsed, Snapshot: r.Metrics, Intervals: r.Intervals,
		Sending: r.Sending, Answered: r.Answered, E2E: e2e,
		Totals: metrics.Totals{Planned: r.Planned, Accepted: r.Accepted, Rejected: r.Rejected,
			Failed: r.Failed, NotStarted: r.NotStarted, Sessions: r.Sessions}}
}

// ErrMissedStart is returned when StartAt had passed before the run could start.
var ErrMissedStart = errors.New("missed the shared start time")

// ErrInterrupted is returned when the run was stopped from outside (SIGINT/SIGTERM).
var ErrInterrupted = errors.New("interrupted")

// silentLogger is what the engine gives gnet: the project's one silent gnet logger.
type silentLogger = gnetlog.Silent

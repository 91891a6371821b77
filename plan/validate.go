package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/go-smtp-source/go-smtp-source/internal/hostport"
	"github.com/go-smtp-source/go-smtp-source/internal/validhost"
	"github.com/go-smtp-source/go-smtp-source/protocol"
)

// MaxRate bounds the open model's rate (messages per second).
const MaxRate = 1e7

// Validate says what is wrong with a plan (with defaults filled in), naming the fields
// as its JSON form does ("tls.max_version"), so that the command line can name its flags
// instead: the first problem found, in one line. It checks the plan's
// values and how they combine; what needs the machine (resolving the target, reading
// the files it names) is checked where that happens.
func (p Plan) Validate() error {
	if p.SchemaVersion != SchemaVersion {
		return fmt.Errorf("schema_version %d: this program runs plans of version %d", p.SchemaVersion, SchemaVersion)
	}
	for _, check := range []func() error{p.validateTarget, p.validateCounts, p.validateLoad,
		p.validateSession, p.validateMessage, p.validateConnect, p.validateSecurity, p.validateShard, p.validateLoadTest, p.validateTrace, p.validateESMTP} {
		if err := check(); err != nil {
			return err
		}
	}
	if p.Grace <= 0 || p.MaxStartLate <= 0 {
		return fmt.Errorf("grace_ns and max_start_late_ns must be positive (%v, %v)", p.Grace, p.MaxStartLate)
	}
	if p.Local.EventLoops < 0 {
		return fmt.Errorf("local.event_loops: must not be negative: %d", p.Local.EventLoops)
	}
	return nil
}

func (p Plan) validateTarget() error {
	if p.Target == "" {
		return errors.New("target: missing")
	}
	if _, err := hostport.Parse(p.Target); err != nil {
		return fmt.Errorf("target: %w", err)
	}
	if p.Family > hostport.IPv6 {
		return fmt.Errorf("family: %v", p.Family)
	}
	return nil
}

func (p Plan) validateCounts() error {
	switch {
	case p.Messages < 0:
		return fmt.Errorf("messages: must not be negative: %d", p.Messages)
	case p.Messages == 0 && len(p.Load.Stages) == 0:
		return errors.New("messages: a run without stages needs a message count")
	case p.Sessions < 0 || p.Sessions == 0 && p.Load.Model != ModelRampingSessions:
		return fmt.Errorf("sessions: must be positive: %d", p.Sessions)
	}
	return nil
}

func (p Plan) validateLoad() error {
	l := &p.Load
	switch l.Model {
	case ModelClosed:
		if l.Rate != 0 || len(l.Stages) > 0 {
			return errors.New("load: the closed model takes neither a rate nor stages (the open model does; closed-ramping takes stages)")
		}
	case ModelRampingSessions:
		if l.Rate != 0 || len(l.Stages) == 0 {
			return errors.New("load: closed-ramping ramps sessions by its stages: it needs stages and takes no rate")
		}
	case ModelOpen:
		if l.Rate <= 0 && len(l.Stages) == 0 {
			return errors.New("load: the open model needs a rate or stages")
		}
	default:
		return fmt.Errorf("load.model: want closed, closed-ramping or open, got %q", l.Model)
	}
	if l.Rate < 0 || l.Rate > MaxRate || math.IsNaN(l.Rate) {
		return fmt.Errorf("load.rate: want messages per second in [0, %g]: %g", MaxRate, l.Rate)
	}
	for i, s := range l.Stages {
		if s.Duration <= 0 || s.Target < 0 || math.IsInf(s.Target, 0) || math.IsNaN(s.Target) {
			return fmt.Errorf("load.stages[%d]: want a positive duration and a target ≥ 0: %v, %g", i, s.Duration, s.Target)
		}
	}
	if l.MaxSessions < 1 || l.DropAfter <= 0 || l.LateAfter <= 0 {
		return fmt.Errorf("load: max_sessions, drop_after_ns and late_after_ns must be positive (%d, %v, %v)", l.MaxSessions, l.DropAfter, l.LateAfter)
	}
	return nil
}

func (p Plan) validateSession() error {
	s := &p.Session
	switch s.Greeting {
	case GreetHELO, GreetEHLO, GreetLHLO, GreetNone:
	default:
		return fmt.Errorf("session.greeting: want helo, ehlo, lhlo or none, got %q", s.Greeting)
	}
	if s.Hostname != "" {
		if err := CheckHostname(s.Hostname); err != nil {
			return fmt.Errorf("session.hostname: %w", err)
		}
	}
	switch {
	case s.Timeout <= 0:
		return fmt.Errorf("session.timeout_ns: must be positive: %v", s.Timeout)
	case s.FixedDelay < 0 || s.RandomDelay < 0:
		return errors.New("session: delays must not be negative")
	case s.FixedDelay > 0 && s.RandomDelay > 0:
		return errors.New("session: fixed_delay_ns and random_delay_ns: use one")
	}
	return nil
}

func (p Plan) validateMessage() error {
	m := &p.Message
	switch {
	case m.Recipients < 1:
		return fmt.Errorf("message.recipients: must be positive: %d", m.Recipients)
	case m.Numbering != "3.9" && m.Numbering != "3.7":
		return fmt.Errorf("message.numbering: want 3.7 or 3.9, got %q", m.Numbering)
	case m.Length < 0:
		return fmt.Errorf("message.length: must not be negative: %d", m.Length)
	case m.Length > 0 && m.File != nil:
		return errors.New("message: length and file: use one")
	}
	if m.File != nil {
		if err := m.File.check(); err != nil {
			return err
		}
	}
	return m.validateContent()
}

// NewFile is a message file's entry in a plan.
func NewFile(name string, content []byte) *File {
	sum := sha256.Sum256(content)
	return &File{Name: name, Size: int64(len(content)), SHA256: hex.EncodeToString(sum[:]), Content: content}
}

func (f *File) check() error {
	if f.Content == nil && f.Size > 0 {
		return fmt.Errorf("message.file %s: no content (a result document's plan names the file but does not carry it)", f.Name)
	}
	sum := sha256.Sum256(f.Content)
	if int64(len(f.Content)) != f.Size || hex.EncodeToString(sum[:]) != f.SHA256 {
		return fmt.Errorf("message.file %s: content does not match its size and sha256", f.Name)
	}
	return nil
}

func (p Plan) validateConnect() error {
	c := &p.Connect
	if c.Tries < 1 || c.Timeout <= 0 || c.MaxConnecting < 1 || c.WindowSize < 0 {
		return fmt.Errorf("connect: tries, timeout_ns and max_connecting must be positive, window_size not negative (%d, %v, %d, %d)",
			c.Tries, c.Timeout, c.MaxConnecting, c.WindowSize)
	}
	return nil
}

// validateSecurity checks TLS and AUTH, and that the session can carry them: both are
// EHLO extensions, so they need a greeting (implicit TLS aside).
func (p Plan) validateSecurity() error {
	if err := p.TLS.validate(); err != nil {
		return err
	}
	noGreeting := p.Session.Greeting == GreetNone
	if p.TLS.Encrypted() && noGreeting && !p.TLS.Wrapper {
		return fmt.Errorf("tls.level %s needs EHLO, and session.greeting=none sends no greeting", p.TLS.Level)
	}
	if (p.TLS.Level == TLSVerify || p.TLS.Level == TLSSecure) && p.TLS.ServerName == "" && strings.HasPrefix(p.Target, "unix:") {
		return fmt.Errorf("tls.level %s: a unix-domain target has no host name to check; give tls.server_name", p.TLS.Level)
	}
	a := p.Auth
	if a == nil {
		return nil
	}
	switch {
	case a.Mechanism != "" && !protocol.SupportedAuth(a.Mechanism):
		return fmt.Errorf("auth.mechanism: want PLAIN, LOGIN or CRAM-MD5, got %q", a.Mechanism)
	case a.User != "" && a.File != "":
		return errors.New("auth.user and auth.file: use one")
	case a.User == "" && a.File == "":
		return errors.New("auth.mechanism needs credentials: auth.user or auth.file")
	case a.PasswordFile != "" && a.User == "":
		return errors.New("auth.password_file needs auth.user")
	case noGreeting:
		return errors.New("AUTH needs EHLO, and session.greeting=none sends no greeting")
	case !p.TLS.Encrypted() && !a.Insecure:
		return errors.New("AUTH over a connection that is not encrypted: add tls.level (or auth.insecure)")
	}
	return nil
}

func (p Plan) validateShard() error {
	if p.Shard == nil {
		return nil
	}
	if p.Load.Model == ModelRampingSessions {
		return errors.New("shard: closed-ramping (sessions ramped by stages) cannot be split yet")
	}
	if _, err := NewSplit(p.Shard.Weights); err != nil {
		return fmt.Errorf("shard: %w", err)
	}
	if p.Shard.Index < 0 || p.Shard.Index >= len(p.Shard.Weights) {
		return fmt.Errorf("shard: index %d of %d shards", p.Shard.Index, len(p.Shard.Weights))
	}
	return nil
}

// CheckShares checks that every shard of a split by weights has work: each gets at least
// one session if it owns messages, and owns at least one of messages (the whole run's
// count, stages included; 0 when the run is as long as its stages).
func (p Plan) CheckShares(weights []int64, messages int64) error {
	split, err := NewSplit(weights)
	if err != nil {
		return err
	}
	if err := split.Validate(messages, p.SplitSessions()); err != nil {
		return err
	}
	for k := 0; k < split.N(); k++ {
		if messages > 0 && split.Shard(k).Count(messages) == 0 {
			return fmt.Errorf("shard %d of %d would own none of the %d messages: use fewer shards", k, split.N(), messages)
		}
	}
	return nil
}

// CheckHostname applies smtp-source's -M rules (Postfix's valid_mailhost_literal and
// valid_hostname): an address literal ([192.0.2.1], [IPv6:…]) or a host name of
// letters, digits, '-' and '_' in dot-separated labels, not all digits.
func CheckHostname(h string) error {
	if strings.HasPrefix(h, "[") {
		if validhost.MailhostLiteral(h) != nil {
			return fmt.Errorf("bad address literal: %s", h)
		}
		return nil
	}
	if validhost.Hostname(h) != nil {
		return fmt.Errorf("bad hostname: %s", h)
	}
	return nil
}

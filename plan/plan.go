// Package plan is what one load test is: every option that shapes a run (where the
// sessions go, how many, what they say, how fast, which load model, which part of a run
// spread over several processes), as one serialisable, schema-versioned value.
//
// The command line builds a Plan once; engine.Run runs it as it is; a cluster ships it
// as JSON to workers, which run it without the command-line parser; the result document
// embeds it. Its defaults live in one place (Defaults, WithDefaults) and Validate says
// what is wrong with one. Secrets are never part of it: a plan names the AUTH user and
// the files the secrets are in, and the process that sends reads them on its own
// machine (see Auth).
//
// Durations are time.Duration, encoded as integer nanoseconds in fields ending in _ns,
// like the result document's.
package plan

import (
	"net"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/hostport"
)

// SchemaVersion is the version of the plan's JSON form that this program writes and
// reads. Adding a field whose zero value keeps the old behaviour does not change it;
// anything else does. Decode refuses fields it does not know rather than run a
// different test than the one asked for.
const SchemaVersion = 1

// Plan is one run. The zero value is not runnable: start from Defaults, or call
// WithDefaults.
type Plan struct {
	SchemaVersion int `json:"schema_version"`

	// Target is smtp-source's operand: [inet:]host[:port], [addr]:port,
	// [ipv6:addr]:port or unix:/path (the port defaults to smtp).
	Target string          `json:"target"`
	Family hostport.Family `json:"family"` // -4, -6: the address family the target resolves to

	// Sessions is the closed model's session slots working in parallel (-s); with
	// session stages it caps them (0: no cap). The whole run's, shards together.
	Sessions int `json:"sessions"`
	// Messages is the number of messages in total (-m), all shards together. With
	// stages, 0 means as many as the stages produce; otherwise it caps them.
	Messages int64 `json:"messages"`

	Load    Load    `json:"load"`
	Session Session `json:"session"`
	Message Message `json:"message"`
	Connect Connect `json:"connect"`
	TLS     TLS     `json:"tls"`
	Auth    *Auth   `json:"auth,omitempty"`
	ESMTP   *ESMTP  `json:"esmtp,omitempty"` // service extensions beyond smtp-source's (esmtp.go)

	// Shard, when set, makes this run one part of a run spread over several processes.
	Shard *Shard `json:"shard,omitempty"`
	// StartAt, when set, is the shared start of a run spread over several processes: the
	// run waits for it, and refuses to start when it is more than MaxStartLate past.
	StartAt      time.Time     `json:"start_at,omitzero"`
	MaxStartLate time.Duration `json:"max_start_late_ns"`

	Grace     time.Duration `json:"grace_ns"`             // after an interrupt or MaxDuration, how long sessions in flight may finish
	NoMetrics bool          `json:"no_metrics,omitempty"` // record no timings (the counts stay exact)

	// MaxDuration, when set, is a hard limit on the sending window (--duration,
	// --max-duration): at MaxDuration no message starts, sessions in flight get Grace,
	// then every session is cut off.
	MaxDuration time.Duration `json:"max_duration_ns,omitempty"`
	// Errors is what a failure does to the run: end it, or count it and go on.
	Errors ErrorPolicy `json:"errors"`
	// Thresholds are pass/fail criteria on the run's figures ("eod.p99<500ms").
	Thresholds Thresholds `json:"thresholds,omitzero"`
	// FindMax, when set, makes the run a capacity search over open-model rates.
	FindMax *FindMax `json:"find_max,omitempty"`
	// Trace, when set, puts a header in every message that a sink behind the MTA reads
	// (end-to-end measurement); nil keeps smtp-source's bytes.
	Trace *Trace `json:"trace,omitempty"`

	// Local is what belongs to the machine that sends rather than to the run.
	Local Local `json:"local,omitzero"`
}

// Model is a load model: how sessions and messages are started.
type Model string

const (
	// ModelClosed: Sessions slots each send their next message when the previous one is
	// done (smtp-source's model).
	ModelClosed Model = "closed"
	// ModelRampingSessions: the closed model with the number of working sessions ramped
	// by Load.Stages (like k6's ramping VUs); Sessions caps them.
	ModelRampingSessions Model = "closed-ramping"
	// ModelOpen: messages arrive on a schedule (Load.Rate, ramped by Load.Stages)
	// whatever the server does, over up to Load.MaxSessions sessions.
	ModelOpen Model = "open"
)

// Load is the load model and its settings.
type Load struct {
	Model Model `json:"model"`
	// Rate is the open model's messages per second (the start rate when Stages are
	// given).
	Rate float64 `json:"rate,omitempty"`
	// Stages are linear ramps: of the rate (open) or of the working sessions
	// (closed-ramping).
	Stages []Stage `json:"stages,omitempty"`

	MaxSessions int           `json:"max_sessions"`  // open: most sessions open at once
	DropAfter   time.Duration `json:"drop_after_ns"` // open: a due message finding no session this long is dropped
	LateAfter   time.Duration `json:"late_after_ns"` // open: picked up later than this after its due time is late
}

// Stage is one leg of a ramp: Target is reached linearly over Duration, from the
// previous stage's target (the first from the start rate, or 0).
type Stage struct {
	Duration time.Duration `json:"duration_ns"`
	Target   float64       `json:"target"`
}

// Greeting is the command a session opens with after the banner.
type Greeting string

const (
	GreetHELO Greeting = "helo" // smtp-source's default
	GreetEHLO Greeting = "ehlo" // --ehlo, --pipelining; STARTTLS and AUTH upgrade HELO to it
	GreetLHLO Greeting = "lhlo" // -L
	GreetNone Greeting = "none" // -o: MAIL FROM straight after the banner
)

// Session is the SMTP dialogue every session holds.
type Session struct {
	Greeting Greeting `json:"greeting"`
	// Hostname is the HELO argument and the Message-Id domain (-M); empty means the host
	// name of the machine that sends (each worker's own, in a cluster).
	Hostname    string        `json:"hostname,omitempty"`
	LMTP        bool          `json:"lmtp,omitempty"`             // -L: one reply per recipient after the dot
	Pipelining  bool          `json:"pipelining,omitempty"`       // when the server offers PIPELINING
	Reuse       bool          `json:"reuse_connection,omitempty"` // -d: the next message over the same connection
	AllowReject bool          `json:"allow_reject,omitempty"`     // -A: a rejection is a warning, not the end
	Timeout     time.Duration `json:"timeout_ns"`                 // longest wait for the server at any step
	FixedDelay  time.Duration `json:"fixed_delay_ns,omitempty"`   // -w: pause after each message
	RandomDelay time.Duration `json:"random_delay_ns,omitempty"`  // -R: a random pause of 0..this, whole seconds
}

// Message is what every message looks like.
type Message struct {
	From *string `json:"from,omitempty"` // envelope sender (-f); nil: foo@ the HELO host name
	To   *string `json:"to,omitempty"`   // envelope recipient (-t); nil: foo@ the HELO host name

	Recipients       int    `json:"recipients"`                  // RCPT commands per message (-r)
	NumberRecipients bool   `json:"number_recipients,omitempty"` // -N
	Numbering        string `json:"numbering"`                   // whose recipient numbering: Postfix "3.9" or "3.7"

	Subject   *string `json:"subject,omitempty"`    // -S; nil: no Subject header ("" is an empty one, as smtp-source -S '')
	NoHeaders bool    `json:"no_headers,omitempty"` // -o: the content goes as it is, without generated headers
	Length    int     `json:"length,omitempty"`     // -l: bytes of generated payload; 0: smtp-source's default text
	File      *File   `json:"file,omitempty"`       // -F: a pre-formatted message instead (no generated headers)

	// Seed drives every random choice below: each message's draws are a function of the
	// seed and its global sequence number (reproducible, and alike in every shard).
	Seed uint64 `json:"seed,omitempty"`
	// Size is the message size distribution (--size, protocol/dist's syntax): the bytes
	// between DATA's 354 and the final dot, headers included. Empty: -l or smtp-source's text.
	Size string `json:"size,omitempty"`
	// Body is what a body of Size is made of: smtp-source (-l's lines, the default),
	// text (words) or random (base64 of random bytes in a MIME attachment).
	Body string `json:"body,omitempty"`
	// Attach is the size distribution of a MIME attachment every message carries
	// (decoded bytes, protocol/dist's syntax).
	Attach string `json:"attach,omitempty"`
	// Headers are header lines added to every generated message (--header); they and
	// the Subject may hold tokens ({seq} {uuid} {rcpt} {from} {date} {random:N} {worker}).
	Headers []string `json:"headers,omitempty"`
	// KeepMessageID sends a -F file that holds tokens, and the Corpus messages, with
	// their own Message-Id (or none) instead of one per message.
	KeepMessageID bool `json:"keep_message_id,omitempty"`

	// FromList and RcptList are address lists (--from-file, --rcpt-file), carried by the
	// plan like File; used in turn, or by draws of Seed with RandomPick.
	FromList   *AddressList `json:"from_list,omitempty"`
	RcptList   *AddressList `json:"rcpt_list,omitempty"`
	RandomPick bool         `json:"random_pick,omitempty"`
	// RcptCount is the distribution of recipients per message (--rcpt-count; in place
	// of Recipients), RcptDomains the weighted domains of generated recipients
	// (--rcpt-domains, "a.example:70,b.example:30").
	RcptCount   string `json:"rcpt_count,omitempty"`
	RcptDomains string `json:"rcpt_domains,omitempty"`

	// Corpus is a Maildir, a directory of message files or an mbox whose messages are
	// sent in turn (drawn by Seed with RandomPick), read by each process that sends from
	// its own machine; CorpusKeepHeaders keeps their From and To.
	Corpus            string `json:"corpus,omitempty"`
	CorpusKeepHeaders bool   `json:"corpus_keep_headers,omitempty"`
}

// AddressList is a list of addresses and the file it was read from.
type AddressList struct {
	Name      string   `json:"name"`
	Addresses []string `json:"addresses"`
}

// File is a message file's content, carried by the plan so that the processes that send
// need not have the file: a cluster's workers send the coordinator's file. Result
// documents carry its name, size and digest but not the content (ForReport).
type File struct {
	Name    string `json:"name"` // as given, for the record
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"`            // hex
	Content []byte `json:"content,omitempty"` // base64 in JSON
}

// Connect is how sessions connect.
type Connect struct {
	Tries         int           `json:"tries"`                 // -C: connect attempts per session
	Timeout       time.Duration `json:"timeout_ns"`            // per connect (default: Session.Timeout)
	MaxConnecting int           `json:"max_connecting"`        // connects in progress at once
	WindowSize    int           `json:"window_size,omitempty"` // -T: SO_SNDBUF and SO_RCVBUF
	Linger0       bool          `json:"linger0,omitempty"`     // close with a TCP reset, like smtp-source
}

// TLSLevel is a Postfix smtp_tls_security_level word.
type TLSLevel string

const (
	TLSNone    TLSLevel = "none"
	TLSMay     TLSLevel = "may"     // STARTTLS when offered; a failed handshake retried in plaintext
	TLSEncrypt TLSLevel = "encrypt" // STARTTLS required, certificate not checked
	TLSVerify  TLSLevel = "verify"  // certificate checked against CAFile or the system roots
	TLSSecure  TLSLevel = "secure"
)

// TLS is the client TLS settings. Files are read by the process that sends, on its own
// machine; the client key is a secret and never part of a plan.
type TLS struct {
	Level      TLSLevel `json:"level"`
	Wrapper    bool     `json:"wrapper,omitempty"`     // implicit TLS from the first byte (SMTPS)
	CAFile     string   `json:"ca_file,omitempty"`     // PEM roots for verify and secure
	ServerName string   `json:"server_name,omitempty"` // SNI and the name checked; default the target host
	MinVersion string   `json:"min_version"`           // "1.0" … "1.3"
	MaxVersion string   `json:"max_version"`
	Ciphers    []string `json:"ciphers,omitempty"` // TLS 1.2 suites, as Go names them
	CertFile   string   `json:"cert_file,omitempty"`
	KeyFile    string   `json:"key_file,omitempty"`
	Resume     bool     `json:"resume,omitempty"` // one session cache shared by all sessions
}

// Encrypted reports whether the level asks for TLS at all.
func (t *TLS) Encrypted() bool { return t.Level != TLSNone && t.Level != "" }

// Auth is SMTP AUTH: a user name and where its password is, or a file of user:password
// lines. The passwords themselves are read by the process that sends, from its own
// environment or files, and are never part of a plan.
type Auth struct {
	Mechanism    string `json:"mechanism,omitempty"`     // PLAIN, LOGIN or CRAM-MD5; empty: the best offered
	User         string `json:"user,omitempty"`          // the password from PasswordFile or the sender's environment
	PasswordFile string `json:"password_file,omitempty"` // its first line is User's password
	File         string `json:"file,omitempty"`          // user:password lines, used round-robin
	Insecure     bool   `json:"insecure,omitempty"`      // allow AUTH without encryption
}

// Local is what belongs to the machine that sends rather than to the run: the
// fingerprint leaves it out, a coordinator does not ship it, and each worker brings its
// own.
type Local struct {
	SourceAddrs []net.IP `json:"source_addrs,omitempty"` // local addresses, used round-robin
	EventLoops  int      `json:"event_loops,omitempty"`  // 0: one per CPU core
}

// OpenModel reports whether messages arrive on a schedule.
func (p Plan) OpenModel() bool { return p.Load.Model == ModelOpen }

// SplitSessions is the session count a split shares out: the open model's session cap,
// or the closed model's sessions.
func (p Plan) SplitSessions() int64 {
	if p.OpenModel() {
		return int64(p.Load.MaxSessions)
	}
	return int64(p.Sessions)
}

package sink

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Fault is what the sink does instead of its normal reply to one command.
type Fault uint8

// The faults, in smtp-sink's terms.
const (
	FaultNone       Fault = iota
	FaultHardReject       // -f: reply with the hard rejection (5xx); the command has no effect
	FaultSoftReject       // -r: reply with the soft rejection (4xx); the command has no effect
	FaultDisconnect       // -q: close the connection without replying
	FaultClose421         // -Q: reply 421 and close
)

// String names the fault after its smtp-sink option.
func (f Fault) String() string {
	switch f {
	case FaultNone:
		return "none"
	case FaultHardReject:
		return "hard-reject"
	case FaultSoftReject:
		return "soft-reject"
	case FaultDisconnect:
		return "disconnect"
	case FaultClose421:
		return "421"
	}
	return fmt.Sprintf("Fault(%d)", uint8(f))
}

// Config is everything the sink needs; the zero value plus Listen is a working sink with
// smtp-sink's defaults.
type Config struct {
	// Listen is the address in gnet form: "tcp4://127.0.0.1:2525", "tcp6://[::1]:25",
	// "unix:///path". ParseListenAddress builds it from smtp-sink's operand syntax.
	Listen string
	// EventLoops is the number of gnet event loops; 0 means one per CPU.
	EventLoops int
	// Backlog is the listen(2) backlog (smtp-sink's backlog operand), applied to every
	// listening socket: the shared one, or each event loop's own SO_REUSEPORT socket.
	// The kernel caps it at net.core.somaxconn. 0 keeps gnet's backlog, somaxconn itself.
	Backlog int

	Hostname string // banner, HELO/EHLO replies, Received line; default "smtp-sink"
	LMTP     bool   // -L: only LHLO; one reply per recipient after the dot

	DisableESMTP        bool // -e: no "ESMTP" in the banner, EHLO rejected
	DisablePipelining   bool // -p (implied by any hard or soft reject fault)
	Disable8BitMIME     bool // -8
	DisableAuthAnnounce bool // -a: AUTH is not announced but still works
	DisableXCLIENT      bool // -C: neither announced nor accepted
	DisableXFORWARD     bool // -F
	DisableEnhanced     bool // -E: ENHANCEDSTATUSCODES not announced (codes stay in replies)
	DisableDSN          bool // -N
	DisableSMTPUTF8     bool
	DisableChunking     bool
	// ProxyProtocol (--proxy-protocol): every connection starts with a PROXY v1 or v2
	// header, whose source is the session's client (sink/proxy.go).
	ProxyProtocol bool
	PIXBanner     bool // -P: "220 ********", implies DisableESMTP

	// MaxMessageSize is announced with SIZE and enforced on MAIL's SIZE= parameter; 0
	// announces SIZE without a limit.
	MaxMessageSize int64

	// TLS, when not nil, turns TLS on with this server configuration (certificate,
	// client CA, versions; SelfSigned makes a certificate): STARTTLS is announced after
	// EHLO/LHLO, or with ImplicitTLS every connection starts with a handshake (SMTPS).
	// One configuration is shared by all connections, so its session tickets resume
	// across event loops.
	TLS         *tls.Config
	ImplicitTLS bool
	// RequireTLS (--tls-require) refuses MAIL, RCPT, DATA, BDAT, AUTH, VRFY, XCLIENT and
	// XFORWARD before STARTTLS with "530 5.7.0 Must issue a STARTTLS command first".
	RequireTLS bool
	// TLSHandshakeTimeout bounds a TLS handshake; default 10 s.
	TLSHandshakeTimeout time.Duration

	// AuthUsers, when not nil, is the only user/password pairs AUTH accepts; nil accepts
	// any credentials.
	AuthUsers map[string]string

	// Faults holds the fault for each verb (VerbConnect, VerbDot, ...).
	Faults [numVerbs]Fault
	// Delays holds the injected reply delay for each verb.
	Delays [numVerbs]Delay
	// SoftReply and HardReply are the rejection replies (-b, -B), without CRLF.
	SoftReply, HardReply string
	// AbortAfterData (-A) makes every DATA end with "550 This violates SMTP" and a
	// disconnect, AbortDelay after the 354. AbortAfterData false disables it.
	AbortAfterData bool
	AbortDelay     time.Duration
	// DataReadDelay (-H) waits this long after the 354 before reading message content.
	DataReadDelay time.Duration

	// MaxConnections (-m) bounds the sessions served at once; beyond it new connections
	// are accepted but get no greeting until a slot frees. 0 means no limit.
	MaxConnections int
	// MaxMessages (-M) and MaxSessions (-n): when the counters reach them, Server.Done is
	// closed (after the reply that reached the count has been written). 0 means no limit.
	MaxMessages int64
	MaxSessions int64
	// IdleTimeout (-t) closes a connection silently after this long without input;
	// default 100 s.
	IdleTimeout time.Duration
	// SocketBuffer (-T) sets SO_SNDBUF and SO_RCVBUF; 0 leaves the kernel default.
	SocketBuffer int

	// MaxCommandLine is the longest command line accepted, CRLF included; longer lines
	// get "500 5.5.2 Error: command line too long". Default 2048 (RFC 5321's 512 plus
	// room for extension parameters, the same limit as smtp-sink).
	MaxCommandLine int
	// MaxPendingInput bounds the unprocessed input kept for a connection while its reply
	// is held back (an injected delay) or before its greeting; beyond it the connection is
	// closed. Default 1 MiB.
	MaxPendingInput int
	// MaxPendingOutput bounds the replies a client has not read; a client that floods
	// commands without reading is disconnected beyond it. Default 256 KiB.
	MaxPendingOutput int

	// DumpDir (-d) is a strftime template: one file per message, named by the template
	// plus the queue id. DumpFile (-D) is a strftime template for one shared file that every
	// completed transaction is appended to. At most one of the two.
	DumpDir, DumpFile string
	// DumpPrefix (-S) is written at the start of every dump record, already unescaped.
	DumpPrefix string
	// DumpSpill is the size above which a message being dumped is kept in an unlinked
	// temporary file instead of memory. Default 1 MiB.
	DumpSpill int

	// UniqueHeader (--unique-header) names a header whose distinct values are counted.
	UniqueHeader string

	// The far end that pushes back (pushback.go): --reject's probabilistic refusals,
	// --greylist, --rate-limit, --max-per-connection (messages per connection: the first
	// MAIL over it gets 452 4.5.3, the next 421 4.7.0) and --tarpit.
	Rejects          []RejectRule
	Greylist         Greylist
	RateLimits       []RateLimit
	MaxPerConnection int
	Tarpit           Tarpit
	// Seed seeds every random draw (delay probabilities and odds, --reject); 0 picks one
	// at random. Stats.Seed shows the one used, so a run can be repeated.
	Seed uint64

	// TraceHeader (--trace) names the header whose "<run-id> <seq> <send-time-unix-ns>"
	// is accounted for in each accepted message (trace.go); "" turns tracing off.
	TraceHeader string
	// TraceMaxRuns bounds the run ids kept (default 64), TraceMaxSeq the sequence numbers
	// accepted (default and at most 2^32), TraceMaxIntervals the per-second intervals
	// kept per run (default 3600, the last hour of arrivals).
	TraceMaxRuns      int
	TraceMaxSeq       uint64
	TraceMaxIntervals int

	// Trace, when set, is called with smtp-sink's -v lines ("connect (AF_INET
	// 127.0.0.1)", each command line received, "disconnect"). It is called from event
	// loops and must be safe for concurrent use.
	Trace func(line string)
	// AfterListen, when set, runs once the listener is bound and before any connection is
	// served (for dropping privileges). With it set the loops share one listening socket
	// instead of one SO_REUSEPORT socket each.
	AfterListen func() error
}

// Defaults for zero Config fields.
const (
	DefaultHostname         = "smtp-sink"
	DefaultIdleTimeout      = 100 * time.Second
	DefaultMaxCommandLine   = 2048
	DefaultMaxPendingInput  = 1 << 20
	DefaultMaxPendingOutput = 256 << 10
	DefaultDumpSpill        = 1 << 20
	DefaultTLSHandshake     = 10 * time.Second
	DefaultSoftReply        = "450 4.3.0 Error: command failed"
	DefaultHardReply        = "500 5.3.0 Error: command failed"
	// maxAuthLine is RFC 4954's limit for an AUTH command or SASL response line.
	maxAuthLine = 12288
)

// withDefaults returns a copy with zero fields filled in and derived settings applied.
func (c Config) withDefaults() Config {
	if c.Hostname == "" {
		c.Hostname = DefaultHostname
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxCommandLine == 0 {
		c.MaxCommandLine = DefaultMaxCommandLine
	}
	if c.MaxPendingInput == 0 {
		c.MaxPendingInput = DefaultMaxPendingInput
	}
	if c.MaxPendingOutput == 0 {
		c.MaxPendingOutput = DefaultMaxPendingOutput
	}
	if c.DumpSpill == 0 {
		c.DumpSpill = DefaultDumpSpill
	}
	if c.TLSHandshakeTimeout == 0 {
		c.TLSHandshakeTimeout = DefaultTLSHandshake
	}
	if c.SoftReply == "" {
		c.SoftReply = DefaultSoftReply
	}
	if c.HardReply == "" {
		c.HardReply = DefaultHardReply
	}
	if c.PIXBanner {
		c.DisableESMTP = true
	}
	for _, f := range c.Faults {
		if f == FaultHardReject || f == FaultSoftReject {
			c.DisablePipelining = true // as smtp-sink: rejections imply -p
		}
	}
	return c.pushbackDefaults()
}

// pushbackDefaults fills the zero settings of pushback and tracing.
func (c Config) pushbackDefaults() Config {
	c.Greylist = c.Greylist.withDefaults()
	if c.Tarpit.PerSession > 0 && c.Tarpit.Max == 0 {
		c.Tarpit.Max = DefaultTarpitMax
	}
	if c.TraceMaxRuns == 0 {
		c.TraceMaxRuns = DefaultTraceMaxRuns
	}
	if c.TraceMaxSeq == 0 {
		c.TraceMaxSeq = DefaultTraceMaxSeq
	}
	if c.TraceMaxIntervals == 0 {
		c.TraceMaxIntervals = DefaultTraceMaxIntervals
	}
	return c
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	if c.Listen == "" {
		return errors.New("sink config: no listen address")
	}
	if c.Backlog < 0 {
		return fmt.Errorf("sink config: negative listen backlog %d", c.Backlog)
	}
	if c.DumpDir != "" && c.DumpFile != "" {
		return errors.New("sink config: use only one of -d or -D, but not both")
	}
	if c.SoftReply != "" && !validReply(c.SoftReply, '4') {
		return fmt.Errorf("sink config: bad soft error reply %q: want 4xx and text", c.SoftReply)
	}
	if c.HardReply != "" && !validReply(c.HardReply, '5') {
		return fmt.Errorf("sink config: bad hard error reply %q: want 5xx and text", c.HardReply)
	}
	if c.TLS == nil && (c.ImplicitTLS || c.RequireTLS) {
		return errors.New("sink config: implicit or required TLS without a TLS configuration")
	}
	if c.TLS != nil && len(c.TLS.Certificates) == 0 && c.TLS.GetCertificate == nil && c.TLS.GetConfigForClient == nil {
		return errors.New("sink config: TLS configuration without a certificate")
	}
	if c.MaxCommandLine != 0 && c.MaxCommandLine < 512 {
		return fmt.Errorf("sink config: command line limit %d is below RFC 5321's 512", c.MaxCommandLine)
	}
	for v, d := range c.Delays {
		if d.Duration < 0 || d.Probability < 0 || d.Probability > 1 {
			return fmt.Errorf("sink config: bad delay for %s: %v", Verb(v), d)
		}
	}
	return c.validatePushback()
}

// validatePushback checks the pushback and trace settings.
func (c Config) validatePushback() error {
	if err := checkRejects(c.Rejects); err != nil {
		return fmt.Errorf("sink config: %w", err)
	}
	if err := c.Greylist.validate(); err != nil {
		return err
	}
	for _, r := range c.RateLimits {
		if err := r.validate(); err != nil {
			return fmt.Errorf("sink config: %w", err)
		}
	}
	if c.MaxPerConnection < 0 {
		return fmt.Errorf("sink config: negative messages per connection %d", c.MaxPerConnection)
	}
	if t := c.Tarpit; t.PerSession < 0 || t.Above < 0 || t.Max < 0 {
		return fmt.Errorf("sink config: bad tarpit %s", t)
	}
	if c.TraceHeader != "" && !validHeaderName(c.TraceHeader) {
		return fmt.Errorf("sink config: bad trace header name %q", c.TraceHeader)
	}
	if c.TraceMaxRuns < 0 || c.TraceMaxIntervals < 0 || c.TraceMaxSeq > MaxTraceSeqLimit {
		return fmt.Errorf("sink config: bad trace limits (runs %d, seq %d, intervals %d)", c.TraceMaxRuns, c.TraceMaxSeq, c.TraceMaxIntervals)
	}
	return nil
}

// validHeaderName is RFC 5322's field name: printable ASCII other than the colon.
func validHeaderName(name string) bool {
	if len(name) == 0 || len(name) > 100 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if name[i] <= ' ' || name[i] > '~' || name[i] == ':' {
			return false
		}
	}
	return true
}

// validReply checks smtp-sink's rule for -b/-B: three digits, the first one given, then
// a space or the end.
func validReply(r string, first byte) bool {
	if len(r) < 3 || r[0] != first {
		return false
	}
	for i := 0; i < 3; i++ {
		if r[i] < '0' || r[i] > '9' {
			return false
		}
	}
	return len(r) == 3 || r[3] == ' '
}

// SetFaults sets fault f for every command named in list (commas or blanks between
// names, smtp-sink's -f/-r/-q/-Q syntax).
func (c *Config) SetFaults(list string, f Fault) error {
	for _, name := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		v, ok := VerbByName(name)
		if !ok {
			return fmt.Errorf("unknown command %q in %q", name, list)
		}
		c.Faults[v] = f
	}
	return nil
}

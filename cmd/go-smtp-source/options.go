package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/go-smtp-source/go-smtp-source/engine"
	"github.com/go-smtp-source/go-smtp-source/internal/getopt"
)

// options is the parsed command line, before it becomes an engine.Config.
type options struct {
	ipv4, ipv6       bool
	allowReject      bool
	count            bool
	connectTries     int
	keepConnection   bool
	from             *string // nil: foo@hostname
	file             string
	length           int
	lmtp             bool
	messages         int64
	hostname         string
	numberRcpts      bool
	oldMode          bool
	recipients       int
	randomDelay      int
	sessions         int
	subject          string
	to               *string
	windowSize       int
	verbose          int
	fixedDelay       int
	target           string
	ehlo, pipelining bool
	timeout          time.Duration
	connectTimeout   time.Duration
	sourceAddrs      []net.IP
	compat           string
	linger0          bool
	quiet            bool
	grace            time.Duration
	eventLoops       int
	maxConnecting    int

	// Metrics and load models.
	messagesSet bool // -m given
	rate        float64
	stages      []engine.Stage
	duration    time.Duration
	maxSessions int
	dropAfter   time.Duration
	lateAfter   time.Duration
	jsonFile    string
	hdrLog      string
	logMessages string
	progress    bool
	noMetrics   bool
	sessionRamp bool // --stages-of sessions

	cluster clusterOptions // --shard, --start-at, the NATS cluster (cluster_options.go)

	tls tlsOptions // TLS and AUTH (tlsoptions.go)
}

// usageError is a command-line mistake: exit status 2. showUsage adds the usage line,
// for mistakes of form (an unknown option, a missing operand) rather than of value.
type usageError struct {
	msg       string
	showUsage bool
}

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{msg: fmt.Sprintf(format, args...)} }

// fatalError is a value smtp-source itself refuses with "fatal:" (a count ≤ 0, -w with
// -R, a bad -M, a malformed target): exit status 1, as smtp-source's, so scripts that
// check for it keep working.
type fatalError struct{ msg string }

func (e *fatalError) Error() string { return e.msg }

func fatalf(format string, args ...any) error { return &fatalError{msg: fmt.Sprintf(format, args...)} }

// legacySpellings are the original go-smtp-source's single-dash words. getopt would read
// "-tls" as "-t ls", so they are rewritten before parsing.
var legacySpellings = map[string]string{
	"-tls":          "--tls=encrypt",
	"-resolve-once": "--resolve-once",
}

const usageLine = "usage: %s -46AcdLNov -s sess -l msglen -m msgs -C count -M myhostname -f from -t to -r rcptcount -R delay -w delay [--long options] host[:port]"

// flagSets builds smtp-source's options and the extensions as two sets, so that -h can
// list them in two groups; they are parsed together.
func flagSets() (compat, ext *pflag.FlagSet) {
	compat = pflag.NewFlagSet("smtp-source options", pflag.ContinueOnError)
	compat.BoolP("ipv4", "4", false, "connect with IPv4 only")
	compat.BoolP("ipv6", "6", false, "connect with IPv6 only")
	compat.BoolP("allow-reject", "A", false, "don't abort when the server rejects something; warn and go on")
	compat.BoolP("count", "c", false, "print a running counter on stdout, one tick per message sent")
	compat.StringP("connect-tries", "C", "1", "`count` of connect attempts per session before giving up")
	compat.BoolP("keep-connection", "d", false, "don't disconnect after a message; send the next one over the same connection")
	compat.StringP("from", "f", "", "envelope sender `address` (default foo@myhostname)")
	compat.StringP("file", "F", "", "send the pre-formatted message in `file` (dot-stuffed, CRLF added, no generated headers)")
	compat.StringP("length", "l", "", "send `length` bytes of payload after the headers")
	compat.BoolP("lmtp", "L", false, "speak LMTP (LHLO, one reply per recipient after the dot)")
	compat.StringP("messages", "m", "1", "`count` of messages to send in total")
	compat.StringP("myhostname", "M", "", "`name` or [address] for HELO, default addresses and Message-Id (default: the host name)")
	compat.BoolP("number-recipients", "N", false, "number each recipient address with a non-repeating sequence number")
	compat.BoolP("old-mode", "o", false, "old mode: no HELO, no message headers")
	compat.StringP("recipients", "r", "1", "`count` of recipients per message (numbered addresses)")
	compat.StringP("random-delay", "R", "", "wait a random 0..`seconds` after each message")
	compat.StringP("sessions", "s", "1", "`count` of SMTP sessions in parallel")
	compat.StringP("subject", "S", "", "Subject: header `text` (default: none)")
	compat.StringP("to", "t", "", "envelope recipient `address` (default foo@myhostname)")
	compat.StringP("window-size", "T", "", "TCP SO_SNDBUF and SO_RCVBUF `bytes`")
	compat.CountP("verbose", "v", "print the SMTP dialogue on stderr")
	compat.StringP("delay", "w", "", "wait a fixed `seconds` after each message")

	ext = pflag.NewFlagSet("extensions", pflag.ContinueOnError)
	ext.Bool("ehlo", false, "greet with EHLO instead of HELO (and read the server's extensions)")
	ext.Bool("pipelining", false, "pipeline MAIL/RCPT/DATA, and with -d the next envelope after the dot, when the server offers PIPELINING (implies --ehlo)")
	ext.String("timeout", "300s", "longest wait for the server at any step (a duration, or seconds)")
	ext.String("connect-timeout", "", "longest wait for a TCP connect (default: --timeout)")
	ext.StringSlice("source-addr", nil, "local `addresses` to connect from, used round-robin (more connections to one target than one port range allows)")
	ext.String("compat", "3.9", "recipient numbering of Postfix `version` 3.9 (current) or 3.7 (Debian 12's smtp-source)")
	ext.Bool("linger0", false, "close connections with a TCP reset, as smtp-source does (SO_LINGER 0)")
	ext.Bool("quiet", false, "print no summary line")
	ext.String("grace", "5s", "after SIGINT/SIGTERM, how long sessions in flight may finish")
	ext.Int("max-connecting", 64, "connects in progress at once (smtp-source makes one at a time)")
	ext.Int("event-loops", 0, "number of event loops (default: one per CPU core)")
	addClusterFlags(ext)
	ext.Bool("resolve-once", false, "accepted for the original go-smtp-source; the target is always resolved once")
	addTLSFlags(ext)
	ext.StringP("rate", "q", "", "open model: `messages` per second, arriving whatever the server does (the original go-smtp-source's -q)")
	ext.String("stages", "", "open model: linear ramps of the rate, `DUR:RATE,…` (e.g. 30s:100,2m:500,30s:0), from --rate or 0")
	ext.String("stages-of", "rate", "what --stages ramps: `rate` (open model, messages/s) or sessions (closed model, sessions working, like k6's ramping VUs; -s caps them)")
	ext.String("duration", "", "open model: how long --rate runs (messages = rate × duration; -m caps)")
	ext.Int("max-sessions", 1000, "open model: most sessions open at once")
	ext.String("drop-after", "1s", "open model: a due message that finds no free session for this long is dropped")
	ext.String("late-after", "10ms", "open model: picked up later than this after its due time counts as late")
	ext.String("json", "", "write the result document (schema-versioned, mergeable) to `file`")
	ext.String("hdr-log", "", "write an HdrHistogram interval log to `file`")
	ext.String("log-messages", "", "write one CSV line per message to `file` (times, phases, reply, queue id)")
	ext.Bool("no-metrics", false, "record no timings (the summary line's counts stay exact); for measuring what metrics cost")
	ext.Bool("progress", false, "print progress once a second on stderr (default when stderr is a terminal)")
	ext.BoolP("help", "h", false, "show this help")
	return compat, ext
}

// parseOptions reads the command line like smtp-source's getopt: bundled flags (-cd),
// attached values (-s10), options before the operand, "--" to end them.
func parseOptions(args []string) (*options, bool, error) {
	compat, ext := flagSets()
	fs := pflag.NewFlagSet("go-smtp-source", pflag.ContinueOnError)
	fs.AddFlagSet(compat)
	fs.AddFlagSet(ext)
	fs.SetInterspersed(false) // smtp-source: no options after the host
	fs.Usage = func() {}
	fs.SetOutput(devNull{})

	rewritten := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			rewritten = append(rewritten, args[i:]...)
			break
		}
		if long, ok := legacySpellings[a]; ok {
			a = long
		}
		rewritten = append(rewritten, a)
	}
	if err := fs.Parse(rewritten); err != nil {
		return nil, false, &usageError{msg: err.Error(), showUsage: true}
	}
	if help, _ := fs.GetBool("help"); help {
		return nil, true, nil
	}
	if fs.NArg() != 1 {
		return nil, false, &usageError{msg: fmt.Sprintf("expected one host[:port] or unix:path operand after the options, got %d", fs.NArg()), showUsage: true}
	}

	o := &options{target: fs.Arg(0)}
	str := func(name string) string { v, _ := fs.GetString(name); return v }
	flag := func(name string) bool { v, _ := fs.GetBool(name); return v }
	// positive reads a number the way smtp-source's getopt.Atoi() does (leading blanks, trailing
	// garbage ignored) and rejects values ≤ 0 with smtp-source's words.
	positive := func(name, what string) (int64, error) {
		v := str(name)
		n := getopt.Atoi(v)
		if n <= 0 {
			return 0, fatalf("bad %s: %s", what, v)
		}
		return n, nil
	}
	var err error
	o.ipv4, o.ipv6 = flag("ipv4"), flag("ipv6")
	if o.ipv4 && o.ipv6 { // smtp-source: the last one wins
		if lastIndex(args, "-6", "--ipv6") < lastIndex(args, "-4", "--ipv4") {
			o.ipv6 = false
		} else {
			o.ipv4 = false
		}
	}
	o.allowReject = flag("allow-reject")
	o.count = flag("count")
	o.keepConnection = flag("keep-connection")
	o.lmtp = flag("lmtp")
	o.numberRcpts = flag("number-recipients")
	o.oldMode = flag("old-mode")
	o.verbose, _ = fs.GetCount("verbose")
	if fs.Changed("from") {
		v := str("from")
		o.from = &v
	}
	if fs.Changed("to") {
		v := str("to")
		o.to = &v
	}
	o.subject = str("subject")
	if fs.Changed("file") && fs.Changed("length") {
		return nil, false, fatalf("-l option cannot be used with -F")
	}
	o.file = str("file")
	if fs.Changed("delay") && fs.Changed("random-delay") {
		return nil, false, fatalf("do not use -w and -R options at the same time")
	}
	var n int64
	if n, err = positive("connect-tries", "connection count"); err != nil {
		return nil, false, err
	}
	o.connectTries = int(n)
	if fs.Changed("length") {
		if n, err = positive("length", "message length"); err != nil {
			return nil, false, err
		}
		o.length = int(n)
	}
	if o.messages, err = positive("messages", "message count"); err != nil {
		return nil, false, err
	}
	if n, err = positive("recipients", "recipient count"); err != nil {
		return nil, false, err
	}
	o.recipients = int(n)
	if n, err = positive("sessions", "session count"); err != nil {
		return nil, false, err
	}
	o.sessions = int(n)
	if fs.Changed("random-delay") {
		if n, err = positive("random-delay", "random delay"); err != nil {
			return nil, false, err
		}
		o.randomDelay = int(n)
	}
	if fs.Changed("delay") {
		if n, err = positive("delay", "fixed delay"); err != nil {
			return nil, false, err
		}
		o.fixedDelay = int(n)
	}
	if fs.Changed("window-size") {
		if n, err = positive("window-size", "TCP window size"); err != nil {
			return nil, false, err
		}
		o.windowSize = int(n)
	}
	if fs.Changed("myhostname") {
		o.hostname = str("myhostname")
		if err := validMyhostname(o.hostname); err != nil {
			return nil, false, err
		}
	}

	o.ehlo, o.pipelining = flag("ehlo"), flag("pipelining")
	if o.timeout, err = parseDuration("--timeout", str("timeout")); err != nil {
		return nil, false, err
	}
	if fs.Changed("connect-timeout") {
		if o.connectTimeout, err = parseDuration("--connect-timeout", str("connect-timeout")); err != nil {
			return nil, false, err
		}
	}
	if o.grace, err = parseDuration("--grace", str("grace")); err != nil {
		return nil, false, err
	}
	addrs, _ := fs.GetStringSlice("source-addr")
	for _, a := range addrs {
		ip := net.ParseIP(strings.Trim(a, "[]"))
		if ip == nil {
			return nil, false, usagef("--source-addr: not an IP address: %q", a)
		}
		o.sourceAddrs = append(o.sourceAddrs, ip)
	}
	o.compat = str("compat")
	if o.compat != "3.7" && o.compat != "3.9" {
		return nil, false, usagef("--compat: want 3.7 or 3.9, got %q", o.compat)
	}
	o.linger0, o.quiet = flag("linger0"), flag("quiet")
	if err := parseLoadModel(fs, o); err != nil {
		return nil, false, err
	}
	if o.maxConnecting, _ = fs.GetInt("max-connecting"); o.maxConnecting < 1 {
		return nil, false, usagef("--max-connecting: must be positive: %d", o.maxConnecting)
	}
	if o.eventLoops, _ = fs.GetInt("event-loops"); o.eventLoops < 0 {
		return nil, false, usagef("--event-loops: must not be negative: %d", o.eventLoops)
	}
	if o.tls, err = parseTLSOptions(fs, o); err != nil {
		return nil, false, err
	}
	if o.cluster, err = parseClusterOptions(fs, o.target); err != nil {
		return nil, false, err
	}
	return o, false, nil
}

// parseLoadModel reads the open-model and output options.
func parseLoadModel(fs *pflag.FlagSet, o *options) error {
	str := func(name string) string { v, _ := fs.GetString(name); return v }
	o.messagesSet = fs.Changed("messages")
	if fs.Changed("rate") {
		r, err := strconv.ParseFloat(str("rate"), 64)
		if err != nil || r <= 0 || r > 1e7 {
			return usagef("--rate: want messages per second above 0: %q", str("rate"))
		}
		o.rate = r
	}
	if fs.Changed("stages") {
		st, err := engine.ParseStages(str("stages"))
		if err != nil {
			return usagef("--stages: %v", err)
		}
		o.stages = st
	}
	switch str("stages-of") {
	case "rate":
	case "sessions":
		if o.stages == nil {
			return usagef("--stages-of sessions needs --stages")
		}
		if o.rate > 0 {
			return usagef("--stages-of sessions ramps sessions, not --rate; drop one")
		}
		o.sessionRamp = true
		if !fs.Changed("sessions") {
			o.sessions = 0 // no cap beyond the stages
		}
	default:
		return usagef("--stages-of: want rate or sessions, got %q", str("stages-of"))
	}
	if fs.Changed("duration") {
		d, err := parseDuration("--duration", str("duration"))
		if err != nil {
			return err
		}
		o.duration = d
	}
	switch {
	case o.rate > 0 && o.stages == nil && !o.messagesSet && o.duration == 0:
		return usagef("--rate needs -m or --duration to know when to stop")
	case o.duration > 0 && o.rate == 0:
		return usagef("--duration needs --rate")
	case o.duration > 0 && o.stages != nil:
		return usagef("--duration and --stages both set the length; use one")
	}
	if o.duration > 0 {
		n := int64(o.rate * o.duration.Seconds())
		if !o.messagesSet || n < o.messages {
			o.messages = n
		}
		if o.messages < 1 {
			return usagef("--rate × --duration is less than one message")
		}
	}
	if o.stages != nil && !o.messagesSet {
		o.messages = 0 // what the stages produce
	}
	var err error
	if o.maxSessions, _ = fs.GetInt("max-sessions"); o.maxSessions < 1 {
		return usagef("--max-sessions: must be positive: %d", o.maxSessions)
	}
	if o.dropAfter, err = parseDuration("--drop-after", str("drop-after")); err != nil {
		return err
	}
	if o.lateAfter, err = parseDuration("--late-after", str("late-after")); err != nil {
		return err
	}
	o.jsonFile, o.hdrLog, o.logMessages = str("json"), str("hdr-log"), str("log-messages")
	o.progress, _ = fs.GetBool("progress")
	o.noMetrics, _ = fs.GetBool("no-metrics")
	return nil
}

// parseDuration accepts Go durations ("1.5s", "200ms") and plain seconds ("300").
func parseDuration(flag, v string) (time.Duration, error) {
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 {
			return 0, usagef("%s: must be positive: %s", flag, v)
		}
		return time.Duration(secs * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, usagef("%s: not a positive duration: %q", flag, v)
	}
	return d, nil
}

// validMyhostname applies smtp-source's -M checks: an address literal or a host name.
func validMyhostname(h string) error {
	if strings.HasPrefix(h, "[") {
		inner, ok := strings.CutSuffix(h[1:], "]")
		if ok {
			if len(inner) > 5 && strings.EqualFold(inner[:5], "ipv6:") {
				if ip := net.ParseIP(inner[5:]); ip != nil && ip.To4() == nil {
					return nil
				}
			} else if ip := net.ParseIP(inner); ip != nil && ip.To4() != nil {
				return nil
			}
		}
		return fatalf("bad address literal: %s", h)
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return fatalf("bad hostname: %s", h)
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fatalf("bad hostname: %s", h)
			}
		}
	}
	if len(h) > 255 {
		return fatalf("bad hostname: %s", h)
	}
	return nil
}

func lastIndex(args []string, names ...string) int {
	last := -1
	for i, a := range args {
		if a == "--" {
			break
		}
		for _, n := range names {
			if a == n || len(n) == 2 && strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && strings.ContainsRune(a[1:], rune(n[1])) {
				last = i
			}
		}
	}
	return last
}

func printUsage(w *os.File, name string) {
	compat, ext := flagSets()
	fmt.Fprintf(w, usageLine+"\n\n", name)
	fmt.Fprintf(w, "smtp-source options (Postfix smtp-source(1), same letters and meaning):\n%s\n", compat.FlagUsages())
	fmt.Fprintf(w, "Extensions:\n%s\n", ext.FlagUsages())
	fmt.Fprintf(w, "Targets: host, host:port, [addr]:port, [ipv6:addr]:port, inet:host:port, unix:/path (default port 25).\n")
}

type devNull struct{}

func (devNull) Write(p []byte) (int, error) { return len(p), nil }

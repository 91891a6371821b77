package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/go-smtp-source/go-smtp-source/engine"
	"github.com/go-smtp-source/go-smtp-source/internal/getopt"
	"github.com/go-smtp-source/go-smtp-source/internal/hostport"
	"github.com/go-smtp-source/go-smtp-source/internal/validhost"
	"github.com/go-smtp-source/go-smtp-source/plan"
	"github.com/go-smtp-source/go-smtp-source/protocol"
)

// invocation is a parsed command line: the plan, built once, and what is not part of
// it (where the output goes, the cluster to coordinate, the secrets it needs).
type invocation struct {
	plan    plan.Plan
	out     outputOptions
	cluster clusterOptions
	e2e     e2eOptions
	metrics metricsOptions

	tls         *tls.Config // built from the plan, checked before anything starts
	credentials []protocol.Credential
}

// outputOptions are the options that shape this process's output, not the run.
type outputOptions struct {
	jsonFile, hdrLog, logMessages string
	htmlFile                      string // --html: the run's page (report_cmd.go)
	progress, quiet, count        bool
	verbose                       int
}

// usageError is a command-line mistake: exit status 2. showUsage adds smtp-source's
// usage line, for mistakes of form (an unknown option, a missing operand) rather than
// of value; fromGetopt marks getopt's own complaint ("invalid option -- 'x'"), which
// glibc prints without "fatal:", and an empty msg leaves the usage line alone, as
// smtp-source says nothing else about a wrong operand count.
type usageError struct {
	msg        string
	showUsage  bool
	fromGetopt bool
}

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{msg: fmt.Sprintf(format, args...)} }

// fatalError is a value smtp-source itself refuses with "fatal:" (a count ≤ 0, -w with
// -R, a bad -M, a malformed target): exit status 1, as smtp-source's, so scripts that
// check for it keep working. warning is the line Postfix's validators print before it
// ("valid_hostname: misplaced delimiter: a..b"), if any.
type fatalError struct{ msg, warning string }

func (e *fatalError) Error() string { return e.msg }

func fatalf(format string, args ...any) error { return &fatalError{msg: fmt.Sprintf(format, args...)} }

// legacySpellings are the original go-smtp-source's single-dash words. getopt would read
// "-tls" as "-t ls", so where an option may come they stand for long options; as a
// value ("-f -tls") or after the options they are what they are.
var legacySpellings = map[string]getopt.Option{
	"-tls":          {Name: "tls", Value: "encrypt", HasValue: true, Long: true},
	"-resolve-once": {Name: "resolve-once", Long: true},
}

// usageLine is smtp-source's, word for word (it leaves out -4 -6 -A -F -S -T, as
// smtp-source's does); -h lists everything.
const usageLine = "usage: %s -cdLNov -s sess -l msglen -m msgs -C count -M myhostname -f from -t to -r rcptcount -R delay -w delay host[:port]"

// flagDuration writes a default duration as the flags take it ("300s", "10ms").
func flagDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return d.String()
}

// flagSets builds smtp-source's options and the extensions as two sets, so that -h can
// list them in two groups; they are parsed together. Every default is the plan's.
func flagSets() (compat, ext *pflag.FlagSet) {
	d := plan.Defaults()
	compat = pflag.NewFlagSet("smtp-source options", pflag.ContinueOnError)
	compat.BoolP("ipv4", "4", false, "connect with IPv4 only")
	compat.BoolP("ipv6", "6", false, "connect with IPv6 only")
	compat.BoolP("allow-reject", "A", false, "don't abort when the server rejects something; warn and go on")
	compat.BoolP("count", "c", false, "print a running counter on stdout, one tick per message sent")
	compat.StringP("connect-tries", "C", fmt.Sprint(d.Connect.Tries), "`count` of connect attempts per session before giving up")
	compat.BoolP("keep-connection", "d", false, "don't disconnect after a message; send the next one over the same connection")
	compat.StringP("from", "f", "", "envelope sender `address` (default foo@myhostname)")
	compat.StringP("file", "F", "", "send the pre-formatted message in `file` (dot-stuffed, CRLF added, no generated headers)")
	compat.StringP("length", "l", "", "send `length` bytes of payload after the headers")
	compat.BoolP("lmtp", "L", false, "speak LMTP (LHLO, one reply per recipient after the dot)")
	compat.StringP("messages", "m", fmt.Sprint(d.Messages), "`count` of messages to send in total")
	compat.StringP("myhostname", "M", "", "`name` or [address] for HELO, default addresses and Message-Id (default: the host name)")
	compat.BoolP("number-recipients", "N", false, "number each recipient address with a non-repeating sequence number")
	compat.BoolP("old-mode", "o", false, "old mode: no HELO, no message headers")
	compat.StringP("recipients", "r", fmt.Sprint(d.Message.Recipients), "`count` of recipients per message (numbered addresses)")
	compat.StringP("random-delay", "R", "", "wait a random 0..`seconds` after each message")
	compat.StringP("sessions", "s", fmt.Sprint(d.Sessions), "`count` of SMTP sessions in parallel")
	compat.StringP("subject", "S", "", "Subject: header `text` (default: none)")
	compat.StringP("to", "t", "", "envelope recipient `address` (default foo@myhostname)")
	compat.StringP("window-size", "T", "", "TCP SO_SNDBUF and SO_RCVBUF `bytes`")
	compat.CountP("verbose", "v", "print the SMTP dialogue on stderr")
	compat.StringP("delay", "w", "", "wait a fixed `seconds` after each message")

	ext = pflag.NewFlagSet("extensions", pflag.ContinueOnError)
	ext.Bool("ehlo", false, "greet with EHLO instead of HELO (and read the server's extensions)")
	ext.Bool("pipelining", false, "pipeline MAIL/RCPT/DATA, and with -d the next envelope after the dot, when the server offers PIPELINING (implies --ehlo)")
	ext.String("timeout", flagDuration(d.Session.Timeout), "longest wait for the server at any step (a duration, or seconds)")
	ext.String("connect-timeout", "", "longest wait for a TCP connect (default: --timeout)")
	ext.StringSlice("source-addr", nil, "local `addresses` to connect from, used round-robin (more connections to one target than one port range allows)")
	ext.String("compat", d.Message.Numbering, "recipient numbering of Postfix `version` 3.9 (current) or 3.7 (Debian 12's smtp-source)")
	ext.Bool("linger0", false, "close connections with a TCP reset, as smtp-source does (SO_LINGER 0)")
	ext.Bool("quiet", false, "print no summary line")
	ext.String("grace", flagDuration(d.Grace), "after SIGINT/SIGTERM, how long sessions in flight may finish")
	ext.Int("max-connecting", d.Connect.MaxConnecting, "connects in progress at once (smtp-source makes one at a time)")
	ext.Int("event-loops", d.Local.EventLoops, "number of event loops (default: one per CPU core)")
	addClusterFlags(ext)
	ext.Bool("resolve-once", false, "accepted for the original go-smtp-source; the target is always resolved once")
	addTLSFlags(ext, d.TLS)
	addESMTPFlags(ext)
	ext.StringP("rate", "q", "", "open model: `messages` per second, arriving whatever the server does (the original go-smtp-source's -q)")
	ext.String("stages", "", "open model: linear ramps of the rate, `DUR:RATE,…` (e.g. 30s:100,2m:500,30s:0), from --rate or 0")
	ext.String("stages-of", "rate", "what --stages ramps: `rate` (open model, messages/s) or sessions (closed model, sessions working, like k6's ramping VUs; -s caps them)")
	ext.String("duration", "", "open model: how long --rate runs (messages = rate × duration; -m caps)")
	ext.Int("max-sessions", d.Load.MaxSessions, "open model: most sessions open at once")
	ext.String("drop-after", flagDuration(d.Load.DropAfter), "open model: a due message that finds no free session for this long is dropped")
	ext.String("late-after", flagDuration(d.Load.LateAfter), "open model: picked up later than this after its due time counts as late")
	ext.String("json", "", "write the result document (schema-versioned, mergeable) to `file`")
	ext.String("hdr-log", "", "write an HdrHistogram interval log to `file`")
	ext.String("html", "", "write the run's report as one self-contained HTML page to `file` at the end")
	ext.String("log-messages", "", "write one CSV line per message to `file` (times, phases, reply, queue id)")
	ext.Bool("no-metrics", false, "record no timings (the summary line's counts stay exact); for measuring what metrics cost")
	ext.Bool("progress", false, "print progress once a second on stderr (default when stderr is a terminal)")
	addLoadTestFlags(ext, d)
	addE2EFlags(ext)
	addMetricsFlags(ext)
	addContentFlags(ext)
	ext.BoolP("help", "h", false, "show this help")
	return compat, ext
}

// flags reads a parsed flag set; its methods keep the parsing functions short.
type flags struct{ *pflag.FlagSet }

func (f flags) str(name string) string { v, _ := f.GetString(name); return v }
func (f flags) on(name string) bool    { v, _ := f.GetBool(name); return v }
func (f flags) num(name string) int    { v, _ := f.GetInt(name); return v }

// count reads a count smtp-source's way (getopt.Int: C's atoi); parseOptions has
// refused a value ≤ 0 already, as smtp-source does while it parses.
func (f flags) count(name string) int { return int(getopt.Int(f.str(name))) }

// parseOptions reads the command line as smtp-source does: glibc getopt in "+" mode
// (bundled flags -cd, attached values -s10, a value never read as an option, options
// before the operand, "--" to end them), each value checked as it is read so that the
// first bad one is the one reported; then the operand count, the -F file, the target.
// The long options are go-smtp-source's own. The plan is built once, with its defaults
// and checks.
func parseOptions(args []string) (*invocation, bool, error) {
	compat, ext := flagSets()
	fs := pflag.NewFlagSet("go-smtp-source", pflag.ContinueOnError)
	fs.AddFlagSet(compat)
	fs.AddFlagSet(ext)
	opts, operands, gerr := getoptSpec(fs).Parse(args)
	seen := compatSeen{fs: fs}
	for _, o := range opts {
		help, err := seen.apply(o)
		if help || err != nil {
			return nil, help, err
		}
	}
	if gerr != nil {
		return nil, false, &usageError{msg: gerr.Error(), showUsage: true, fromGetopt: true}
	}
	if len(operands) != 1 {
		return nil, false, &usageError{showUsage: true}
	}
	f := flags{fs}
	inv := &invocation{plan: plan.Plan{Target: operands[0], Family: seen.family}}
	p := &inv.plan
	for _, parse := range []func(flags, *invocation) error{parseCompat, parseExtensions, parseLoadModel, parseTLSOptions, parseESMTP, parseShard, parseLoadTest, parseE2E, parseMetrics, parseContent} {
		if err := parse(f, inv); err != nil {
			return nil, false, err
		}
	}
	var err error
	if inv.cluster, err = parseClusterOptions(f); err != nil {
		return nil, false, err
	}
	if f.Changed("file") {
		if err := readMessageFile(f.str("file"), p); err != nil {
			return nil, false, err
		}
	}
	if _, err := engine.ParseTarget(p.Target); err != nil {
		return nil, false, &fatalError{msg: err.Error()}
	}
	if err := checkOwnHostname(p.Session.Hostname); err != nil {
		return nil, false, err
	}
	*p = p.WithDefaults()
	if err := checkPlan(inv); err != nil {
		return nil, false, err
	}
	if err := checkSize(inv); err != nil {
		return nil, false, err
	}
	return inv, false, nil
}

// maxPipelinedRecipients bounds -r with --pipelining, which writes a message's RCPT
// commands at once (Postfix's own client sends 50 per transaction by default).
const maxPipelinedRecipients = 100000

// checkSize refuses, with one line, what could not be served in bounded memory: more
// closed-model sessions than the process may open files (each holds a socket; a session
// beyond the messages never connects), or a pipelined envelope of millions of RCPTs.
// Anything else of any size is served: counts are smtp-source's 32-bit ints, and a body
// goes out window by window.
func checkSize(inv *invocation) error {
	p := &inv.plan
	if p.Session.Pipelining && p.Message.Recipients > maxPipelinedRecipients {
		return usagef("--pipelining writes a message's RCPTs at once: -r %d is more than %d", p.Message.Recipients, maxPipelinedRecipients)
	}
	if p.Load.Model != plan.ModelClosed || p.Shard != nil || inv.cluster.coordinating() {
		return nil
	}
	sessions := min(int64(p.Sessions), p.Messages)
	if limit := openFilesLimit(); limit > 0 && sessions > int64(limit) {
		return fatalf("-s %d: a socket per session, and %d open files allowed: "+
			"the open-files limit is reached: raise it with ulimit -n, or lower -s", sessions, limit)
	}
	return nil
}

// getoptSpec is the command line's grammar, from the flags: every shorthand a getopt
// letter (with ':' when it takes a value), every flag a long option.
func getoptSpec(fs *pflag.FlagSet) getopt.Spec {
	spec := getopt.Spec{Long: map[string]bool{}, Words: legacySpellings}
	var short strings.Builder
	fs.VisitAll(func(fl *pflag.Flag) {
		takesValue := fl.NoOptDefVal == ""
		spec.Long[fl.Name] = takesValue
		if fl.Shorthand != "" {
			short.WriteString(fl.Shorthand)
			if takesValue {
				short.WriteByte(':')
			}
		}
	})
	spec.Short = short.String()
	return spec
}

// compatSeen is what smtp-source's option loop remembers while it reads the options:
// whether -F, -l, -w or -R came already, and the last of -4 and -6.
type compatSeen struct {
	fs                        *pflag.FlagSet
	file, length, fixed, rand bool
	family                    hostport.Family
}

// positiveCounts are smtp-source's counts: atoi(value) ≤ 0 is fatal, in these words.
var positiveCounts = map[string]string{
	"C": "connection count", "l": "message length", "m": "message count", "r": "recipient count",
	"R": "random delay", "s": "session count", "T": "TCP window size", "w": "fixed delay",
}

// apply does what smtp-source's option loop does with one option, then records it in
// the flag set; help reports -h.
func (c *compatSeen) apply(o getopt.Option) (help bool, err error) {
	fl := c.fs.Lookup(o.Name)
	if !o.Long {
		fl = c.fs.ShorthandLookup(o.Name)
	}
	if fl.Name == "help" {
		return true, nil
	}
	if err := c.check(fl.Shorthand, o.Value); err != nil {
		return false, err
	}
	value := o.Value
	if !o.HasValue {
		value = fl.NoOptDefVal
	}
	if err := c.fs.Set(fl.Name, value); err != nil {
		return false, usagef("%v", err)
	}
	return false, nil
}

// check applies smtp-source's checks to one of its options (by its letter, however it
// was spelled), in the order its switch makes them: a combination first, then the value.
func (c *compatSeen) check(letter, value string) error {
	switch letter {
	case "4":
		c.family = hostport.IPv4
	case "6":
		c.family = hostport.IPv6
	case "F":
		if !c.file && c.length {
			return fatalf("-l option cannot be used with -F")
		}
		c.file = true
	case "l":
		if c.file {
			return fatalf("-l option cannot be used with -F")
		}
		c.length = true
	case "R":
		if c.fixed {
			return fatalf("do not use -w and -R options at the same time")
		}
		c.rand = true
	case "w":
		if c.rand {
			return fatalf("do not use -w and -R options at the same time")
		}
		c.fixed = true
	case "M":
		return checkMyhostname(value)
	}
	if what, ok := positiveCounts[letter]; ok && getopt.Int(value) <= 0 {
		return fatalf("bad %s: %s", what, value)
	}
	return nil
}

// checkMyhostname is smtp-source's -M check: an address literal by
// valid_mailhost_literal, anything else by valid_hostname, each with its warning.
func checkMyhostname(name string) error {
	if strings.HasPrefix(name, "[") {
		if err := validhost.MailhostLiteral(name); err != nil {
			return &fatalError{msg: "bad address literal: " + name, warning: err.Error()}
		}
		return nil
	}
	if err := validhost.Hostname(name); err != nil {
		return &fatalError{msg: "bad hostname: " + name, warning: err.Error()}
	}
	return nil
}

// checkOwnHostname is smtp-source's get_hostname() when there is no -M: the machine's
// name must be a valid host name (a numeric one is not).
func checkOwnHostname(myhostname string) error {
	if myhostname != "" {
		return nil
	}
	name, err := os.Hostname()
	if err != nil {
		return fatalf("gethostname: %v", err)
	}
	if err := validhost.Hostname(name); err != nil {
		return &fatalError{msg: "unable to use my own hostname", warning: err.Error()}
	}
	return nil
}

// parseCompat reads smtp-source's own options into the plan; their values were checked
// as they were read (compatSeen).
func parseCompat(f flags, inv *invocation) error {
	p := &inv.plan
	p.Connect.Tries, p.Messages = f.count("connect-tries"), int64(f.count("messages"))
	p.Message.Recipients, p.Sessions = f.count("recipients"), f.count("sessions")
	if f.Changed("length") {
		p.Message.Length = f.count("length")
	}
	if f.Changed("random-delay") {
		p.Session.RandomDelay = time.Duration(f.count("random-delay")) * time.Second
	}
	if f.Changed("delay") {
		p.Session.FixedDelay = time.Duration(f.count("delay")) * time.Second
	}
	if f.Changed("window-size") {
		p.Connect.WindowSize = f.count("window-size")
	}
	if f.Changed("myhostname") {
		p.Session.Hostname = f.str("myhostname")
	}
	for flag, value := range map[string]**string{"from": &p.Message.From, "to": &p.Message.To, "subject": &p.Message.Subject} {
		if f.Changed(flag) {
			v := f.str(flag)
			*value = &v
		}
	}
	p.Session.AllowReject, p.Session.Reuse = f.on("allow-reject"), f.on("keep-connection")
	p.Session.LMTP, p.Message.NumberRecipients = f.on("lmtp"), f.on("number-recipients")
	inv.out.count = f.on("count")
	inv.out.verbose, _ = f.GetCount("verbose")
	return nil
}

// parseExtensions reads the long options that shape the session and its connection.
func parseExtensions(f flags, inv *invocation) error {
	p := &inv.plan
	switch {
	case f.on("old-mode"):
		p.Session.Greeting, p.Message.NoHeaders = plan.GreetNone, true
	case f.on("lmtp"):
		p.Session.Greeting = plan.GreetLHLO
	case f.on("ehlo") || f.on("pipelining"):
		p.Session.Greeting = plan.GreetEHLO
	}
	p.Session.Pipelining = f.on("pipelining")
	var err error
	for _, d := range []struct {
		flag string
		to   *time.Duration
	}{{"timeout", &p.Session.Timeout}, {"connect-timeout", &p.Connect.Timeout}, {"grace", &p.Grace}} {
		if f.str(d.flag) != "" {
			if *d.to, err = parseDuration("--"+d.flag, f.str(d.flag)); err != nil {
				return err
			}
		}
	}
	addrs, _ := f.GetStringSlice("source-addr")
	if p.Local.SourceAddrs, err = parseSourceAddrs(addrs); err != nil {
		return err
	}
	p.Message.Numbering, p.Connect.Linger0, inv.out.quiet = f.str("compat"), f.on("linger0"), f.on("quiet")
	if p.Connect.MaxConnecting = f.num("max-connecting"); p.Connect.MaxConnecting < 1 {
		return usagef("--max-connecting: must be positive: %d", p.Connect.MaxConnecting)
	}
	if p.Local.EventLoops = f.num("event-loops"); p.Local.EventLoops < 0 {
		return usagef("--event-loops: must not be negative: %d", p.Local.EventLoops)
	}
	inv.out.jsonFile, inv.out.hdrLog, inv.out.logMessages = f.str("json"), f.str("hdr-log"), f.str("log-messages")
	inv.out.htmlFile = f.str("html")
	inv.out.progress, p.NoMetrics = f.on("progress"), f.on("no-metrics")
	return nil
}

// parseLoadModel reads the load model: --rate, --stages and what they ramp, --duration.
func parseLoadModel(f flags, inv *invocation) error {
	l := &inv.plan.Load
	if f.Changed("rate") {
		r, err := strconv.ParseFloat(f.str("rate"), 64)
		if err != nil || r <= 0 || r > plan.MaxRate {
			return usagef("--rate: want messages per second above 0: %q", f.str("rate"))
		}
		l.Model, l.Rate = plan.ModelOpen, r
	}
	if f.Changed("stages") {
		st, err := engine.ParseStages(f.str("stages"))
		if err != nil {
			return usagef("--stages: %v", err)
		}
		for _, s := range st {
			l.Stages = append(l.Stages, plan.Stage(s))
		}
		l.Model = plan.ModelOpen
	}
	if err := parseStagesOf(f, inv); err != nil {
		return err
	}
	if err := parseDurationOption(f, inv); err != nil {
		return err
	}
	var err error
	if l.MaxSessions = f.num("max-sessions"); l.MaxSessions < 1 {
		return usagef("--max-sessions: must be positive: %d", l.MaxSessions)
	}
	if l.DropAfter, err = parseDuration("--drop-after", f.str("drop-after")); err != nil {
		return err
	}
	l.LateAfter, err = parseDuration("--late-after", f.str("late-after"))
	return err
}

// parseStagesOf reads what --stages ramps: the rate (the open model) or the sessions.
func parseStagesOf(f flags, inv *invocation) error {
	p := &inv.plan
	switch f.str("stages-of") {
	case "rate":
	case "sessions":
		if p.Load.Stages == nil {
			return usagef("--stages-of sessions needs --stages")
		}
		if p.Load.Rate > 0 {
			return usagef("--stages-of sessions ramps sessions, not --rate; drop one")
		}
		p.Load.Model = plan.ModelRampingSessions
		if !f.Changed("sessions") {
			p.Sessions = 0 // no cap beyond the stages
		}
	default:
		return usagef("--stages-of: want rate or sessions, got %q", f.str("stages-of"))
	}
	return nil
}

// parseDurationOption reads --duration (messages = rate × duration, -m caps) and checks
// that the run knows when to stop.
func parseDurationOption(f flags, inv *invocation) error {
	p := &inv.plan
	var dur time.Duration
	if f.Changed("duration") {
		var err error
		if dur, err = parseDuration("--duration", f.str("duration")); err != nil {
			return err
		}
	}
	switch {
	case p.Load.Rate > 0 && p.Load.Stages == nil && !f.Changed("messages") && dur == 0:
		return usagef("--rate needs -m or --duration to know when to stop")
	case dur > 0 && p.Load.Rate == 0:
		return usagef("--duration needs --rate")
	case dur > 0 && p.Load.Stages != nil:
		return usagef("--duration and --stages both set the length; use one")
	}
	if dur > 0 {
		if n := int64(p.Load.Rate * dur.Seconds()); !f.Changed("messages") || n < p.Messages {
			p.Messages = n
		}
		if p.Messages < 1 {
			return usagef("--rate × --duration is less than one message")
		}
	}
	if p.Load.Stages != nil && !f.Changed("messages") {
		p.Messages = 0 // what the stages produce
	}
	return nil
}

// readMessageFile puts -F's file into the plan, which carries it to every process that
// sends (a cluster's workers need not have it). Its errors are smtp-source's: "open
// NAME: …" (an empty name too), "read DIR: Is a directory".
func readMessageFile(name string, p *plan.Plan) error {
	b, err := os.ReadFile(name)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return &fatalError{msg: fmt.Sprintf("%s %s: %s", pe.Op, name, capitalize(pe.Err.Error()))}
		}
		return err
	}
	p.Message.File = plan.NewFile(name, b)
	return nil
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// planFlags names the command line's flags in the plan's errors, which name the plan's
// fields (longer names first: the replacer takes the first that matches).
var planFlags = strings.NewReplacer(
	"tls.cert_file/tls.key_file", "--tls-cert/--tls-key", "tls.cert_file", "--tls-cert", "tls.key_file", "--tls-key",
	"tls.ca_file", "--tls-ca-file", "tls.server_name", "--tls-servername", "tls.min_version", "--tls-min-version",
	"tls.max_version", "--tls-max-version", "tls.ciphers", "--tls-ciphers", "tls.level", "--tls",
	"auth.mechanism", "--auth", "auth.password_file", "--auth-password-file", "auth.user", "--auth-user",
	"auth.file", "--auth-file", "auth.insecure", "--auth-insecure",
	"session.greeting=none", "-o", "message.numbering", "--compat",
)

// checkPlan validates the plan, checks the shard's share of the work, builds the TLS
// configuration and reads the AUTH secrets: every mistake is found before anything
// starts, and named by its flags.
func checkPlan(inv *invocation) error {
	p := &inv.plan
	if err := p.Validate(); err != nil {
		return usagef("%s", planFlags.Replace(err.Error()))
	}
	if p.Shard != nil {
		if p.Load.Model == plan.ModelRampingSessions {
			return usagef("--shard: --stages-of sessions cannot be split yet")
		}
		if err := p.CheckShares(p.Shard.Weights, engine.TotalMessages(*p)); err != nil {
			return usagef("--shard: %v", err)
		}
	}
	var err error
	if inv.tls, err = engine.TLSConfig(*p); err != nil {
		return usagef("%s", planFlags.Replace(err.Error()))
	}
	if p.Auth != nil && !inv.cluster.coordinating() {
		inv.credentials, err = readCredentials(p.Auth)
	}
	return err
}

// parseSourceAddrs reads --source-addr's IP addresses (brackets allowed).
func parseSourceAddrs(list []string) ([]net.IP, error) {
	var ips []net.IP
	for _, a := range list {
		ip := net.ParseIP(strings.Trim(a, "[]"))
		if ip == nil {
			return nil, usagef("--source-addr: not an IP address: %q", a)
		}
		ips = append(ips, ip)
	}
	return ips, nil
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

type devNull struct{}

func (devNull) Write(p []byte) (int, error) { return len(p), nil }

package main

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/go-smtp-source/go-smtp-source/internal/getopt"
	"github.com/go-smtp-source/go-smtp-source/sink"
)

// usageText is smtp-sink's usage line with go-smtp-sink's additions.
const usageText = "usage: %s [-468acCeEFLpPv] [-A abort_delay] [-b soft_bounce_reply] [-B hard_bounce_reply] " +
	"[-d dump-template] [-D dump-template] [-f commands] [-h hostname] [-m max_concurrency] " +
	"[-M message_quit_count] [-n quit_count] [-q commands] [-Q commands] [-r commands] [-S start-string] " +
	"[-t timeout] [-T windowsize] [-u user] [-w delay] [-W command:delay[:odds]] [--delay command=duration[:probability],...] " +
	"[--stats file] [--unique-header name] [--auth-users file] [--size bytes] [--loops n] " +
	"[--starttls] [--tls-wrapper] [--tls-require] [--tls-cert file --tls-key file] [--tls-client-ca file [--tls-client-require]] " +
	pushbackUsage + " [host]:port backlog"

// options is the parsed command line.
type options struct {
	cfg         sink.Config
	family      sink.Family
	counters    bool   // -c
	verbose     bool   // -v
	user        string // -u
	rootDir     string // -R
	statsFile   string // --stats
	authUsers   string // --auth-users
	listen      string // the address operand as typed
	cpuProfile  string // --cpuprofile
	tls         tlsOptions
	push        pushOptions // --reject, --greylist, --rate-limit, --tarpit, --trace, --http, …
	ignoredOpts []string
}

// atoiValue parses numbers the way smtp-sink does (C atoi: leading digits, the rest
// ignored); check rejects values the option cannot take.
type atoiValue struct {
	n     *int64
	set   bool
	check func(int64) bool
}

func (v *atoiValue) String() string { return strconv.FormatInt(*v.n, 10) }
func (v *atoiValue) Type() string   { return "int" }
func (v *atoiValue) Set(s string) error {
	n := getopt.Atoi(s)
	if v.check != nil && !v.check(n) {
		return fmt.Errorf("bad value %q", s)
	}
	*v.n, v.set = n, true
	return nil
}

func positive(n int64) bool    { return n > 0 }
func nonNegative(n int64) bool { return n >= 0 }

// rawFlags are the flags parseArgs turns into configuration after parsing: numbers
// with their own checks, delays, faults, durations in seconds.
type rawFlags struct {
	ipv4, ipv6                                                      bool
	abort, firstRead, dataDelay, syslog, prefix                     *string
	hard, soft, quiet, close421, delayW, delays                     *[]string
	maxConn, maxMsg, maxSess, timeout, window, size, loops, maxLine int64
}

// parseArgs reads the command line in getopt style: bundled flags (-vc), attached
// values (-m50), options only before the operands, "--" ends options.
func parseArgs(prog string, args []string) (*options, error) {
	o := &options{}
	fs, r := newFlagSet(prog, o)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	rest := fs.Args()
	if len(rest) != 2 {
		return nil, errUsage
	}
	backlog := getopt.Atoi(rest[1])
	if backlog <= 0 {
		return nil, errUsage
	}
	o.cfg.Backlog = int(min(backlog, math.MaxInt32)) // listen(2) takes an int
	o.listen = rest[0]
	switch {
	case r.ipv4 && r.ipv6:
		o.family = sink.FamilyAny
		if fs.Lookup("ipv6").Changed {
			o.family = sink.FamilyIPv6 // the last one wins, as in Postfix
		}
	case r.ipv4:
		o.family = sink.FamilyIPv4
	case r.ipv6:
		o.family = sink.FamilyIPv6
	}
	if err := r.apply(o); err != nil {
		return nil, err
	}
	if err := readAuthUsers(o); err != nil {
		return nil, err
	}
	if err := o.tls.apply(&o.cfg); err != nil {
		return nil, err
	}
	if err := o.push.apply(fs, &o.cfg); err != nil {
		return nil, err
	}
	return o, nil
}

// newFlagSet defines every option, each into o or the raw flags returned.
func newFlagSet(prog string, o *options) (*pflag.FlagSet, *rawFlags) {
	fs := pflag.NewFlagSet(prog, pflag.ContinueOnError)
	fs.SetInterspersed(false) // like smtp-sink's "+" getopt: no permutation
	fs.SortFlags = false
	fs.Usage = func() {}
	fs.SetOutput(discard{})
	r := addSinkFlags(fs, o)
	addExtensionFlags(fs, o, r)
	o.tls.addFlags(fs)
	addPushbackFlags(fs, &o.push)
	return fs, r
}

// addSinkFlags defines smtp-sink's own options, with its letters.
func addSinkFlags(fs *pflag.FlagSet, o *options) *rawFlags {
	r := &rawFlags{}
	fs.BoolVarP(&r.ipv4, "ipv4", "4", false, "listen on IPv4 only")
	fs.BoolVarP(&r.ipv6, "ipv6", "6", false, "listen on IPv6 only")
	fs.BoolVarP(&o.cfg.Disable8BitMIME, "no-8bitmime", "8", false, "do not announce 8BITMIME")
	fs.BoolVarP(&o.cfg.DisableAuthAnnounce, "no-auth-announce", "a", false, "do not announce AUTH (it still works)")
	r.abort = fs.StringP("abort", "A", "", "after DATA's 354, wait this many seconds, reply 550 and disconnect")
	fs.StringVarP(&o.cfg.SoftReply, "soft-reply", "b", "", "soft rejection reply (default \""+sink.DefaultSoftReply+"\")")
	fs.StringVarP(&o.cfg.HardReply, "hard-reply", "B", "", "hard rejection reply (default \""+sink.DefaultHardReply+"\")")
	fs.BoolVarP(&o.counters, "counters", "c", false, "show running counters on stdout")
	fs.BoolVarP(&o.cfg.DisableXCLIENT, "no-xclient", "C", false, "disable XCLIENT")
	fs.BoolVar(&o.cfg.ProxyProtocol, "proxy-protocol", false, "every connection starts with a PROXY protocol header (v1 or v2, as from HAProxy); its source is the client in dumps and stats")
	fs.StringVarP(&o.cfg.DumpDir, "dump-dir", "d", "", "dump each message to a file named by this strftime template plus the queue id")
	fs.StringVarP(&o.cfg.DumpFile, "dump-file", "D", "", "append each message to the file named by this strftime template")
	fs.BoolVarP(&o.cfg.DisableESMTP, "no-esmtp", "e", false, "no ESMTP: plain banner, EHLO rejected")
	fs.BoolVarP(&o.cfg.DisableEnhanced, "no-enhanced", "E", false, "do not announce ENHANCEDSTATUSCODES")
	r.hard = fs.StringArrayP("hard-reject", "f", nil, "reject these commands with the hard reply (implies -p)")
	fs.BoolVarP(&o.cfg.DisableXFORWARD, "no-xforward", "F", false, "disable XFORWARD")
	fs.StringVarP(&o.cfg.Hostname, "hostname", "h", "", "host name in the banner, replies and dumps (default smtp-sink)")
	r.firstRead = fs.StringP("data-read-delay", "H", "", "wait this many seconds after DATA's 354 before reading the message")
	fs.BoolVarP(&o.cfg.LMTP, "lmtp", "L", false, "speak LMTP")
	fs.VarP(&atoiValue{n: &r.maxConn, check: nonNegative}, "max-connections", "m", "serve at most this many sessions at once; others wait for their greeting (default no limit)")
	fs.VarP(&atoiValue{n: &r.maxMsg, check: positive}, "max-messages", "M", "exit after this many messages")
	fs.VarP(&atoiValue{n: &r.maxSess, check: positive}, "max-sessions", "n", "exit after this many sessions")
	fs.BoolVarP(&o.cfg.DisableDSN, "no-dsn", "N", false, "do not announce DSN")
	fs.BoolVarP(&o.cfg.DisablePipelining, "no-pipelining", "p", false, "do not announce PIPELINING")
	fs.BoolVarP(&o.cfg.PIXBanner, "pix", "P", false, "PIX-style banner (implies -e)")
	r.quiet = fs.StringArrayP("disconnect", "q", nil, "disconnect without a reply after these commands")
	r.close421 = fs.StringArrayP("close-421", "Q", nil, "reply 421 and disconnect after these commands")
	r.soft = fs.StringArrayP("soft-reject", "r", nil, "reject these commands with the soft reply (implies -p)")
	fs.StringVarP(&o.rootDir, "root-dir", "R", "", "chroot to this directory after binding (with -u)")
	r.syslog = fs.StringP("syslog", "s", "", "accepted for compatibility; not implemented")
	r.prefix = fs.StringP("start-string", "S", "", "text at the start of each dump record (C escapes)")
	fs.VarP(&atoiValue{n: &r.timeout, check: positive}, "timeout", "t", "idle timeout in seconds (default 100)")
	fs.VarP(&atoiValue{n: &r.window, check: positive}, "window-size", "T", "SO_SNDBUF and SO_RCVBUF")
	fs.StringVarP(&o.user, "user", "u", "", "drop privileges to this user after binding")
	fs.BoolVarP(&o.verbose, "verbose", "v", false, "log connections and commands to stderr")
	r.dataDelay = fs.StringP("data-delay", "w", "", "delay the DATA reply by this many seconds (fractions allowed)")
	r.delayW = fs.StringArrayP("delay-reply", "W", nil, "command:delay[:odds]: delay the reply to a command (seconds)")
	return r
}

// addExtensionFlags defines go-smtp-sink's long options.
func addExtensionFlags(fs *pflag.FlagSet, o *options, r *rawFlags) {
	r.delays = fs.StringArray("delay", nil, "command=duration[:probability],...: delay replies (rcpt=5ms,dot=20ms:0.5)")
	fs.StringVar(&o.statsFile, "stats", "", "write counters as JSON to this file at exit and on SIGUSR1")
	fs.StringVar(&o.cfg.UniqueHeader, "unique-header", "", "count distinct values of this header (e.g. Message-Id)")
	fs.StringVar(&o.authUsers, "auth-users", "", "file of user:password lines AUTH accepts (default: any)")
	fs.Var(&atoiValue{n: &r.size, check: nonNegative}, "size", "SIZE limit announced and enforced on MAIL SIZE= (default none)")
	fs.Var(&atoiValue{n: &r.maxLine, check: func(n int64) bool { return n >= 512 }}, "max-line", "longest command line accepted, CRLF included (default 2048; RFC 5321's minimum is 512)")
	fs.Var(&atoiValue{n: &r.loops, check: nonNegative}, "loops", "event loops (default one per CPU)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a Go CPU profile to this file (for benchmarking the sink)")
	fs.BoolVar(&o.cfg.DisableChunking, "no-chunking", false, "do not announce or accept CHUNKING/BDAT")
	fs.BoolVar(&o.cfg.DisableSMTPUTF8, "no-smtputf8", false, "do not announce SMTPUTF8")
}

// apply puts the parsed values into the configuration.
func (r *rawFlags) apply(o *options) error {
	cfg := &o.cfg
	cfg.MaxConnections, cfg.MaxMessages, cfg.MaxSessions = int(r.maxConn), r.maxMsg, r.maxSess
	cfg.IdleTimeout = time.Duration(r.timeout) * time.Second
	cfg.SocketBuffer, cfg.MaxMessageSize, cfg.EventLoops = int(r.window), r.size, int(r.loops)
	cfg.MaxCommandLine = int(r.maxLine)
	if *r.abort != "" {
		d, err := sink.ParseSeconds(*r.abort)
		if err != nil {
			return fmt.Errorf("-A: %w", err)
		}
		cfg.AbortAfterData, cfg.AbortDelay = true, d
	}
	if *r.prefix != "" {
		cfg.DumpPrefix = unescapeC(*r.prefix)
	}
	if *r.firstRead != "" {
		d, err := sink.ParseSeconds(*r.firstRead)
		if err != nil {
			return fmt.Errorf("-H: %w", err)
		}
		cfg.DataReadDelay = d
	}
	if *r.syslog != "" {
		o.ignoredOpts = append(o.ignoredOpts, "-s")
	}
	return r.applyDelaysAndFaults(cfg)
}

// applyDelaysAndFaults reads -w, -W, --delay and the fault lists (-f, -r, -q, -Q).
func (r *rawFlags) applyDelaysAndFaults(cfg *sink.Config) error {
	if *r.dataDelay != "" {
		d, err := sink.ParseSeconds(*r.dataDelay)
		if err != nil || d <= 0 {
			return errUsage
		}
		cfg.Delays[sink.VerbDATA] = sink.Delay{Duration: d}
	}
	for _, spec := range *r.delayW {
		if err := cfg.SetDelayW(spec); err != nil {
			return err
		}
	}
	for _, spec := range *r.delays {
		if err := cfg.SetDelays(spec); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		lists []string
		fault sink.Fault
	}{{*r.hard, sink.FaultHardReject}, {*r.soft, sink.FaultSoftReject}, {*r.quiet, sink.FaultDisconnect}, {*r.close421, sink.FaultClose421}} {
		for _, list := range f.lists {
			if err := cfg.SetFaults(list, f.fault); err != nil {
				return err
			}
		}
	}
	return nil
}

// readAuthUsers reads --auth-users' user:password file.
func readAuthUsers(o *options) error {
	if o.authUsers == "" {
		return nil
	}
	f, err := os.Open(o.authUsers)
	if err != nil {
		return err
	}
	defer f.Close()
	users, err := sink.ReadAuthUsers(f)
	if err != nil {
		return fmt.Errorf("%s: %w", o.authUsers, err)
	}
	o.cfg.AuthUsers = users
	return nil
}

// unescapeC expands the C escapes smtp-sink's -S accepts: \n \t \r \a \b \f \v \\ \ddd.
func unescapeC(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'v':
			b.WriteByte('\v')
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v, n := 0, 0
			for n < 3 && i < len(s) && s[i] >= '0' && s[i] <= '7' {
				v = v*8 + int(s[i]-'0')
				i++
				n++
			}
			i--
			b.WriteByte(byte(v))
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

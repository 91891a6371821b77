package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/getopt"
	"github.com/go-smtp-source/go-smtp-source/internal/hostport"
	"github.com/go-smtp-source/go-smtp-source/internal/validhost"
	"github.com/go-smtp-source/go-smtp-source/plan"
)

// smtpSourceOptstring is smtp-source's getopt string (smtp-source.c, Postfix 3.7).
const smtpSourceOptstring = "46AcC:df:F:l:Lm:M:Nor:R:s:S:t:T:vw:"

// sourceModel is what smtp-source's option loop makes of its options: its main() switch,
// case by case, written from smtp-source.c.
type sourceModel struct {
	family                                            hostport.Family
	tries, length, messages, rcpts, rand, sessions    int32
	window, fixed                                     int32
	from, to, subject, myhostname                     *string
	allowReject, count, reuse, lmtp, numbered, oldish bool
	verbose                                           int
	file                                              *string
}

// run applies the options; err is smtp-source's fatal text for the first bad one.
func (m *sourceModel) run(opts []getopt.Option) (err string) {
	m.tries, m.messages, m.rcpts, m.sessions = 1, 1, 1, 1
	positive := func(v string, what string, to *int32) string {
		if *to = getopt.Int(v); *to <= 0 {
			return "bad " + what + ": " + v
		}
		return ""
	}
	for _, o := range opts {
		v := o.Value
		e := ""
		switch o.Name {
		case "4":
			m.family = hostport.IPv4
		case "6":
			m.family = hostport.IPv6
		case "A":
			m.allowReject = true
		case "c":
			m.count = true
		case "C":
			e = positive(v, "connection count", &m.tries)
		case "d":
			m.reuse = true
		case "f":
			m.from = &v
		case "F":
			if m.file == nil && m.length > 0 {
				return "-l option cannot be used with -F"
			}
			m.file = &v
		case "l":
			if m.file != nil {
				return "-l option cannot be used with -F"
			}
			e = positive(v, "message length", &m.length)
		case "L":
			m.lmtp = true
		case "m":
			e = positive(v, "message count", &m.messages)
		case "M":
			if strings.HasPrefix(v, "[") && validhost.MailhostLiteral(v) != nil {
				return "bad address literal: " + v
			} else if !strings.HasPrefix(v, "[") && validhost.Hostname(v) != nil {
				return "bad hostname: " + v
			}
			m.myhostname = &v
		case "N":
			m.numbered = true
		case "o":
			m.oldish = true
		case "r":
			e = positive(v, "recipient count", &m.rcpts)
		case "R":
			if m.fixed > 0 {
				return "do not use -w and -R options at the same time"
			}
			e = positive(v, "random delay", &m.rand)
		case "s":
			e = positive(v, "session count", &m.sessions)
		case "S":
			m.subject = &v
		case "t":
			m.to = &v
		case "T":
			e = positive(v, "TCP window size", &m.window)
		case "v":
			m.verbose++
		case "w":
			if m.rand > 0 {
				return "do not use -w and -R options at the same time"
			}
			e = positive(v, "fixed delay", &m.fixed)
		}
		if e != "" {
			return e
		}
	}
	return ""
}

// check compares the plan parseOptions made with the model's.
func (m *sourceModel) check(t *testing.T, args []string, inv *invocation) {
	p := inv.plan
	str := func(s *string) string {
		if s == nil {
			return "<nil>"
		}
		return *s
	}
	host := ""
	if m.myhostname != nil {
		host = *m.myhostname
	}
	subject := m.subject
	if m.oldish {
		subject = p.Message.Subject // -o sends no headers: the subject is kept but unused
	}
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"family", p.Family, m.family}, {"-C", p.Connect.Tries, int(m.tries)}, {"-l", p.Message.Length, int(m.length)},
		{"-m", p.Messages, int64(m.messages)}, {"-r", p.Message.Recipients, int(m.rcpts)}, {"-s", p.Sessions, int(m.sessions)},
		{"-T", p.Connect.WindowSize, int(m.window)}, {"-R", p.Session.RandomDelay, time.Duration(m.rand) * time.Second},
		{"-w", p.Session.FixedDelay, time.Duration(m.fixed) * time.Second}, {"-f", str(p.Message.From), str(m.from)},
		{"-t", str(p.Message.To), str(m.to)}, {"-S", str(p.Message.Subject), str(subject)}, {"-M", p.Session.Hostname, host},
		{"-A", p.Session.AllowReject, m.allowReject}, {"-c", inv.out.count, m.count}, {"-d", p.Session.Reuse, m.reuse},
		{"-L", p.Session.LMTP, m.lmtp}, {"-N", p.Message.NumberRecipients, m.numbered}, {"-v", inv.out.verbose, m.verbose},
		{"-o", p.Session.Greeting == plan.GreetNone, m.oldish},
	} {
		if c.got != c.want {
			t.Fatalf("%q: %s is %v, smtp-source's would be %v", args, c.what, c.got, c.want)
		}
	}
}

// FuzzParseOptions: any command line parses or is refused with one line, never a
// panic; one made of smtp-source's options (no -F, whose file the fuzzer cannot make)
// gives the options, or the first fatal error, that smtp-source's option loop gives.
func FuzzParseOptions(f *testing.F) {
	for _, s := range []string{
		"-64\x00127.0.0.1", "-4\x00-6\x00-m4\x00h", "-m\x000\x00-m\x002\x00h", "-s\x000\x00-m\x000", "-w\x000\x00-R\x001\x00h",
		"-M\x00[IPv6:::ffff:192.0.2.1]\x00h", "-M\x00123\x00h", "-m\x004294967297\x00-r\x004294967298\x00h", "-S\x00\x00h",
		"-cdvvL\x00-C3\x00-T\x004096\x00-f\x00-t\x00-t\x00-4\x00h", "--json=x\x00--quiet\x00h", "-tls\x00h", "-x\x00h", "--\x00-m",
		"-l\x0080\x00-o\x00-S\x00s\x00h", "-R\x002\x00-w\x001\x00h", "-m\x00 +3x\x00[::1]:25",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, joined string) {
		args := strings.Split(joined, "\x00")
		inv, _, err := parseOptions(args)
		if err != nil && strings.Contains(err.Error(), "\n") && !strings.Contains(joined, "\n") {
			t.Fatalf("%q: a multi-line error %q", args, err)
		}
		opts, operands, gerr := getopt.Spec{Short: smtpSourceOptstring}.Parse(args)
		if gerr != nil || smtpSourceOnly(args) == false {
			return // a long option, a word, -h or -q: not smtp-source's command line
		}
		for _, o := range opts {
			if o.Name == "F" {
				return
			}
		}
		var m sourceModel
		want := m.run(opts)
		var fe *fatalError
		switch {
		case want != "":
			if !errors.As(err, &fe) || fe.msg != want {
				t.Fatalf("%q: got %v, smtp-source: fatal: %s", args, err, want)
			}
		case len(operands) != 1:
			var ue *usageError
			if !errors.As(err, &ue) || !ue.showUsage {
				t.Fatalf("%q: got %v, smtp-source: its usage line", args, err)
			}
		case err == nil:
			m.check(t, args, inv)
		}
	})
}

// smtpSourceOnly reports that args hold no long option and no legacy word (anywhere, to
// keep it simple): getopt with smtp-source's optstring then sees what smtp-source sees.
func smtpSourceOnly(args []string) bool {
	for _, a := range args {
		if len(a) > 2 && strings.HasPrefix(a, "--") || legacySpellings[a].Name != "" {
			return false
		}
	}
	return true
}

package main

import (
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/go-smtp-source/go-smtp-source/internal/cliflags"
)

// optionGroups are the headings of --help and the options under each, by long name; an
// option in none is listed under "Other options" (man/go-smtp-sink.1 follows the same
// order).
var optionGroups = []cliflags.Group{
	{Title: "smtp-sink options (Postfix smtp-sink(1), same letters and meaning)", Names: []string{
		"ipv4", "ipv6", "no-8bitmime", "no-auth-announce", "abort", "soft-reply", "hard-reply", "counters",
		"no-xclient", "dump-dir", "dump-file", "no-esmtp", "no-enhanced", "hard-reject", "no-xforward",
		"hostname", "data-read-delay", "lmtp", "max-connections", "max-messages", "max-sessions", "no-dsn",
		"no-pipelining", "pix", "disconnect", "close-421", "soft-reject", "root-dir", "syslog",
		"start-string", "timeout", "window-size", "user", "verbose", "data-delay", "delay-reply"}},
	{Title: "Server", Names: []string{
		"delay", "size", "max-line", "auth-users", "unique-header", "no-chunking", "no-smtputf8", "loops", "proxy-protocol"}},
	{Title: "TLS", Names: []string{
		"starttls", "tls-wrapper", "tls-require", "tls-cert", "tls-key", "tls-client-ca", "tls-client-require"}},
	{Title: "The far end that pushes back (rejections, greylisting, rate limits, tarpit)", Names: []string{
		"reject", "greylist", "greylist-delay", "greylist-expire", "greylist-max", "rate-limit",
		"max-per-connection", "tarpit", "seed"}},
	{Title: "Output, trace and HTTP", Names: []string{
		"stats", "trace", "trace-header", "trace-file", "http", "metrics-addr", "cpuprofile"}},
}

// valueTypes name the values of the options whose usage does not: what to type.
var valueTypes = map[string]string{
	"abort": "seconds", "soft-reply": "reply", "hard-reply": "reply", "dump-dir": "template",
	"dump-file": "template", "hard-reject": "commands", "hostname": "name", "data-read-delay": "seconds",
	"max-connections": "count", "max-messages": "count", "max-sessions": "count", "disconnect": "commands",
	"close-421": "commands", "soft-reject": "commands", "root-dir": "dir", "syslog": "facility",
	"start-string": "text", "timeout": "seconds", "window-size": "bytes", "user": "user",
	"data-delay": "seconds", "delay-reply": "cmd:delay[:odds]", "delay": "cmd=duration[:p],...",
	"stats": "file", "unique-header": "header", "auth-users": "file", "size": "bytes", "max-line": "bytes",
	"loops": "count", "cpuprofile": "file", "reject": "cmd=code[...],...", "greylist-delay": "duration",
	"greylist-expire": "duration", "greylist-max": "count", "rate-limit": "rate/unit[,...]",
	"max-per-connection": "count", "tarpit": "delay[,...]", "seed": "N", "trace-header": "name",
	"trace-file": "file", "http": "addr", "metrics-addr": "addr",
}

// helpSpec is --help's layout and completion's vocabulary, from the parser's flags.
func helpSpec(prog string) cliflags.Spec {
	return cliflags.Spec{
		Program: prog,
		Usage:   []string{"[options] [inet:][host]:port backlog", "[options] unix:pathname backlog", "completion bash|zsh"},
		Subcommands: []cliflags.Subcommand{{Name: "completion", Args: "bash|zsh",
			Summary: "print the shell completion script: source <(go-smtp-sink completion bash)", Words: cliflags.Shells}},
		Groups: optionGroups,
		Others: "Other options",
		Types:  valueTypes,
		Sections: []cliflags.Section{
			{Title: "Commands (for -f, -q, -Q, -r, -W, --delay, --reject)", Lines: []string{
				"connect (the greeting), helo, ehlo, lhlo, xclient, xforward, auth, mail, rcpt, data,",
				". (the end of data; also dot in --delay and --reject), bdat, rset, noop, vrfy, quit, starttls; comma-separated."}},
			{Title: "Examples", Lines: []string{
				"# a sink on port 2525 with a backlog of 1024, counters on stdout",
				"  " + prog + " -c 127.0.0.1:2525 1024",
				"# STARTTLS with a self-signed certificate, 5% of RCPTs refused, 20 ms before each DATA reply",
				"  " + prog + " --starttls --reject rcpt=550:5% --delay data=20ms :2525 1024",
				"# behind an MTA: account for go-smtp-source --trace, serve /trace and /metrics",
				"  " + prog + " --trace --http 127.0.0.1:8025 127.0.0.1:2526 1024",
			}},
			{Title: "Exit status", Lines: []string{
				"0 after SIGINT/SIGTERM or a -M/-n limit; 1 a command-line or start-up error.",
				"The manual: man go-smtp-sink (man/go-smtp-sink.1).",
			}},
		},
	}
}

// printHelp is --help: every option, grouped, described, with examples.
func printHelp(w io.Writer, prog string) error {
	fs, _ := newFlagSet(prog, &options{})
	fs.AddFlagSet(helpFlag())
	spec := helpSpec(prog)
	return spec.Write(w, fs)
}

// runCompletion is `go-smtp-sink completion bash|zsh`: the script on stdout.
func runCompletion(prog string, args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintf(stderr, "%s: fatal: usage: %s completion bash|zsh\n", prog, prog)
		return 1
	}
	fs, _ := newFlagSet(prog, &options{})
	fs.AddFlagSet(helpFlag())
	spec := helpSpec(prog)
	if err := spec.Completion(stdout, args[0], fs); err != nil {
		fmt.Fprintf(stderr, "%s: fatal: completion: %v\n", prog, err)
		return 1
	}
	return 0
}

// helpFlag is --help, which pflag answers without a definition (-h is smtp-sink's
// hostname); completion offers it.
func helpFlag() *pflag.FlagSet {
	fs := pflag.NewFlagSet("help", pflag.ContinueOnError)
	fs.Bool("help", false, "show this help")
	fs.Bool("version", false, "print the version and exit")
	return fs
}

package main

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/go-smtp-source/go-smtp-source/internal/cliflags"
)

// optionGroups are the headings of -h and the options under each, by long name; an
// option in none is listed under "Other options" (man/go-smtp-source.1 follows the same
// order).
var optionGroups = []cliflags.Group{
	{Title: "smtp-source options (Postfix smtp-source(1), same letters and meaning)", Names: []string{
		"ipv4", "ipv6", "allow-reject", "count", "connect-tries", "keep-connection", "from", "file", "length",
		"lmtp", "messages", "myhostname", "number-recipients", "old-mode", "recipients", "random-delay",
		"sessions", "subject", "to", "window-size", "verbose", "delay"}},
	{Title: "Session and connection", Names: []string{
		"ehlo", "pipelining", "timeout", "connect-timeout", "source-addr", "max-connecting", "event-loops",
		"linger0", "compat", "grace", "resolve-once"}},
	{Title: "Load model (closed by default: -s sessions, each sending as fast as the server answers)", Names: []string{
		"rate", "duration", "stages", "stages-of", "max-sessions", "drop-after", "late-after", "max-duration"}},
	{Title: "Errors, thresholds, capacity search", Names: []string{
		"on-error", "max-errors", "threshold", "threshold-abort", "threshold-abort-delay", "find-max",
		"find-max-start", "find-max-factor", "find-max-increment", "find-max-step", "find-max-bisect", "find-max-steps"}},
	{Title: "TLS and AUTH", Names: []string{
		"tls", "tls-wrapper", "tls-ca-file", "tls-servername", "tls-min-version", "tls-max-version", "tls-ciphers",
		"tls-cert", "tls-key", "tls-resume", "auth", "auth-user", "auth-password-file", "auth-file", "auth-insecure"}},
	{Title: "Output (the summary and report go to stderr; stdout has only -c's counter)", Names: []string{
		"json", "html", "hdr-log", "log-messages", "metrics-addr", "metrics-linger", "progress", "quiet", "no-metrics"}},
	{Title: "Cluster (several processes, one run; go-smtp-source worker serves NATS runs)", Names: []string{
		"shard", "start-at", "max-start-late", "cluster-workers", "cluster-listen", "cluster-nats", "cluster-token",
		"cluster-user", "cluster-creds", "cluster-nkey", "cluster-tls-ca", "cluster-tls-cert", "cluster-tls-key",
		"on-worker-loss", "cluster-join-timeout", "cluster-nats-wait"}},
	{Title: "Realistic traffic: content and envelope", Names: []string{
		"seed", "size", "body", "attach", "header", "keep-message-id", "corpus", "corpus-keep-headers",
		"from-file", "rcpt-file", "rcpt-count", "rcpt-domains"}},
	{Title: "ESMTP extensions (each used only when the server announces it)", Names: []string{
		"mail-size", "8bitmime", "bdat", "smtputf8", "dsn-ret", "dsn-notify", "requiretls", "xclient",
		"proxy-protocol", "proxy-source"}},
	{Title: "End-to-end (through the MTA to go-smtp-sink --trace)", Names: []string{
		"trace", "trace-header", "trace-run", "e2e-sink", "e2e-wait"}},
}

// valueTypes name the values of the options whose usage does not: what to type.
var valueTypes = map[string]string{
	"timeout": "duration", "connect-timeout": "duration", "grace": "duration", "duration": "duration",
	"drop-after": "duration", "late-after": "duration", "max-duration": "duration",
	"threshold-abort-delay": "duration", "find-max-step": "duration", "cluster-join-timeout": "duration",
	"cluster-nats-wait": "duration", "max-start-late": "duration", "e2e-wait": "duration",
	"metrics-linger": "duration", "metrics-addr": "addr",
	"max-connecting": "count", "event-loops": "count", "max-sessions": "count", "cluster-workers": "count",
	"find-max-bisect": "count", "find-max-steps": "count", "find-max-factor": "number",
	"find-max-increment": "rate", "rate": "rate", "max-errors": "N|P%", "source-addr": "addr,...",
	"compat": "3.9|3.7", "8bitmime": "auto|always", "body": "kind", "proxy-protocol": "v1|v2", "on-error": "abort|continue", "stages-of": "rate|sessions",
	"on-worker-loss": "abort|continue", "cluster-token": "token", "cluster-user": "name",
	"cluster-listen": "addr", "tls-min-version": "version", "tls-max-version": "version",
	"token": "token", "user": "name", "clock-offset": "duration",
	"length": "bytes", "random-delay": "seconds", "delay": "seconds",
}

// valueChoices are the values completion offers for an option.
var valueChoices = map[string][]string{
	"tls": {"none", "may", "encrypt", "verify", "secure"}, "tls-min-version": {"1.0", "1.1", "1.2", "1.3"},
	"tls-max-version": {"1.0", "1.1", "1.2", "1.3"}, "auth": {"PLAIN", "LOGIN", "CRAM-MD5"},
	"on-error": {"abort", "continue"}, "stages-of": {"rate", "sessions"}, "on-worker-loss": {"abort", "continue"},
	"compat": {"3.9", "3.7"}, "8bitmime": {"auto", "always"}, "body": {"smtp-source", "text", "random"}, "proxy-protocol": {"v1", "v2"},
	"dsn-ret": {"FULL", "HDRS"},
}

// helpSpec is -h's layout and completion's vocabulary, from the same flag definitions
// as the parser's.
func helpSpec(name string) cliflags.Spec {
	name = filepath.Base(name)
	worker, _, _ := parseWorkerFlags(name, []string{"--help"})
	merge, _, _, _, _ := mergeFlags(name)
	reconcile, _, _, _, _ := reconcileFlags(name)
	reportFS, _, _, _, _ := reportFlags(name)
	return cliflags.Spec{
		Program: name,
		Usage: []string{
			"-cdLNov -s sess -l msglen -m msgs -C count -M myhostname -f from -t to -r rcptcount -R delay -w delay host[:port]",
			"[options] host[:port]",
			"merge | worker | reconcile | report | completion [options] [arguments]",
		},
		Subcommands: []cliflags.Subcommand{
			{Name: "merge", Args: "[options] REPORT.json...", Summary: "merge the --json reports of several runs or shards exactly; text on stdout, --json FILE for the merged document", Flags: merge, Files: true},
			{Name: "worker", Args: "--nats URL [options]", Summary: "serve cluster runs: join the runs a coordinator (--cluster-workers) announces on NATS and send their shards", Flags: worker},
			{Name: "reconcile", Args: "[options] RUN.json SINK.json...", Summary: "reconcile a traced run's document with go-smtp-sink --trace documents: delivered, late, lost, duplicated", Flags: reconcile, Files: true},
			{Name: "report", Args: "[options] RUN.json...", Summary: "one self-contained HTML page from run documents; several runs are compared with the first, regressions named", Flags: reportFS, Files: true},
			{Name: "completion", Args: "bash|zsh", Summary: "print the shell completion script: source <(go-smtp-source completion bash)", Words: cliflags.Shells},
		},
		Groups:  optionGroups,
		Others:  "Other options",
		Types:   valueTypes,
		Choices: valueChoices,
		Sections: []cliflags.Section{
			{Title: "Targets", Lines: []string{"host, host:port, [addr]:port, [ipv6:addr]:port, inet:host:port, unix:/path (default port 25)."}},
			{Title: "Examples", Lines: []string{
				"# smtp-source's job: 100 sessions, 10,000 messages, connections reused",
				"  " + name + " -d -s 100 -m 10000 -f a@example.com -t b@example.com 127.0.0.1:25",
				"# 500 messages/s for 2 minutes, pass/fail on the p99, the result kept for merge and report",
				"  " + name + " --rate 500 --duration 2m --threshold 'eod.p99<500ms' --json run.json localhost",
				"# two shards of one run, merged",
				"  " + name + " merge --json run.json shard-0.json shard-1.json",
			}},
			{Title: "Exit status", Lines: []string{
				"0 the run completed; 1 a fatal error (smtp-source's); 2 a command-line mistake;",
				"3 a cluster run lost a worker; 98 --max-errors exceeded; 99 a --threshold breached;",
				"130, 143 SIGINT, SIGTERM. The manual: man go-smtp-source (man/go-smtp-source.1).",
			}},
		},
	}
}

// printUsage is -h: every option, grouped, with the subcommands and examples.
func printUsage(w io.Writer, name string) {
	compat, ext := flagSets()
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.AddFlagSet(compat)
	fs.AddFlagSet(ext)
	spec := helpSpec(name)
	if err := spec.Write(w, fs); err != nil {
		fmt.Fprintf(w, "%s: %v\n", name, err)
	}
}

// subcommandOptions lays out a subcommand's options as -h does.
func subcommandOptions(fs *pflag.FlagSet) string {
	spec := cliflags.Spec{Types: valueTypes}
	return spec.Options(fs)
}

// runCompletion is `go-smtp-source completion bash|zsh`: the script on stdout.
func runCompletion(name string, args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintf(stderr, "%s: fatal: usage: %s completion bash|zsh\n", name, name)
		return exitUsage
	}
	if args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintf(stdout, "usage: %s completion bash|zsh\n\nPrints the completion script; in ~/.bashrc: source <(%s completion bash)\n", name, name)
		return exitOK
	}
	compat, ext := flagSets()
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.AddFlagSet(compat)
	fs.AddFlagSet(ext)
	spec := helpSpec(name)
	if err := spec.Completion(stdout, args[0], fs); err != nil {
		fmt.Fprintf(stderr, "%s: fatal: completion: %v\n", name, err)
		return exitUsage
	}
	return exitOK
}

package main

import (
	"bytes"
	"io"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/spf13/pflag"

	"github.com/go-smtp-source/go-smtp-source/internal/cliflags"
	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// sinkHelp is go-smtp-sink --help's stdout.
func sinkHelp(t *testing.T) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run([]string{"go-smtp-sink", "--help"}, &out, &errOut); code != 0 || errOut.Len() > 0 {
		t.Fatalf("--help: exit %d, stderr %q", code, errOut.String())
	}
	return out.String()
}

// --help lists every option with its description and value type, grouped, within 100
// columns; a mistake still prints smtp-sink's usage line (peer_test.go).
func TestHelpListsEveryOption(t *testing.T) {
	help := sinkHelp(t)
	for i, line := range strings.Split(help, "\n") {
		if n := utf8.RuneCountInString(line); n > cliflags.Width {
			t.Errorf("line %d is %d columns: %q", i+1, n, line)
		}
	}
	fs, _ := newFlagSet("go-smtp-sink", &options{})
	spec := helpSpec("go-smtp-sink")
	if err := spec.Write(io.Discard, fs); err != nil {
		t.Fatal(err)
	}
	fs.VisitAll(func(fl *pflag.Flag) {
		_, usage := pflag.UnquoteUsage(fl)
		if !strings.Contains(help, "--"+fl.Name+" ") || !strings.Contains(strings.Join(strings.Fields(help), " "), usage) {
			t.Errorf("--help does not describe --%s", fl.Name)
		}
	})
	if m := regexp.MustCompile(`--[a-z0-9-]+ (string|stringArray|int|int64|uint64)\b`).FindAllString(help, -1); m != nil {
		t.Errorf("values named by their Go type: %q", m)
	}
	for _, want := range []string{"smtp-sink options (Postfix smtp-sink(1)", "\nTLS:\n", "  -m, --max-connections count",
		"      --delay cmd=duration[:p],...\n", "      --http addr ", "\nExamples:\n", "  completion bash|zsh"} {
		if !strings.Contains(help, want) {
			t.Errorf("--help does not show %q", want)
		}
	}
}

// The bash script, loaded in bash and driven through COMP_WORDS/COMP_CWORD, completes a
// long option, a value from files, and the completion subcommand; zsh's names the options.
func TestCompletion(t *testing.T) {
	var bash, zsh, errOut bytes.Buffer
	if run([]string{"go-smtp-sink", "completion", "bash"}, &bash, &errOut) != 0 ||
		run([]string{"go-smtp-sink", "completion", "zsh"}, &zsh, &errOut) != 0 {
		t.Fatalf("completion: %s", errOut.String())
	}
	for _, c := range []struct{ words, want string }{
		{"go-smtp-sink --tls-client-r", "--tls-client-require"},
		{"go-smtp-sink comp", "completion"},
		{"go-smtp-sink --stats completion.b", "completion.bash"},
		{"go-smtp-sink --he", "--help"},
	} {
		if got := testpeer.CompleteBash(t, bash.String(), "go-smtp-sink", strings.Fields(c.words)...); strings.Join(got, " ") != c.want {
			t.Errorf("%q completes to %q, want %q", c.words, got, c.want)
		}
	}
	for _, want := range []string{"#compdef go-smtp-sink\n", "'(-m --max-connections)'{-m+,--max-connections=}'[serve at most this many sessions at once]:count:'",
		"'*--reject=[", "compdef _go_smtp_sink go-smtp-sink"} {
		if !strings.Contains(zsh.String(), want) {
			t.Errorf("zsh script lacks %q", want)
		}
	}
}

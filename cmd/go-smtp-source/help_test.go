package main

import (
	"bytes"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/spf13/pflag"

	"github.com/go-smtp-source/go-smtp-source/internal/cliflags"
	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// helpOutput runs the command line and returns its stdout, which must be help.
func helpOutput(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run("go-smtp-source", args, &out, &errOut); code != exitOK || errOut.Len() > 0 {
		t.Fatalf("%q: exit %d, stderr %q", args, code, errOut.String())
	}
	return out.String()
}

// checkFits fails for a line wider than the help's width.
func checkFits(t *testing.T, what, text string) {
	t.Helper()
	for i, line := range strings.Split(text, "\n") {
		if n := utf8.RuneCountInString(line); n > cliflags.Width {
			t.Errorf("%s: line %d is %d columns: %q", what, i+1, n, line)
		}
	}
}

// goTypeRE finds an option whose value is named by its Go type rather than by what to type.
var goTypeRE = regexp.MustCompile(`--[a-z0-9-]+ (string|stringArray|stringSlice|int|int64|uint64|float64|bool)\b`)

// -h lists the subcommands, the options in their groups with their value types, three
// examples, and fits in 100 columns; so does every subcommand's -h.
func TestHelpLayout(t *testing.T) {
	help := helpOutput(t, "-h")
	checkFits(t, "-h", help)
	for _, want := range []string{
		"usage: go-smtp-source -cdLNov -s sess",
		"\n  merge [options] REPORT.json...", "\n  worker --nats URL", "\n  reconcile [options]", "\n  completion bash|zsh",
		"smtp-source options (Postfix smtp-source(1)", "\nLoad model", "\nTLS and AUTH:", "\nOutput", "\nCluster", "\nEnd-to-end",
		"  -s, --sessions count ", "      --timeout duration ", "      --json file ", "  -F, --file file ",
		"      --on-error abort|continue\n", "      --tls level ", "      --e2e-wait duration ",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("-h does not show %q", want)
		}
	}
	if m := goTypeRE.FindAllString(help, -1); m != nil {
		t.Errorf("values named by their Go type: %q", m)
	}
	examples := help[strings.Index(help, "\nExamples:"):]
	examples = examples[:strings.Index(examples, "\n\n")]
	if n := strings.Count(examples, "\n    go-smtp-source "); n != 3 {
		t.Errorf("%d examples, want 3:%s", n, examples)
	}
	if h := helpOutput(t, "--help"); h != help {
		t.Errorf("--help differs from -h")
	}
	for _, sub := range []string{"merge", "worker", "reconcile", "report", "completion"} {
		out := helpOutput(t, sub, "-h")
		checkFits(t, sub+" -h", out)
		if m := goTypeRE.FindAllString(out, -1); m != nil {
			t.Errorf("%s -h: values named by their Go type: %q", sub, m)
		}
	}
}

// Every option the groups name exists (a renamed option does not leave a stale table),
// and an option in no group is still listed.
func TestHelpGroupsNameOptions(t *testing.T) {
	compat, ext := flagSets()
	fs := pflag.NewFlagSet("go-smtp-source", pflag.ContinueOnError)
	fs.AddFlagSet(compat)
	fs.AddFlagSet(ext)
	spec := helpSpec("go-smtp-source")
	if err := spec.Write(io.Discard, fs); err != nil {
		t.Fatal(err)
	}
	fs.String("brand-new", "", "an option added without a group")
	var out bytes.Buffer
	if err := spec.Write(&out, fs); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Other options:\n") || !strings.Contains(out.String(), "--brand-new value") {
		t.Errorf("an ungrouped option is not listed under Other options")
	}
}

// The bash script completes long options, subcommands, their options and operands, a
// file where the value is one, and the values an option takes.
func TestCompletionBash(t *testing.T) {
	var script, errOut bytes.Buffer
	if code := run("/usr/local/bin/go-smtp-source", []string{"completion", "bash"}, &script, &errOut); code != exitOK {
		t.Fatalf("completion bash: exit %d: %s", code, errOut.String())
	}
	for _, c := range []struct {
		words []string
		want  string
	}{
		{[]string{"go-smtp-source", "--sessi"}, "--sessions"},
		{[]string{"go-smtp-source", "--tls-ser"}, "--tls-servername"},
		{[]string{"go-smtp-source", "mer"}, "merge"},
		{[]string{"go-smtp-source", "comp"}, "completion"},
		{[]string{"go-smtp-source", "-d", "--tls", "enc"}, "encrypt"},
		{[]string{"go-smtp-source", "--json", "completion.b"}, "completion.bash"},
		{[]string{"go-smtp-source", "worker", "--nats-w"}, "--nats-wait"},
		{[]string{"go-smtp-source", "merge", "completion.b"}, "completion.bash"},
		{[]string{"go-smtp-source", "merge", "--max-s"}, "--max-skew"},
		{[]string{"go-smtp-source", "merge", "--json", "completion.b"}, "completion.bash"},
		{[]string{"go-smtp-source", "reconcile", "--clock"}, "--clock-offset"},
		{[]string{"go-smtp-source", "completion", "z"}, "zsh"},
		{[]string{"go-smtp-source", "-s", "10", "localh"}, "localhost"},
	} {
		got := testpeer.CompleteBash(t, script.String(), "go-smtp-source", c.words...)
		if strings.Join(got, " ") != c.want {
			t.Errorf("%q completes to %q, want %q", c.words, got, c.want)
		}
	}
	if got := testpeer.CompleteBash(t, script.String(), "go-smtp-source", "go-smtp-source", "--timeout", ""); got != nil {
		t.Errorf("a duration's value completes to %q, want nothing", got)
	}
}

// The zsh script describes every option with its value and the subcommands; zsh itself
// checks its syntax where it is installed.
func TestCompletionZsh(t *testing.T) {
	var script, errOut bytes.Buffer
	if code := run("go-smtp-source", []string{"completion", "zsh"}, &script, &errOut); code != exitOK {
		t.Fatalf("completion zsh: exit %d: %s", code, errOut.String())
	}
	s := script.String()
	for _, want := range []string{
		"#compdef go-smtp-source\n", "'(-s --sessions)'{-s+,--sessions=}'[count of SMTP sessions in parallel]:count:'",
		"'--json=[write the result document]:file:_files'", "'--tls=[TLS level, Postfix", ":level:(none may encrypt verify secure)'",
		"'merge:merge the --json reports", "(worker)\n", "'--nats=[the NATS server", "compdef _go_smtp_source go-smtp-source",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("zsh script lacks %q", want)
		}
	}
	for i, line := range strings.Split(strings.ReplaceAll(s, `'\''`, ""), "\n") {
		if strings.Count(line, "'")%2 != 0 {
			t.Errorf("line %d: unbalanced quotes: %s", i+1, line)
		}
	}
	if zsh, err := exec.LookPath("zsh"); err == nil {
		cmd := exec.Command(zsh, "-n")
		cmd.Stdin = &script
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("zsh -n: %v\n%s", err, out)
		}
	}
	var none bytes.Buffer
	if code := run("go-smtp-source", []string{"completion", "fish"}, io.Discard, &none); code != exitUsage || !strings.Contains(none.String(), "bash or zsh") {
		t.Errorf("completion fish: exit %d, %q", code, none.String())
	}
}

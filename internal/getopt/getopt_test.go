package getopt

import (
	"reflect"
	"strings"
	"testing"
)

// smtpSource is smtp-source's getopt string (smtp-source.c, Postfix 3.7).
const smtpSource = "46AcC:df:F:l:Lm:M:Nor:R:s:S:t:T:vw:"

var testSpec = Spec{
	Short: smtpSource,
	Long:  map[string]bool{"json": true, "quiet": false},
	Words: map[string]Option{"-tls": {Name: "tls", Value: "encrypt", HasValue: true, Long: true}},
}

// short writes options compactly for the table: "m=4" for a value, "c" for a flag.
func short(spec ...string) []Option {
	var out []Option
	for _, s := range spec {
		name, value, ok := strings.Cut(s, "=")
		out = append(out, Option{Name: name, Value: value, HasValue: ok, Long: len(name) > 1})
	}
	return out
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		opts     []Option
		operands []string
		err      string
	}{
		{args: []string{"-64", "h"}, opts: short("6", "4"), operands: []string{"h"}},
		{args: []string{"-4", "-6", "-m4", "h"}, opts: short("4", "6", "m=4"), operands: []string{"h"}},
		{args: []string{"-4", "-6", "-t", "-4", "h"}, opts: short("4", "6", "t=-4"), operands: []string{"h"}},
		{args: []string{"-f", "-m", "h"}, opts: short("f=-m"), operands: []string{"h"}},
		{args: []string{"-cdm", "5", "h"}, opts: short("c", "d", "m=5"), operands: []string{"h"}},
		{args: []string{"-s10", "-vvv", "h"}, opts: short("s=10", "v", "v", "v"), operands: []string{"h"}},
		{args: []string{"-m", "", "h"}, opts: short("m="), operands: []string{"h"}},
		{args: []string{"h", "-m", "2"}, operands: []string{"h", "-m", "2"}},
		{args: []string{"--", "-h"}, operands: []string{"-h"}},
		{args: []string{"-c", "--", "--", "x"}, opts: short("c"), operands: []string{"--", "x"}},
		{args: []string{"-", "-c"}, operands: []string{"-", "-c"}},
		{args: []string{"-cx", "h"}, opts: short("c"), err: "invalid option -- 'x'"},
		{args: []string{"-:"}, err: "invalid option -- ':'"},
		{args: []string{"-c", "-m"}, opts: short("c"), err: "option requires an argument -- 'm'"},
		{args: []string{"-dm"}, opts: short("d"), err: "option requires an argument -- 'm'"},
		{args: []string{"--json", "f", "--quiet", "h"}, opts: short("json=f", "quiet"), operands: []string{"h"}},
		{args: []string{"--json=", "--quiet=false", "h"}, opts: short("json=", "quiet=false"), operands: []string{"h"}},
		{args: []string{"--json"}, err: "option '--json' requires an argument"},
		{args: []string{"--nope", "h"}, err: "unrecognized option '--nope'"},
		{args: []string{"-tls", "-t", "-tls", "h", "-tls"}, opts: short("tls=encrypt", "t=-tls"), operands: []string{"h", "-tls"}},
		{args: []string{"-tlsx", "h"}, opts: short("t=lsx"), operands: []string{"h"}},
	} {
		opts, operands, err := testSpec.Parse(tc.args)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%q: error %v, want %q", tc.args, err, tc.err)
			}
		} else if err != nil {
			t.Errorf("%q: %v", tc.args, err)
		}
		if !reflect.DeepEqual(opts, tc.opts) || tc.err == "" && !reflect.DeepEqual(operands, tc.operands) {
			t.Errorf("%q:\n got %v %q\nwant %v %q", tc.args, opts, operands, tc.opts, tc.operands)
		}
	}
}

// glibcGetopt is a model of glibc's getopt(argc, argv, "+"+optstring) written the way
// glibc's _getopt_internal_r is: a cursor (optind, nextchar) moved one character at a
// time. It knows nothing of long options. It returns the options seen (letter and
// optarg), the operands, and the first error.
func glibcGetopt(optstring string, argv []string) (opts []Option, operands []string, errText string) {
	optind, nextchar := 0, ""
	for {
		if nextchar == "" {
			if optind >= len(argv) {
				return opts, nil, ""
			}
			if argv[optind] == "--" {
				return opts, argv[optind+1:], ""
			}
			if argv[optind] == "" || argv[optind][0] != '-' || argv[optind] == "-" {
				return opts, argv[optind:], "" // "+": stop at the first non-option
			}
			nextchar = argv[optind][1:]
			optind++
		}
		c := nextchar[0]
		nextchar = nextchar[1:]
		temp := strings.IndexByte(optstring, c)
		if temp < 0 || c == ':' {
			return opts, nil, "invalid option -- '" + string(c) + "'"
		}
		if temp+1 < len(optstring) && optstring[temp+1] == ':' {
			switch {
			case nextchar != "":
				opts = append(opts, Option{Name: string(c), Value: nextchar, HasValue: true})
			case optind < len(argv):
				opts = append(opts, Option{Name: string(c), Value: argv[optind], HasValue: true})
				optind++
			default:
				return opts, nil, "option requires an argument -- '" + string(c) + "'"
			}
			nextchar = ""
			continue
		}
		opts = append(opts, Option{Name: string(c)})
	}
}

// shortOnly reports that args hold no long option and no word (anywhere, to keep it
// simple), so the model applies to them.
func shortOnly(args []string) bool {
	for _, a := range args {
		if len(a) > 2 && strings.HasPrefix(a, "--") || a == "-tls" {
			return false
		}
	}
	return true
}

// FuzzParse: any argv parses or fails with one line, never a panic, and an argv of
// short options parses to what glibc's getopt gives smtp-source.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"-64\x00h", "-4\x00-6\x00-m4\x00h", "-f\x00-m\x00h", "-cdm\x005\x00h", "h\x00-m\x002",
		"--\x00-h", "-cx\x00h", "-c\x00-m", "--json=f\x00h", "-tls\x00h", "-\x00-c", "-:",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, joined string) {
		args := strings.Split(joined, "\x00")
		opts, operands, err := testSpec.Parse(args)
		if err != nil && strings.ContainsAny(err.Error(), "\n") && !strings.ContainsAny(joined, "\n") {
			t.Fatalf("%q: a multi-line error: %q", args, err)
		}
		if !shortOnly(args) {
			return
		}
		wantOpts, wantOperands, wantErr := glibcGetopt(smtpSource, args)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
			operands = nil
		}
		if gotErr != wantErr || !reflect.DeepEqual(opts, wantOpts) || !equalStrings(operands, wantOperands) {
			t.Fatalf("%q:\n got %v %q %q\nwant %v %q %q", args, opts, operands, gotErr, wantOpts, wantOperands, wantErr)
		}
	})
}

func equalStrings(a, b []string) bool {
	return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b))
}

// Package cliflags renders a command's help and its shell completion from the same flag
// definitions: the commands under cmd/ define their flags and say how to group them; this
// package lays them out (grouped, value types named, wrapped at Width columns) and writes
// the bash and zsh completion scripts.
package cliflags

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"
)

// Width is the widest line the help prints.
const Width = 100

// descColumn is where an option's description starts; a longer option name puts it on
// the next line.
const descColumn = 30

// Subcommand is a word that selects another mode of the command (merge, worker, …).
type Subcommand struct {
	Name    string
	Args    string         // its synopsis after the name ("[--json FILE] REPORT.json...")
	Summary string         // one sentence
	Flags   *pflag.FlagSet // its options, for completion (nil: none but --help)
	Files   bool           // its operands are files
	Words   []string       // or these words (completion's bash, zsh)
}

// Group is a heading and the long names of the options under it, in order.
type Group struct {
	Title string
	Names []string
}

// Section is a titled paragraph after the options (targets, examples, exit status);
// its lines are printed as they are, each wrapped.
type Section struct {
	Title string
	Lines []string
}

// Spec is what a command's help and completion are made of.
type Spec struct {
	Program     string
	Usage       []string // synopsis lines, without "usage: PROGRAM"
	Subcommands []Subcommand
	Groups      []Group
	Others      string            // the heading of options in no group
	Types       map[string]string // an option's value type, where its usage names none
	Choices     map[string][]string
	Sections    []Section
}

// ValueType is the word the help shows for an option's value: the spec's, else the
// back-quoted word of its usage, else one derived from its Go type ("" for a switch).
func (s *Spec) ValueType(fl *pflag.Flag) string {
	if fl.NoOptDefVal != "" {
		return ""
	}
	if t, ok := s.Types[fl.Name]; ok {
		return t
	}
	if strings.Count(fl.Usage, "`") >= 2 {
		name, _ := pflag.UnquoteUsage(fl)
		return name
	}
	switch fl.Value.Type() {
	case "int", "int64", "uint64", "uint", "int32":
		return "N"
	case "duration":
		return "duration"
	case "stringSlice":
		return "list"
	}
	return "value"
}

// Write prints the help: the usage lines, the subcommands, the options group by group,
// then the sections. A group naming an option the flag set does not have is an error
// (a stale table), so is a line the layout cannot fit.
func (s *Spec) Write(w io.Writer, fs *pflag.FlagSet) error {
	var b strings.Builder
	for i, u := range s.Usage {
		lead := "usage: "
		if i > 0 {
			lead = "       "
		}
		writeWrapped(&b, lead+s.Program+" "+u, len(lead)+len(s.Program)+1)
	}
	if len(s.Subcommands) > 0 {
		b.WriteString("\nSubcommands:\n")
		for _, c := range s.Subcommands {
			writeItem(&b, "  "+c.Name+" "+c.Args, c.Summary)
		}
	}
	grouped := map[string]bool{}
	for _, g := range s.Groups {
		fmt.Fprintf(&b, "\n%s:\n", g.Title)
		for _, name := range g.Names {
			fl := fs.Lookup(name)
			if fl == nil {
				return fmt.Errorf("help group %q: no option --%s", g.Title, name)
			}
			grouped[name] = true
			s.writeFlag(&b, fl)
		}
	}
	var rest []*pflag.Flag
	fs.VisitAll(func(fl *pflag.Flag) {
		if !grouped[fl.Name] && !fl.Hidden {
			rest = append(rest, fl)
		}
	})
	if len(rest) > 0 {
		fmt.Fprintf(&b, "\n%s:\n", s.Others)
		for _, fl := range rest {
			s.writeFlag(&b, fl)
		}
	}
	for _, sec := range s.Sections {
		fmt.Fprintf(&b, "\n%s:\n", sec.Title)
		for _, l := range sec.Lines {
			indent := 2 + len(l) - len(strings.TrimLeft(l, " "))
			writeWrapped(&b, "  "+l, indent+2)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeFlag prints one option: "  -s, --sessions count" and its description.
func (s *Spec) writeFlag(b *strings.Builder, fl *pflag.Flag) {
	head := "      --" + fl.Name
	if fl.Shorthand != "" {
		head = "  -" + fl.Shorthand + ", --" + fl.Name
	}
	if t := s.ValueType(fl); t != "" {
		head += " " + t
	}
	writeItem(b, head, Description(fl))
}

// Description is an option's usage without its back quotes, with its default when the
// usage does not give one and the default is not the zero value.
func Description(fl *pflag.Flag) string {
	_, usage := pflag.UnquoteUsage(fl)
	if strings.Contains(usage, "default") || fl.NoOptDefVal != "" {
		return usage
	}
	switch fl.DefValue {
	case "", "0", "false", "[]", "0s":
		return usage
	}
	return usage + " (default " + fl.DefValue + ")"
}

// writeItem prints a head and its text in two columns, the text wrapped under itself.
func writeItem(b *strings.Builder, head, text string) {
	head = strings.TrimRight(head, " ")
	if runeLen(head)+2 > descColumn {
		b.WriteString(head + "\n")
		head = ""
	}
	writeWrapped(b, head+strings.Repeat(" ", descColumn-runeLen(head))+text, descColumn)
}

// writeWrapped writes line, broken at spaces to fit Width, continuation lines indented;
// a word longer than the width stays whole (Wrap's caller tests for that).
func writeWrapped(b *strings.Builder, line string, indent int) {
	for _, l := range Wrap(line, Width, indent) {
		b.WriteString(l + "\n")
	}
}

// Wrap breaks line at spaces into lines of at most width columns (counted in runes),
// the second and later indented by indent spaces.
func Wrap(line string, width, indent int) []string {
	var out []string
	pad := strings.Repeat(" ", indent)
	lead := len(line) - len(strings.TrimLeft(line, " ")) // the first line's own indentation
	for runeLen(line) > width {
		cut := lastSpaceBefore(line, width, lead)
		if cut < 0 {
			break
		}
		out = append(out, strings.TrimRight(line[:cut], " "))
		line, lead = pad+strings.TrimLeft(line[cut:], " "), indent
	}
	return append(out, line)
}

// lastSpaceBefore is the byte offset of the last space at or before column width that
// is past the line's indentation (indent columns), or -1.
func lastSpaceBefore(line string, width, indent int) int {
	best, col := -1, 0
	for i, r := range line {
		if col > width {
			break
		}
		if r == ' ' && col > indent {
			best = i
		}
		col++
	}
	return best
}

func runeLen(s string) int { return len([]rune(s)) }

// Options renders every option of fs, in the order of the set, as Write lays them out
// (for a subcommand's help, which has no groups).
func (s *Spec) Options(fs *pflag.FlagSet) string {
	var b strings.Builder
	fs.VisitAll(func(fl *pflag.Flag) {
		if !fl.Hidden {
			s.writeFlag(&b, fl)
		}
	})
	return b.String()
}

// UsageLine is "usage: PROGRAM SYNOPSIS", wrapped, continuation lines under the synopsis.
func UsageLine(program, synopsis string) string {
	lead := "usage: " + program + " "
	return strings.Join(Wrap(lead+synopsis, Width, runeLen(lead)), "\n") + "\n"
}

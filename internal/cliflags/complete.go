package cliflags

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"github.com/spf13/pflag"
)

// Shells are the shells Completion writes a script for.
var Shells = []string{"bash", "zsh"}

// Completion writes the completion script of the command for shell ("bash" or "zsh").
// The main command's options are fs; a subcommand's are its own Flags.
func (s *Spec) Completion(w io.Writer, shell string, fs *pflag.FlagSet) error {
	var script string
	switch shell {
	case "bash":
		script = s.bash(fs)
	case "zsh":
		script = s.zsh(fs)
	default:
		return fmt.Errorf("no completion for shell %q: want %s", shell, strings.Join(Shells, " or "))
	}
	_, err := io.WriteString(w, script)
	return err
}

// funcName is the shell function's name: _go_smtp_source for go-smtp-source.
func (s *Spec) funcName() string {
	return "_" + regexp.MustCompile(`[^A-Za-z0-9_]`).ReplaceAllString(s.Program, "_")
}

// optionWords are the words a flag set's options are typed as, the ones taking a value,
// those whose value is a file, and the fixed values some take.
type optionWords struct {
	all, valued, files []string
	choices            map[string][]string
}

func (s *Spec) words(fs *pflag.FlagSet) optionWords {
	ow := optionWords{choices: map[string][]string{}}
	if fs == nil {
		fs = pflag.NewFlagSet("", pflag.ContinueOnError)
	}
	if fs.Lookup("help") == nil {
		ow.all = append(ow.all, "--help")
	}
	fs.VisitAll(func(fl *pflag.Flag) {
		if fl.Hidden {
			return
		}
		spell := []string{"--" + fl.Name}
		if fl.Shorthand != "" {
			spell = append(spell, "-"+fl.Shorthand)
		}
		ow.all = append(ow.all, spell...)
		t := s.ValueType(fl)
		if t == "" {
			return
		}
		ow.valued = append(ow.valued, spell...)
		if c, ok := s.Choices[fl.Name]; ok {
			for _, sp := range spell {
				ow.choices[sp] = c
			}
		} else if strings.Contains(strings.ToLower(t), "file") || t == "dir" || t == "path" {
			ow.files = append(ow.files, spell...)
		}
	})
	sort.Strings(ow.all)
	return ow
}

// subcommandNames lists the subcommands' names.
func (s *Spec) subcommandNames() []string {
	var names []string
	for _, c := range s.Subcommands {
		names = append(names, c.Name)
	}
	return names
}

// bashCase writes the completion of one command line shape: after an option that takes
// a value, that value (a file, a choice, or nothing to propose); an option; an operand.
func bashCase(b *strings.Builder, pattern string, ow optionWords, operands string) {
	fmt.Fprintf(b, "    %s)\n", pattern)
	if len(ow.files) > 0 {
		fmt.Fprintf(b, "        case $prev in %s) COMPREPLY=($(compgen -f -- \"$cur\")); return 0 ;; esac\n", strings.Join(ow.files, "|"))
	}
	keys := make([]string, 0, len(ow.choices))
	for k := range ow.choices {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(b, "        [[ $prev == %s ]] && { COMPREPLY=($(compgen -W '%s' -- \"$cur\")); return 0; }\n", k, strings.Join(ow.choices[k], " "))
	}
	if len(ow.valued) > 0 {
		fmt.Fprintf(b, "        case $prev in %s) return 0 ;; esac\n", strings.Join(ow.valued, "|"))
	}
	fmt.Fprintf(b, "        if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W '%s' -- \"$cur\")); return 0; fi\n", strings.Join(ow.all, " "))
	fmt.Fprintf(b, "        %s\n        ;;\n", operands)
}

func (s *Spec) bash(fs *pflag.FlagSet) string {
	var b strings.Builder
	fn := s.funcName()
	fmt.Fprintf(&b, "# bash completion for %[1]s; load it with: source <(%[1]s completion bash)\n", s.Program)
	fmt.Fprintf(&b, "%s() {\n    local cur=${COMP_WORDS[COMP_CWORD]} prev= sub=\n", fn)
	b.WriteString("    (( COMP_CWORD > 0 )) && prev=${COMP_WORDS[COMP_CWORD-1]}\n")
	b.WriteString("    COMPREPLY=()\n")
	subs := strings.Join(s.subcommandNames(), "|")
	if subs != "" {
		fmt.Fprintf(&b, "    (( COMP_CWORD > 1 )) && case ${COMP_WORDS[1]} in %s) sub=${COMP_WORDS[1]} ;; esac\n", subs)
	}
	b.WriteString("    case $sub in\n")
	for _, c := range s.Subcommands {
		operands := "return 0"
		switch {
		case c.Files:
			operands = "COMPREPLY=($(compgen -f -- \"$cur\"))"
		case len(c.Words) > 0:
			operands = fmt.Sprintf("COMPREPLY=($(compgen -W '%s' -- \"$cur\"))", strings.Join(c.Words, " "))
		}
		bashCase(&b, c.Name, s.words(c.Flags), operands)
	}
	operands := "COMPREPLY=($(compgen -A hostname -- \"$cur\"))"
	if subs != "" {
		operands = fmt.Sprintf("(( COMP_CWORD == 1 )) && COMPREPLY=($(compgen -W '%s' -- \"$cur\"))\n"+
			"        COMPREPLY+=($(compgen -A hostname -- \"$cur\"))", strings.Join(s.subcommandNames(), " "))
	}
	bashCase(&b, "*", s.words(fs), operands)
	b.WriteString("    esac\n}\n")
	fmt.Fprintf(&b, "complete -F %s %s\n", fn, s.Program)
	return b.String()
}

// zshQuote makes text safe in single quotes; zshDesc in an _arguments spec's [description]
// as well; zshMessage in its :message: part.
func zshQuote(text string) string { return strings.ReplaceAll(text, "'", `'\''`) }

func zshDesc(text string) string {
	return strings.NewReplacer("'", `'\''`, "[", `\[`, "]", `\]`).Replace(text)
}

func zshMessage(text string) string {
	return strings.NewReplacer("'", `'\''`, ":", `\:`).Replace(text)
}

// shortDescription is the description's first clause, for a completion menu.
func shortDescription(fl *pflag.Flag) string {
	d := Description(fl)
	if i := strings.IndexAny(d, ";("); i > 0 {
		d = d[:i]
	}
	d = strings.TrimSpace(d)
	if r := []rune(d); len(r) > 70 {
		d = string(r[:69]) + "…"
	}
	return d
}

// zshSpecs are _arguments' specs for a flag set's options.
func (s *Spec) zshSpecs(fs *pflag.FlagSet) []string {
	var specs []string
	if fs == nil || fs.Lookup("help") == nil {
		specs = append(specs, "'--help[show the help]'")
	}
	if fs == nil {
		return specs
	}
	fs.VisitAll(func(fl *pflag.Flag) {
		if fl.Hidden {
			return
		}
		value := ""
		if t := s.ValueType(fl); t != "" {
			action := ""
			switch c, ok := s.Choices[fl.Name]; {
			case ok:
				action = "(" + strings.Join(c, " ") + ")"
			case strings.Contains(strings.ToLower(t), "file"):
				action = "_files"
			}
			value = ":" + zshMessage(t) + ":" + action
		}
		desc := "[" + zshDesc(shortDescription(fl)) + "]"
		repeat := ""
		if strings.Contains(fl.Value.Type(), "Array") || strings.Contains(fl.Value.Type(), "Slice") || fl.Value.Type() == "count" {
			repeat = "*"
		}
		long := "--" + fl.Name
		if value != "" {
			long += "="
		}
		if fl.Shorthand == "" {
			specs = append(specs, "'"+repeat+long+desc+value+"'")
			return
		}
		short := "-" + fl.Shorthand
		if value != "" {
			short += "+"
		}
		excl := "'(-" + fl.Shorthand + " --" + fl.Name + ")'"
		if repeat != "" {
			excl = "'" + repeat + "'"
		}
		specs = append(specs, excl+"{"+short+","+long+"}'"+desc+value+"'")
	})
	return specs
}

func (s *Spec) zsh(fs *pflag.FlagSet) string {
	var b strings.Builder
	fn := s.funcName()
	fmt.Fprintf(&b, "#compdef %[1]s\n# zsh completion for %[1]s; put it in a directory of $fpath as _%[1]s, or\n", s.Program)
	fmt.Fprintf(&b, "# load it with: source <(%s completion zsh)\n", s.Program)
	fmt.Fprintf(&b, "%s() {\n    local curcontext=\"$curcontext\" state line\n    typeset -A opt_args\n    local -a subcommands\n    subcommands=(\n", fn)
	for _, c := range s.Subcommands {
		fmt.Fprintf(&b, "        '%s:%s'\n", c.Name, zshQuote(c.Summary))
	}
	b.WriteString("    )\n    case $words[2] in\n")
	for _, c := range s.Subcommands {
		operand := "'*: :'"
		switch {
		case c.Files:
			operand = "'*:file:_files'"
		case len(c.Words) > 0:
			operand = "'1:" + c.Name + ":(" + strings.Join(c.Words, " ") + ")'"
		}
		fmt.Fprintf(&b, "    (%s)\n        shift words; (( CURRENT-- ))\n        _arguments -s -S : \\\n", c.Name)
		for _, spec := range s.zshSpecs(c.Flags) {
			fmt.Fprintf(&b, "            %s \\\n", spec)
		}
		fmt.Fprintf(&b, "            %s\n        ;;\n", operand)
	}
	b.WriteString("    (*)\n        _arguments -s -S : \\\n")
	for _, spec := range s.zshSpecs(fs) {
		fmt.Fprintf(&b, "            %s \\\n", spec)
	}
	b.WriteString("            '1: :->first' '*: :_hosts'\n")
	b.WriteString("        [[ $state == first ]] && { _describe -t subcommands subcommand subcommands; _hosts; }\n")
	b.WriteString("        ;;\n    esac\n}\n")
	fmt.Fprintf(&b, "if [[ $zsh_eval_context[-1] == loadautofunc ]]; then\n    %[1]s \"$@\"\nelse\n    compdef %[1]s %[2]s\nfi\n", fn, s.Program)
	return b.String()
}

package getopt

import (
	"fmt"
	"strings"
)

// Spec is a command line's grammar: POSIX getopt's option string, run in glibc's "+"
// mode as Postfix does (no argument permutation: the first operand ends the options),
// plus GNU-style long options.
type Spec struct {
	// Short is getopt's optstring without the "+": each letter is an option, and a
	// letter followed by ':' takes a value.
	Short string
	// Long maps a long option's name to whether it requires a value. One that does not
	// may still be given "--name=value" (pflag's --flag=false).
	Long map[string]bool
	// Words are whole arguments that stand for a long option when they come where an
	// option may ("-tls" for "--tls=encrypt"); elsewhere, as a value or after the
	// options, they are what they are.
	Words map[string]Option
}

// Option is one option as the command line gave it, in order.
type Option struct {
	Name     string // the letter of a short option, the name of a long one
	Value    string // its value ("" when it has none)
	HasValue bool   // a value was given (always, for an option that takes one)
	Long     bool
}

// Error is a command line that does not fit the Spec, in glibc getopt's words
// ("invalid option -- 'x'").
type Error struct{ Text string }

func (e *Error) Error() string { return e.Text }

// Parse reads args as glibc's getopt_long with a "+" optstring: options in the order
// given, then the operands. A value is never read as an option: "-f -m" gives -f the
// value "-m", and "-m4" is -m with the value "4". "--" ends the options and "-" alone is
// an operand.
func (s Spec) Parse(args []string) (opts []Option, operands []string, err error) {
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if len(a) < 2 || a[0] != '-' {
			break
		}
		if w, ok := s.Words[a]; ok {
			opts = append(opts, w)
			continue
		}
		var next []Option
		if strings.HasPrefix(a, "--") {
			next, i, err = s.long(args, i)
		} else {
			next, i, err = s.short(args, i)
		}
		opts = append(opts, next...)
		if err != nil {
			return opts, nil, err
		}
	}
	return opts, args[i:], nil
}

// short reads the bundle of short options args[i] ("-cd", "-s10", "-m", value).
func (s Spec) short(args []string, i int) ([]Option, int, error) {
	var opts []Option
	a := args[i]
	for j := 1; j < len(a); j++ {
		c := a[j]
		k := strings.IndexByte(s.Short, c)
		if c == ':' || k < 0 {
			return opts, i, &Error{Text: fmt.Sprintf("invalid option -- '%c'", c)}
		}
		if k+1 >= len(s.Short) || s.Short[k+1] != ':' {
			opts = append(opts, Option{Name: string(c)})
			continue
		}
		switch {
		case j+1 < len(a):
			return append(opts, Option{Name: string(c), Value: a[j+1:], HasValue: true}), i, nil
		case i+1 < len(args):
			return append(opts, Option{Name: string(c), Value: args[i+1], HasValue: true}), i + 1, nil
		}
		return opts, i, &Error{Text: fmt.Sprintf("option requires an argument -- '%c'", c)}
	}
	return opts, i, nil
}

// long reads the long option args[i] ("--name", "--name=value", "--name", value).
func (s Spec) long(args []string, i int) ([]Option, int, error) {
	name, value, hasValue := strings.Cut(args[i][2:], "=")
	needs, known := s.Long[name]
	switch {
	case !known:
		return nil, i, &Error{Text: fmt.Sprintf("unrecognized option '--%s'", name)}
	case hasValue || !needs:
		return []Option{{Name: name, Value: value, HasValue: hasValue, Long: true}}, i, nil
	case i+1 < len(args):
		return []Option{{Name: name, Value: args[i+1], HasValue: true, Long: true}}, i + 1, nil
	}
	return nil, i, &Error{Text: fmt.Sprintf("option '--%s' requires an argument", name)}
}

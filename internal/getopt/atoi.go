// Package getopt holds what Postfix's command-line parsing does that Go's does not, so
// that go-smtp-source and go-smtp-sink read numbers exactly as smtp-source and smtp-sink.
package getopt

import "strings"

// Atoi is C's atoi(): optional blanks and a sign, then digits up to the first non-digit
// ("2abc" is 2, "x" is 0). Values are capped near 2^40 instead of overflowing.
func Atoi(s string) int64 {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' || n > 1<<40 {
			break
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		return -n
	}
	return n
}

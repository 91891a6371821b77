// Package getopt holds what Postfix's command-line parsing does that Go's does not, so
// that go-smtp-source and go-smtp-sink read their command lines exactly as smtp-source
// and smtp-sink: glibc getopt's "+" mode (getopt.go) and C's atoi.
package getopt

import (
	"math"
	"strings"
)

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

// Int is atoi() exactly as Postfix's programs get it from glibc on a 64-bit machine:
// (int) strtol(s, NULL, 10). strtol saturates at the long's limits, and the conversion
// to a 32-bit int keeps the low 32 bits, so "4294967297" is 1, "2147483648" is
// -2147483648 and twenty nines are -1.
func Int(s string) int32 {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	const saturated = math.MaxInt64 + 1 // a magnitude beyond any long but LONG_MIN's
	var n uint64
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if n > math.MaxInt64/10 {
			n = saturated
			continue
		}
		n = min(n*10+uint64(s[i]-'0'), saturated)
	}
	var l int64
	switch {
	case !neg && n > math.MaxInt64:
		l = math.MaxInt64
	case neg && n > math.MaxInt64:
		l = math.MinInt64
	case neg:
		l = -int64(n)
	default:
		l = int64(n)
	}
	return int32(l)
}

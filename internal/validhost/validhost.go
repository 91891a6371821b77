// Package validhost holds Postfix's rules for host names and address literals
// (util/valid_hostname.c, global/valid_mailhost_addr.c, Postfix 3.7), which smtp-source
// applies to -M and, through host_port(), to its target. The rules are Postfix's, not
// Go's: "127.1" is no address and, being numeric, no host name either; "192.0.2.001"
// is an IPv4 address; "::ffff:192.0.2.1" an IPv6 one.
//
// Each check returns nil or an error whose text is the warning Postfix logs with
// DO_GRIPE ("valid_hostname: misplaced delimiter: a..b").
package validhost

import (
	"fmt"
	"strings"
)

const (
	maxLabel    = 63  // VALID_LABEL_LEN
	maxHostname = 255 // VALID_HOSTNAME_LEN
)

// gripe is Postfix's "%s: TEXT: %.100s" warning.
func gripe(fn, text, name string) error {
	return fmt.Errorf("%s: %s: %s", fn, text, cut100(name))
}

func cut100(s string) string {
	if len(s) > 100 {
		return s[:100]
	}
	return s
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlnum(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// Hostname is valid_hostname(name, DONT_WILDCARD): labels of letters, digits, '_' and
// inner hyphens, at most 63 bytes each and 255 in all, not all digits.
func Hostname(name string) error {
	const fn = "valid_hostname"
	if name == "" {
		return fmt.Errorf("%s: empty hostname", fn)
	}
	labelLen, nonNumeric := 0, false
	for i := 0; i < len(name); i++ {
		ch := name[i]
		next := byte(0)
		if i+1 < len(name) {
			next = name[i+1]
		}
		switch {
		case isAlnum(ch) || ch == '_':
			labelLen++
			if labelLen > maxLabel {
				return gripe(fn, "hostname label too long", name)
			}
			nonNumeric = nonNumeric || !isDigit(ch)
		case ch == '.':
			if labelLen == 0 || next == 0 {
				return gripe(fn, "misplaced delimiter", name)
			}
			labelLen = 0
		case ch == '-':
			nonNumeric = true
			labelLen++
			if labelLen == 1 || next == 0 || next == '.' {
				return gripe(fn, "misplaced hyphen", name)
			}
		default:
			return gripe(fn, fmt.Sprintf("invalid character %d(decimal)", int(ch)), name)
		}
	}
	if !nonNumeric {
		return gripe(fn, "numeric hostname", name)
	}
	if len(name) > maxHostname {
		return fmt.Errorf("%s: bad length %d for %s...", fn, len(name), cut100(name))
	}
	return nil
}

// Hostaddr is valid_hostaddr(): an IPv6 address when addr holds a ':', else IPv4.
func Hostaddr(addr string) error {
	if addr == "" {
		return fmt.Errorf("valid_hostaddr: empty address")
	}
	if strings.IndexByte(addr, ':') >= 0 {
		return IPv6(addr)
	}
	return IPv4(addr)
}

// IPv4 is valid_ipv4_hostaddr(): four dot-separated decimal octets up to 255, leading
// zeros allowed ("192.0.2.001"), a first octet of 0 only in 0.0.0.0.
func IPv4(addr string) error {
	const fn = "valid_ipv4_hostaddr"
	inByte, count, val := false, 0, 0
	for i := 0; i < len(addr); i++ {
		ch := addr[i]
		switch {
		case isDigit(ch):
			if !inByte {
				inByte, val = true, 0
				count++
			}
			val = val*10 + int(ch-'0')
			if val > 255 {
				return gripe(fn, "invalid octet value", addr)
			}
		case ch == '.':
			if !inByte || i+1 == len(addr) {
				return gripe(fn, "misplaced dot", addr)
			}
			if count == 1 && val == 0 && strings.Trim(addr, "0.") != "" {
				return gripe(fn, "bad initial octet value", addr)
			}
			inByte = false
		default:
			return gripe(fn, fmt.Sprintf("invalid character %d(decimal)", int(ch)), addr)
		}
	}
	if count != 4 {
		return gripe(fn, "invalid octet count", addr)
	}
	return nil
}

// IPv6 is valid_ipv6_hostaddr(): up to eight hex fields of at most four digits, one
// "::" at most, optionally ending in an IPv4 address ("::ffff:192.0.2.1").
func IPv6(addr string) error {
	const fn = "valid_ipv6_hostaddr"
	if i := strings.IndexByte(addr, 0); i >= 0 { // a C string would end there; argv has none
		return gripe(fn, "invalid character 0(decimal) in IPv6 address", addr)
	}
	nullField, field, length := 0, 0, 0
	at := func(i int) byte {
		if i < len(addr) {
			return addr[i]
		}
		return 0
	}
	for i := 0; ; {
		switch ch := at(i); {
		case ch == 0:
			if field < 2 {
				return gripe(fn, "too few `:' in IPv6 address", addr)
			}
			if length == 0 && nullField != field-1 {
				return gripe(fn, "bad null last field in IPv6 address", addr)
			}
			return nil
		case ch == '.':
			if field < 2 || field > 6 {
				return gripe(fn, "malformed IPv4-in-IPv6 address", addr)
			}
			return IPv4(addr[i-length:])
		case ch == ':':
			if field == 0 && length == 0 && isAlnum(at(i+1)) {
				return gripe(fn, "bad null first field in IPv6 address", addr)
			}
			field++
			if field > 7 {
				return gripe(fn, "too many `:' in IPv6 address", addr)
			}
			i++
			length = 0
			if at(i) == ':' {
				if nullField > 0 {
					return gripe(fn, "too many `::' in IPv6 address", addr)
				}
				nullField = field
			}
		default:
			length = 0
			for isHex(at(i + length)) {
				length++
			}
			if length > 4 {
				return gripe(fn, "malformed IPv6 address", addr)
			}
			if length == 0 {
				return gripe(fn, fmt.Sprintf("invalid character %d(decimal) in IPv6 address", int(ch)), addr)
			}
			i += length
		}
	}
}

func isHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// MailhostLiteral is valid_mailhost_literal(): "[IPv4]" or "[IPv6:address]" (the
// prefix in any case), nothing after the "]".
func MailhostLiteral(lit string) error {
	const fn = "valid_mailhost_literal"
	if !strings.HasPrefix(lit, "[") {
		return gripe(fn, "'[' expected at start", lit)
	}
	end := strings.IndexByte(lit, ']')
	if end < 0 {
		return gripe(fn, "']' expected at end", lit)
	}
	if end+1 < len(lit) {
		return gripe(fn, "unexpected text after ']'", lit)
	}
	inner := lit[1:end]
	if len(inner) >= maxHostaddr {
		return gripe(fn, "too much text", lit)
	}
	if bare, ok := CutIPv6Prefix(inner); ok {
		return IPv6(bare)
	}
	return IPv4(inner)
}

// maxHostaddr is sizeof(MAI_HOSTADDR_STR.buf): INET6_ADDRSTRLEN.
const maxHostaddr = 46

// CutIPv6Prefix removes RFC 5321's "IPv6:" tag, matched in any case, as Postfix does.
func CutIPv6Prefix(s string) (string, bool) {
	if len(s) >= 5 && strings.EqualFold(s[:5], "IPv6:") {
		return s[5:], true
	}
	return s, false
}

package validhost

import (
	"strings"
	"testing"
)

// The verdicts and warnings below are Postfix 3.7.11's, from `smtp-source -M VALUE`
// (which checks -M with valid_mailhost_literal or valid_hostname and DO_GRIPE).
func TestAgainstPostfix(t *testing.T) {
	long := strings.Repeat("ab.", 86) + "a"
	for _, tc := range []struct {
		in, warning string // warning "" means valid
	}{
		{"192.0.2.1", "valid_hostname: numeric hostname: 192.0.2.1"},
		{"123", "valid_hostname: numeric hostname: 123"},
		{"1.2", "valid_hostname: numeric hostname: 1.2"},
		{"a..b", "valid_hostname: misplaced delimiter: a..b"},
		{"a.b.", "valid_hostname: misplaced delimiter: a.b."},
		{".a", "valid_hostname: misplaced delimiter: .a"},
		{"", "valid_hostname: empty hostname"},
		{"a-", "valid_hostname: misplaced hyphen: a-"},
		{"a-.b", "valid_hostname: misplaced hyphen: a-.b"},
		{"-", "valid_hostname: misplaced hyphen: -"},
		{"-a", "valid_hostname: misplaced hyphen: -a"},
		{"a_b", ""}, {"x.123", ""}, {"123.x", ""}, {"0x1", ""}, {"A-1", ""}, {"_", ""}, {"1-2", ""},
		{"caf\xc3\xa9", "valid_hostname: invalid character 195(decimal): caf\xc3\xa9"},
		{"a b", "valid_hostname: invalid character 32(decimal): a b"},
		{strings.Repeat("a", 63), ""},
		{strings.Repeat("a", 64), "valid_hostname: hostname label too long: " + strings.Repeat("a", 64)},
		{long, "valid_hostname: bad length 259 for " + long[:100] + "..."},
		{"[192.0.2.1]", ""}, {"[192.0.2.001]", ""}, {"[0.0.0.0]", ""},
		{"[IPv6:::ffff:192.0.2.1]", ""}, {"[ipv6:::1]", ""}, {"[IPv6:1:2:3:4:5:6:7:8]", ""}, {"[IPv6:::1.2.3.4]", ""},
		{"[::1]", "valid_ipv4_hostaddr: invalid character 58(decimal): ::1"},
		{"[1.2.3]", "valid_ipv4_hostaddr: invalid octet count: 1.2.3"},
		{"[0.1.2.3]", "valid_ipv4_hostaddr: bad initial octet value: 0.1.2.3"},
		{"[256.1.1.1]", "valid_ipv4_hostaddr: invalid octet value: 256.1.1.1"},
		{"[1.2.3.4]x", "valid_mailhost_literal: unexpected text after ']': [1.2.3.4]x"},
		{"[1.2.3.4", "valid_mailhost_literal: ']' expected at end: [1.2.3.4"},
		{"[IPv6:1:2:3:4:5:6:7:8:9]", "valid_ipv6_hostaddr: too many `:' in IPv6 address: 1:2:3:4:5:6:7:8:9"},
		{"[IPv6:1::2::3]", "valid_ipv6_hostaddr: too many `::' in IPv6 address: 1::2::3"},
		{"[IPv6::1]", "valid_ipv6_hostaddr: bad null first field in IPv6 address: :1"},
		{"[IPv6:1:]", "valid_ipv6_hostaddr: too few `:' in IPv6 address: 1:"},
		{"[IPv6:12345::]", "valid_ipv6_hostaddr: malformed IPv6 address: 12345::"},
		{"[IPv6:1:2:3:4:5:6:7:1.2.3.4]", "valid_ipv6_hostaddr: malformed IPv4-in-IPv6 address: 1:2:3:4:5:6:7:1.2.3.4"},
		{"[IPv6:g::]", "valid_ipv6_hostaddr: invalid character 103(decimal) in IPv6 address: g::"},
		{"[]", "valid_ipv4_hostaddr: invalid octet count: "},
		{"[IPv6:]", "valid_ipv6_hostaddr: too few `:' in IPv6 address: "},
		{"[IPv6:0000:0000:0000:0000:0000:ffff:192.168.100.228]",
			"valid_mailhost_literal: too much text: [IPv6:0000:0000:0000:0000:0000:ffff:192.168.100.228]"},
	} {
		var err error
		if strings.HasPrefix(tc.in, "[") {
			err = MailhostLiteral(tc.in)
		} else {
			err = Hostname(tc.in)
		}
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.warning {
			t.Errorf("%q: got %q, want %q", tc.in, got, tc.warning)
		}
	}
}

// Hostaddr: what host_port() accepts as a bare network address (smtp-source's target).
func TestHostaddr(t *testing.T) {
	for in, ok := range map[string]bool{
		"127.0.0.1": true, "127.0.0.010": true, "127.1": false, "::": true, "::1": true, "::ffff:127.0.0.1": true,
		":": false, "1:2": false, "1:2:3": true, "0.0.0.0": true, "": false, "1.2.3.4.5": false, "fe80::1%lo": false,
	} {
		if err := Hostaddr(in); (err == nil) != ok {
			t.Errorf("Hostaddr(%q) = %v, want ok=%v", in, err, ok)
		}
	}
}

// FuzzValidHost: the validators never panic, and whatever they accept is made of the
// characters their rules allow.
func FuzzValidHost(f *testing.F) {
	for _, s := range []string{"a..b", "[IPv6:::ffff:192.0.2.1]", "::1", "127.0.0.1", "[1.2.3]", "x-1.y_2", "1::2::3", "::1.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if Hostname(s) == nil && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != "" {
			t.Fatalf("Hostname accepted %q", s)
		}
		if Hostaddr(s) == nil && strings.Trim(s, "0123456789abcdefABCDEF:.") != "" {
			t.Fatalf("Hostaddr accepted %q", s)
		}
		_ = MailhostLiteral(s)
	})
}

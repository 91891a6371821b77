package main_test

// Differential tests of issue 12's compatibility classes: each runs command lines through
// both smtp-source and go-smtp-source (compatRunCases: exit status, stdout, stderr's
// diagnostics, connections and their bytes), several cases per class, each case a
// different face of the rule smtp-source follows.

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// dualStack is a capture server on every local IPv4 and IPv6 address, for targets such
// as [::], 0.0.0.0 or 127.0.0.010 (127.0.0.8).
var dualStack = testpeer.CaptureOptions{Listen: "[::]:0"}

// Class 2: the target goes through Postfix's host_port() and valid_hostname /
// valid_hostaddr: a bracketed name is fine (no MX lookup either way), [::] and 0.0.0.0
// are addresses, 127.1 is neither an address nor (being numeric) a name, octets are read
// by inet_aton, service names are case-sensitive, only one "inet:" is dropped and the
// operand is echoed without it.
func TestCompatTargetSyntax(t *testing.T) {
	ok := func(name, target string) compatCase {
		return compatCase{name: name, args: []string{target}, opts: dualStack}
	}
	bad := func(name string, args ...string) compatCase {
		return compatCase{name: name, args: args, opts: dualStack, status: 1}
	}
	compatRunCases(t, []compatCase{
		ok("bracketed-name", "[localhost]:PORT"),
		ok("bracketed-unspecified-ipv6", "[::]:PORT"),
		ok("unspecified-ipv4", "0.0.0.0:PORT"),
		ok("ipv6-tag-mapped-ipv4", "[ipv6:::ffff:127.0.0.1]:PORT"),
		ok("bracketed-mapped-ipv4", "[::ffff:127.0.0.1]:PORT"),
		ok("bare-ipv6-last-colon", "::ffff:127.0.0.1:PORT"),
		ok("upper-case-name", "LOCALHOST:PORT"),
		ok("leading-zero-port", "127.0.0.1:0PORT"),
		ok("inet-bracketed", "inet:[127.0.0.1]:PORT"),
		ok("octal-octet", "127.0.0.010:PORT"),
		bad("short-ipv4", "127.1:PORT"),
		bad("bracketed-short-ipv4", "[127.1]:PORT"),
		bad("numeric-name", "123:PORT"),
		bad("upper-case-service", "127.0.0.1:SMTP"),
		bad("mixed-case-service", "127.0.0.1:Smtp"),
		bad("double-inet", "inet:inet:127.0.0.1:PORT"),
		bad("inet-alone", "inet:"),
		bad("empty-brackets", "[]:PORT"),
		bad("ipv6-tag-ipv4", "[IPv6:127.0.0.1]:PORT"),
		bad("4-bracketed-ipv6", "-4", "[::]:PORT"),
		bad("6-mapped-bracketless-v4", "-6", "0.0.0.0:PORT"),
	})
}

// Class 3: an empty value is a value: -F ” names a file that cannot be opened (and
// counts as -F against -l), -S ” sends an empty Subject header, -t ” and -f ” empty
// addresses, -M ” an empty host name, -m ” a count of 0, ” an operand without a host.
func TestCompatEmptyValues(t *testing.T) {
	compatRunCases(t, []compatCase{
		{name: "F-empty", args: []string{"-F", "", "HOST"}, status: 1},
		{name: "F-empty-then-l", args: []string{"-F", "", "-l", "5", "HOST"}, status: 1},
		{name: "l-then-F-empty", args: []string{"-l", "5", "-F", "", "HOST"}, status: 1},
		{name: "S-empty", args: []string{"-S", "", "HOST"}},
		{name: "S-empty-d-m2", args: []string{"-S", "", "-d", "-m", "2", "HOST"}},
		{name: "S-empty-o", args: []string{"-o", "-S", "", "HOST"}},
		{name: "t-empty", args: []string{"-t", "", "HOST"}},
		{name: "f-and-t-empty", args: []string{"-f", "", "-t", "", "HOST"}},
		{name: "M-empty", args: []string{"-M", "", "HOST"}, status: 1},
		{name: "m-empty", args: []string{"-m", "", "HOST"}, status: 1},
		{name: "operand-empty", args: []string{""}, status: 1},
	})
}

// Class 5: getopt never reads a value as an option and reads bundles letter by letter;
// of -4 and -6 the last one wins.
func TestCompatFamilyFlags(t *testing.T) {
	compatRunCases(t, []compatCase{
		{name: "bundle-64", args: []string{"-64", "HOST"}},
		{name: "bundle-46", args: []string{"-46", "HOST"}, status: 1},
		{name: "4-6-m4", args: []string{"-4", "-6", "-m4", "HOST"}, status: 1},
		{name: "4-6-t-4", args: []string{"-4", "-6", "-t", "-4", "HOST"}, status: 1},
		{name: "6-4-t-6", args: []string{"-6", "-4", "-t", "-6", "HOST"}},
		{name: "f-4", args: []string{"-f", "-4", "HOST"}},
		{name: "bundle-6c4", args: []string{"-6c4", "HOST"}},
		{name: "bundle-6cm4", args: []string{"-6cm4", "HOST"}, status: 1},
		{name: "M-value-6", args: []string{"-M-6", "HOST"}, status: 1},
		{name: "dashdash-then-4", args: []string{"-4", "--", "HOST"}},
	})
}

// Class 6: smtp-source checks each value as getopt hands it over, so the first bad one
// wins, before the operand count, the -F file and the target are looked at; a
// combination is checked before the value that completes it.
func TestCompatValidationOrder(t *testing.T) {
	compatRunCases(t, []compatCase{
		{name: "m0-then-m2", args: []string{"-m", "0", "-m", "2", "HOST"}, status: 1},
		{name: "s0-then-m0", args: []string{"-s", "0", "-m", "0", "HOST"}, status: 1},
		{name: "m0-without-host", args: []string{"-m", "0"}, status: 1},
		{name: "w0-then-R1", args: []string{"-w", "0", "-R", "1", "HOST"}, status: 1},
		{name: "R1-then-w0", args: []string{"-R", "1", "-w", "0", "HOST"}, status: 1},
		{name: "unknown-then-m0", args: []string{"-x", "-m", "0", "HOST"}, status: 1},
		{name: "m0-then-unknown", args: []string{"-m", "0", "-x", "HOST"}, status: 1},
		{name: "bundle-with-unknown", args: []string{"-cx", "HOST"}, status: 1},
		{name: "missing-value", args: []string{"-m"}, status: 1},
		{name: "two-operands", args: []string{"HOST", "HOST"}, status: 1},
		{name: "M-bad-then-m0", args: []string{"-M", "a..b", "-m", "0", "HOST"}, status: 1},
		{name: "F-missing-then-bad-target", args: []string{"-F", "/nonexistent/gss.msg", "127.1"}, status: 1},
		{name: "F-then-l0", args: []string{"-F", "@dots", "-l", "0", "HOST"}, status: 1},
		{name: "C0-then-C1", args: []string{"-C", "0", "-C", "1", "HOST"}, status: 1},
		{name: "m-trailing-garbage", args: []string{"-m", "2abc", "-d", "HOST"}},
		{name: "m-leading-blank-sign", args: []string{"-m", " +2x", "-d", "HOST"}},
	})
}

// Class 7: -M by Postfix's validators: valid_mailhost_literal for "[…]" (IPv4 with
// leading zeros, "IPv6:" in any case, IPv4-mapped IPv6), valid_hostname otherwise (a
// numeric name is refused), each refusal after the validator's warning.
func TestCompatMyhostname(t *testing.T) {
	ok := func(name, m string) compatCase { return compatCase{name: name, args: []string{"-M", m, "HOST"}} }
	bad := func(name, m string) compatCase {
		return compatCase{name: name, args: []string{"-M", m, "HOST"}, status: 1}
	}
	compatRunCases(t, []compatCase{
		bad("numeric-ipv4", "192.0.2.1"),
		bad("numeric", "123"),
		ok("mapped-ipv4-literal", "[IPv6:::ffff:192.0.2.1]"),
		ok("leading-zero-literal", "[192.0.2.001]"),
		ok("lower-case-ipv6-tag", "[ipv6:::1]"),
		ok("numeric-label", "x.123"),
		ok("underscore", "a_b"),
		bad("ipv6-without-tag", "[::1]"),
		bad("text-after-literal", "[1.2.3.4]x"),
		bad("zero-first-octet", "[0.1.2.3]"),
		bad("leading-hyphen", "-a"),
		bad("label-too-long", strings.Repeat("a", 64)),
		bad("misplaced-delimiter", "a..b"),
	})
}

// Class 8: counts are C's atoi, a 32-bit int on Linux: values wrap ("4294967297" is 1,
// "-4294967294" is 2), and those that wrap to 0 or below are refused.
func TestCompatNumbers(t *testing.T) {
	compatRunCases(t, []compatCase{
		{name: "m-2^32+1", args: []string{"-d", "-m", "4294967297", "HOST"}},
		{name: "r-2^32+2", args: []string{"-r", "4294967298", "HOST"}},
		{name: "r-minus-2^32+2", args: []string{"-r", "-4294967294", "HOST"}},
		{name: "l-2^32+1", args: []string{"-l", "4294967297", "HOST"}},
		{name: "s-2^32+1", args: []string{"-s", "4294967297", "-m", "2", "HOST"}},
		{name: "C-2^32+1", args: []string{"-C", "4294967297", "HOST"}},
		{name: "T-2^32+1", args: []string{"-T", "4294967297", "HOST"}},
		{name: "m-2^31", args: []string{"-m", "2147483648", "HOST"}, status: 1},
		{name: "m-20-nines", args: []string{"-m", "99999999999999999999", "HOST"}, status: 1},
		{name: "l-2^32", args: []string{"-l", "4294967296", "HOST"}, status: 1},
		{name: "s-2^31", args: []string{"-s", "2147483648", "HOST"}, status: 1},
		{name: "w-2^32", args: []string{"-w", "4294967296", "HOST"}, status: 1},
	})
}

// Class 9: a reply's code is its first three digits when a fourth does not follow,
// whatever comes after them ("250ok") and whatever their value (600, 000, 999, which
// are not 2xx: rejections).
func TestCompatReplyCodes(t *testing.T) {
	reply := func(prefix, text string) testpeer.CaptureOptions {
		return testpeer.CaptureOptions{Reject: []testpeer.CaptureReject{{Prefix: prefix, Reply: text}}}
	}
	compatRunCases(t, []compatCase{
		{name: "mail-250ok", args: []string{"-v", "HOST"}, opts: reply("MAIL", "250ok"), verbose: true},
		{name: "banner-220-no-space", args: []string{"-v", "HOST"}, opts: testpeer.CaptureOptions{Banner: "220capture"}, verbose: true},
		{name: "helo-code-only", args: []string{"HOST"}, opts: reply("HELO", "250")},
		{name: "mail-multiline-250ok", args: []string{"HOST"}, opts: reply("MAIL", "250-first\r\n250ok")},
		{name: "dot-250-tab", args: []string{"HOST"}, opts: reply(".", "250\tqueued")},
		{name: "rcpt-600-A", args: []string{"-A", "HOST"}, opts: reply("RCPT", "600 six hundred")},
		{name: "rcpt-600", args: []string{"HOST"}, opts: reply("RCPT", "600 six hundred"), status: 1},
		{name: "rcpt-000-A", args: []string{"-A", "-d", "-m", "2", "HOST"}, opts: reply("RCPT", "000 zero")},
		{name: "helo-999-A", args: []string{"-A", "HOST"}, opts: reply("HELO", "999 nine")},
		{name: "banner-600-A", args: []string{"-A", "HOST"}, opts: testpeer.CaptureOptions{Banner: "600 no"}},
		{name: "mail-550ok-A", args: []string{"-A", "HOST"}, opts: reply("MAIL", "550no")},
	})
}

// Class 10: Postfix writes every diagnostic and -v line through printable(): any byte
// that is not printable ASCII, TAB and 8-bit bytes included, becomes '?'; the bytes on
// the wire are untouched.
func TestCompatPrintable(t *testing.T) {
	reply := func(prefix, text string) testpeer.CaptureOptions {
		return testpeer.CaptureOptions{Reject: []testpeer.CaptureReject{{Prefix: prefix, Reply: text}}}
	}
	compatRunCases(t, []compatCase{
		{name: "v-banner-tab-8bit-control", args: []string{"-v", "HOST"}, verbose: true,
			opts: testpeer.CaptureOptions{Banner: "220 tab\there caf\xc3\xa9 \x01\x1b[31m \x7f"}},
		{name: "fatal-tab-8bit", args: []string{"HOST"}, status: 1, opts: reply("RCPT", "550 5.1.1 <caf\xc3\xa9>\tunknown")},
		{name: "warning-multiline-8bit-A", args: []string{"-A", "HOST"}, opts: reply("MAIL", "550-line\xff one\r\n550 line\ttwo")},
		{name: "v-from-tab", args: []string{"-v", "-f", "a\tb@x", "-t", "caf\xc3\xa9@y", "HOST"}, verbose: true},
		{name: "M-8bit", args: []string{"-M", "caf\xc3\xa9", "HOST"}, status: 1},
		{name: "F-name-tab", args: []string{"-F", "/nonexistent/a\tb", "HOST"}, status: 1},
		{name: "target-8bit", args: []string{"caf\xc3\xa9:PORT"}, status: 1},
	})
}

// Class 11: -F of a directory fails reading, "unix:" alone connects to the all-zero
// abstract address (refused), "--" makes the next word the operand however it looks,
// and the operand is echoed without its "inet:".
func TestCompatSmallerCases(t *testing.T) {
	compatRunCases(t, []compatCase{
		{name: "F-directory", args: []string{"-F", "@DIR", "HOST"}, status: 1},
		{name: "unix-empty", args: []string{"unix:"}, status: 1},
		{name: "unix-empty-C2", args: []string{"-C", "2", "unix:"}, status: 1},
		{name: "dashdash-m", args: []string{"--", "-m"}, status: 1},
		{name: "dashdash-dashdash", args: []string{"--", "--"}, status: 1},
		{name: "dashdash-dash", args: []string{"--", "-"}, status: 1},
		{name: "inet-echo", args: []string{"inet:127.1:PORT"}, status: 1},
		{name: "inet-unknown-service", args: []string{"inet:127.0.0.1:no-such-service"}, status: 1},
	})
}

// A port above 65535: smtp-source's getaddrinfo() keeps its low 16 bits, so 65536+N
// connects to port N; go-smtp-source refuses it (README, "Deliberate differences").
func TestTargetPortOutOfRange(t *testing.T) {
	source := testpeer.Require(t, "smtp-source")
	tool := compatUnderTest(t)
	if tool.oracle {
		t.Skip("a deliberate difference")
	}
	refSrv := testpeer.StartCapture(t, testpeer.CaptureOptions{})
	_, port, _ := net.SplitHostPort(refSrv.Addr)
	n, _ := strconv.Atoi(port)
	wrapped := "127.0.0.1:" + strconv.Itoa(n+65536)
	ref, got := compatRunPair(t, source, []string{wrapped}, tool.path, tool.args(nil, wrapped))
	if ref.ExitCode != 0 || refSrv.WaitConns(1, 5*time.Second) != nil {
		t.Fatalf("harness: smtp-source should reach port %s through %s: %s", port, wrapped, ref)
	}
	if want := tool.path + ": fatal: " + wrapped + ": out-of-range port number\n"; got.ExitCode != 1 || got.Stderr != want {
		t.Errorf("want exit 1 and %q, got %s", want, got)
	}
}

package sink

import "bytes"

// Verb is an SMTP/LMTP command the sink knows, plus the pseudo-commands "connect" (the
// greeting) and "." (the end of message data) that faults and delays can target.
type Verb uint8

// The verbs. VerbUnknown is any command line the sink does not implement.
const (
	VerbUnknown Verb = iota
	VerbConnect
	VerbHELO
	VerbEHLO
	VerbLHLO
	VerbXCLIENT
	VerbXFORWARD
	VerbAUTH
	VerbMAIL
	VerbRCPT
	VerbDATA
	VerbDot
	VerbBDAT
	VerbRSET
	VerbNOOP
	VerbVRFY
	VerbQUIT
	VerbSTARTTLS
	numVerbs
)

// verbNames are the lower-case names used on the command line (-f, -r, -q, -Q, -W,
// --delay), in smtp-sink's spelling.
var verbNames = [numVerbs]string{
	VerbUnknown:  "",
	VerbConnect:  "connect",
	VerbHELO:     "helo",
	VerbEHLO:     "ehlo",
	VerbLHLO:     "lhlo",
	VerbXCLIENT:  "xclient",
	VerbXFORWARD: "xforward",
	VerbAUTH:     "auth",
	VerbMAIL:     "mail",
	VerbRCPT:     "rcpt",
	VerbDATA:     "data",
	VerbDot:      ".",
	VerbBDAT:     "bdat",
	VerbRSET:     "rset",
	VerbNOOP:     "noop",
	VerbVRFY:     "vrfy",
	VerbQUIT:     "quit",
	VerbSTARTTLS: "starttls",
}

// String is the verb's command-line name ("mail", ".", "connect").
func (v Verb) String() string {
	if v < numVerbs && v != VerbUnknown {
		return verbNames[v]
	}
	return "unknown"
}

// VerbByName looks up a verb by its command-line name, case-insensitively.
func VerbByName(name string) (Verb, bool) {
	for v := VerbConnect; v < numVerbs; v++ {
		if equalFoldASCII([]byte(name), verbNames[v]) {
			return v, true
		}
	}
	return VerbUnknown, false
}

// Command is one parsed command line.
type Command struct {
	Verb Verb
	// Args is everything after the verb and the blanks that follow it, with trailing
	// blanks kept (smtp-sink keeps them in its dumps). It aliases the input line.
	Args []byte
	// Blank is true for an empty or all-blank line.
	Blank bool
	// HasNUL is true when the line contains a NUL byte.
	HasNUL bool
}

// ParseCommand splits one command line, without its CRLF, into a verb and its arguments.
// Verbs match case-insensitively and must be followed by a blank or the end of the line
// ("MAILX" is unknown). "." is not a command outside DATA and parses as unknown.
func ParseCommand(line []byte) Command {
	cmd := Command{HasNUL: bytes.IndexByte(line, 0) >= 0}
	start := 0
	for start < len(line) && isBlank(line[start]) {
		start++
	}
	if start == len(line) {
		cmd.Blank = true
		return cmd
	}
	end := start
	for end < len(line) && !isBlank(line[end]) {
		end++
	}
	cmd.Verb = lookupVerb(line[start:end])
	args := end
	for args < len(line) && isBlank(line[args]) {
		args++
	}
	cmd.Args = line[args:]
	return cmd
}

// lookupVerb matches a command word against the commands a client may send.
func lookupVerb(word []byte) Verb {
	if len(word) < 4 || len(word) > 8 {
		return VerbUnknown
	}
	for _, v := range [...]Verb{VerbMAIL, VerbRCPT, VerbDATA, VerbBDAT, VerbQUIT, VerbRSET, VerbNOOP,
		VerbEHLO, VerbHELO, VerbLHLO, VerbAUTH, VerbVRFY, VerbXCLIENT, VerbXFORWARD, VerbSTARTTLS} {
		if equalFoldASCII(word, verbNames[v]) {
			return v
		}
	}
	return VerbUnknown
}

func isBlank(b byte) bool { return b == ' ' || b == '\t' }

// equalFoldASCII compares an ASCII word with a lower-case name, ignoring case.
func equalFoldASCII(word []byte, lower string) bool {
	if len(word) != len(lower) {
		return false
	}
	for i := 0; i < len(word); i++ {
		c := word[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// printable copies b with every control byte replaced by '?', as smtp-sink does for the
// command arguments it writes into dumps. Bytes from 0x80 up (UTF-8) are kept.
func appendPrintable(dst, b []byte) []byte {
	for _, c := range b {
		if c < 0x20 || c == 0x7f {
			c = '?'
		}
		dst = append(dst, c)
	}
	return dst
}

package testpeer

import (
	"strconv"
	"strings"
)

// scriptBDAT is a BDAT chunk (RFC 3030) a ScriptSession is reading: its octets follow
// the command line and the reply follows them.
type scriptBDAT struct {
	left int  // octets of the chunk still to come
	last bool // the chunk is the message's last
}

// bdatCommand reads "BDAT count [LAST]"; the reply waits for the chunk's octets. The
// replies are the script's "BDAT" (a chunk) and "." (the last chunk, as the dot).
func (ss *ScriptSession) bdatCommand(line string) string {
	f := strings.Fields(line)
	n, err := 0, error(nil)
	if len(f) >= 2 {
		n, err = strconv.Atoi(f[1])
	}
	if len(f) < 2 || len(f) > 3 || err != nil || n < 0 || len(f) == 3 && !strings.EqualFold(f[2], "LAST") {
		return "501 5.5.4 Syntax: BDAT count [LAST]\r\n"
	}
	ss.bdat = scriptBDAT{left: n, last: len(f) == 3}
	if n == 0 {
		return ss.bdatReply()
	}
	return ""
}

// bdatOctets takes the chunk's octets from what is pending; at its end it writes the
// reply and reports true.
func (ss *ScriptSession) bdatOctets(out *strings.Builder) bool {
	k := min(ss.bdat.left, len(ss.pending))
	ss.pending = ss.pending[k:]
	ss.bdat.left -= k
	if ss.bdat.left > 0 {
		return false
	}
	out.WriteString(ss.bdatReply())
	return true
}

func (ss *ScriptSession) bdatReply() string {
	if !ss.bdat.last {
		return ss.script.reply("BDAT", "250 2.0.0 Ok: chunk\r\n")
	}
	ss.rcpts = 0
	return ss.script.reply(".", "250 2.0.0 Ok: queued as X\r\n")
}

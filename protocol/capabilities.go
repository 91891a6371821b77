package protocol

import (
	"bytes"
	"strconv"
)

// Extension is one ESMTP service extension the client cares about.
type Extension uint16

const (
	ExtPipelining Extension = 1 << iota
	ExtStartTLS
	ExtSize
	ExtAuth
	Ext8BitMIME
	ExtEnhancedStatusCodes
	ExtChunking
	ExtSMTPUTF8
	ExtDSN
	ExtRequireTLS
	ExtXClient
)

var extensionNames = []struct {
	name string
	ext  Extension
}{
	{"PIPELINING", ExtPipelining},
	{"STARTTLS", ExtStartTLS},
	{"SIZE", ExtSize},
	{"AUTH", ExtAuth},
	{"8BITMIME", Ext8BitMIME},
	{"ENHANCEDSTATUSCODES", ExtEnhancedStatusCodes},
	{"CHUNKING", ExtChunking},
	{"SMTPUTF8", ExtSMTPUTF8},
	{"DSN", ExtDSN},
	{"REQUIRETLS", ExtRequireTLS},
	{"XCLIENT", ExtXClient},
}

// Capabilities is what a server announced in its EHLO or LHLO reply.
type Capabilities struct {
	Extensions Extension
	MaxSize    int64  // SIZE parameter; 0 when absent or unlimited
	AuthMechs  string // the AUTH line's mechanisms, space separated, as announced
}

// Has reports whether the server announced ext.
func (c *Capabilities) Has(ext Extension) bool { return c.Extensions&ext != 0 }

// ParseCapabilities reads the extension lines of an EHLO/LHLO reply (every line after
// the first, which is the server's greeting name). Keywords are case-insensitive.
func ParseCapabilities(r *Reply) Capabilities {
	var caps Capabilities
	first := true
	r.ForEachLine(func(text []byte) {
		if first {
			first = false
			return
		}
		keyword, param, _ := bytes.Cut(text, []byte{' '})
		for _, e := range extensionNames {
			if !bytes.EqualFold(keyword, []byte(e.name)) {
				continue
			}
			caps.Extensions |= e.ext
			switch e.ext {
			case ExtSize:
				if n, err := strconv.ParseInt(string(bytes.TrimSpace(param)), 10, 64); err == nil && n > 0 {
					caps.MaxSize = n
				}
			case ExtAuth:
				caps.AuthMechs = string(bytes.TrimSpace(param))
			}
		}
	})
	return caps
}

package testpeer

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// SMTPScript is a scripted SMTP/LMTP server's behaviour: smtp-sink's dialogue, with
// replies that can be replaced per command. It has no I/O: a ScriptSession turns the
// client's bytes into the server's replies, so the same script drives protocol.Client in
// memory (protocol tests) and the real engine over a socket (ScriptedServer).
//
// Default replies: "220 sim ESMTP" on connect; "250 sim" to HELO; to EHLO and LHLO
// "250-sim", EhloCaps, the STARTTLS and AUTH lines the TLS settings call for, "250
// 8BITMIME"; "250 2.1.0 Ok" to MAIL; "250 2.1.5 Ok" to RCPT; "354 go" to DATA; after the
// dot "250 2.0.0 Ok: queued as X" (LMTP: once per accepted RCPT); "250 2.0.0 Ok" to RSET;
// "221 2.0.0 Bye" to QUIT; "500 5.5.1 unknown" to anything else.
type SMTPScript struct {
	// Replies replaces the reply to a command: the key is the upper-case verb, "." for
	// the end of data or "banner" for the greeting; the value is sent as it is (CRLFs
	// included, so it can hold several replies, or part of one). Over a socket, a value
	// may also be one of the faults ScriptedServer knows (FaultReset, …).
	Replies  map[string]string
	LMTP     bool   // after the dot, one reply per accepted recipient
	EhloCaps string // extra EHLO lines, e.g. "250-PIPELINING\r\n"

	// STARTTLS and AUTH.
	OfferTLS      bool   // announce STARTTLS before TLS
	CapsBeforeTLS string // extra EHLO lines before TLS
	CapsAfterTLS  string // extra EHLO lines after TLS
	StartTLSReply string // the STARTTLS reply; default "220 2.0.0 Ready to start TLS"
	Inject        string // bytes sent right after the STARTTLS 220, as an attacker would
	AuthMechs     string // announced on the AUTH line ("": no AUTH)
	AuthBeforeTLS bool   // announce AUTH before TLS too
	User, Pass    string
	AuthFail      string // the reply to a wrong credential; default 535
}

// scriptChallenge is the CRAM-MD5 challenge of every ScriptSession.
const scriptChallenge = "<1896.697170952@sim.example>"

// ScriptSession is one connection's state under an SMTPScript.
type ScriptSession struct {
	script *SMTPScript
	Seen   bytes.Buffer // every byte the client sent
	Closed bool         // QUIT was answered: the server closes
	TLS    bool         // the driver set it when TLS took over
	// StartedTLS: STARTTLS was answered with 220; what the client sends next is its
	// TLS handshake.
	StartedTLS bool

	pending   []byte
	inData    bool
	rcpts     int
	authMech  string
	authStep  int
	challenge string
	bdat      scriptBDAT // a BDAT chunk being read (smtpscript_bdat.go)
}

// Session starts a connection.
func (s *SMTPScript) Session() *ScriptSession { return &ScriptSession{script: s} }

func (s *SMTPScript) reply(key, def string) string {
	if r, ok := s.Replies[key]; ok {
		return r
	}
	return def
}

// Banner is the greeting.
func (ss *ScriptSession) Banner() string { return ss.script.reply("banner", "220 sim ESMTP\r\n") }

// Input consumes client bytes and returns the server's replies to the complete lines.
func (ss *ScriptSession) Input(p []byte) string {
	ss.Seen.Write(p)
	ss.pending = append(ss.pending, p...)
	var out strings.Builder
	for !ss.Closed {
		if ss.bdat.left > 0 {
			if !ss.bdatOctets(&out) {
				break
			}
			continue
		}
		i := bytes.Index(ss.pending, []byte("\r\n"))
		if i < 0 {
			break
		}
		line := string(ss.pending[:i])
		ss.pending = ss.pending[i+2:]
		out.WriteString(ss.line(line))
	}
	return out.String()
}

func (ss *ScriptSession) line(line string) string {
	s := ss.script
	if ss.inData {
		if line != "." {
			return ""
		}
		ss.inData = false
		r := s.reply(".", "250 2.0.0 Ok: queued as X\r\n")
		n := ss.rcpts
		ss.rcpts = 0
		if s.LMTP {
			return strings.Repeat(r, n)
		}
		return r
	}
	if ss.authMech != "" {
		return ss.authContinue(line)
	}
	verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
	switch verb {
	case "STARTTLS":
		r := s.reply(verb, ss.startTLS())
		ss.StartedTLS = strings.HasPrefix(r, "220")
		return r
	case "AUTH":
		return ss.authStart(line)
	case "HELO":
		return s.reply(verb, "250 sim\r\n")
	case "EHLO", "LHLO":
		return s.reply(verb, "250-sim\r\n"+s.EhloCaps+ss.tlsCaps()+"250 8BITMIME\r\n")
	case "MAIL":
		return s.reply(verb, "250 2.1.0 Ok\r\n")
	case "RCPT":
		r := s.reply(verb, "250 2.1.5 Ok\r\n")
		if strings.HasPrefix(r, "2") {
			ss.rcpts++
		}
		return r
	case "DATA":
		r := s.reply(verb, "354 go\r\n")
		if strings.HasPrefix(r, "354") {
			ss.inData = true
		}
		return r
	case "RSET":
		ss.rcpts = 0
		return s.reply(verb, "250 2.0.0 Ok\r\n")
	case "BDAT":
		return ss.bdatCommand(line)
	case "XCLIENT":
		return s.reply(verb, "220 sim ESMTP\r\n")
	case "QUIT":
		ss.Closed = true
		return s.reply(verb, "221 2.0.0 Bye\r\n")
	}
	return "500 5.5.1 unknown\r\n"
}

func (ss *ScriptSession) tlsCaps() string {
	s := ss.script
	var b strings.Builder
	if !ss.TLS {
		if s.OfferTLS {
			b.WriteString("250-STARTTLS\r\n")
		}
		b.WriteString(s.CapsBeforeTLS)
	} else {
		b.WriteString(s.CapsAfterTLS)
	}
	if s.AuthMechs != "" && (ss.TLS || s.AuthBeforeTLS) {
		b.WriteString("250-AUTH " + s.AuthMechs + "\r\n")
	}
	return b.String()
}

func (ss *ScriptSession) startTLS() string {
	if ss.script.StartTLSReply != "" {
		return ss.script.StartTLSReply
	}
	return "220 2.0.0 Ready to start TLS\r\n" + ss.script.Inject
}

func (ss *ScriptSession) authFailure() string {
	if ss.script.AuthFail != "" {
		return ss.script.AuthFail
	}
	return "535 5.7.8 Error: authentication failed\r\n"
}

func (ss *ScriptSession) authStart(line string) string {
	if r, ok := ss.script.Replies["AUTH"]; ok {
		ss.authMech = "scripted" // every line of the exchange gets the same reply
		return r
	}
	f := strings.Fields(line)
	if len(f) < 2 {
		return "501 5.5.4 syntax\r\n"
	}
	switch strings.ToUpper(f[1]) {
	case "PLAIN":
		if len(f) != 3 {
			return "501 5.5.4 want an initial response\r\n"
		}
		b, _ := base64.StdEncoding.DecodeString(f[2])
		if string(b) != "\x00"+ss.script.User+"\x00"+ss.script.Pass {
			return ss.authFailure()
		}
		return "235 2.7.0 Authentication successful\r\n"
	case "LOGIN":
		ss.authMech, ss.authStep = "LOGIN", 0
		return "334 VXNlcm5hbWU6\r\n"
	case "CRAM-MD5":
		ss.authMech, ss.authStep = "CRAM-MD5", 0
		ss.challenge = scriptChallenge
		return "334 " + base64.StdEncoding.EncodeToString([]byte(ss.challenge)) + "\r\n"
	}
	return "504 5.5.4 unrecognized mechanism\r\n"
}

func (ss *ScriptSession) authContinue(line string) string {
	if ss.authMech == "scripted" {
		return ss.script.Replies["AUTH"]
	}
	b, err := base64.StdEncoding.DecodeString(line)
	if err != nil {
		ss.authMech = ""
		return "501 5.5.2 not base64\r\n"
	}
	switch ss.authMech {
	case "LOGIN":
		ss.authStep++
		if ss.authStep == 1 {
			if string(b) != ss.script.User {
				ss.challenge = "bad"
			}
			return "334 UGFzc3dvcmQ6\r\n"
		}
		ss.authMech = ""
		if string(b) != ss.script.Pass || ss.challenge == "bad" {
			return ss.authFailure()
		}
	case "CRAM-MD5":
		ss.authMech = ""
		mac := hmac.New(md5.New, []byte(ss.script.Pass))
		mac.Write([]byte(ss.challenge))
		if string(b) != ss.script.User+" "+hex.EncodeToString(mac.Sum(nil)) {
			return ss.authFailure()
		}
	}
	return "235 2.7.0 Authentication successful\r\n"
}

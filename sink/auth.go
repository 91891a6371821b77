package sink

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
)

// auth starts AUTH PLAIN or AUTH LOGIN (RFC 4954), with or without an initial response,
// or AUTH CRAM-MD5 (RFC 2195).
func (s *Session) auth(args []byte) {
	switch {
	case s.authed:
		s.env.stats.badSequence.Add(1)
		s.reply(replyAuthTwice)
		return
	case s.txn != txnNone:
		s.env.stats.badSequence.Add(1)
		s.reply(replyAuthInTxn)
		return
	}
	fields := bytes.Fields(args)
	if len(fields) == 0 || len(fields) > 2 {
		s.reply(replyAuthSyntax)
		return
	}
	mech := fields[0]
	var initial []byte
	hasInitial := len(fields) == 2
	if hasInitial {
		initial = fields[1]
	}
	switch {
	case equalFoldASCII(mech, "plain"):
		s.phase = phaseAuthPlain
		if !hasInitial {
			s.reply(replyAuthPlainGo)
			return
		}
		s.authResponse(initial)
	case equalFoldASCII(mech, "login"):
		s.phase = phaseAuthLoginUser
		if !hasInitial {
			s.reply(replyAuthLoginUser)
			return
		}
		s.authResponse(initial)
	case equalFoldASCII(mech, "cram-md5"):
		if hasInitial {
			s.reply(replyAuthSyntax) // CRAM-MD5 has no initial response
			return
		}
		s.phase = phaseAuthCRAM
		s.challenge = s.cramChallenge(s.challenge[:0])
		s.reply(replyAuthCRAMPrefix)
		s.out = base64.StdEncoding.AppendEncode(s.out, s.challenge)
		s.reply("\r\n")
	default:
		s.reply(replyAuthMechanism)
	}
}

// authResponse takes one base64 SASL response line.
func (s *Session) authResponse(line []byte) {
	step := s.phase
	s.phase = phaseCommand
	if len(line) == 1 && line[0] == '*' {
		s.env.stats.authFailed.Add(1)
		s.reply(replyAuthAborted)
		return
	}
	var decoded []byte
	if !(len(line) == 1 && line[0] == '=') { // "=" is an empty initial response
		decoded = make([]byte, base64.StdEncoding.DecodedLen(len(line)))
		n, err := base64.StdEncoding.Decode(decoded, line)
		if err != nil {
			s.env.stats.authFailed.Add(1)
			s.reply(replyAuthDecode)
			return
		}
		decoded = decoded[:n]
	}
	switch step {
	case phaseAuthPlain:
		// authzid NUL authcid NUL passwd
		parts := bytes.Split(decoded, []byte{0})
		if len(parts) != 3 {
			s.authDone(false)
			return
		}
		s.authDone(s.checkCredentials(parts[1], parts[2]))
	case phaseAuthLoginUser:
		s.authUser = append(s.authUser[:0], decoded...)
		s.phase = phaseAuthLoginPass
		s.reply(replyAuthLoginPass)
	case phaseAuthLoginPass:
		s.authDone(s.checkCredentials(s.authUser, decoded))
		s.authUser = s.authUser[:0]
	case phaseAuthCRAM:
		// user SP hex(HMAC-MD5(password, challenge))
		i := bytes.LastIndexByte(decoded, ' ')
		if i <= 0 {
			s.authDone(false)
			return
		}
		s.authDone(s.checkCRAM(decoded[:i], decoded[i+1:]))
	}
}

// cramChallenge appends a fresh CRAM-MD5 challenge, "<random.unixtime@hostname>".
func (s *Session) cramChallenge(dst []byte) []byte {
	dst = append(dst, '<')
	dst = appendInt(dst, int64(s.env.random()*(1<<53)))
	dst = append(dst, '.')
	dst = appendInt(dst, s.env.clock().Unix())
	dst = append(dst, '@')
	dst = append(dst, s.env.cfg.Hostname...)
	return append(dst, '>')
}

// checkCRAM checks a CRAM-MD5 digest against --auth-users; without it any user and
// well-formed digest is accepted.
func (s *Session) checkCRAM(user, digest []byte) bool {
	users := s.env.cfg.AuthUsers
	if users == nil {
		return len(digest) == 2*md5.Size
	}
	pass, ok := users[string(user)]
	if !ok {
		return false
	}
	mac := hmac.New(md5.New, []byte(pass))
	mac.Write(s.challenge)
	var want [2 * md5.Size]byte
	hex.Encode(want[:], mac.Sum(nil))
	return hmac.Equal(want[:], bytes.ToLower(digest))
}

func (s *Session) checkCredentials(user, pass []byte) bool {
	users := s.env.cfg.AuthUsers
	if users == nil {
		return true
	}
	want, ok := users[string(user)]
	return ok && want == string(pass)
}

func (s *Session) authDone(ok bool) {
	if !ok {
		s.env.stats.authFailed.Add(1)
		s.reply(replyAuthFailed)
		return
	}
	s.authed = true
	s.env.stats.authOK.Add(1)
	s.reply(replyAuthOK)
}

// ReadAuthUsers reads --auth-users: one "user:password" (or "user password") per line;
// blank lines and lines starting with '#' are skipped.
func ReadAuthUsers(r io.Reader) (map[string]string, error) {
	users := map[string]string{}
	sc := bufio.NewScanner(r)
	for lineNo := 1; sc.Scan(); lineNo++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, pass, ok := strings.Cut(line, ":")
		if !ok {
			user, pass, ok = strings.Cut(line, " ")
		}
		if !ok || user == "" {
			return nil, fmt.Errorf("auth users line %d: want user:password", lineNo)
		}
		users[user] = pass
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading auth users: %w", err)
	}
	return users, nil
}

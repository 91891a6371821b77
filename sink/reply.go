package sink

// Replies, byte for byte as Postfix smtp-sink sends them unless noted.
const (
	replyHELOPrefix     = "250 "
	replyMailOK         = "250 2.1.0 Ok\r\n"
	replyRcptOK         = "250 2.1.5 Ok\r\n"
	replyDataGo         = "354 End data with <CR><LF>.<CR><LF>\r\n"
	replyRsetOK         = "250 2.1.0 Ok\r\n"
	replyOK             = "250 2.0.0 Ok\r\n"
	replyBye            = "221 Bye\r\n"
	replyQueuedPrefix   = "250 2.0.0 Ok: queued as " // smtp-sink: "250 2.0.0 Ok"
	replyLMTPPrefix     = "250 2.2.0 Ok: queued as " // smtp-sink: "250 2.2.0 Ok"
	replyNestedMail     = "503 5.5.1 Error: nested MAIL command\r\n"
	replyNeedMail       = "503 5.5.1 Error: need MAIL command\r\n"
	replyNeedRcpt       = "503 5.5.1 Error: need RCPT command\r\n"
	replyUnknown        = "500 5.5.1 Error: unknown command\r\n"
	replyBlank          = "500 5.5.2 Error: unknown command\r\n"
	replyClosing        = "421 4.0.0 Server closing connection\r\n"
	replyAbort          = "550 This violates SMTP\r\n"
	replyLineTooLong    = "500 5.5.2 Error: command line too long\r\n"
	replyNUL            = "500 5.5.2 Error: NUL character in command\r\n"
	replyTooBig         = "552 5.3.4 Message size exceeds fixed limit\r\n"
	replyBDATSyntax     = "501 5.5.4 Syntax: BDAT count [LAST]\r\n"
	replyDataAfterBDAT  = "503 5.5.1 Error: DATA after BDAT\r\n"
	replyRcptAfterBDAT  = "503 5.5.1 Error: RCPT after BDAT\r\n"
	replyAuthOK         = "235 2.7.0 Authentication successful\r\n"
	replyAuthFailed     = "535 5.7.8 Error: authentication failed\r\n"
	replyAuthAborted    = "501 5.7.0 Authentication aborted\r\n"
	replyAuthDecode     = "501 5.5.2 Error: cannot decode response\r\n"
	replyAuthSyntax     = "501 5.5.4 Syntax: AUTH mechanism\r\n"
	replyAuthMechanism  = "504 5.5.4 Unsupported authentication mechanism\r\n"
	replyAuthTwice      = "503 5.5.1 Error: already authenticated\r\n"
	replyAuthInTxn      = "503 5.5.1 Error: MAIL transaction in progress\r\n"
	replyAuthPlainGo    = "334 \r\n"
	replyAuthLoginUser  = "334 VXNlcm5hbWU6\r\n" // "Username:"
	replyAuthLoginPass  = "334 UGFzc3dvcmQ6\r\n" // "Password:"
	replyStartTLS       = "220 2.0.0 Ready to start TLS\r\n"
	replyStartTLSSyntax = "501 5.5.4 Syntax: STARTTLS\r\n"
	replyTLSActive      = "554 5.5.1 Error: TLS already active\r\n"
	replyTLSRequired    = "530 5.7.0 Must issue a STARTTLS command first\r\n"
	replyInjection      = "554 5.5.1 Error: command pipelined after STARTTLS (refused: STARTTLS injection)\r\n"
	replyAuthCRAMPrefix = "334 "
	replyBDATChunkOK    = "250 2.0.0 Ok: " // + count + " octets received"
	replyBDATChunkOKEnd = " octets received\r\n"
)

// ehloReply renders the multi-line EHLO/LHLO reply for a configuration.
func ehloReply(c *Config, starttls bool) []byte {
	lines := []string{c.Hostname}
	if !c.DisablePipelining {
		lines = append(lines, "PIPELINING")
	}
	if c.MaxMessageSize > 0 {
		lines = append(lines, "SIZE "+itoa(c.MaxMessageSize))
	} else {
		lines = append(lines, "SIZE")
	}
	if !c.Disable8BitMIME {
		lines = append(lines, "8BITMIME")
	}
	if starttls {
		lines = append(lines, "STARTTLS")
	}
	if !c.DisableAuthAnnounce {
		lines = append(lines, "AUTH PLAIN LOGIN CRAM-MD5")
	}
	if !c.DisableXCLIENT {
		lines = append(lines, "XCLIENT NAME HELO")
	}
	if !c.DisableXFORWARD {
		lines = append(lines, "XFORWARD NAME ADDR PROTO HELO")
	}
	if !c.DisableEnhanced {
		lines = append(lines, "ENHANCEDSTATUSCODES")
	}
	if !c.DisableDSN {
		lines = append(lines, "DSN")
	}
	if !c.DisableSMTPUTF8 {
		lines = append(lines, "SMTPUTF8")
	}
	if !c.DisableChunking {
		lines = append(lines, "CHUNKING")
	}
	var b []byte
	for i, l := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		b = append(b, "250"+sep+l+"\r\n"...)
	}
	return b
}

// banner renders the greeting.
func banner(c *Config) []byte {
	switch {
	case c.PIXBanner:
		return []byte("220 ********\r\n")
	case c.DisableESMTP:
		return []byte("220 " + c.Hostname + "\r\n")
	}
	return []byte("220 " + c.Hostname + " ESMTP\r\n")
}

func itoa(n int64) string {
	var b [20]byte
	return string(appendInt(b[:0], n))
}

func appendInt(dst []byte, n int64) []byte {
	if n < 0 {
		dst = append(dst, '-')
		n = -n
	}
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(dst, b[i:]...)
}

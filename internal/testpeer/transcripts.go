package testpeer

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// Transcript is one SMTP dialogue the client must produce against an SMTPScript: what it
// sends, byte for byte, and how each message ends. The protocol tests drive
// protocol.Client through it in memory under every chunking; the engine tests run the
// real engine through it over a socket, the server's bytes split at every byte. Options
// are plain values so that packages below protocol can share the table.
type Transcript struct {
	Name     string
	Client   TranscriptClient
	Message  TranscriptMessage
	Messages int
	Server   SMTPScript

	Want     string // every byte the client sends, connections in order
	Outcomes string // per message, in order: a accepted, r rejected, f failed; the rest are not started
	Warnings int    // warnings reported
	Fatal    string // the error that stops the run; "" when it completes
}

// TranscriptClient is the client's behaviour: smtp-source's options.
type TranscriptClient struct {
	Greeting        string // "HELO" (default), "EHLO", "LHLO", or "none" (-o)
	LMTP            bool   // -L
	Pipelining      bool   // --pipelining
	ReuseConnection bool   // -d
	AllowReject     bool   // -A
	TLS             string // STARTTLS: "" never, "may" when offered, "required"
	ImplicitTLS     bool   // TLS from the connect (SMTPS)
	AuthMech        string // AUTH with TranscriptUser and TranscriptPass: PLAIN, LOGIN or CRAM-MD5
	AuthInsecure    bool   // AUTH allowed without TLS
}

// The credentials of the transcripts' AUTH.
const (
	TranscriptUser = "alice"
	TranscriptPass = "s3cret-alice"
)

// TranscriptMessage is what each message looks like. Every transcript uses sender and
// recipient foo@vm, process id 0x1eb4, host name vm and TranscriptDate; a message's
// Message-Id is <1eb4.0001.SEQ@vm> (session slot 1).
type TranscriptMessage struct {
	Recipients  int  // -r; 0 means 1
	Numbering37 bool // Postfix 3.7's recipient numbering (--compat=3.7)
	NoHeaders   bool // the content as it is, without From/To/Date/Message-Id
}

// TranscriptDate is the Date header of every transcript message.
const TranscriptDate = "Sat, 28 Nov 2026 17:40:54 +0000 (UTC)"

const transcriptBody = "La de da de da 1.\r\nLa de da de da 2.\r\nLa de da de da 3.\r\nLa de da de da 4.\r\n.\r\n"

// transcriptMessage is a default message with its headers, as sent after 354.
func transcriptMessage(seq int) string {
	return "From: <foo@vm>\r\nTo: <foo@vm>\r\nDate: " + TranscriptDate + "\r\n" +
		fmt.Sprintf("Message-Id: <1eb4.0001.%04x@vm>\r\n\r\n", seq) + transcriptBody
}

// The AUTH exchanges of the transcripts, as the client sends them.
var (
	authPlain = "AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00"+TranscriptUser+"\x00"+TranscriptPass)) + "\r\n"
	authLogin = "AUTH LOGIN\r\n" + base64.StdEncoding.EncodeToString([]byte(TranscriptUser)) + "\r\n" +
		base64.StdEncoding.EncodeToString([]byte(TranscriptPass)) + "\r\n"
	authCRAM = func() string {
		mac := hmac.New(md5.New, []byte(TranscriptPass))
		mac.Write([]byte(scriptChallenge))
		return "AUTH CRAM-MD5\r\n" + base64.StdEncoding.EncodeToString([]byte(TranscriptUser+" "+hex.EncodeToString(mac.Sum(nil)))) + "\r\n"
	}()
	envelope = "MAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\nDATA\r\n"
)

// ClientTranscripts is the table of client dialogues.
var ClientTranscripts = []Transcript{
	{
		Name:     "smtp-source default",
		Messages: 1,
		Want:     "HELO vm\r\nMAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\nDATA\r\n" + transcriptMessage(1) + "QUIT\r\n",
		Outcomes: "a",
	},
	{
		Name:     "-d: two messages on one connection, no RSET",
		Client:   TranscriptClient{ReuseConnection: true},
		Messages: 2,
		Want: "HELO vm\r\nMAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\nDATA\r\n" + transcriptMessage(1) +
			"MAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\nDATA\r\n" + transcriptMessage(2) + "QUIT\r\n",
		Outcomes: "aa",
	},
	{
		Name:     "without -d: a connection per message",
		Messages: 2,
		Want: "HELO vm\r\nMAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\nDATA\r\n" + transcriptMessage(1) + "QUIT\r\n" +
			"HELO vm\r\nMAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\nDATA\r\n" + transcriptMessage(2) + "QUIT\r\n",
		Outcomes: "aa",
	},
	{
		Name:     "-r 3, Postfix 3.7 numbering counts down",
		Message:  TranscriptMessage{Recipients: 3, Numbering37: true, NoHeaders: true},
		Messages: 1,
		Want:     "HELO vm\r\nMAIL FROM:<foo@vm>\r\nRCPT TO:<3foo@vm>\r\nRCPT TO:<2foo@vm>\r\nRCPT TO:<foo@vm>\r\nDATA\r\n" + transcriptBody + "QUIT\r\n",
		Outcomes: "a",
	},
	{
		Name:     "-o: no HELO, no headers",
		Client:   TranscriptClient{Greeting: "none"},
		Message:  TranscriptMessage{NoHeaders: true},
		Messages: 1,
		Want:     "MAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\nDATA\r\n" + transcriptBody + "QUIT\r\n",
		Outcomes: "a",
	},
	{
		Name:     "LMTP: one reply per accepted recipient after the dot",
		Client:   TranscriptClient{Greeting: "LHLO", LMTP: true},
		Message:  TranscriptMessage{Recipients: 3, Numbering37: true, NoHeaders: true},
		Messages: 1,
		Server:   SMTPScript{LMTP: true},
		Want:     "LHLO vm\r\nMAIL FROM:<foo@vm>\r\nRCPT TO:<3foo@vm>\r\nRCPT TO:<2foo@vm>\r\nRCPT TO:<foo@vm>\r\nDATA\r\n" + transcriptBody + "QUIT\r\n",
		Outcomes: "a",
	},
	{
		Name:     "PIPELINING with -d: envelope in one write, next envelope after the dot",
		Client:   TranscriptClient{Greeting: "EHLO", Pipelining: true, ReuseConnection: true},
		Message:  TranscriptMessage{Recipients: 2, NoHeaders: true},
		Messages: 2,
		Server:   SMTPScript{EhloCaps: "250-PIPELINING\r\n"},
		Want: "EHLO vm\r\nMAIL FROM:<foo@vm>\r\nRCPT TO:<foo0@vm>\r\nRCPT TO:<foo1@vm>\r\nDATA\r\n" + transcriptBody +
			"MAIL FROM:<foo@vm>\r\nRCPT TO:<foo2@vm>\r\nRCPT TO:<foo3@vm>\r\nDATA\r\n" + transcriptBody + "QUIT\r\n",
		Outcomes: "aa",
	},
	{
		Name:     "--pipelining without the server's PIPELINING: one command at a time",
		Client:   TranscriptClient{Greeting: "EHLO", Pipelining: true, ReuseConnection: true},
		Message:  TranscriptMessage{NoHeaders: true},
		Messages: 1,
		Want:     "EHLO vm\r\nMAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\nDATA\r\n" + transcriptBody + "QUIT\r\n",
		Outcomes: "a",
	},
	{
		Name:     "rejected recipient without -A is fatal",
		Messages: 2,
		Server:   SMTPScript{Replies: map[string]string{"RCPT": "450 4.3.0 Error: command failed\r\n"}},
		Want:     "HELO vm\r\nMAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\n",
		Outcomes: "r",
		Fatal:    "recipient rejected: 450 4.3.0 Error: command failed",
	},
	{
		Name:     "-A -d: rejected recipient, RSET, next message",
		Client:   TranscriptClient{AllowReject: true, ReuseConnection: true},
		Messages: 2,
		Server:   SMTPScript{Replies: map[string]string{"RCPT": "450 4.3.0 Error: command failed\r\n"}},
		Want: "HELO vm\r\nMAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\nRSET\r\n" +
			"MAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\nRSET\r\nQUIT\r\n",
		Outcomes: "rr",
		Warnings: 2,
	},
	{
		Name:     "-A: 421 to MAIL closes without QUIT",
		Client:   TranscriptClient{AllowReject: true},
		Messages: 2,
		Server:   SMTPScript{Replies: map[string]string{"MAIL": "421 4.0.0 Server closing connection\r\n"}},
		Want:     "HELO vm\r\nMAIL FROM:<foo@vm>\r\nHELO vm\r\nMAIL FROM:<foo@vm>\r\n",
		Outcomes: "rr",
		Warnings: 2,
	},
	{
		Name:     "-A: DATA rejected, RSET",
		Client:   TranscriptClient{AllowReject: true},
		Messages: 1,
		Server:   SMTPScript{Replies: map[string]string{"DATA": "500 5.3.0 Error: command failed\r\n"}},
		Want:     "HELO vm\r\nMAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\nDATA\r\nRSET\r\nQUIT\r\n",
		Outcomes: "r",
		Warnings: 1,
	},
	{
		Name:     "-A: end of data rejected, next step is QUIT",
		Client:   TranscriptClient{AllowReject: true},
		Messages: 1,
		Server:   SMTPScript{Replies: map[string]string{".": "554 5.7.1 no\r\n"}},
		Want:     "HELO vm\r\nMAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\nDATA\r\n" + transcriptMessage(1) + "QUIT\r\n",
		Outcomes: "r",
		Warnings: 1,
	},
	{
		Name:     "-A: banner rejection is a warning and HELO follows",
		Client:   TranscriptClient{AllowReject: true},
		Messages: 1,
		Server:   SMTPScript{Replies: map[string]string{"banner": "450 busy\r\n"}},
		Want:     "HELO vm\r\nMAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\nDATA\r\n" + transcriptMessage(1) + "QUIT\r\n",
		Outcomes: "a",
		Warnings: 1,
	},
	{
		Name:     "banner rejection without -A is fatal",
		Messages: 1,
		Server:   SMTPScript{Replies: map[string]string{"banner": "554 go away\r\n"}},
		Want:     "",
		Outcomes: "r",
		Fatal:    "rejected at server banner: 554 go away",
	},
	{
		Name:     "-A PIPELINING: rejected MAIL consumes the owed replies, then RSET",
		Client:   TranscriptClient{AllowReject: true, Greeting: "EHLO", Pipelining: true},
		Messages: 1,
		Server: SMTPScript{EhloCaps: "250-PIPELINING\r\n", Replies: map[string]string{
			"MAIL": "550 5.1.0 no\r\n", "RCPT": "503 5.5.1 need MAIL\r\n", "DATA": "503 5.5.1 need RCPT\r\n"}},
		Want:     "EHLO vm\r\nMAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\nDATA\r\nRSET\r\nQUIT\r\n",
		Outcomes: "r",
		Warnings: 1,
	},
	{
		Name:     "-A PIPELINING: server accepts DATA after every RCPT failed: empty message ended, RSET",
		Client:   TranscriptClient{AllowReject: true, Greeting: "EHLO", Pipelining: true},
		Messages: 1,
		Server:   SMTPScript{EhloCaps: "250-PIPELINING\r\n", Replies: map[string]string{"RCPT": "550 5.1.1 unknown\r\n"}},
		Want:     "EHLO vm\r\nMAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\nDATA\r\n.\r\nRSET\r\nQUIT\r\n",
		Outcomes: "r",
		Warnings: 1,
	},
	{
		Name:     "STARTTLS required: EHLO again over TLS, on every connection",
		Client:   TranscriptClient{Greeting: "EHLO", TLS: "required"},
		Messages: 2,
		Server:   SMTPScript{OfferTLS: true},
		Want: "EHLO vm\r\nSTARTTLS\r\nEHLO vm\r\n" + envelope + transcriptMessage(1) + "QUIT\r\n" +
			"EHLO vm\r\nSTARTTLS\r\nEHLO vm\r\n" + envelope + transcriptMessage(2) + "QUIT\r\n",
		Outcomes: "aa",
	},
	{
		Name:     "STARTTLS may, not offered: plaintext",
		Client:   TranscriptClient{Greeting: "EHLO", TLS: "may"},
		Messages: 1,
		Want:     "EHLO vm\r\n" + envelope + transcriptMessage(1) + "QUIT\r\n",
		Outcomes: "a",
	},
	{
		Name:     "STARTTLS may, refused: a warning, plaintext",
		Client:   TranscriptClient{Greeting: "EHLO", TLS: "may"},
		Messages: 1,
		Server:   SMTPScript{OfferTLS: true, StartTLSReply: "454 4.7.0 TLS not available\r\n"},
		Want:     "EHLO vm\r\nSTARTTLS\r\n" + envelope + transcriptMessage(1) + "QUIT\r\n",
		Outcomes: "a",
		Warnings: 1,
	},
	{
		Name:     "STARTTLS required, refused, without -A is fatal",
		Client:   TranscriptClient{Greeting: "EHLO", TLS: "required"},
		Messages: 2,
		Server:   SMTPScript{OfferTLS: true, StartTLSReply: "454 4.7.0 TLS not available\r\n"},
		Want:     "EHLO vm\r\nSTARTTLS\r\n",
		Outcomes: "r",
		Fatal:    "STARTTLS rejected: 454 4.7.0 TLS not available",
	},
	{
		Name:     "PIPELINING only when the EHLO after STARTTLS announces it",
		Client:   TranscriptClient{Greeting: "EHLO", TLS: "required", Pipelining: true, ReuseConnection: true},
		Messages: 2,
		Server:   SMTPScript{OfferTLS: true, CapsAfterTLS: "250-PIPELINING\r\n"},
		Want: "EHLO vm\r\nSTARTTLS\r\nEHLO vm\r\n" + envelope + transcriptMessage(1) + envelope + transcriptMessage(2) +
			"QUIT\r\n",
		Outcomes: "aa",
	},
	{
		Name:     "STARTTLS, AUTH PLAIN",
		Client:   TranscriptClient{Greeting: "EHLO", TLS: "required", AuthMech: "PLAIN"},
		Messages: 1,
		Server:   SMTPScript{OfferTLS: true, AuthMechs: "PLAIN LOGIN", User: TranscriptUser, Pass: TranscriptPass},
		Want:     "EHLO vm\r\nSTARTTLS\r\nEHLO vm\r\n" + authPlain + envelope + transcriptMessage(1) + "QUIT\r\n",
		Outcomes: "a",
	},
	{
		Name:     "STARTTLS, AUTH CRAM-MD5",
		Client:   TranscriptClient{Greeting: "EHLO", TLS: "required", AuthMech: "CRAM-MD5"},
		Messages: 1,
		Server:   SMTPScript{OfferTLS: true, AuthMechs: "CRAM-MD5", User: TranscriptUser, Pass: TranscriptPass},
		Want:     "EHLO vm\r\nSTARTTLS\r\nEHLO vm\r\n" + authCRAM + envelope + transcriptMessage(1) + "QUIT\r\n",
		Outcomes: "a",
	},
	{
		Name:     "AUTH LOGIN without TLS (--auth-insecure)",
		Client:   TranscriptClient{Greeting: "EHLO", AuthMech: "LOGIN", AuthInsecure: true},
		Messages: 1,
		Server:   SMTPScript{AuthMechs: "LOGIN", AuthBeforeTLS: true, User: TranscriptUser, Pass: TranscriptPass},
		Want:     "EHLO vm\r\n" + authLogin + envelope + transcriptMessage(1) + "QUIT\r\n",
		Outcomes: "a",
	},
	{
		Name:     "-A: AUTH rejected is a warning, the message goes on",
		Client:   TranscriptClient{Greeting: "EHLO", AuthMech: "LOGIN", AuthInsecure: true, AllowReject: true},
		Messages: 1,
		Server:   SMTPScript{AuthMechs: "LOGIN", AuthBeforeTLS: true, User: TranscriptUser, Pass: "another"},
		Want:     "EHLO vm\r\n" + authLogin + envelope + transcriptMessage(1) + "QUIT\r\n",
		Outcomes: "a",
		Warnings: 1,
	},
	{
		Name:     "implicit TLS, AUTH PLAIN",
		Client:   TranscriptClient{Greeting: "EHLO", ImplicitTLS: true, TLS: "required", AuthMech: "PLAIN"},
		Messages: 2,
		Server:   SMTPScript{OfferTLS: true, AuthMechs: "PLAIN", User: TranscriptUser, Pass: TranscriptPass},
		Want: "EHLO vm\r\n" + authPlain + envelope + transcriptMessage(1) + "QUIT\r\n" +
			"EHLO vm\r\n" + authPlain + envelope + transcriptMessage(2) + "QUIT\r\n",
		Outcomes: "aa",
	},
}

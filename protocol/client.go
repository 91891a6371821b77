package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"github.com/valyala/bytebufferpool"
)

// Greeting is the command that opens a session after the banner.
type Greeting uint8

const (
	GreetHELO Greeting = iota // smtp-source's default
	GreetEHLO                 // --ehlo, needed for PIPELINING
	GreetLHLO                 // -L
	GreetNone                 // -o: MAIL FROM straight after the banner
)

func (g Greeting) command() string {
	switch g {
	case GreetEHLO:
		return "EHLO"
	case GreetLHLO:
		return "LHLO"
	default:
		return "HELO"
	}
}

// MessageSource hands out the run's messages; all sessions share one.
type MessageSource interface {
	// Claim takes the next message, returning its sequence number (from 1).
	Claim() (seq int64, ok bool)
	// Exhausted reports that no message is left to claim.
	Exhausted() bool
}

// Config is what every session of a run shares. It is read-only once sessions start.
type Config struct {
	Greeting        Greeting
	Hostname        string // HELO/EHLO/LHLO argument
	LMTP            bool   // after the dot, one reply per accepted recipient
	Pipelining      bool   // pipeline commands when the server announces PIPELINING
	ReuseConnection bool   // -d: the next message goes over the same connection
	PauseBetween    bool   // -w/-R: stop after each message until Resume is called
	AllowReject     bool   // -A: a rejection is a warning, not the end of the run
	Trace           bool   // report every command and reply line to Observer.Trace
	Template        *Template
	Source          MessageSource

	TLS         TLSPolicy   // STARTTLS after EHLO: never, when offered, or required
	ImplicitTLS bool        // the connection is TLS from its start (SMTPS): the driver handshakes before the banner
	Auth        *AuthConfig // AUTH after the greeting (after STARTTLS, if any); nil: none

	// ESMTP is the service extensions used when announced (esmtp.go); nil: smtp-source's.
	// Prepare must have run on it.
	ESMTP *ESMTP
}

// Step tells the driver what to do after Feed or Resume.
type Step uint8

const (
	StepRead  Step = iota // send Output, then wait for more bytes from the server
	StepPause             // send Output, then call Resume after the between-message delay
	StepClose             // send Output, then close: the session is over
	StepDone              // the server said goodbye (221): let it close first, so TIME_WAIT stays on its side
	StepFatal             // the run must stop; Err says why
	// StepStartTLS: send Output, then start the TLS handshake and call TLSDone when it
	// is over. Feed has consumed everything up to and including the STARTTLS 220: any byte
	// after it arrived before the handshake and must be refused (STARTTLS injection).
	StepStartTLS
)

// sessionState is where the session stands between replies.
type sessionState uint8

const (
	stateNew      sessionState = iota // Start not called yet
	stateActive                       // commands are in flight; replies are owed
	stateIdle                         // between messages, waiting for Resume
	stateQuitting                     // QUIT sent
	stateDone                         // nothing more to send or read
)

// Command lines without variable parts. Read-only.
var (
	cmdData = []byte("DATA")
	cmdDot  = []byte(".")
	cmdRset = []byte("RSET")
	cmdQuit = []byte("QUIT")
)

// expectation is one reply the server owes, in order.
type expectation struct {
	phase Phase
	start int64 // when the command went out (ns since epoch)
	seq   int64 // the message it belongs to; 0 for session-level commands
	sent  int64 // the hand-over (Client.flushes) that sent the command; 0 while unsent
}

// answerable reports whether a reply that began to arrive at hand-over arrived can answer
// this command: only when the command had gone out before.
func (e *expectation) answerable(arrived int64) bool { return e.sent != 0 && e.sent <= arrived }

// txn is the state of one message's transaction.
type txn struct {
	seq          int64
	mailOK       bool
	rcptReplies  int
	rcptAccepted int
	eodReplies   int
	eodAccepted  int
	rejected     error // first rejection; the transaction ends with RSET
	dataAborted  bool  // pipelined DATA got 354 with nothing to send: an empty body went out
	answered     bool  // the server has replied to one of its commands
	done         bool  // outcome reported
}

func (t *txn) open() bool { return t.seq != 0 && !t.done }

// Client is the SMTP/LMTP client side of one connection, without I/O: bytes from the
// server go in through Feed with the time they arrived; bytes for the server collect in
// Output. One Client serves one session slot for the whole run; Start begins each new
// connection.
type Client struct {
	cfg  *Config
	obs  Observer
	slot int

	state      sessionState
	caps       Capabilities
	pipelining bool
	expect     []expectation // FIFO: expect[head:] are owed
	head       int
	cur, next  txn // next is only used when the next transaction was pipelined after a dot
	outOfMsgs  bool
	err        error
	unstarted  int64 // a message the server closed the session before seeing (serverClosing)
	replies    int64 // replies that answered a command on this connection

	// Which replies may answer which commands: a reply can only answer a command sent
	// before its first byte arrived. flushes counts the hand-overs of Output to the
	// transport (the connect is the first); every byte of one Feed arrived before the
	// hand-over that follows it. Bytes Feed leaves unconsumed (a reply split across
	// reads) are given again: heldSince is when the first of them arrived.
	flushes   int64
	held      bool
	heldSince int64
	scan      replyScan // how far the held reply has been checked
	dotSeq    int64     // a message whose final dot is in Output: DotSent at the hand-over

	tlsActive   bool // the connection is encrypted (implicit TLS, or STARTTLS done)
	tlsPending  bool // a TLS handshake is in progress; nothing is fed until TLSDone
	tlsDeclined bool // --tls may: the server refused STARTTLS, or DeclineTLS after a failed handshake; go on in plaintext
	auth        authState

	esmtp       esmtpSession // the extensions this connection uses (esmtp.go)
	xclientSent bool         // XCLIENT went out on this connection (xclient.go)

	// reply is the reply being handled, for the observer; nil outside onReply. It points
	// at rep, so that handing it out does not allocate.
	reply *Reply
	rep   Reply

	out     *bytebufferpool.ByteBuffer
	body    [][]byte // shared message body (Template.AppendBody), sent between out.B[:bodyAt] and out.B[bodyAt:]
	bodyLen int
	bodyAt  int
	pieces  [][]byte // a body cut per message (Template.AppendMessage), reused

	// What only the extensions use, after what every message does.
	bdat       bdatState // the message going out with BDAT (bdat.go)
	sizePieces [][]byte  // scratch of SIZE='s count (messageSize), reused
}

// NewClient makes the machine for session slot number slot (it appears in Message-Ids).
func NewClient(cfg *Config, obs Observer, slot int) *Client {
	return &Client{cfg: cfg, obs: obs, slot: slot}
}

// Start begins a session on a new connection for message seq, which the driver has
// claimed; connected is when the connection was established.
func (c *Client) Start(seq int64, connected int64) {
	c.state = stateActive
	c.caps = Capabilities{}
	c.pipelining = false
	c.expect = c.expect[:0]
	c.head = 0
	c.cur = txn{seq: seq}
	c.next = txn{}
	c.outOfMsgs = false
	c.err = nil
	c.unstarted = 0
	c.replies = 0
	c.flushes = 1 // the connect: the banner is owed from now
	c.held = false
	c.scan = replyScan{}
	c.dotSeq = 0
	c.tlsActive = false
	c.tlsPending = c.cfg.ImplicitTLS
	c.tlsDeclined = false
	c.auth = authState{}
	c.esmtp, c.xclientSent = esmtpSession{}, false
	if c.out == nil {
		c.out = bytebufferpool.Get()
	}
	c.resetOutput()
	c.startProxy()
	c.push(PhaseBanner, connected, 0)
	c.expect[len(c.expect)-1].sent = c.flushes
}

// Release returns the output buffer to the pool once the connection is closed.
func (c *Client) Release() {
	if c.out != nil {
		bytebufferpool.Put(c.out)
		c.out = nil
	}
	c.body = nil
	c.state = stateDone
}

// Err is why the session ended early: the error of StepFatal, or the 421/521 that made
// Feed return StepClose. It is nil while the session runs and after a normal QUIT.
func (c *Client) Err() error { return c.err }

// Replies counts the replies that answered a command on this connection: the driver's
// measure of progress (a step ends when its reply is complete).
func (c *Client) Replies() int64 { return c.replies }

// Unstarted is the message the session had taken but the server never saw, when the
// server closed the session first (a 421 between commands). Its outcome is never
// reported: with -A the driver starts it again on a new connection; without, the run
// stops and it was not started.
func (c *Client) Unstarted() (seq int64, ok bool) { return c.unstarted, c.unstarted != 0 }

// Capabilities is what the server announced after EHLO/LHLO.
func (c *Client) Capabilities() Capabilities { return c.caps }

// OutOfMessages reports that the session ended because no message was left to claim:
// the driver must not start another.
func (c *Client) OutOfMessages() bool { return c.outOfMsgs }

// Waiting names what the session is waiting for, in smtp-source's words, for "lost
// connection while …" and "timeout while …" diagnostics.
func (c *Client) Waiting() string {
	if c.tlsPending {
		return "performing the TLS handshake"
	}
	if c.head >= len(c.expect) {
		return "sending message"
	}
	switch c.expect[c.head].phase {
	case PhaseBanner:
		return "reading server greeting"
	case PhaseHelo, PhaseEhloTLS:
		return "sending " + c.cfg.Greeting.command()
	case PhaseStartTLS:
		return "sending STARTTLS"
	case PhaseAuth:
		return "sending AUTH"
	case PhaseMail:
		return "sending sender"
	case PhaseRcpt:
		return "sending recipient"
	case PhaseData:
		return "sending DATA command"
	default:
		return "sending message"
	}
}

// PendingPhase is the step whose reply the session is waiting for, if any.
func (c *Client) PendingPhase() (Phase, bool) {
	if c.head >= len(c.expect) {
		return 0, false
	}
	return c.expect[c.head].phase, true
}

// OutputHasBody reports that Output includes a message body.
func (c *Client) OutputHasBody() bool { return c.body != nil }

// Fail ends every message still open on this connection with outcome Failed: the
// driver calls it when the connection is lost, times out or is aborted.
func (c *Client) Fail(err error) {
	c.finish(&c.cur, Failed, err)
	c.finish(&c.next, Failed, err)
	c.state = stateDone
}

// Output appends to vec the bytes waiting to be sent, in order: commands, the shared
// message body (when one is due) and the commands that follow it.
func (c *Client) Output(vec [][]byte) [][]byte {
	if c.out == nil {
		return vec
	}
	if c.body == nil {
		if len(c.out.B) > 0 {
			vec = append(vec, c.out.B)
		}
		return vec
	}
	if c.bodyAt > 0 {
		vec = append(vec, c.out.B[:c.bodyAt])
	}
	vec = append(vec, c.body...)
	if c.bodyAt < len(c.out.B) {
		vec = append(vec, c.out.B[c.bodyAt:])
	}
	return vec
}

// OutputLen is the number of bytes Output would return.
func (c *Client) OutputLen() int {
	if c.out == nil {
		return 0
	}
	return len(c.out.B) + c.bodyLen
}

// Flushed tells the machine that the transport has taken all of Output (gnet copies
// what it cannot write at once), so the buffer can be reused. From now on, replies may
// answer the commands it held. at is when the write that sent them began (ns since the
// epoch): their phases start there, not when the machine queued them, so that a phase
// is the time on the wire and not the driver's work before the write.
func (c *Client) Flushed(at int64) {
	c.flushes++
	for i := len(c.expect) - 1; i >= c.head && c.expect[i].sent == 0; i-- {
		c.expect[i].sent = c.flushes
		c.expect[i].start = at
	}
	if c.dotSeq != 0 {
		seq := c.dotSeq
		c.dotSeq = 0
		c.obs.DotSent(seq)
	}
	if c.out != nil {
		c.resetOutput()
	}
}

// discardUnsent drops what Output holds and the replies it would be owed: the server
// has closed the session, nothing more goes out.
func (c *Client) discardUnsent() {
	i := len(c.expect)
	for i > c.head && c.expect[i-1].sent == 0 {
		i--
	}
	c.expect = c.expect[:i]
	c.dotSeq = 0
	if c.out != nil {
		c.resetOutput()
	}
}

func (c *Client) resetOutput() {
	c.out.Reset()
	c.body, c.bodyLen, c.bodyAt = nil, 0, 0
}

// Feed consumes complete replies from p, which holds what the server sent and the
// machine has not consumed yet, received at time now. It returns how many bytes it
// consumed (the driver keeps the rest and gives it again, first, in the next call) and
// what to do next.
func (c *Client) Feed(p []byte, now int64) (consumed int, step Step) {
	batch := c.flushes // every byte of p arrived before the next hand-over
	arrived := batch
	if c.held {
		arrived = c.heldSince
	}
	step = StepRead
	for consumed < len(p) && step == StepRead {
		if c.state == stateNew || c.state == stateDone {
			step = c.fatal(&ProtocolError{Between: true, Reason: "unexpected_reply",
				Err: fmt.Errorf("%w: %q", ErrUnexpectedReply, printable(firstLine(p[consumed:]), 64))})
			break
		}
		n, err := parseReply(p[consumed:], &c.scan, &c.rep)
		if err != nil {
			step = c.fatal(c.protocolError(err))
			break
		}
		if n == 0 {
			break
		}
		consumed += n
		c.scan = replyScan{}
		c.reply = &c.rep
		step = c.dispatch(c.reply, arrived, now)
		c.reply = nil
		arrived = batch
	}
	switch {
	case consumed == len(p):
		c.held = false
	case consumed > 0 || !c.held:
		c.held, c.heldSince = true, batch
	}
	return consumed, step
}

// dispatch hands a complete reply to the command it answers: the oldest outstanding one,
// if that had been sent when the reply began to arrive.
func (c *Client) dispatch(r *Reply, arrived, now int64) Step {
	if c.head >= len(c.expect) || !c.expect[c.head].answerable(arrived) {
		return c.unsolicited(r, now)
	}
	c.replies++
	return c.onReply(r, now)
}

// unsolicited handles a reply that answers no command: none was outstanding when it
// began to arrive (a reply ahead of its command, or one reply too many). A 421 there is
// the server closing the session (RFC 5321 §3.8: an idle timeout, a shutdown); anything
// else is a protocol error.
func (c *Client) unsolicited(r *Reply, now int64) Step {
	if c.cfg.Trace {
		traceReply(c.obs, r)
	}
	if r.Code == 421 {
		return c.serverClosing(r)
	}
	pe := &ProtocolError{Between: true, Reason: "unexpected_reply",
		Err: fmt.Errorf("%w with no command outstanding: %d %s", ErrUnexpectedReply, r.Code, printable([]byte(r.Text()), MaxReplyLine))}
	pe.Phase, pe.Between = c.nextPhase()
	return c.fatal(pe)
}

// nextPhase is the step the session is at for an error key: the oldest command whose
// reply is owed, sent or about to be; between is true when there is none.
func (c *Client) nextPhase() (p Phase, between bool) {
	if c.head < len(c.expect) {
		return c.expect[c.head].phase, false
	}
	return 0, true
}

// serverClosing: the server closes the session between commands. A QUIT about to go out
// needs no answer; a message the server had replied for is rejected, as smtp-source
// would find on its next command; one it never saw is not charged (Unstarted). Without
// -A the run stops, as after any 421 (smtp-source: "sender rejected: 421 …"); with -A it
// is a warning and the slot reconnects for what is left.
func (c *Client) serverClosing(r *Reply) Step {
	err := &ReplyError{What: "server closed the session", Code: r.Code, Enhanced: string(r.Enhanced), Text: r.Text()}
	err.Phase, err.Between = c.nextPhase()
	c.discardUnsent()
	if c.state == stateQuitting {
		c.state = stateDone
		return StepDone
	}
	c.closeOpen(&c.cur, err)
	c.closeOpen(&c.next, err)
	c.err = err
	c.state = stateDone
	if !c.cfg.AllowReject {
		return StepFatal
	}
	c.obs.Warning(err)
	return StepClose
}

// closeOpen ends a transaction the server's closing cut off.
func (c *Client) closeOpen(t *txn, err error) {
	if !t.open() {
		return
	}
	if t.answered || c.unstarted != 0 {
		c.finish(t, Rejected, err)
		return
	}
	c.unstarted = t.seq
	t.done = true
}

// protocolError wraps a reply the parser refused with the step it was awaited for.
func (c *Client) protocolError(err error) *ProtocolError {
	pe := &ProtocolError{Reason: "malformed", Err: err}
	if errors.Is(err, ErrReplyTooLong) {
		pe.Reason = "too_long"
	}
	pe.Phase, pe.Between = c.nextPhase()
	return pe
}

// Resume starts the next message after a pause (StepPause), or QUIT when none is left.
func (c *Client) Resume(now int64) Step {
	if c.state != stateIdle {
		return StepRead
	}
	c.state = stateActive
	c.nextMessage(now)
	return StepRead
}

// sendGreeting sends HELO/EHLO/LHLO with the host name.
func (c *Client) sendGreeting(p Phase, now int64) {
	start := len(c.out.B)
	c.out.B = append(c.out.B, c.cfg.Greeting.command()...)
	c.out.B = append(c.out.B, ' ')
	c.out.B = append(c.out.B, c.cfg.Hostname...)
	c.traceSent(c.out.B[start:])
	c.out.B = append(c.out.B, '\r', '\n')
	c.push(p, now, 0)
}

func (c *Client) push(p Phase, start, seq int64) {
	if c.head == len(c.expect) {
		c.expect, c.head = c.expect[:0], 0
	}
	c.expect = append(c.expect, expectation{phase: p, start: start, seq: seq})
}

// command appends one command line (given without CRLF) and the reply it is owed.
func (c *Client) command(p Phase, now, seq int64, line []byte) {
	c.out.B = append(c.out.B, line...)
	c.out.B = append(c.out.B, '\r', '\n')
	c.traceSent(line)
	c.push(p, now, seq)
}

func (c *Client) traceSent(line []byte) {
	if c.cfg.Trace {
		c.obs.Trace(line, false)
	}
}

// txnFor routes a reply to the transaction it belongs to.
func (c *Client) txnFor(seq int64) *txn {
	if c.next.seq == seq && c.next.seq != 0 {
		return &c.next
	}
	return &c.cur
}

func (c *Client) onReply(r *Reply, now int64) Step {
	e := c.expect[c.head]
	c.head++
	if c.cfg.Trace {
		traceReply(c.obs, r)
	}
	if e.phase != PhaseAuth || r.Code != 334 { // AUTH is timed to its final reply
		c.obs.Phase(e.phase, e.seq, e.start, now, r.Code)
	}
	t := c.txnFor(e.seq)
	if e.seq != 0 {
		t.answered = true
	}
	switch e.phase {
	case PhaseBanner:
		return c.onBanner(r, now)
	case PhaseHelo, PhaseEhloTLS:
		return c.onGreeting(t, r, now)
	case PhaseStartTLS:
		return c.onStartTLSReply(t, r, now)
	case PhaseAuth:
		return c.onAuthReply(t, e, r, now)
	case PhaseMail:
		return c.onMail(t, r, now)
	case PhaseRcpt:
		return c.onRcpt(t, r, now)
	case PhaseData:
		return c.onData(t, r, now)
	case PhaseEOD:
		if c.esmtp.bdat {
			return c.onBDATLast(t, r, now)
		}
		return c.onEOD(t, r, now)
	case PhaseBDAT:
		return c.onBDATChunk(t, r, now)
	case PhaseXClient:
		return c.onXClient(t, r, now)
	case PhaseRset:
		return c.onRset(t, r, now)
	case PhaseQuit:
		c.state = stateDone // its code is ignored, as smtp-source does
		return StepDone
	case PhaseConnect, PhaseTLSHandshake, NumPhases: // the driver's: never a command's reply
	}
	return StepRead
}

// rejected applies smtp-source's rules to a negative reply: without -A the run stops;
// with -A it is a warning, and 421/521 end the session at once without QUIT.
func (c *Client) rejected(t *txn, what string, r *Reply) (Step, bool) {
	err := rejection(c.expect[c.head-1].phase, what, r)
	if !c.cfg.AllowReject {
		return c.fatalRejected(err), true
	}
	c.obs.Warning(err)
	if r.Code == 421 || r.Code == 521 {
		c.finish(&c.cur, Rejected, err)
		c.finish(&c.next, Rejected, err)
		c.discardUnsent()
		c.err = err
		c.state = stateDone
		return StepClose, true
	}
	return StepRead, false
}

// fatalRejected stops the run: the open messages were refused by the server.
func (c *Client) fatalRejected(err error) Step {
	c.finish(&c.cur, Rejected, err)
	c.finish(&c.next, Rejected, err)
	c.err = err
	c.state = stateDone
	return StepFatal
}

// fatal stops the run on a protocol error: the open messages failed.
func (c *Client) fatal(err error) Step {
	c.Fail(err)
	c.err = err
	return StepFatal
}

func (c *Client) finish(t *txn, o Outcome, err error) {
	if !t.open() {
		return
	}
	t.done = true
	c.obs.MessageDone(t.seq, o, err, c.reply)
}

// endRejected closes a transaction that a rejection ended: the outcome, then RSET.
func (c *Client) endRejected(t *txn, now int64) {
	c.finish(t, Rejected, t.rejected)
	c.sendRset(now)
}

func (c *Client) beginMessage(now int64) {
	t := &c.cur
	c.appendMail(now, t.seq)
	if c.pipelining {
		c.pipelineEnvelope(now, t)
	}
}

func (c *Client) appendMail(now, seq int64) {
	if c.esmtp.mailParams {
		c.appendMailParams(now, seq)
		return
	}
	start := len(c.out.B)
	c.out.B = c.cfg.Template.AppendMailCommand(c.out.B, seq)
	c.traceSent(c.out.B[start : len(c.out.B)-2])
	c.push(PhaseMail, now, seq)
}

// pipelineEnvelope sends every RCPT and DATA after MAIL in the same write (RFC 2920).
func (c *Client) pipelineEnvelope(now int64, t *txn) {
	for i := 0; i < c.cfg.Template.RecipientsOf(t.seq); i++ {
		c.appendRcpt(now, t, i)
	}
	c.sendDataCommand(now, t)
}

func (c *Client) sendRcpt(now int64, t *txn) {
	c.appendRcpt(now, t, t.rcptReplies)
}

func (c *Client) appendRcpt(now int64, t *txn, i int) {
	if c.esmtp.rcptParams {
		c.appendRcptParams(now, t, i)
		return
	}
	start := len(c.out.B)
	c.out.B = c.cfg.Template.AppendRcptCommand(c.out.B, t.seq, i)
	c.traceSent(c.out.B[start : len(c.out.B)-2])
	c.push(PhaseRcpt, now, t.seq)
}

func (c *Client) sendRset(now int64) {
	c.command(PhaseRset, now, 0, cmdRset)
}

// sendMessage answers 354: per-message headers into the buffer, then the shared body
// (which ends in ".\r\n"). With PIPELINING and -d, the next transaction's envelope rides
// in the same write as the dot.
func (c *Client) sendMessage(now int64, t *txn) {
	c.out.B, c.body, c.bodyLen = c.cfg.Template.AppendMessage(c.out.B, &c.pieces, t.seq, c.slot, now)
	c.bodyAt = len(c.out.B)
	c.traceSent(cmdDot)
	c.push(PhaseEOD, now, t.seq)
	if c.cfg.LMTP { // RFC 2033: one reply per accepted recipient
		for i := 1; i < t.rcptAccepted; i++ {
			c.push(PhaseEOD, now, t.seq)
		}
	}
	c.dotSeq = t.seq
	if c.pipelining && c.cfg.ReuseConnection && !c.cfg.PauseBetween && !c.next.open() {
		if seq, ok := c.cfg.Source.Claim(); ok {
			c.next = txn{seq: seq}
			c.appendMail(now, seq)
			c.pipelineEnvelope(now, &c.next)
		}
	}
}

// afterMessage decides, like smtp-source's dot_done/rset_done, between the next message
// on this connection, a pause and QUIT.
func (c *Client) afterMessage(now int64) Step {
	if c.next.seq != 0 && c.next.seq != c.cur.seq && c.cur.done {
		// The next transaction is already in flight (pipelined after the dot).
		c.cur, c.next = c.next, txn{}
		return StepRead
	}
	if !c.cur.done {
		return StepRead // an RSET inside a transaction still waiting for its outcome
	}
	if !c.cfg.ReuseConnection || c.cfg.Source.Exhausted() {
		c.sendQuit(now)
		return StepRead
	}
	if c.cfg.PauseBetween {
		c.state = stateIdle
		return StepPause
	}
	c.nextMessage(now)
	return StepRead
}

func (c *Client) nextMessage(now int64) {
	seq, ok := c.cfg.Source.Claim()
	if !ok {
		c.outOfMsgs = true
		c.sendQuit(now)
		return
	}
	c.cur = txn{seq: seq}
	c.beginMessage(now)
}

func (c *Client) sendQuit(now int64) {
	c.command(PhaseQuit, now, 0, cmdQuit)
	c.state = stateQuitting
}

func traceReply(obs Observer, r *Reply) {
	rest := r.Raw
	for len(rest) > 0 {
		i := 0
		for rest[i] != '\n' {
			i++
		}
		line := rest[:i]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		obs.Trace(line, true)
		rest = rest[i+1:]
	}
}

// ReplyError is a negative reply that ended a step, with smtp-source's wording
// ("sender rejected: 550 5.1.0 text").
type ReplyError struct {
	Phase    Phase  // the step the reply answered; for a 421 that answered none, the step the session was at
	Between  bool   // a 421 that answered no command, with none about to be sent: the session was idle
	What     string // "sender rejected", "rejected at server banner", …
	Code     int
	Enhanced string
	Text     string // the lines' texts joined with "\n"
}

// SessionLevel is the phase field of an error key for what happened between commands,
// when no reply was owed, or with no phase at all.
const SessionLevel = "session"

// Where names the step for the error key: the phase, or SessionLevel.
func (e *ReplyError) Where() string {
	if e.Between {
		return SessionLevel
	}
	return e.Phase.String()
}

// ProtocolError is what a server did against the protocol: a malformed or over-long
// reply, a reply to no command, an AUTH challenge the mechanism has no answer for. It
// ends the session and the run, with or without -A.
type ProtocolError struct {
	Phase   Phase  // the step the session was at: the oldest command whose reply is owed, sent or about to be
	Between bool   // there was none: the session was idle
	Reason  string // one word for the error key: malformed, too_long, unexpected_reply, bad_challenge
	Err     error
}

func (e *ProtocolError) Error() string { return e.Err.Error() }

func (e *ProtocolError) Unwrap() error { return e.Err }

// Where names the step for the error key: the phase, or SessionLevel.
func (e *ProtocolError) Where() string {
	if e.Between {
		return SessionLevel
	}
	return e.Phase.String()
}

// firstLine is p up to its first line end.
func firstLine(p []byte) []byte {
	if i := bytes.IndexAny(p, "\r\n"); i >= 0 {
		return p[:i]
	}
	return p
}

func (e *ReplyError) Error() string {
	return e.What + ": " + strconv.Itoa(e.Code) + " " + printable([]byte(e.Text), MaxReplyLine)
}

func rejection(p Phase, what string, r *Reply) *ReplyError {
	return &ReplyError{Phase: p, What: what, Code: r.Code, Enhanced: string(r.Enhanced), Text: r.Text()}
}

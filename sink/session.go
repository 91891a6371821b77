package sink

import (
	"bytes"
	"time"
)

// Action tells the driver what to do after Feed.
type Action uint8

const (
	// ActionContinue: write the replies, then wait for more input.
	ActionContinue Action = iota
	// ActionDelay: write the replies, wait Result.Delay, then call Feed again with the
	// unconsumed input (an injected delay, -H after the 354, or the pause before an -A
	// abort).
	ActionDelay
	// ActionClose: write the replies, then close the connection.
	ActionClose
	// ActionStartTLS: the replies end with STARTTLS's 220; the driver refuses the
	// connection if the client sent anything after the STARTTLS line (the 220 is then
	// replaced), else writes them and starts the TLS handshake. The session already
	// counts as encrypted; input after the handshake is plaintext from TLS.
	ActionStartTLS
)

// Result is the outcome of one Feed.
type Result struct {
	Consumed int           // input bytes used; the rest must be passed to the next Feed
	Action   Action        // what to do next
	Delay    time.Duration // with ActionDelay
}

// phase is where the session is in the dialogue.
type phase uint8

const (
	phaseGreeting      phase = iota // nothing sent yet
	phaseCommand                    // reading command lines
	phaseData                       // reading DATA content up to CRLF.CRLF
	phaseBDAT                       // reading an accepted BDAT chunk
	phaseBDATSkip                   // reading and discarding a rejected BDAT chunk
	phaseAuthPlain                  // waiting for the PLAIN response
	phaseAuthLoginUser              // waiting for the LOGIN user name
	phaseAuthLoginPass              // waiting for the LOGIN password
	phaseAuthCRAM                   // waiting for the CRAM-MD5 response
	phaseAborting                   // -A: 354 sent, the 550 and the close are due
	phaseClosed                     // the session is over; input is ignored
	phaseProxy                      // --proxy-protocol: reading the PROXY header, before the banner (proxy.go)
)

// proto is what the client greeted with; it names the protocol in dumps.
type proto uint8

const (
	protoNone proto = iota
	protoSMTP
	protoESMTP
	protoLMTP
)

func (p proto) String() string {
	switch p {
	case protoESMTP:
		return "ESMTP"
	case protoLMTP:
		return "LMTP"
	}
	return "SMTP"
}

// txnState is how far the mail transaction has got.
type txnState uint8

const (
	txnNone txnState = iota // no MAIL yet
	txnMail                 // MAIL accepted
	txnRcpt                 // at least one RCPT accepted
	txnBDAT                 // at least one BDAT chunk received
)

// maxOutPerFeed bounds the replies one Feed produces before handing back to the
// driver, so a flood of tiny commands cannot make a huge reply buffer in one go.
const maxOutPerFeed = 64 << 10

// partialLine is how much of a message line without its line end is taken at once;
// shorter fragments stay with the driver until more input arrives.
const partialLine = 4096

// Session is the server side of one SMTP/LMTP connection, without I/O: Feed takes the
// client's bytes and appends the replies. The Server makes one per connection.
type Session struct {
	env        *env
	clientAddr string // "127.0.0.1", "ipv6:::1", "local": dump format

	phase       phase
	proto       proto
	txn         txnState
	delayServed bool // the delay for the command at the head of the input has been waited
	discarding  bool // inside an over-long command line
	authed      bool
	tls         bool // encrypted: implicit TLS, or STARTTLS accepted
	helo        bool
	heloArgs    []byte // kept only when dumping
	authUser    []byte
	challenge   []byte // the CRAM-MD5 challenge sent
	rcpts       int

	// message content state
	midLine      bool // the last content byte taken was not the end of a line
	inHeaders    bool
	msgBytes     int64
	bdatLeft     int64
	bdatSize     int64
	bdatLast     bool
	chunkCounted bool
	id           [8]byte
	hdrLine      []byte // header line being assembled for --unique-header
	uniqueValue  []byte
	uniqueFound  bool
	rec          *spool // the dump record being built
	traceValue   []byte // the --trace header's value
	traceFound   bool

	// pushback state
	mails     int     // MAIL commands accepted on this connection (--max-per-connection)
	overLimit bool    // the 452 for --max-per-connection has been given
	connTAT   []int64 // per-connection rate limits' buckets
	sender    []byte  // MAIL's address, for the greylist
	scratch   []byte

	out []byte // replies of the Feed in progress
}

func newSession(e *env, clientAddr string) *Session {
	s := &Session{env: e, clientAddr: clientAddr, tls: e.cfg.TLS != nil && e.cfg.ImplicitTLS}
	if e.cfg.LMTP {
		s.proto = protoLMTP // even before LHLO, as smtp-sink's dumps show
	}
	if e.cfg.ProxyProtocol {
		s.phase = phaseProxy
	}
	return s
}

// InData reports whether the session is inside message content (DATA or BDAT), so a
// disconnect now loses a message.
func (s *Session) InData() bool {
	return s.phase == phaseData || s.phase == phaseBDAT || s.phase == phaseBDATSkip
}

// Feed processes as much of in as it can, appending replies to out.
func (s *Session) Feed(in, out []byte) (Result, []byte) {
	s.out = out
	res := Result{}
	for len(s.out) < maxOutPerFeed {
		before, discarding := s.phase, s.discarding
		n, act, d := s.step(in[res.Consumed:])
		res.Consumed += n
		if act != ActionContinue {
			res.Action, res.Delay = act, d
			break
		}
		if n == 0 && s.phase == before && s.discarding == discarding {
			break // needs more input
		}
	}
	out, s.out = s.out, nil
	return res, out
}

// Close releases what the session holds; the stats learn about a lost message.
func (s *Session) Close() {
	if s.InData() {
		s.env.stats.midDataAborts.Add(1)
		s.env.stats.bytes.Add(s.msgBytes)
	}
	s.resetTxn()
	s.phase = phaseClosed
}

func (s *Session) step(in []byte) (int, Action, time.Duration) {
	switch s.phase {
	case phaseProxy:
		return s.stepProxy(in)
	case phaseGreeting:
		return s.greet()
	case phaseCommand, phaseAuthPlain, phaseAuthLoginUser, phaseAuthLoginPass, phaseAuthCRAM:
		return s.stepCommand(in)
	case phaseData:
		return s.stepData(in)
	case phaseBDAT, phaseBDATSkip:
		return s.stepBDAT(in)
	case phaseAborting:
		s.reply(replyAbort)
		s.env.stats.rejected.Add(1)
		s.resetTxn()
		s.phase = phaseClosed
		return 0, ActionClose, 0
	case phaseClosed:
		return len(in), ActionClose, 0
	}
	panic("sink: unknown session phase")
}

func (s *Session) reply(r string) { s.out = append(s.out, r...) }

// gate draws the injected delay for a command once: the first call may return a delay
// (the command is then left unconsumed), the call after the wait returns zero.
func (s *Session) gate(v Verb) time.Duration {
	if s.delayServed {
		s.delayServed = false
		return 0
	}
	d := s.env.cfg.Delays[v].roll(s.env.random)
	if d > 0 {
		s.env.stats.delays.Add(1)
	}
	if tp := s.env.push.tarpit; tp.PerSession > 0 {
		if td := tp.delay(s.env.stats.sessionsActive.Load()); td > 0 {
			s.env.stats.tarpitDelays.Add(1)
			s.env.stats.tarpitDelayNs.Add(int64(td))
			d += td
		}
	}
	s.delayServed = d > 0
	return d
}

// fault applies an injected fault for v; done is true when the command must not be
// processed further.
func (s *Session) fault(v Verb) (done bool, act Action) {
	switch s.env.cfg.Faults[v] {
	case FaultNone:
		return false, ActionContinue
	case FaultHardReject:
		s.reply(s.env.cfg.HardReply)
		s.reply("\r\n")
	case FaultSoftReject:
		s.reply(s.env.cfg.SoftReply)
		s.reply("\r\n")
	case FaultDisconnect:
		s.phase = phaseClosed
		act = ActionClose
	case FaultClose421:
		s.reply(replyClosing)
		s.phase = phaseClosed
		act = ActionClose
	}
	s.env.stats.faults.Add(1)
	return true, act
}

func (s *Session) greet() (int, Action, time.Duration) {
	if d := s.gate(VerbConnect); d > 0 {
		return 0, ActionDelay, d
	}
	s.phase = phaseCommand
	if done, act := s.fault(VerbConnect); done {
		return 0, act, 0 // a reject fault replaces the banner; the session carries on
	}
	if refused, act := s.rejectCommand(VerbConnect); refused {
		return 0, act, 0 // likewise, unless the reply is a 421
	}
	s.out = append(s.out, s.env.banner...)
	return 0, ActionContinue, 0
}

// stepCommand handles one command line (or SASL response line).
func (s *Session) stepCommand(in []byte) (int, Action, time.Duration) {
	i := bytes.Index(in, crlf)
	if i < 0 {
		if !s.discarding && len(in) < maxAuthLine {
			return 0, ActionContinue, 0
		}
		// An over-long line: drop what we have (keeping a CR that may start the CRLF) and
		// answer once its end arrives.
		keep := 0
		if len(in) > 0 && in[len(in)-1] == '\r' {
			keep = 1
		}
		s.discarding = true
		return len(in) - keep, ActionContinue, 0
	}
	line, n := in[:i], i+2
	if s.env.cfg.Trace != nil {
		s.env.cfg.Trace(string(appendPrintable(nil, line)))
	}
	limit := s.env.cfg.MaxCommandLine
	if s.phase != phaseCommand || hasPrefixFold(line, "auth ") {
		limit = maxAuthLine
	}
	if s.discarding || n > limit {
		s.discarding = false
		s.phase = phaseCommand
		s.env.stats.longLines.Add(1)
		s.reply(replyLineTooLong)
		return n, ActionContinue, 0
	}
	if s.phase != phaseCommand {
		s.authResponse(line)
		return n, ActionContinue, 0
	}
	cmd := ParseCommand(line)
	switch {
	case cmd.HasNUL:
		s.env.stats.nulCommands.Add(1)
		s.reply(replyNUL)
		return n, ActionContinue, 0
	case cmd.Blank:
		s.env.stats.unknownCommands.Add(1)
		s.reply(replyBlank)
		return n, ActionContinue, 0
	case cmd.Verb == VerbUnknown || !s.enabled(cmd.Verb):
		s.env.stats.unknownCommands.Add(1)
		s.reply(replyUnknown)
		return n, ActionContinue, 0
	}
	if s.env.cfg.RequireTLS && !s.tls && needsTLS(cmd.Verb) {
		s.env.stats.tlsRequired.Add(1)
		s.reply(replyTLSRequired)
		return n, ActionContinue, 0
	}
	if d := s.gate(cmd.Verb); d > 0 {
		return 0, ActionDelay, d
	}
	if done, act := s.fault(cmd.Verb); done {
		return n, act, 0
	}
	if !checksState(cmd.Verb) {
		if refused, act := s.rejectCommand(cmd.Verb); refused {
			return n, act, 0
		}
	}
	act := s.command(cmd)
	if act == ActionDelay { // after the 354: -A's wait before the abort, or -H's before the first read
		d := s.env.cfg.DataReadDelay
		if s.phase == phaseAborting {
			d = s.env.cfg.AbortDelay
		}
		return n, act, d
	}
	return n, act, 0
}

var crlf = []byte("\r\n")

// checksState says which commands apply pushback only once their own checks (sequence,
// size) pass, the way a real server reports a sequence error before a policy refusal.
func checksState(v Verb) bool {
	return v == VerbMAIL || v == VerbRCPT || v == VerbDATA
}

// enabled says whether a verb exists in this configuration.
func (s *Session) enabled(v Verb) bool {
	c := &s.env.cfg
	switch v {
	case VerbHELO:
		return !c.LMTP
	case VerbEHLO:
		return !c.LMTP && !c.DisableESMTP
	case VerbLHLO:
		return c.LMTP
	case VerbXCLIENT:
		return !c.DisableXCLIENT
	case VerbXFORWARD:
		return !c.DisableXFORWARD
	case VerbBDAT:
		return !c.DisableChunking
	case VerbSTARTTLS:
		return c.TLS != nil && !c.ImplicitTLS
	case VerbUnknown, VerbConnect, VerbDot:
		return false
	}
	return true
}

// needsTLS says which commands --tls-require refuses before STARTTLS: all but the
// greetings, STARTTLS itself, NOOP, RSET and QUIT.
func needsTLS(v Verb) bool {
	switch v {
	case VerbHELO, VerbEHLO, VerbLHLO, VerbSTARTTLS, VerbNOOP, VerbRSET, VerbQUIT:
		return false
	}
	return true
}

// ehloReply is the capability list for this session: STARTTLS only while it can be used.
func (s *Session) ehloReply() []byte {
	if s.env.cfg.TLS != nil && !s.tls && !s.env.cfg.ImplicitTLS {
		return s.env.ehloStartTLS
	}
	return s.env.ehlo
}

// startTLS answers STARTTLS (RFC 3207). On success the session forgets the greeting,
// the transaction and any authentication, as the RFC asks, and counts as encrypted.
func (s *Session) startTLS(args []byte) Action {
	switch {
	case s.tls:
		s.env.stats.badSequence.Add(1)
		s.reply(replyTLSActive)
		return ActionContinue
	case len(bytes.TrimRight(args, " \t")) > 0:
		s.reply(replyStartTLSSyntax)
		return ActionContinue
	}
	s.resetTxn()
	s.helo, s.authed, s.tls = false, false, true
	s.env.stats.startTLS.Add(1)
	s.reply(replyStartTLS)
	return ActionStartTLS
}

// command runs one accepted command.
func (s *Session) command(cmd Command) Action {
	switch cmd.Verb {
	case VerbHELO:
		s.greeted(protoSMTP, cmd.Args)
		s.reply(replyHELOPrefix)
		s.reply(s.env.cfg.Hostname)
		s.reply("\r\n")
	case VerbEHLO:
		s.greeted(protoESMTP, cmd.Args)
		s.out = append(s.out, s.ehloReply()...)
	case VerbLHLO:
		s.greeted(protoLMTP, cmd.Args)
		s.out = append(s.out, s.ehloReply()...)
	case VerbMAIL:
		return s.mail(cmd.Args)
	case VerbRCPT:
		return s.rcpt(cmd.Args)
	case VerbDATA:
		return s.data()
	case VerbBDAT:
		s.bdat(cmd.Args)
	case VerbRSET:
		s.resetTxn()
		s.reply(replyRsetOK)
	case VerbXCLIENT:
		s.env.stats.esmtp.xclient.Add(1)
		s.reply(replyOK)
	case VerbNOOP, VerbVRFY, VerbXFORWARD:
		s.reply(replyOK)
	case VerbAUTH:
		s.auth(cmd.Args)
	case VerbSTARTTLS:
		return s.startTLS(cmd.Args)
	case VerbQUIT:
		s.env.stats.quits.Add(1)
		s.reply(replyBye)
		s.phase = phaseClosed
		return ActionClose
	default:
		s.env.stats.unknownCommands.Add(1)
		s.reply(replyUnknown)
	}
	return ActionContinue
}

// greeted records HELO/EHLO/LHLO: it resets the transaction and sets the protocol.
func (s *Session) greeted(p proto, args []byte) {
	s.resetTxn()
	if s.env.cfg.LMTP {
		p = protoLMTP
	}
	s.proto, s.helo = p, true
	if s.env.dump != nil {
		s.heloArgs = append(s.heloArgs[:0], args...)
	}
}

func (s *Session) mail(args []byte) Action {
	if s.txn != txnNone {
		s.env.stats.badSequence.Add(1)
		s.reply(replyNestedMail)
		return ActionContinue
	}
	if limit := s.env.cfg.MaxMessageSize; limit > 0 {
		if size, ok := sizeParam(args); ok && size > limit {
			s.reply(replyTooBig)
			return ActionContinue
		}
	}
	if refused, act := s.pushMail(); refused {
		return act
	}
	s.mails++
	if s.env.push.greylist != nil {
		s.sender = mailPath(s.sender, args)
	}
	s.txn = txnMail
	s.env.stats.transactions.Add(1)
	s.env.stats.esmtp.countMail(args)
	if s.env.dump != nil {
		s.startRecord(pathArgs(args))
	}
	s.reply(replyMailOK)
	return ActionContinue
}

func (s *Session) rcpt(args []byte) Action {
	switch s.txn {
	case txnNone:
		s.env.stats.badSequence.Add(1)
		s.reply(replyNeedMail)
		return ActionContinue
	case txnBDAT:
		s.env.stats.badSequence.Add(1)
		s.reply(replyRcptAfterBDAT)
		return ActionContinue
	}
	if refused, act := s.pushRcpt(args); refused {
		return act
	}
	s.txn = txnRcpt
	s.rcpts++
	s.env.stats.recipients.Add(1)
	s.env.stats.esmtp.countRcpt(args)
	if s.rec != nil {
		s.rec.writeString("X-Rcpt-Args: ")
		s.rec.writePrintable(pathArgs(args))
		s.rec.writeString("\n")
	}
	s.reply(replyRcptOK)
	return ActionContinue
}

func (s *Session) data() Action {
	switch s.txn {
	case txnBDAT:
		s.env.stats.badSequence.Add(1)
		s.reply(replyDataAfterBDAT)
		return ActionContinue
	case txnNone, txnMail:
		s.env.stats.badSequence.Add(1)
		s.reply(replyNeedRcpt)
		return ActionContinue
	}
	if refused, act := s.rejectCommand(VerbDATA); refused {
		return act
	}
	s.reply(replyDataGo)
	if s.env.cfg.AbortAfterData {
		s.phase = phaseAborting
		if s.env.cfg.AbortDelay > 0 {
			return ActionDelay // Feed turns this into Result.Delay below
		}
		return ActionContinue
	}
	s.startMessage()
	s.phase = phaseData
	if s.env.cfg.DataReadDelay > 0 {
		s.env.stats.delays.Add(1)
		return ActionDelay
	}
	return ActionContinue
}

// startMessage begins the content of the current transaction.
func (s *Session) startMessage() {
	s.env.ids.next(&s.id)
	s.midLine, s.inHeaders, s.msgBytes = false, s.env.stats.unique != nil || s.env.trace != nil, 0
	s.uniqueFound, s.traceFound = false, false
	s.uniqueValue = s.uniqueValue[:0]
	s.hdrLine = s.hdrLine[:0]
	if s.rec != nil {
		s.writeReceived()
	}
}

// resetTxn forgets the transaction (RSET, HELO, end of message).
func (s *Session) resetTxn() {
	s.txn, s.rcpts = txnNone, 0
	s.bdatLeft, s.bdatLast = 0, false
	if s.rec != nil {
		s.rec.release()
		s.rec = nil
	}
}

// endOfMessage completes the transaction after "." or BDAT LAST.
func (s *Session) endOfMessage() Action {
	st := s.env.stats
	st.bytes.Add(s.msgBytes)
	s.msgBytes = 0
	s.phase = phaseCommand
	if done, act := s.fault(VerbDot); done {
		st.rejected.Add(1)
		s.resetTxn()
		return act
	}
	site, rule, refused := s.drawReject(VerbDot)
	if refused && !rule.Delivered {
		st.rejected.Add(1)
		return s.refuseMessage(site)
	}
	s.deliver()
	if refused { // taken, and refused all the same: the client will send it again
		st.refusedAfterDelivery.Add(1)
		return s.refuseMessage(site)
	}
	prefix, n := replyQueuedPrefix, 1
	if s.proto == protoLMTP {
		prefix, n = replyLMTPPrefix, s.rcpts
	}
	for i := 0; i < n; i++ {
		s.reply(prefix)
		s.out = append(s.out, s.id[:]...)
		s.reply("\r\n")
	}
	s.resetTxn()
	return ActionContinue
}

// refuseMessage refuses the end of data with site's reply: once, or in LMTP once per
// recipient (each counted, as the client counts each).
func (s *Session) refuseMessage(site *refusalSite) Action {
	n := 1
	if s.proto == protoLMTP {
		n = max(s.rcpts, 1)
	}
	act := ActionContinue
	for i := 0; i < n; i++ {
		act = s.refuse(site)
	}
	s.resetTxn()
	return act
}

// deliver accounts an accepted message: counters, --unique-header, the dump, --trace.
func (s *Session) deliver() {
	st := s.env.stats
	st.accepted.Add(1)
	if st.unique != nil {
		st.unique.add(s.uniqueValue, s.uniqueFound)
	}
	if s.env.trace != nil {
		s.env.trace.record(s.traceValue, s.traceFound)
	}
	if s.rec != nil {
		s.rec.writeString("\n")
		if err := s.env.dump.write(s.rec, s.id[:]); err != nil {
			st.dumpErrors.Add(1)
		}
	}
}

// pathArgs is what smtp-sink's dumps show of MAIL and RCPT arguments: everything after
// the first colon ("FROM:", "TO:") without the blanks that follow it; nothing when there
// is no colon.
func pathArgs(args []byte) []byte {
	i := bytes.IndexByte(args, ':')
	if i < 0 {
		return nil
	}
	args = args[i+1:]
	for len(args) > 0 && isBlank(args[0]) {
		args = args[1:]
	}
	return args
}

// hasPrefixFold reports whether b starts with the lower-case ASCII prefix, ignoring case.
func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && equalFoldASCII(b[:len(prefix)], prefix)
}

// sizeParam finds MAIL's SIZE=n parameter.
func sizeParam(args []byte) (int64, bool) {
	for _, f := range bytes.Fields(args) {
		if hasPrefixFold(f, "size=") {
			var n int64
			for _, c := range f[5:] {
				if c < '0' || c > '9' || n > 1<<50 {
					return 0, false
				}
				n = n*10 + int64(c-'0')
			}
			return n, true
		}
	}
	return 0, false
}

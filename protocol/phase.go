package protocol

// Phase is one timed step of an SMTP session. Each ends with the server's reply; the
// machine reports it with the int64 nanosecond times the caller passed in.
type Phase uint8

const (
	PhaseConnect      Phase = iota // dial start → connected (reported by the engine)
	PhaseBanner                    // connected → 220 greeting
	PhaseHelo                      // HELO/EHLO/LHLO → reply
	PhaseMail                      // MAIL FROM → reply
	PhaseRcpt                      // each RCPT TO → its reply
	PhaseData                      // DATA → 354
	PhaseEOD                       // final "." written → its reply (with LMTP, each recipient's)
	PhaseRset                      // RSET → reply
	PhaseQuit                      // QUIT → 221
	PhaseStartTLS                  // STARTTLS → 220
	PhaseTLSHandshake              // TLS handshake start → done (reported by the engine)
	PhaseEhloTLS                   // EHLO/LHLO again after the TLS handshake → reply
	PhaseAuth                      // AUTH → its final reply (the 334 challenges in between included)
	PhaseBDAT                      // each BDAT chunk but the last → its reply (the last one's is PhaseEOD)
	PhaseXClient                   // XCLIENT → the server's new 220 greeting
	NumPhases
)

var phaseNames = [NumPhases]string{"connect", "banner", "helo", "mail", "rcpt", "data", "eod", "rset", "quit",
	"starttls", "tls_handshake", "ehlo_tls", "auth", "bdat", "xclient"}

func (p Phase) String() string {
	if p < NumPhases {
		return phaseNames[p]
	}
	return "phase?"
}

// Outcome is how one message ended.
type Outcome uint8

const (
	Accepted Outcome = iota // the server took responsibility for it (2xx after the dot)
	Rejected                // the server refused it with a 4xx/5xx reply
	Failed                  // the session broke first: lost connection, timeout, protocol error
)

func (o Outcome) String() string {
	switch o {
	case Accepted:
		return "accepted"
	case Rejected:
		return "rejected"
	default:
		return "failed"
	}
}

// Observer receives what a Client reports. The engine gives each session its own, so
// implementations need no locks when sessions of one event loop share one.
type Observer interface {
	// Phase reports one completed phase of message seq (0 for session-level steps: banner,
	// greeting, RSET, QUIT) with its start and end (ns since the run's epoch) and the reply
	// code that ended it.
	Phase(p Phase, seq, start, end int64, code int)
	// DotSent reports that the final "." of message seq was handed to the transport.
	DotSent(seq int64)
	// MessageDone reports the outcome of message seq; err is nil when it was accepted.
	// final is the reply that decided it (its end-of-data reply, with the queue id, when
	// accepted); nil when the session broke. It is valid only during the call.
	MessageDone(seq int64, o Outcome, err error, final *Reply)
	// Warning reports a rejection that -A turned into a warning.
	Warning(err error)
	// Trace reports one command line sent (fromServer false) or one reply line received,
	// without its line end. Only called when Config.Trace is set.
	Trace(line []byte, fromServer bool)
}

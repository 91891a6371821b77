// Package metrics records what a load run measures — per-phase latency histograms
// (HdrHistogram), counters and error classes — per event loop without locks, and turns
// them into reports: text, schema-versioned JSON that merges exactly, and HdrHistogram
// interval logs.
//
// Percentiles are never averaged: every combination of results (loops, intervals, files,
// cluster workers) merges histograms.
package metrics

// Phase is one measured quantity. The engine reports SMTP phases from the int64
// nanosecond boundaries the protocol machine delivers; whole units and open-model
// quantities are derived by the engine.
type Phase uint8

const (
	Connect      Phase = iota // connect() → established
	Banner                    // established → 220 greeting
	Helo                      // HELO/EHLO/LHLO → reply
	StartTLS                  // STARTTLS → 220
	TLSHandshake              // handshake start → done
	EhloTLS                   // EHLO after TLS → reply
	Auth                      // AUTH → final reply
	Mail                      // MAIL FROM → reply
	Rcpt                      // each RCPT TO → its reply
	Data                      // DATA → 354
	DataXfer                  // first body byte written → final "." written
	EOD                       // final "." → reply (LMTP: one per recipient)
	Rset                      // RSET → reply
	Quit                      // QUIT → 221
	Txn                       // MAIL sent → end-of-data reply
	Session                   // connect start → close
	ScheduleLag               // open model: intended start → picked up
	Latency                   // open model: intended start → end-of-data reply (corrected for coordinated omission)
	ServiceTime               // actual start → end-of-data reply (uncorrected)
	Delivery                  // end to end: sent (the trace header's time) → arrival at a sink behind the MTA
	BDAT                      // each BDAT chunk but the last → its reply (the last one's is EOD)
	XClient                   // XCLIENT → the server's new greeting
	NumPhases
)

var phaseNames = [NumPhases]string{
	"connect", "banner", "helo", "starttls", "tls_handshake", "ehlo_tls", "auth", "mail", "rcpt",
	"data", "data_xfer", "eod", "rset", "quit", "txn", "session", "schedule_lag", "latency", "service_time",
	"delivery", "bdat", "xclient",
}

// String is the phase's name in reports and JSON.
func (p Phase) String() string {
	if p < NumPhases {
		return phaseNames[p]
	}
	return "phase?"
}

// PhaseByName is the inverse of String.
func PhaseByName(name string) (Phase, bool) {
	for i, n := range phaseNames {
		if n == name {
			return Phase(i), true
		}
	}
	return 0, false
}

// Counter is one counted quantity.
type Counter uint8

const (
	SessionsOpened     Counter = iota // connections established
	SessionsFailed                    // connects that failed, and sessions a failure ended (not a rejection)
	MessagesAccepted                  // 2xx after the dot
	MessagesRejected                  // a 4xx/5xx ended the transaction
	MessagesFailed                    // the session broke first
	RecipientsAccepted                // 2xx to RCPT
	RecipientsRejected                // 4xx/5xx to RCPT
	BytesSent                         // message bytes handed to the transport (headers, body, dot)
	Dropped                           // open model: no session free within the slack; the message was not sent
	Late                              // open model: picked up later than the lateness bound
	MessagesCutOff                    // of MessagesFailed: cut off by the run's end (its --duration, an interrupt, an abort), not by the server

	// TLS (tls.go maps versions and cipher suites onto these).
	TLSHandshakes        // TLS handshakes completed
	TLSResumed           // of which resumed a session
	TLSVersion10         // handshakes that negotiated TLS 1.0
	TLSVersion11         // … TLS 1.1
	TLSVersion12         // … TLS 1.2
	TLSVersion13         // … TLS 1.3
	TLSCertificateFailed // handshakes that failed on the server's certificate
	TLSOtherCipher       // handshakes that negotiated a cipher suite crypto/tls does not know
	tlsCipherFirst       // tlsCipherFirst+i: handshakes that negotiated tlsCipherSuites[i] (tls.go; see TLSCipherCounter)

	// NumCounters is the number of counters: the per-suite ones are last.
	NumCounters = tlsCipherFirst + Counter(len(tlsCipherSuites))
)

// counterNames are the counters' names; the cipher suites' are "tls_cipher_" + the suite's
// IANA name. Computed once at init, never modified.
var counterNames = func() [NumCounters]string {
	names := [NumCounters]string{
		"sessions_opened", "sessions_failed", "messages_accepted", "messages_rejected", "messages_failed",
		"recipients_accepted", "recipients_rejected", "bytes_sent", "dropped", "late", "messages_cut_off",
		"tls_handshakes", "tls_resumed", "tls_version_1_0", "tls_version_1_1", "tls_version_1_2", "tls_version_1_3",
		"tls_certificate_failed", tlsCipherPrefix + "other",
	}
	for i, cs := range tlsCipherSuites {
		names[tlsCipherFirst+Counter(i)] = tlsCipherPrefix + cs.name
	}
	return names
}()

// String is the counter's name in reports and JSON.
func (c Counter) String() string {
	if c < NumCounters {
		return counterNames[c]
	}
	return "counter?"
}

// CounterByName is the inverse of Counter.String.
func CounterByName(name string) (Counter, bool) {
	for c := Counter(0); c < NumCounters; c++ {
		if counterNames[c] == name {
			return c, true
		}
	}
	return 0, false
}

package sink

import (
	"encoding/json"
	"sync/atomic"
)

// Stats are the sink's counters. Event loops update them with atomic adds; Snapshot reads
// them from any goroutine.
type Stats struct {
	sessions         atomic.Int64 // connections accepted
	sessionsActive   atomic.Int64
	sessionsPeak     atomic.Int64
	sessionsDone     atomic.Int64 // connections closed
	parked           atomic.Int64 // connections that waited for a -m slot
	quits            atomic.Int64
	transactions     atomic.Int64 // MAIL commands accepted
	recipients       atomic.Int64 // RCPT commands accepted
	bytes            atomic.Int64 // message content bytes of accepted and rejected messages
	accepted         atomic.Int64 // messages accepted (queued)
	rejected         atomic.Int64 // messages whose end of data was rejected or aborted
	bdatChunks       atomic.Int64
	authOK           atomic.Int64
	authFailed       atomic.Int64
	unknownCommands  atomic.Int64
	badSequence      atomic.Int64 // 503 replies
	longLines        atomic.Int64
	nulCommands      atomic.Int64
	timeouts         atomic.Int64
	midDataAborts    atomic.Int64 // connections lost inside DATA or BDAT
	floodDisconnects atomic.Int64 // clients closed for unread replies or pending input
	faults           atomic.Int64 // injected faults applied
	delays           atomic.Int64 // injected delays applied
	dumpErrors       atomic.Int64

	startTLS       atomic.Int64 // STARTTLS commands accepted
	tlsRequired    atomic.Int64 // commands refused with 530 before STARTTLS (--tls-require)
	tlsInjections  atomic.Int64 // connections refused for input pipelined after STARTTLS
	tlsHandshakes  atomic.Int64 // TLS handshakes completed
	tlsFailed      atomic.Int64 // TLS handshakes that failed, timed out or were cut short
	tlsResumed     atomic.Int64 // completed handshakes that resumed a session
	tls12          atomic.Int64
	tls13          atomic.Int64
	tlsClientCerts atomic.Int64 // completed handshakes with a verified client certificate

	tarpitDelays         atomic.Int64 // replies the tarpit held back
	tarpitDelayNs        atomic.Int64 // their delays, summed
	refusedAfterDelivery atomic.Int64 // messages taken, then refused (--reject .=…:delivered)

	esmtp esmtpCounters // ESMTP parameters and XCLIENT (esmtp_stats.go)

	unique *uniqueCounter
	// Set once by the env before any session: pushback, greylist, trace and the seed.
	push  *pushback
	trace *tracer
	seed  uint64
}

// attach gives the stats the parts of the env they report on.
func (s *Stats) attach(e *env) {
	s.push, s.trace, s.seed = e.push, e.trace, e.seed
}

func newStats(uniqueHeader string) *Stats {
	s := &Stats{}
	if uniqueHeader != "" {
		s.unique = &uniqueCounter{header: uniqueHeader, lower: lowerASCII(uniqueHeader), seen: make(map[string]struct{})}
	}
	return s
}

func (s *Stats) sessionOpened() {
	s.sessions.Add(1)
	n := s.sessionsActive.Add(1)
	for {
		peak := s.sessionsPeak.Load()
		if n <= peak || s.sessionsPeak.CompareAndSwap(peak, n) {
			return
		}
	}
}

// Snapshot is a copy of the counters, in the JSON shape written by --stats.
type Snapshot struct {
	Sessions             int64         `json:"sessions"`
	SessionsActive       int64         `json:"sessions_active"`
	SessionsPeak         int64         `json:"sessions_peak"`
	SessionsClosed       int64         `json:"sessions_closed"`
	SessionsParked       int64         `json:"sessions_parked"`
	Quits                int64         `json:"quits"`
	Transactions         int64         `json:"transactions"`
	Recipients           int64         `json:"recipients"`
	Bytes                int64         `json:"bytes"`
	MessagesAccepted     int64         `json:"messages_accepted"`
	MessagesRejected     int64         `json:"messages_rejected"`
	BDATChunks           int64         `json:"bdat_chunks"`
	AuthSucceeded        int64         `json:"auth_succeeded"`
	AuthFailed           int64         `json:"auth_failed"`
	UnknownCommands      int64         `json:"unknown_commands"`
	BadSequence          int64         `json:"bad_sequence"`
	LongLines            int64         `json:"long_lines"`
	NULCommands          int64         `json:"nul_commands"`
	Timeouts             int64         `json:"timeouts"`
	MidDataDisconnects   int64         `json:"mid_data_disconnects"`
	FloodDisconnects     int64         `json:"flood_disconnects"`
	FaultsInjected       int64         `json:"faults_injected"`
	DelaysInjected       int64         `json:"delays_injected"`
	DumpErrors           int64         `json:"dump_errors"`
	StartTLS             int64         `json:"starttls"`
	TLSRequiredRefusals  int64         `json:"tls_required_refusals"`
	TLSInjections        int64         `json:"tls_injections"`
	TLSHandshakes        int64         `json:"tls_handshakes"`
	TLSHandshakeFailures int64         `json:"tls_handshake_failures"`
	TLSResumed           int64         `json:"tls_resumed"`
	TLS12                int64         `json:"tls_version_1_2"`
	TLS13                int64         `json:"tls_version_1_3"`
	TLSClientCerts       int64         `json:"tls_client_certificates"`
	Unique               *UniqueCounts `json:"unique_header,omitempty"`
	ESMTP                ESMTPCounts   `json:"esmtp"`

	// Seed is the seed of the random draws (--seed, or the one picked at random).
	Seed uint64 `json:"seed"`
	// Refusals counts each injected refusal by kind (reject, greylist, rate_limit,
	// max_per_connection) and by the error key go-smtp-source files the reply under
	// ("rcpt:perm:550:5.3.0"); RefusalsByKey adds the kinds up. Absent without pushback.
	Refusals             map[string]map[string]int64 `json:"refusals,omitempty"`
	RefusalsByKey        map[string]int64            `json:"refusals_by_key,omitempty"`
	RefusedAfterDelivery int64                       `json:"messages_refused_after_delivery"`
	Greylist             *GreylistCounts             `json:"greylist,omitempty"`
	TarpitDelays         int64                       `json:"tarpit_delays"`
	TarpitDelayNs        int64                       `json:"tarpit_delay_ns"`
	Trace                *TraceCounts                `json:"trace,omitempty"`
}

// TraceCounts is --trace's summary in the stats; /trace and --trace-file have the detail.
type TraceCounts struct {
	Header        string `json:"header"`
	Runs          int64  `json:"runs"`
	Seen          int64  `json:"seen"`       // distinct (run, seq) delivered
	Duplicates    int64  `json:"duplicates"` // deliveries of a (run, seq) seen before
	WithoutHeader int64  `json:"without_header"`
	Malformed     int64  `json:"malformed"`
	OutOfRange    int64  `json:"out_of_range"`
	RunsOverLimit int64  `json:"runs_over_limit"`
}

// UniqueCounts says how many distinct values of one header were seen.
type UniqueCounts struct {
	Header     string `json:"header"`
	Distinct   int64  `json:"distinct"`
	Duplicates int64  `json:"duplicates"` // messages whose value had been seen before
	Missing    int64  `json:"missing"`    // accepted messages without the header
}

// Snapshot copies the counters.
func (s *Stats) Snapshot() Snapshot {
	snap := Snapshot{
		Sessions:             s.sessions.Load(),
		SessionsActive:       s.sessionsActive.Load(),
		SessionsPeak:         s.sessionsPeak.Load(),
		SessionsClosed:       s.sessionsDone.Load(),
		SessionsParked:       s.parked.Load(),
		Quits:                s.quits.Load(),
		Transactions:         s.transactions.Load(),
		Recipients:           s.recipients.Load(),
		Bytes:                s.bytes.Load(),
		MessagesAccepted:     s.accepted.Load(),
		MessagesRejected:     s.rejected.Load(),
		BDATChunks:           s.bdatChunks.Load(),
		ESMTP:                s.esmtp.snapshot(),
		AuthSucceeded:        s.authOK.Load(),
		AuthFailed:           s.authFailed.Load(),
		UnknownCommands:      s.unknownCommands.Load(),
		BadSequence:          s.badSequence.Load(),
		LongLines:            s.longLines.Load(),
		NULCommands:          s.nulCommands.Load(),
		Timeouts:             s.timeouts.Load(),
		MidDataDisconnects:   s.midDataAborts.Load(),
		FloodDisconnects:     s.floodDisconnects.Load(),
		FaultsInjected:       s.faults.Load(),
		DelaysInjected:       s.delays.Load(),
		DumpErrors:           s.dumpErrors.Load(),
		StartTLS:             s.startTLS.Load(),
		TLSRequiredRefusals:  s.tlsRequired.Load(),
		TLSInjections:        s.tlsInjections.Load(),
		TLSHandshakes:        s.tlsHandshakes.Load(),
		TLSHandshakeFailures: s.tlsFailed.Load(),
		TLSResumed:           s.tlsResumed.Load(),
		TLS12:                s.tls12.Load(),
		TLS13:                s.tls13.Load(),
		TLSClientCerts:       s.tlsClientCerts.Load(),
	}
	if s.unique != nil {
		u := s.unique.counts()
		snap.Unique = &u
	}
	s.pushbackSnapshot(&snap)
	return snap
}

func (s *Stats) pushbackSnapshot(snap *Snapshot) {
	snap.Seed = s.seed
	snap.RefusedAfterDelivery = s.refusedAfterDelivery.Load()
	snap.TarpitDelays, snap.TarpitDelayNs = s.tarpitDelays.Load(), s.tarpitDelayNs.Load()
	if s.push != nil {
		snap.Refusals, snap.RefusalsByKey = s.push.sites.counts()
		if g := s.push.greylist; g != nil {
			c := g.counts()
			snap.Greylist = &c
		}
	}
	if s.trace != nil {
		c := s.trace.counts()
		snap.Trace = &c
	}
}

// JSON renders the snapshot as indented JSON with a final newline.
func (s Snapshot) JSON() []byte {
	b, _ := json.MarshalIndent(s, "", "  ") // a struct of integers cannot fail to encode
	return append(b, '\n')
}

package engine

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/protocol"
)

// metricPhase maps the protocol machine's phases onto the recorded ones.
var metricPhase = [protocol.NumPhases]metrics.Phase{
	protocol.PhaseConnect: metrics.Connect,
	protocol.PhaseBanner:  metrics.Banner,
	protocol.PhaseHelo:    metrics.Helo,
	protocol.PhaseMail:    metrics.Mail,
	protocol.PhaseRcpt:    metrics.Rcpt,
	protocol.PhaseData:    metrics.Data,
	protocol.PhaseEOD:     metrics.EOD,
	protocol.PhaseRset:    metrics.Rset,
	protocol.PhaseQuit:    metrics.Quit,

	protocol.PhaseStartTLS:     metrics.StartTLS,
	protocol.PhaseTLSHandshake: metrics.TLSHandshake,
	protocol.PhaseEhloTLS:      metrics.EhloTLS,
	protocol.PhaseAuth:         metrics.Auth,
	protocol.PhaseBDAT:         metrics.BDAT,
	protocol.PhaseXClient:      metrics.XClient,
}

// message is what a slot remembers about a message in flight; at most two are (the
// current one and, with PIPELINING, the next one sent after the dot).
type message struct {
	seq       int64
	intended  int64 // open model: when it was due (ns since epoch); closed model: = started
	started   int64 // when a session picked it up
	mailStart int64
	phases    [protocol.NumPhases]int64 // ns spent per phase, for --log-messages
	bytes     int64
}

func (s *slot) message(seq int64) *message {
	for i := range s.msgs {
		if s.msgs[i].seq == seq {
			return &s.msgs[i]
		}
	}
	return nil
}

// begin notes that the slot picked up message seq at now (due at intended).
func (s *slot) begin(seq, intended, now int64) {
	m := &s.msgs[0]
	if m.seq != 0 {
		m = &s.msgs[1]
	}
	*m = message{seq: seq, intended: intended, started: now}
	s.lastStart = now
}

// Phase records one phase; it is the protocol.Observer hook, on the event loop.
func (s *slot) Phase(p protocol.Phase, seq, start, end int64, code int) {
	d := end - start
	s.rec.Record(metricPhase[p], d)
	s.lastEnd = end
	if p == protocol.PhaseRcpt {
		if code >= 200 && code < 300 {
			s.rec.Add(metrics.RecipientsAccepted, 1)
		} else {
			s.rec.Add(metrics.RecipientsRejected, 1)
		}
	}
	if m := s.message(seq); m != nil && seq != 0 {
		m.phases[p] += d
		if p == protocol.PhaseMail {
			m.mailStart = start
		}
	}
}

func (s *slot) DotSent(seq int64) {
	s.dotSeq = seq
	s.r.cfg.Events.DotSent()
}

// MessageDone accounts for one message, exactly once.
func (s *slot) MessageDone(seq int64, o protocol.Outcome, err error, final *protocol.Reply) {
	end := s.lastEnd
	if final == nil {
		end = s.r.now()
	}
	s.count(o, err)
	key := ""
	if err != nil {
		key = s.recordError(err)
	}
	if final != nil {
		s.answeredAt(end)
	}
	if o == protocol.Accepted && s.r.accepted != nil {
		s.r.accepted.Add(uint64(seq))
	}
	m := s.message(seq)
	if m == nil {
		return
	}
	if final != nil {
		s.rec.Record(metrics.ServiceTime, end-m.started)
		if s.r.model.scheduled() {
			s.rec.Record(metrics.Latency, end-m.intended)
		}
		if m.mailStart != 0 {
			s.rec.Record(metrics.Txn, end-m.mailStart)
		}
	}
	if s.r.msgLog != nil {
		s.r.msgLog.write(s.logRow(m, o, err, final, end, key))
	}
	m.seq = 0
}

// count adds one outcome to the slot's accounting and the recorder's counters.
func (s *slot) count(o protocol.Outcome, err error) {
	switch o {
	case protocol.Accepted:
		s.accepted++
		s.rec.Add(metrics.MessagesAccepted, 1)
	case protocol.Rejected:
		s.rejected++
		s.rec.Add(metrics.MessagesRejected, 1)
	default:
		s.failed++
		s.rec.Add(metrics.MessagesFailed, 1)
		if isEndOfRun(err) {
			s.rec.Add(metrics.MessagesCutOff, 1)
		} else if s.failure == nil {
			s.failure = err // the session failed with it (sessions_failed)
		}
	}
	s.r.outcome(o != protocol.Accepted && !isEndOfRun(err))
}

// answeredAt notes a reply that ended a message (accepted or rejected) at end: the
// server is answering (the backoff starts over), and the sending window reaches this
// far, unless the run had stopped before.
func (s *slot) answeredAt(end int64) {
	s.failStreak = 0
	if stop := s.r.stoppedAt.Load(); stop != 0 && end > stop {
		return
	}
	s.lastAnswer = end
	s.answered++
}

// logRow is message m's --log-messages line: what happened to it, when it ended (end,
// ns since the epoch) and, when it was not accepted, in which phase (its error key's).
func (s *slot) logRow(m *message, o protocol.Outcome, err error, final *protocol.Reply, end int64, key string) logRow {
	row := logRow{m: m, o: o, err: err, final: final, end: end, conn: s.connNo}
	if i := strings.IndexByte(key, ':'); i > 0 {
		row.phase = key[:i]
	}
	row.msgID = s.pcfg.Template.AppendMessageID(s.idBuf[:0], m.seq, s.num)
	s.idBuf = row.msgID
	return row
}

// logUnconnected logs a message that failed before its connection was made.
func (s *slot) logUnconnected(err error) {
	m := s.message(s.seq)
	if s.r.msgLog == nil || m == nil || m.seq == 0 {
		return
	}
	row := logRow{m: m, o: protocol.Failed, err: err, end: s.r.now(), phase: metrics.Connect.String()}
	row.msgID = s.pcfg.Template.AppendMessageID(s.idBuf[:0], m.seq, s.num)
	s.idBuf = row.msgID
	s.r.msgLog.write(row)
}

func (s *slot) Warning(err error) { s.warn(err) }

func (s *slot) Trace(line []byte, fromServer bool) { s.r.cfg.Events.Trace(line, fromServer) }

// queueID finds the id in "250 2.0.0 Ok: queued as 4Xyz" (Postfix and most MTAs).
func queueID(r *protocol.Reply) []byte {
	if r == nil {
		return nil
	}
	i := bytes.Index(r.Raw, []byte("queued as "))
	if i < 0 {
		return nil
	}
	id := r.Raw[i+len("queued as "):]
	end := bytes.IndexAny(id, " \r\n;,")
	if end >= 0 {
		id = id[:end]
	}
	return id
}

// appendCSVField appends a field, quoted when it needs to be (RFC 4180).
func appendCSVField(dst []byte, f []byte) []byte {
	if bytes.ContainsAny(f, ",\"\r\n") {
		dst = append(dst, '"')
		dst = append(dst, bytes.ReplaceAll(f, []byte{'"'}, []byte{'"', '"'})...)
		return append(dst, '"')
	}
	return append(dst, f...)
}

func appendMicros(dst []byte, ns int64) []byte {
	return strconv.AppendFloat(dst, float64(ns)/1e3, 'f', 3, 64)
}

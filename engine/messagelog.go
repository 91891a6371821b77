package engine

import (
	"bufio"
	"io"
	"strconv"
	"sync"

	"github.com/go-smtp-source/go-smtp-source/protocol"
)

// messageLogHeader names the --log-messages CSV columns: times are Unix nanoseconds (to
// join with an MTA's logs), phases are microseconds spent in that phase by this message.
const messageLogHeader = "seq,intended_unix_ns,start_unix_ns,mail_us,rcpt_us,data_us,eod_us,outcome,code,enhanced,queue_id,bytes,error\n"

// messageLog writes one CSV line per message. Event loops share it: it is the only
// place a lock is taken per message, and only when the log was asked for.
type messageLog struct {
	mu    sync.Mutex
	w     *bufio.Writer
	epoch int64 // Unix ns of the run's epoch
	line  []byte
	err   error
}

func newMessageLog(w io.Writer, epochUnixNanos int64) *messageLog {
	l := &messageLog{w: bufio.NewWriterSize(w, 64<<10), epoch: epochUnixNanos}
	_, l.err = l.w.WriteString(messageLogHeader)
	return l
}

func (l *messageLog) write(m *message, o protocol.Outcome, err error, final *protocol.Reply) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return
	}
	b := l.line[:0]
	b = strconv.AppendInt(b, m.seq, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, l.epoch+m.intended, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, l.epoch+m.started, 10)
	for _, p := range []protocol.Phase{protocol.PhaseMail, protocol.PhaseRcpt, protocol.PhaseData, protocol.PhaseEOD} {
		b = append(b, ',')
		b = appendMicros(b, m.phases[p])
	}
	b = append(b, ',')
	b = append(b, o.String()...)
	b = append(b, ',')
	if final != nil {
		b = strconv.AppendInt(b, int64(final.Code), 10)
		b = append(b, ',')
		b = append(b, final.Enhanced...)
		b = append(b, ',')
		b = appendCSVField(b, queueID(final))
	} else {
		b = append(b, ",,"...)
	}
	b = append(b, ',')
	b = strconv.AppendInt(b, m.bytes, 10)
	b = append(b, ',')
	if err != nil {
		b = appendCSVField(b, []byte(err.Error()))
	}
	b = append(b, '\n')
	l.line = b
	_, l.err = l.w.Write(b)
}

func (l *messageLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	return l.w.Flush()
}

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
// The columns after "error" were added later, at the end, so that readers of the first
// ones keep working: the Message-Id as its header carries it, the run's number of the
// connection the message went over (0: it never connected), when the message ended,
// its total latency (from its due time in the open model, else from its pick-up), and
// for a message not accepted the phase it ended in.
const messageLogHeader = "seq,intended_unix_ns,start_unix_ns,mail_us,rcpt_us,data_us,eod_us,outcome,code,enhanced,queue_id,bytes,error," +
	"message_id,conn,end_unix_ns,latency_us,phase\n"

// messageLog writes one CSV line per message. Event loops share it: it is the only
// place a lock is taken per message, and only when the log was asked for.
type messageLog struct {
	mu    sync.Mutex
	w     *bufio.Writer
	epoch int64 // Unix ns of the run's epoch
	line  []byte
	err   error
}

// logRow is what one line says about one message.
type logRow struct {
	m     *message
	o     protocol.Outcome
	err   error
	final *protocol.Reply
	end   int64  // ns since the epoch
	conn  int64  // the connection's number, 0 for none
	phase string // where a message not accepted ended
	msgID []byte
}

func newMessageLog(w io.Writer, epochUnixNanos int64) *messageLog {
	l := &messageLog{w: bufio.NewWriterSize(w, 64<<10), epoch: epochUnixNanos}
	_, l.err = l.w.WriteString(messageLogHeader)
	return l
}

func (l *messageLog) write(row logRow) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return
	}
	m := row.m
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
	b = append(b, row.o.String()...)
	b = append(b, ',')
	if row.final != nil {
		b = strconv.AppendInt(b, int64(row.final.Code), 10)
		b = append(b, ',')
		b = append(b, row.final.Enhanced...)
		b = append(b, ',')
		b = appendCSVField(b, queueID(row.final))
	} else {
		b = append(b, ",,"...)
	}
	b = append(b, ',')
	b = strconv.AppendInt(b, m.bytes, 10)
	b = append(b, ',')
	if row.err != nil {
		b = appendCSVField(b, []byte(row.err.Error()))
	}
	l.line = row.appendLater(b, l.epoch)
	_, l.err = l.w.Write(l.line)
}

// appendLater appends the columns after "error" and the line's end.
func (row logRow) appendLater(b []byte, epoch int64) []byte {
	b = append(b, ',')
	b = appendCSVField(b, row.msgID)
	b = append(b, ',')
	b = strconv.AppendInt(b, row.conn, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, epoch+row.end, 10)
	b = append(b, ',')
	b = appendMicros(b, row.end-row.m.intended)
	b = append(b, ',')
	b = append(b, row.phase...)
	return append(b, '\n')
}

func (l *messageLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	return l.w.Flush()
}

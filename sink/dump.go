package sink

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/valyala/bytebufferpool"
)

// receivedDate is Postfix's mail_date() format: "Sat, 28 Nov 2026 17:47:20 +0000 (UTC)".
const receivedDate = "Mon, _2 Jan 2006 15:04:05 -0700 (MST)"

// startRecord begins a dump record at MAIL: the optional -S prefix and the X- headers.
func (s *Session) startRecord(mailArgs []byte) {
	s.rec = s.env.dump.newSpool()
	r := s.rec
	r.writeString(s.env.cfg.DumpPrefix)
	r.writeString("X-Client-Addr: ")
	r.writeString(s.clientAddr)
	r.writeString("\nX-Client-Proto: ")
	r.writeString(s.protoName())
	r.writeString("\n")
	if s.helo {
		r.writeString("X-Helo-Args: ")
		r.writePrintable(s.heloArgs)
		r.writeString("\n")
	}
	r.writeString("X-Mail-Args: ")
	r.writePrintable(mailArgs)
	r.writeString("\n")
}

// protoName is the protocol as dumps show it: RFC 3848's ESMTPS/ESMTPSA and LMTPS/LMTPSA
// over TLS (smtp-sink has no TLS, so its names are unchanged without it).
func (s *Session) protoName() string {
	if !s.tls || s.proto == protoSMTP {
		return s.proto.String()
	}
	if s.authed {
		return s.proto.String() + "SA"
	}
	return s.proto.String() + "S"
}

// writeReceived adds smtp-sink's Received header when the content starts.
func (s *Session) writeReceived() {
	r := s.rec
	r.writeString("Received: from ")
	if s.helo {
		r.writePrintable(s.heloArgs)
	} else {
		r.writeString("[" + s.clientAddr + "]")
	}
	r.writeString(" ([" + s.clientAddr + "])\n\tby ")
	r.writeString(s.env.cfg.Hostname)
	r.writeString(" (smtp-sink) with ")
	r.writeString(s.protoName())
	r.writeString(" id ")
	r.write(s.id[:])
	r.writeString(";\n\t")
	r.writeString(s.env.clock().Format(receivedDate))
	r.writeString("\n")
}

// spool holds one dump record: in memory up to a limit, then in an unlinked temporary
// file, so a huge message being dumped does not grow the heap.
type spool struct {
	mem     *bytebufferpool.ByteBuffer
	file    *os.File
	limit   int
	tmp     []byte
	err     error
	written int64
}

// writePrintable writes command arguments with control bytes shown as '?'.
func (sp *spool) writePrintable(b []byte) {
	sp.tmp = appendPrintable(sp.tmp[:0], b)
	sp.write(sp.tmp)
}

func (sp *spool) writeString(s string) { sp.write([]byte(s)) }

func (sp *spool) write(p []byte) {
	if sp.err != nil || len(p) == 0 {
		return
	}
	sp.written += int64(len(p))
	if sp.file != nil {
		_, sp.err = sp.file.Write(p)
		return
	}
	sp.mem.B = append(sp.mem.B, p...)
	if len(sp.mem.B) > sp.limit {
		sp.spill()
	}
}

// writeNoCR writes p with every CR removed, as smtp-sink's dumps have them.
func (sp *spool) writeNoCR(p []byte) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\r')
		if i < 0 {
			sp.write(p)
			return
		}
		sp.write(p[:i])
		p = p[i+1:]
	}
}

func (sp *spool) spill() {
	f, err := os.CreateTemp("", "go-smtp-sink-spool-")
	if err != nil {
		sp.err = fmt.Errorf("dump spool: %w", err)
		return
	}
	_ = os.Remove(f.Name()) // unlinked at once, as smtp-sink does; the open file lives on
	if _, err := f.Write(sp.mem.B); err != nil {
		f.Close()
		sp.err = fmt.Errorf("dump spool: %w", err)
		return
	}
	sp.file = f
	bytebufferpool.Put(sp.mem)
	sp.mem = nil
}

// copyTo writes the whole record to w.
func (sp *spool) copyTo(w io.Writer) error {
	if sp.err != nil {
		return sp.err
	}
	if sp.file == nil {
		_, err := w.Write(sp.mem.B)
		return err
	}
	if _, err := sp.file.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("dump spool: %w", err)
	}
	_, err := io.Copy(w, sp.file)
	return err
}

func (sp *spool) release() {
	if sp.mem != nil {
		bytebufferpool.Put(sp.mem)
		sp.mem = nil
	}
	if sp.file != nil {
		sp.file.Close()
		sp.file = nil
	}
}

// dumpWriter stores completed transactions: one file per message (-d) or appended to a
// shared file (-D).
type dumpWriter struct {
	perMessage string // -d template
	shared     string // -D template
	spillAt    int
	clock      func() time.Time

	mu         sync.Mutex // guards the shared file
	sharedName string
	sharedFile *os.File
}

func newDumpWriter(c *Config, clock func() time.Time) *dumpWriter {
	if c.DumpDir == "" && c.DumpFile == "" {
		return nil
	}
	return &dumpWriter{perMessage: c.DumpDir, shared: c.DumpFile, spillAt: c.DumpSpill, clock: clock}
}

func (d *dumpWriter) newSpool() *spool {
	return &spool{mem: bytebufferpool.Get(), limit: d.spillAt}
}

// write stores one completed record; id names the per-message file.
func (d *dumpWriter) write(rec *spool, id []byte) error {
	now := d.clock()
	if d.perMessage != "" {
		name := Strftime(d.perMessage, now) + string(id)
		if dir := filepath.Dir(name); dir != "." {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("dump: %w", err)
			}
		}
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return fmt.Errorf("dump: %w", err)
		}
		err = rec.copyTo(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("dump %s: %w", name, err)
		}
		return nil
	}
	name := Strftime(d.shared, now)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sharedFile == nil || name != d.sharedName {
		if d.sharedFile != nil {
			d.sharedFile.Close()
		}
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			d.sharedFile = nil
			return fmt.Errorf("dump: %w", err)
		}
		d.sharedFile, d.sharedName = f, name
	}
	if err := rec.copyTo(d.sharedFile); err != nil {
		return fmt.Errorf("dump %s: %w", name, err)
	}
	return nil
}

// close closes the shared dump file.
func (d *dumpWriter) close() error {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sharedFile == nil {
		return nil
	}
	err := d.sharedFile.Close()
	d.sharedFile = nil
	if err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("dump: %w", err)
	}
	return nil
}

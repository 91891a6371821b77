package tlsconn

import "io"

// recordFramer hands crypto/tls its input one TLS record at a time: never a byte past the
// end of the record it is reading. crypto/tls then never holds a whole record it has not
// decrypted, so once a Read has returned less than it was asked for and nothing new has
// arrived, another Read could only say "would block" — and Conn.Read skips it: that second
// Read per arrival (a lock, an allocation, a failed read in crypto/tls) cost 2–3% of the
// CPU of a TLS run on each side.
type recordFramer struct {
	left int     // body bytes of the current record not handed out yet
	hdr  [5]byte // the record header, while it is handed out in parts
	hdrN int
}

// take reads into p from src as much as crypto/tls may have now, and returns how much.
func (f *recordFramer) take(p []byte, src io.Reader) int {
	n := 0
	for n < len(p) {
		if f.left == 0 { // at a record header, or within one
			k, _ := src.Read(p[n : n+min(len(f.hdr)-f.hdrN, len(p)-n)])
			if k == 0 {
				break
			}
			copy(f.hdr[f.hdrN:], p[n:n+k])
			f.hdrN += k
			n += k
			if f.hdrN < len(f.hdr) {
				continue
			}
			f.hdrN = 0
			f.left = int(f.hdr[3])<<8 | int(f.hdr[4])
			if f.left == 0 {
				break // an empty record ends here
			}
			continue
		}
		k, _ := src.Read(p[n : n+min(f.left, len(p)-n)])
		if k == 0 {
			break
		}
		n += k
		f.left -= k
		if f.left == 0 {
			break // the record is complete: the next one waits for the next Read
		}
	}
	return n
}

// atRecordStart reports that the next byte handed out begins a record.
func (f *recordFramer) atRecordStart() bool { return f.left == 0 && f.hdrN == 0 }

// pendingSource reads the bytes the loop fed during the handshake.
type pendingSource struct{ w *wire }

func (s pendingSource) Read(p []byte) (int, error) {
	n := copy(p, s.w.pending)
	s.w.pending = s.w.pending[n:]
	if len(s.w.pending) == 0 {
		s.w.pending = nil // let the handshake's buffer go
	}
	return n, nil
}

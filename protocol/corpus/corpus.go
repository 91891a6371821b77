// Package corpus reads real messages to send (--corpus): a Maildir, a directory of
// message files, or an mbox, into their wire form with the headers that each message
// gets anew (Date; Message-Id, From and To unless kept) taken out.
package corpus

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Keep says which of the headers each message would get anew the messages keep.
type Keep struct {
	Addr      bool // From and To (--corpus-keep-headers)
	MessageID bool // Message-Id (--keep-message-id)
}

// Load reads the messages at path: a directory (a Maildir's cur/ and new/, or the
// directory's regular files) or an mbox file, the headers keep does not keep taken out
// (StripHeaders). Each message is in wire form (CRLF line ends, dot-stuffed) and ends in
// ".\r\n".
func Load(path string, keep Keep) ([][]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	var raw [][]byte
	if st.IsDir() {
		raw, err = readDir(path)
	} else {
		var b []byte
		if b, err = os.ReadFile(path); err == nil {
			raw = SplitMbox(b)
		}
	}
	if err != nil {
		return nil, err
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("%s: no messages in it", path)
	}
	out := make([][]byte, len(raw))
	for i, m := range raw {
		out[i] = WireForm(StripHeaders(m, keep))
	}
	return out, nil
}

// readDir reads a Maildir's cur/ and new/, or else the directory's regular files, in
// name order.
func readDir(dir string) ([][]byte, error) {
	dirs := []string{dir}
	if isDir(filepath.Join(dir, "cur")) && isDir(filepath.Join(dir, "new")) {
		dirs = []string{filepath.Join(dir, "cur"), filepath.Join(dir, "new")}
	}
	var out [][]byte
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if err != nil {
			return nil, err
		}
		slices.SortFunc(entries, func(a, b os.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
		for _, e := range entries {
			if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			b, err := os.ReadFile(filepath.Join(d, e.Name()))
			if err != nil {
				return nil, err
			}
			out = append(out, b)
		}
	}
	return out, nil
}

func isDir(p string) bool { st, err := os.Stat(p); return err == nil && st.IsDir() }

// SplitMbox splits an mbox at its "From " lines and undoes the ">From " quoting (mboxrd).
func SplitMbox(b []byte) [][]byte {
	var out [][]byte
	var cur []byte
	started := false
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i+1], b[i+1:]
		} else {
			b = nil
		}
		if bytes.HasPrefix(line, []byte("From ")) {
			if started {
				out = append(out, cur)
			}
			cur, started = nil, true
			continue
		}
		if !started {
			continue
		}
		if q := bytes.TrimLeft(line, ">"); len(q) < len(line) && bytes.HasPrefix(q, []byte("From ")) {
			line = line[1:]
		}
		cur = append(cur, line...)
	}
	if started {
		out = append(out, cur)
	}
	return out
}

// StripHeaders takes out of m's header section the headers each message gets anew:
// Date, and Message-Id, From and To unless keep keeps them (folded lines with them).
func StripHeaders(m []byte, keep Keep) []byte {
	drop := []string{"date:"}
	if !keep.MessageID {
		drop = append(drop, "message-id:")
	}
	if !keep.Addr {
		drop = append(drop, "from:", "to:")
	}
	var out []byte
	dropping := false
	for len(m) > 0 {
		line := m
		if i := bytes.IndexByte(m, '\n'); i >= 0 {
			line, m = m[:i+1], m[i+1:]
		} else {
			m = nil
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 { // the end of the header section
			return append(append(out, line...), m...)
		}
		if line[0] != ' ' && line[0] != '\t' {
			dropping = false
			for _, d := range drop {
				if len(line) >= len(d) && strings.EqualFold(string(line[:len(d)]), d) {
					dropping = true
				}
			}
		}
		if !dropping {
			out = append(out, line...)
		}
	}
	return out
}

// WireForm is m as DATA sends it: every line (ended by LF, CRLF or the end) ended by
// CRLF, a '.' added before lines that start with one, then the final ".\r\n". Long lines
// and 8-bit bytes go as they are.
func WireForm(m []byte) []byte {
	out := make([]byte, 0, len(m)+len(m)/32+8)
	for len(m) > 0 {
		line := m
		if i := bytes.IndexByte(m, '\n'); i >= 0 {
			line, m = m[:i], m[i+1:]
		} else {
			m = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) > 0 && line[0] == '.' {
			out = append(out, '.')
		}
		out = append(append(out, line...), '\r', '\n')
	}
	return append(out, ".\r\n"...)
}

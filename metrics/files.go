package metrics

import (
	"os"
	"path/filepath"
	"time"
)

// ReadReportFile reads a report document from a file (ReadReport); its Origin is the
// file's name.
func ReadReportFile(path string) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := ReadReport(f)
	if err != nil {
		return nil, err
	}
	r.Origin = path
	return r, nil
}

// WriteReportFile writes the report next to path and renames it into place, so that a
// failed write leaves no half a report.
func WriteReportFile(path string, r *Report) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".report-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := r.WriteJSON(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// IntervalLogFile is an interval log (IntervalLog) written to a file as a run goes: its
// first error is kept, and returned by Close.
type IntervalLogFile struct {
	f   *os.File
	log *IntervalLog
	err error
}

// CreateIntervalLog creates the file and writes the log's header.
func CreateIntervalLog(path string, start time.Time) (*IntervalLogFile, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	l, err := NewIntervalLog(f, start)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &IntervalLogFile{f: f, log: l}, nil
}

// Interval logs one interval (engine.Hooks.OnInterval); after an error it does nothing.
func (l *IntervalLogFile) Interval(start, end time.Time, snap *Snapshot) {
	if l.err == nil {
		l.err = l.log.Write(start, end, snap)
	}
}

// Close closes the file and returns the first error.
func (l *IntervalLogFile) Close() error {
	if err := l.f.Close(); l.err == nil {
		l.err = err
	}
	return l.err
}

package plan

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/go-smtp-source/go-smtp-source/protocol/dist"
)

// NewSeed is a fresh random seed, for a plan whose random choices were not given one:
// the plan records it, so the run can be repeated.
func NewSeed() (uint64, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0, fmt.Errorf("seed: %w", err)
	}
	return binary.LittleEndian.Uint64(b[:]) | 1, nil
}

// Randomised reports whether the message options make random choices (and so use Seed).
func (m Message) Randomised() bool {
	return m.Size != ""
}

// SizeDist is the parsed Size (ok false when there is none).
func (m Message) SizeDist() (d dist.Dist, ok bool, err error) {
	if m.Size == "" {
		return dist.Dist{}, false, nil
	}
	d, err = dist.Parse(m.Size)
	if err != nil {
		return dist.Dist{}, false, fmt.Errorf("message.size: %w", err)
	}
	return d, true, nil
}

func (m Message) validateContent() error {
	d, ok, err := m.SizeDist()
	switch {
	case err != nil:
		return err
	case !ok:
		return nil
	case m.Length > 0 || m.File != nil:
		return errors.New("message.size: a size distribution fills generated bodies; it takes neither length (-l) nor file (-F)")
	case d.Min() < 1:
		return fmt.Errorf("message.size %q: sizes must be positive", m.Size)
	}
	return nil
}

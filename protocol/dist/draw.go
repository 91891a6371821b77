package dist

import (
	"errors"
	"fmt"
	"strings"
)

// Streams name the independent draws made for one message, so that adding a draw of one
// kind never shifts another's.
const (
	StreamSize uint64 = iota + 1
	StreamAttach
	StreamRcptCount
	StreamRcpt
	StreamFrom
	StreamDomain
	StreamBody
	StreamCorpus
	StreamToken
)

const golden = 0x9E3779B97F4A7C15 // 2^64 / φ

// mix is SplitMix64's finaliser: a bijection of 64 bits with full avalanche.
func mix(z uint64) uint64 {
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31
}

// Hash is the 64 random bits of draw stream of message seq under seed: a function of
// the three alone, so that any process computing message seq draws the same values
// (a cluster's workers, a second run with the same seed).
func Hash(seed uint64, seq int64, stream uint64) uint64 {
	return mix(mix(seed^stream*golden) + uint64(seq)*golden)
}

// Unit is Hash as a number in [0, 1).
func Unit(seed uint64, seq int64, stream uint64) float64 {
	return float64(Hash(seed, seq, stream)>>11) * 0x1p-53
}

// Even is a number in [0, 1) for message seq that, over consecutive messages, covers
// [0, 1) evenly (a golden-ratio Weyl sequence from a start the seed and stream pick):
// the sizes of any thousand consecutive messages already follow their distribution's
// quantiles closely, where independent draws would wander by a few percent.
func Even(seed uint64, seq int64, stream uint64) float64 {
	x := mix(seed^stream*golden) + uint64(seq)*golden
	return float64(x>>11) * 0x1p-53
}

// Choice is a weighted choice of names ("a.example:70,b.example:30").
type Choice struct {
	names []string
	upTo  []float64 // cumulative weights rising to 1
	text  string
}

// ParseChoice reads NAME:WEIGHT,... (weights as percentages summing to 100, or plain
// numbers that are normalised). A name may not be empty or hold a space.
func ParseChoice(s string) (Choice, error) {
	c := Choice{text: s}
	var total float64
	percent := 0
	for part := range strings.SplitSeq(s, ",") {
		name, weight, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok || name == "" || strings.ContainsAny(name, " \t<>") {
			return Choice{}, fmt.Errorf("%q: want NAME:WEIGHT,... , got %q", s, part)
		}
		w, isPercent, err := parseWeight(weight)
		if err != nil {
			return Choice{}, fmt.Errorf("%q: %w", s, err)
		}
		if isPercent {
			percent++
		}
		total += w
		c.names = append(c.names, name)
		c.upTo = append(c.upTo, total)
	}
	switch {
	case percent != 0 && percent != len(c.names):
		return Choice{}, fmt.Errorf("%q: give every weight as a percentage, or none", s)
	case total <= 0:
		return Choice{}, fmt.Errorf("%q: %w", s, errors.New("the weights add up to 0"))
	}
	for i := range c.upTo {
		c.upTo[i] /= total
	}
	c.upTo[len(c.upTo)-1] = 1
	return c, nil
}

// Pick is the name u in [0, 1) chooses.
func (c Choice) Pick(u float64) string {
	for i, up := range c.upTo {
		if u < up {
			return c.names[i]
		}
	}
	return c.names[len(c.names)-1]
}

// Names are the choice's names, in the order given.
func (c Choice) Names() []string { return c.names }

// String is the choice as it was given.
func (c Choice) String() string { return c.text }

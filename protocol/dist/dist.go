// Package dist parses and draws from the distributions that shape generated traffic:
// message sizes (--size, --attach), recipients per message (--rcpt-count) and weighted
// choices of names (--rcpt-domains).
//
// A distribution is drawn by its quantile function: Quantile(u) for u in [0, 1), so the
// caller decides where u comes from (a seeded hash of a message's sequence number, see
// Unit and Spread) and every draw is reproducible. The package has no state and no I/O.
package dist

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Kind is the shape of a distribution.
type Kind uint8

const (
	Fixed     Kind = iota // one value
	Uniform               // uniform:LO-HI, every integer in [LO, HI] alike
	LogNormal             // lognormal:median=M,sigma=S
	Table                 // V:W%,A-B:W%,...: weighted values or ranges
)

// Dist is a parsed distribution of non-negative integers. The zero value is Fixed 0.
type Dist struct {
	kind          Kind
	lo, hi        int64   // Fixed (lo), Uniform
	median, sigma float64 // LogNormal
	rows          []row   // Table, cumulative weights rising to 1
	text          string
}

// row is one entry of a table: the values lo..hi, chosen while u < upTo.
type row struct {
	lo, hi int64
	upTo   float64
}

// MaxValue bounds every value a distribution may yield (1 TiB): sizes beyond it are
// typing mistakes, and the bound keeps sums of values inside int64.
const MaxValue = 1 << 40

// Parse reads a distribution: "30k" (fixed), "uniform:10k-200k",
// "lognormal:median=30k,sigma=1.2" or a weighted table "1k:50%,10k:30%,2-5:20%". Values
// take the suffixes k, m and g (powers of 1024). A table's weights are percentages
// summing to 100, or plain numbers that are normalised.
func Parse(s string) (Dist, error) {
	d, err := parse(strings.TrimSpace(s))
	if err != nil {
		return Dist{}, fmt.Errorf("distribution %q: %w", s, err)
	}
	d.text = strings.TrimSpace(s)
	return d, nil
}

func parse(s string) (Dist, error) {
	switch {
	case s == "":
		return Dist{}, errors.New("empty")
	case strings.HasPrefix(s, "uniform:"):
		lo, hi, err := parseRange(strings.TrimPrefix(s, "uniform:"))
		return Dist{kind: Uniform, lo: lo, hi: hi}, err
	case strings.HasPrefix(s, "lognormal:"):
		return parseLogNormal(strings.TrimPrefix(s, "lognormal:"))
	case strings.Contains(s, ":"):
		return parseTable(s)
	}
	v, err := ParseValue(s)
	return Dist{kind: Fixed, lo: v, hi: v}, err
}

func parseLogNormal(s string) (Dist, error) {
	d := Dist{kind: LogNormal}
	var haveMedian, haveSigma bool
	for part := range strings.SplitSeq(s, ",") {
		key, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		switch {
		case !ok:
			return Dist{}, fmt.Errorf("lognormal: want median=SIZE,sigma=S, got %q", part)
		case key == "median" && !haveMedian:
			v, err := ParseValue(val)
			if err != nil {
				return Dist{}, err
			}
			if v < 1 {
				return Dist{}, errors.New("lognormal: the median must be positive")
			}
			d.median, haveMedian = float64(v), true
		case key == "sigma" && !haveSigma:
			f, err := strconv.ParseFloat(val, 64)
			if err != nil || f < 0 || f > 10 || math.IsNaN(f) {
				return Dist{}, fmt.Errorf("lognormal: sigma wants a number in [0, 10], got %q", val)
			}
			d.sigma, haveSigma = f, true
		default:
			return Dist{}, fmt.Errorf("lognormal: unknown or repeated parameter %q", key)
		}
	}
	if !haveMedian || !haveSigma {
		return Dist{}, errors.New("lognormal: want median=SIZE,sigma=S")
	}
	return d, nil
}

func parseTable(s string) (Dist, error) {
	var rows []row
	var total float64
	percent := 0
	for part := range strings.SplitSeq(s, ",") {
		val, weight, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok {
			return Dist{}, fmt.Errorf("table entry %q: want VALUE:WEIGHT", part)
		}
		lo, hi, err := parseRange(val)
		if err != nil {
			return Dist{}, err
		}
		w, isPercent, err := parseWeight(weight)
		if err != nil {
			return Dist{}, fmt.Errorf("table entry %q: %w", part, err)
		}
		if isPercent {
			percent++
		}
		total += w
		rows = append(rows, row{lo: lo, hi: hi, upTo: total})
	}
	if percent != 0 && percent != len(rows) {
		return Dist{}, errors.New("table: give every weight as a percentage, or none")
	}
	if percent != 0 && math.Abs(total-100) > 1e-9 {
		return Dist{}, fmt.Errorf("table: the percentages add up to %g, not 100", total)
	}
	if total <= 0 {
		return Dist{}, errors.New("table: the weights add up to 0")
	}
	for i := range rows {
		rows[i].upTo /= total
	}
	rows[len(rows)-1].upTo = 1
	return Dist{kind: Table, rows: rows}, nil
}

// parseWeight reads "30%" or "30": a finite non-negative number.
func parseWeight(s string) (w float64, percent bool, err error) {
	s = strings.TrimSpace(s)
	if t, ok := strings.CutSuffix(s, "%"); ok {
		s, percent = t, true
	}
	w, err = strconv.ParseFloat(s, 64)
	if err != nil || w < 0 || math.IsInf(w, 0) || math.IsNaN(w) || w > 1e12 {
		return 0, false, fmt.Errorf("bad weight %q", s)
	}
	return w, percent, nil
}

// parseRange reads "V" or "LO-HI" (LO ≤ HI).
func parseRange(s string) (lo, hi int64, err error) {
	a, b, isRange := strings.Cut(s, "-")
	if lo, err = ParseValue(a); err != nil {
		return 0, 0, err
	}
	if !isRange {
		return lo, lo, nil
	}
	if hi, err = ParseValue(b); err != nil {
		return 0, 0, err
	}
	if hi < lo {
		return 0, 0, fmt.Errorf("range %q: the high end is below the low end", s)
	}
	return lo, hi, nil
}

// ParseValue reads a non-negative integer with an optional suffix k, m or g (powers of
// 1024, either case), at most MaxValue.
func ParseValue(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'k', 'K':
			mult = 1 << 10
		case 'm', 'M':
			mult = 1 << 20
		case 'g', 'G':
			mult = 1 << 30
		}
		if mult != 1 {
			s = s[:n-1]
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 || s[0] == '+' {
		return 0, fmt.Errorf("bad value %q: want a non-negative integer, optionally with k, m or g", s)
	}
	if v > MaxValue/mult {
		return 0, fmt.Errorf("value %s is above %d", s, int64(MaxValue))
	}
	return v * mult, nil
}

// String is the distribution as it was given.
func (d Dist) String() string { return d.text }

// Kind is the distribution's shape.
func (d Dist) Kind() Kind { return d.kind }

// IsFixed reports whether every draw gives the same value.
func (d Dist) IsFixed() bool { return d.Min() == d.Max() }

// Min is the smallest value a draw can give.
func (d Dist) Min() int64 {
	switch d.kind {
	case LogNormal:
		return 1
	case Table:
		m := int64(math.MaxInt64)
		for _, r := range d.rows {
			m = min(m, r.lo)
		}
		return m
	}
	return d.lo
}

// Max is the largest value a draw can give.
func (d Dist) Max() int64 {
	switch d.kind {
	case LogNormal:
		return MaxValue
	case Table:
		var m int64
		for _, r := range d.rows {
			m = max(m, r.hi)
		}
		return m
	}
	return d.hi
}

// Quantile is the distribution's inverse CDF at u in [0, 1) (u outside is clamped): the
// value a draw of u gives. It does not allocate.
func (d Dist) Quantile(u float64) int64 {
	u = min(max(u, 0), math.Nextafter(1, 0))
	switch d.kind {
	case Uniform:
		return spread(d.lo, d.hi, u)
	case LogNormal:
		z := min(max(math.Sqrt2*math.Erfinv(2*u-1), -40), 40) // u = 0 gives -Inf
		v := d.median * math.Exp(d.sigma*z)
		return int64(min(max(math.Round(v), 1), MaxValue))
	case Table:
		prev := 0.0
		for _, r := range d.rows {
			if u < r.upTo {
				return spread(r.lo, r.hi, (u-prev)/(r.upTo-prev))
			}
			prev = r.upTo
		}
		last := d.rows[len(d.rows)-1]
		return last.hi
	}
	return d.lo
}

// spread maps u in [0, 1) onto lo..hi evenly.
func spread(lo, hi int64, u float64) int64 {
	v := lo + int64(u*float64(hi-lo+1))
	return min(max(v, lo), hi)
}

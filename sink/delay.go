package sink

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Delay is an injected wait before the reply to one command.
type Delay struct {
	Duration time.Duration
	// Probability in (0,1] applies the delay to that fraction of commands; 0 means always.
	Probability float64
	// Odds (1..99), smtp-sink's -W third field, makes the delay a random multiple of
	// Duration: the number of consecutive rolls of a 100-sided die that come out below
	// Odds. It takes precedence over Probability.
	Odds int
}

// String renders the delay in --delay syntax.
func (d Delay) String() string {
	s := d.Duration.String()
	switch {
	case d.Odds > 0:
		s += fmt.Sprintf(" (odds %d%%)", d.Odds)
	case d.Probability > 0 && d.Probability < 1:
		s += ":" + strconv.FormatFloat(d.Probability, 'g', -1, 64)
	}
	return s
}

// roll draws this command's delay; random returns uniform numbers in [0,1).
func (d Delay) roll(random func() float64) time.Duration {
	if d.Duration <= 0 {
		return 0
	}
	if d.Odds > 0 {
		n := time.Duration(0)
		for n < 100 && random()*100 < float64(d.Odds) {
			n++
		}
		return n * d.Duration
	}
	if d.Probability > 0 && d.Probability < 1 && random() >= d.Probability {
		return 0
	}
	return d.Duration
}

// ParseSeconds reads smtp-sink's delay unit, seconds, with a fraction allowed
// ("1", "0.005"); a Go duration ("5ms") is accepted too.
func ParseSeconds(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f < 0 || f > 1e6 {
			return 0, fmt.Errorf("delay %q out of range", s)
		}
		return time.Duration(f * float64(time.Second)).Round(time.Microsecond), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("bad delay %q: want seconds (0.005) or a duration (5ms)", s)
	}
	return d, nil
}

// SetDelayW applies smtp-sink's "-W command:delay[:odds]".
func (c *Config) SetDelayW(spec string) error {
	parts := strings.Split(spec, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return fmt.Errorf("bad -W %q: want command:delay[:odds]", spec)
	}
	v, ok := VerbByName(parts[0])
	if !ok {
		return fmt.Errorf("bad -W %q: unknown command %q", spec, parts[0])
	}
	d, err := ParseSeconds(parts[1])
	if err != nil {
		return fmt.Errorf("bad -W %q: %w", spec, err)
	}
	delay := Delay{Duration: d}
	if len(parts) == 3 {
		odds, err := strconv.Atoi(parts[2])
		if err != nil || odds < 1 || odds > 99 {
			return fmt.Errorf("bad -W %q: odds must be 1..99", spec)
		}
		delay.Odds = odds
	}
	c.Delays[v] = delay
	return nil
}

// SetDelays applies "--delay command=duration[:probability],...", for example
// "rcpt=5ms,dot=20ms:0.5" ("dot" and "." both name the end of data). The probability is a
// fraction in (0,1] or a percentage ("50%").
func (c *Config) SetDelays(spec string) error {
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, rest, ok := strings.Cut(item, "=")
		if !ok {
			return fmt.Errorf("bad --delay item %q: want command=duration[:probability]", item)
		}
		if strings.EqualFold(name, "dot") {
			name = "."
		}
		v, ok := VerbByName(name)
		if !ok {
			return fmt.Errorf("bad --delay item %q: unknown command %q", item, name)
		}
		durText, probText, hasProb := strings.Cut(rest, ":")
		d, err := ParseSeconds(durText)
		if err != nil {
			return fmt.Errorf("bad --delay item %q: %w", item, err)
		}
		delay := Delay{Duration: d}
		if hasProb {
			p, err := parseProbability(probText)
			if err != nil {
				return fmt.Errorf("bad --delay item %q: %w", item, err)
			}
			delay.Probability = p
		}
		c.Delays[v] = delay
	}
	return nil
}

func parseProbability(s string) (float64, error) {
	scale := 1.0
	if strings.HasSuffix(s, "%") {
		s, scale = strings.TrimSuffix(s, "%"), 100
	}
	p, err := strconv.ParseFloat(s, 64)
	p /= scale
	if err != nil || !(p > 0 && p <= 1) { // NaN too
		return 0, fmt.Errorf("probability %q: want a fraction in (0,1] or a percentage", s)
	}
	return p, nil
}

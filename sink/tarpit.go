package sink

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Tarpit is --tarpit: every reply (the greeting, each command's, the end of data's) waits
//
//	min(Max, PerSession × max(0, N − Above))
//
// where N is the number of connections open when the reply is due, this one included. A
// receiver that slows down as more clients crowd it: the delay grows linearly with the
// concurrency, up to Max.
type Tarpit struct {
	PerSession time.Duration // 0: no tarpit
	Above      int           // sessions that cost nothing
	Max        time.Duration // default 30 s
}

// DefaultTarpitMax caps a tarpit delay: well below a client's command timeout (Postfix's
// smtp client waits 300 s).
const DefaultTarpitMax = 30 * time.Second

// String renders the tarpit in --tarpit syntax.
func (t Tarpit) String() string {
	s := t.PerSession.String()
	if t.Above > 0 {
		s += ",above=" + strconv.Itoa(t.Above)
	}
	if t.Max > 0 {
		s += ",max=" + t.Max.String()
	}
	return s
}

// ParseTarpit reads --tarpit's "DELAY[,above=N][,max=DELAY]"; delays are seconds with a
// fraction (0.002) or Go durations (2ms).
func ParseTarpit(spec string) (Tarpit, error) {
	items := strings.Split(spec, ",")
	d, err := ParseSeconds(strings.TrimSpace(items[0]))
	if err != nil || d <= 0 {
		return Tarpit{}, fmt.Errorf("bad --tarpit %q: want a positive delay per session", spec)
	}
	t := Tarpit{PerSession: d}
	for _, item := range items[1:] {
		name, value, _ := strings.Cut(strings.TrimSpace(item), "=")
		switch name {
		case "above":
			n, err := strconv.Atoi(value)
			if err != nil || n < 0 {
				return Tarpit{}, fmt.Errorf("bad --tarpit %q: above=%q wants a count", spec, value)
			}
			t.Above = n
		case "max":
			if t.Max, err = ParseSeconds(value); err != nil || t.Max <= 0 {
				return Tarpit{}, fmt.Errorf("bad --tarpit %q: max=%q wants a positive delay", spec, value)
			}
		default:
			return Tarpit{}, fmt.Errorf("bad --tarpit %q: unknown option %q (above=, max=)", spec, item)
		}
	}
	return t, nil
}

// delay is the tarpit's delay with sessions connections open.
func (t Tarpit) delay(sessions int64) time.Duration {
	n := sessions - int64(t.Above)
	if t.PerSession <= 0 || n <= 0 {
		return 0
	}
	if n > int64(t.Max/t.PerSession) {
		return t.Max
	}
	return time.Duration(n) * t.PerSession
}

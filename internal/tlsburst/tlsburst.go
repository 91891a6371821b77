// Package tlsburst tells when a burst of TLS handshakes is over, so that a process can
// give the burst's memory back to the system then.
//
// A full handshake leaves tens of kilobytes of garbage (key shares, the peer's
// certificate, transcripts) for a few kilobytes it keeps. Thousands of sessions starting
// TLS at once grow the heap to several times what the established sessions hold, and Go's
// scavenger returns that excess only slowly; a full collection that returns free memory
// (debug.FreeOSMemory) once the burst is over brings a parked session's RSS close to what
// it holds (benchmarks/README.md, "TLS", has the figures).
package tlsburst

const (
	// Rate is the handshakes per second that start or continue a burst.
	Rate = 200
	// Total is the handshakes a burst needs for its memory to be worth a full collection.
	Total = 1000
)

// Detector follows handshakes second by second. A burst is a run of seconds with at
// least Rate handshakes each; it is over at the first second with fewer than a tenth of
// its busiest second's. A steady stream of handshakes (a connection per message) never
// ends a burst, and the collector keeps up with it on its own.
type Detector struct {
	inBurst     bool
	peak, total int64
}

// Second takes the number of handshakes completed in one second, and reports that a
// burst of at least Total handshakes has just ended.
func (d *Detector) Second(n int64) (ended bool) {
	switch {
	case n >= Rate && (!d.inBurst || n >= d.peak/10):
		d.inBurst = true
		d.peak = max(d.peak, n)
		d.total += n
	case d.inBurst && n < d.peak/10:
		ended = d.total >= Total
		*d = Detector{}
	case d.inBurst:
		d.total += n
	}
	return ended
}

package metrics

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxLostShown bounds the lost sequence numbers the text report prints per run (the
// JSON lists up to MaxListedLost).
const maxLostShown = 50

// writeE2E writes the end-to-end section: per run, the accounting from the MTA's
// acceptance to the sinks, the delivery latency, the lost numbers, and each sink's
// clock.
func writeE2E(w *bufio.Writer, e *E2E) {
	for i := range e.Runs {
		r := &e.Runs[i]
		if i > 0 {
			w.WriteString("\n")
		}
		fmt.Fprintf(w, "End to end, run %s (%s)\n", r.Run, r.Header)
		if !r.Reconciled() {
			fmt.Fprintf(w, "  %d messages accepted by the MTA; no sink asked (go-smtp-source reconcile with the sinks' trace documents)\n", r.Accepted.Len())
			continue
		}
		rows := [][]string{
			{"Delivery", "[accepted, delivered, late, lost, duplicates, unexpected]", fmt.Sprintf("%d, %d, %d, %d, %d, %d",
				r.Accepted.Len(), r.Delivered, r.DeliveredLate, r.Lost, r.Duplicates, r.Unexpected)},
		}
		if d := r.Delivery; d.Count > 0 {
			rows = append(rows, []string{"Latency", "[n, min, p50, p90, p99, p99.9, max]", fmt.Sprintf("%d, %s, %s, %s, %s, %s, %s",
				d.Count, fmtNs(d.MinNs), fmtNs(d.P50Ns), fmtNs(d.P90Ns), fmtNs(d.P99Ns), fmtNs(d.P999Ns), fmtNs(d.MaxNs))})
		}
		if !r.Deadline.IsZero() {
			rows = append(rows, []string{"Waited", "[until]", r.Deadline.UTC().Format(time.RFC3339Nano)})
		}
		if r.Lost > 0 {
			rows = append(rows, []string{"Lost", "[sequence numbers]", listSeqs(r.LostSeqs, r.Lost)})
		}
		for _, s := range r.Sinks {
			rows = append(rows, []string{"Sink " + s.Name, "[seen, duplicates, clock offset]", describeSink(s)})
		}
		writeTable(w, nil, rows, "lll")
	}
}

func listSeqs(seqs []uint64, total int64) string {
	n := min(len(seqs), maxLostShown)
	parts := make([]string, n)
	for i := range n {
		parts[i] = strconv.FormatUint(seqs[i], 10)
	}
	text := strings.Join(parts, " ")
	if int64(n) < total {
		text += fmt.Sprintf(" … (%d in all)", total)
	}
	return text
}

func describeSink(s E2ESink) string {
	if s.Error != "" {
		return "not asked: " + s.Error
	}
	clock := "not measured: taken as 0"
	switch {
	case s.ClockRTTNs > 0 && s.ClockCorrected:
		clock = fmt.Sprintf("%s ± %s, latencies corrected", fmtNs(s.ClockOffsetNs), fmtNs(s.ClockRTTNs/2))
	case s.ClockRTTNs > 0:
		clock = fmt.Sprintf("%s ± %s, within its uncertainty: not corrected", fmtNs(s.ClockOffsetNs), fmtNs(s.ClockRTTNs/2))
	case s.ClockOffsetNs != 0:
		clock = fmtNs(s.ClockOffsetNs) + " as given, latencies corrected"
	}
	return fmt.Sprintf("%d, %d, %s", s.Seen.Len(), s.Duplicates, clock)
}

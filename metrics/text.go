package metrics

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// WriteText writes the human summary of a report: vegeta-style totals, one row per phase
// with samples (n, min, mean, p50, p90, p99, p99.9, max), the error table and, for a
// merged report, one row per source.
func WriteText(w io.Writer, r *Report) error {
	bw := bufio.NewWriter(w)
	writeTotals(bw, r)
	if len(r.Phases) > 0 {
		bw.WriteString("\n")
		writePhaseTable(bw, r.Phases)
	}
	if len(r.Errors) > 0 {
		bw.WriteString("\n")
		writeErrorTable(bw, r.Errors)
	}
	if len(r.Sources) > 0 {
		bw.WriteString("\n")
		writeSourceTable(bw, r.Sources)
	}
	if r.FindMax != nil {
		bw.WriteString("\n")
		writeFindMax(bw, r.FindMax)
	}
	if r.E2E != nil {
		bw.WriteString("\n")
		writeE2E(bw, r.E2E)
	}
	if len(r.Thresholds) > 0 {
		bw.WriteString("\n")
		writeThresholds(bw, r.Thresholds)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write text report: %w", err)
	}
	return nil
}

func writeTotals(w *bufio.Writer, r *Report) {
	t, s := r.Totals, r.Summary
	rows := [][]string{
		{"Messages", "[total, rate, throughput]", fmt.Sprintf("%d, %s, %s", s.Attempted, perSecond(s.RatePerSec), perSecond(s.ThroughputPerSec))},
		{"Duration", "[total]", FormatDuration(r.Elapsed())},
	}
	if w := r.Window; w != nil {
		// Rates over the sending window, not over a drain that may be a stuck tail.
		rows = [][]string{
			{"Messages", "[total, offered, achieved]", fmt.Sprintf("%d, %s, %s", s.Attempted, perSecond(s.OfferedPerSec), perSecond(s.AchievedPerSec))},
			{"Duration", "[total, sending, drain]", fmt.Sprintf("%s, %s, %s", FormatDuration(r.Elapsed()), fmtNs(w.SendingNs), fmtNs(w.DrainNs))},
		}
	}
	rows = append(rows, [][]string{
		{"Accounting", "[planned, accepted, rejected, failed, not started]", fmt.Sprintf("%d, %d, %d, %d, %d", t.Planned, t.Accepted, t.Rejected, t.Failed, t.NotStarted)},
		{"Sessions", "[established, failed]", fmt.Sprintf("%d, %d", t.Sessions, r.Counters[SessionsFailed.String()])},
		{"Recipients", "[accepted, rejected]", fmt.Sprintf("%d, %d", r.Counters[RecipientsAccepted.String()], r.Counters[RecipientsRejected.String()])},
		{"Bytes", "[sent]", strconv.FormatInt(r.Counters[BytesSent.String()], 10)},
	}...)
	if n := r.Counters[MessagesCutOff.String()]; n != 0 {
		rows = append(rows, []string{"Cut off", "[by the run's end, of failed]", strconv.FormatInt(n, 10)})
	}
	if hs, failed := r.Counters[TLSHandshakes.String()], r.Counters[TLSCertificateFailed.String()]; hs != 0 || failed != 0 {
		rows = append(rows, []string{"TLS", "[handshakes, resumed, TLS 1.2, TLS 1.3, certificate failures]", fmt.Sprintf("%d, %d, %d, %d, %d",
			hs, r.Counters[TLSResumed.String()], r.Counters[TLSVersion12.String()], r.Counters[TLSVersion13.String()], failed)})
	}
	dropped, late := r.Counters[Dropped.String()], r.Counters[Late.String()]
	if dropped != 0 || late != 0 || hasPhase(r.Phases, ScheduleLag) {
		rows = append(rows, []string{"Open model", "[dropped, late]", fmt.Sprintf("%d, %d", dropped, late)})
	}
	rows = append(rows,
		[]string{"Success", "[ratio]", fmt.Sprintf("%.2f%%", 100*s.SuccessRatio)},
		[]string{"Reply codes", "[code:count]", replyCodes(t.Accepted, r.Errors)},
	)
	if s.Errors > 0 {
		rows = append(rows, []string{"Errors", "[total, keys]", fmt.Sprintf("%d, %d", s.Errors, len(r.Errors))})
	}
	writeTable(w, nil, rows, "lll")
}

func perSecond(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) + "/s" }

func hasPhase(ps []PhaseStats, p Phase) bool {
	for _, s := range ps {
		if s.Phase == p.String() && s.Count > 0 {
			return true
		}
	}
	return false
}

// replyCodes sums the error keys by reply code ("550:3"), net and TLS errors by class
// ("net:2"); accepted messages are "2xx".
func replyCodes(accepted int64, errs []ErrorStats) string {
	counts := map[string]int64{}
	for _, e := range errs {
		f := strings.Split(e.Key, ":")
		switch {
		case len(f) >= 3 && (f[1] == ClassTemp || f[1] == ClassPerm || f[1] == ClassOther):
			counts[f[2]] += e.Count
		case len(f) >= 2:
			counts[f[1]] += e.Count
		default:
			counts[e.Key] += e.Count
		}
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := []string{"2xx:" + strconv.FormatInt(accepted, 10)}
	for _, k := range keys {
		parts = append(parts, k+":"+strconv.FormatInt(counts[k], 10))
	}
	return strings.Join(parts, "  ")
}

func writePhaseTable(w *bufio.Writer, phases []PhaseStats) {
	header := []string{"Phase", "n", "min", "mean", "p50", "p90", "p99", "p99.9", "max"}
	var rows [][]string
	for _, p := range phases {
		if p.Count == 0 {
			continue
		}
		rows = append(rows, []string{p.Phase, strconv.FormatInt(p.Count, 10),
			fmtNs(p.MinNs), fmtNs(p.MeanNs), fmtNs(p.P50Ns), fmtNs(p.P90Ns), fmtNs(p.P99Ns), fmtNs(p.P999Ns), fmtNs(p.MaxNs)})
	}
	writeTable(w, header, rows, "lrrrrrrrr")
}

func writeErrorTable(w *bufio.Writer, errs []ErrorStats) {
	header := []string{"Error", "count", "first text"}
	var rows [][]string
	for _, e := range errs {
		text := ""
		if len(e.Texts) > 0 {
			text = e.Texts[0]
		}
		rows = append(rows, []string{e.Key, strconv.FormatInt(e.Count, 10), text})
	}
	writeTable(w, header, rows, "lrl")
}

func writeSourceTable(w *bufio.Writer, srcs []Source) {
	header := []string{"Source", "start", "duration", "planned", "accepted", "rejected", "failed", "rate", "throughput"}
	var rows [][]string
	for _, s := range srcs {
		rows = append(rows, []string{s.Name, s.Start.UTC().Format("15:04:05.000"), FormatDuration(time.Duration(s.ElapsedNs)),
			strconv.FormatInt(s.Totals.Planned, 10), strconv.FormatInt(s.Totals.Accepted, 10),
			strconv.FormatInt(s.Totals.Rejected, 10), strconv.FormatInt(s.Totals.Failed, 10),
			perSecond(s.Summary.RatePerSec), perSecond(s.Summary.ThroughputPerSec)})
	}
	writeTable(w, header, rows, "lrrrrrrrr")
}

func writeThresholds(w *bufio.Writer, vs []Verdict) {
	header := []string{"Threshold", "observed", "verdict"}
	var rows [][]string
	for _, v := range vs {
		verdict := "ok"
		if !v.Pass {
			verdict = "BREACHED"
		}
		rows = append(rows, []string{v.Threshold, v.Text, verdict})
	}
	writeTable(w, header, rows, "lrl")
}

func writeFindMax(w *bufio.Writer, fm *FindMaxReport) {
	header := []string{"Step", "rate", "achieved", "accepted", "rejected", "failed", "dropped", "latency p99", "eod p99", "verdict"}
	var rows [][]string
	for i, st := range fm.Steps {
		verdict := "held"
		if !st.Held {
			verdict = "broke: " + DescribeBreaches(Breached(st.Verdicts))
			if st.Error != "" {
				verdict = "broke: " + st.Error
			}
		}
		rows = append(rows, []string{strconv.Itoa(i + 1), perSecond(st.Rate), perSecond(st.Achieved),
			strconv.FormatInt(st.Totals.Accepted, 10), strconv.FormatInt(st.Totals.Rejected, 10), strconv.FormatInt(st.Totals.Failed, 10),
			strconv.FormatInt(st.Dropped, 10), fmtNs(st.LatencyNs), fmtNs(st.EODNs), verdict})
	}
	writeTable(w, header, rows, "rrrrrrrrrl")
	if fm.Highest > 0 {
		fmt.Fprintf(w, "Highest rate that held every threshold: %s\n", perSecond(fm.Highest))
	} else {
		fmt.Fprintf(w, "No rate held every threshold\n")
	}
}

// writeTable writes rows in columns two spaces apart; align has one letter per column,
// 'l' or 'r'. The last column is not padded.
func writeTable(w *bufio.Writer, header []string, rows [][]string, align string) {
	all := rows
	if header != nil {
		all = append([][]string{header}, rows...)
	}
	var widths []int
	for _, row := range all {
		for i, cell := range row {
			for len(widths) <= i {
				widths = append(widths, 0)
			}
			if n := utf8.RuneCountInString(cell); n > widths[i] {
				widths[i] = n
			}
		}
	}
	for _, row := range all {
		var line strings.Builder
		for i, cell := range row {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell))
			if i > 0 {
				line.WriteString("  ")
			}
			switch {
			case i < len(align) && align[i] == 'r':
				line.WriteString(pad + cell)
			case i == len(row)-1:
				line.WriteString(cell)
			default:
				line.WriteString(cell + pad)
			}
		}
		w.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
}

func fmtNs(ns int64) string { return FormatDuration(time.Duration(ns)) }

// FormatDuration is a duration at microsecond precision, as the text report shows it:
// 45µs, 20.512ms, 1.500123s, 2m3.000001s.
func FormatDuration(d time.Duration) string {
	return d.Round(time.Microsecond).String()
}

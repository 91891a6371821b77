package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// startGoSink runs the project's go-smtp-sink on a loopback port of its own (port 0; the
// test reads which from /proc). The readiness probe is one session without a command.
func startGoSink(t *testing.T, opts ...string) (*testpeer.Process, string) {
	t.Helper()
	bin := testpeer.BuildCommand(t, "go-smtp-sink")
	p := testpeer.Start(t, bin, append(opts, "127.0.0.1:0", "1024")...)
	addr := testpeer.WaitListening(t, p, 10*time.Second)
	if err := testpeer.WaitAccepting(addr, 10*time.Second); err != nil {
		t.Fatalf("go-smtp-sink: %v; stderr %s", err, p.Stderr.String())
	}
	return p, addr
}

func readReport(t *testing.T, path string) *metrics.Report {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := metrics.ReadReport(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return r
}

func phaseStats(t *testing.T, r *metrics.Report, name string) metrics.PhaseStats {
	t.Helper()
	for _, p := range r.Phases {
		if p.Phase == name {
			return p
		}
	}
	t.Fatalf("no phase %q in the report", name)
	return metrics.PhaseStats{}
}

// Injected server delays come back in the per-phase numbers: p50 within 1 ms of the
// delay, the other phases unaffected. Few sessions: with many, the sink's own timers and
// wake-ups batch, and its lateness (not our measurement) grows past a millisecond.
func TestPhaseTimingAccuracy(t *testing.T) {
	_, addr := startGoSink(t, "--delay", "rcpt=5ms,dot=20ms")
	out := filepath.Join(t.TempDir(), "r.json")
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	probe := testpeer.ProbeScheduling(t)
	res := testpeer.Run(t, time.Minute, bin, "-d", "-s", "4", "-m", "400", "--json", out, addr)
	// A reply waits for two wake-ups (the sink's timer or read, our read), each as late as
	// the machine's scheduling delay measured meanwhile (its p99, for a median): a busy
	// machine may make a median that much later, never sooner.
	late := 2 * probe.Stop().P99()
	if res.ExitCode != 0 {
		t.Fatalf("%v", res)
	}
	r := readReport(t, out)
	for _, tc := range []struct {
		phase string
		want  time.Duration
	}{{"rcpt", 5 * time.Millisecond}, {"eod", 20 * time.Millisecond}} {
		p := phaseStats(t, r, tc.phase)
		if got := time.Duration(p.P50Ns); got < tc.want-time.Millisecond || got > tc.want+time.Millisecond+late || p.Count != 400 {
			t.Errorf("%s: p50 %v over %d samples, want %v - 1ms to + 1ms + %v", tc.phase, got, p.Count, tc.want, late)
		}
	}
	for _, name := range []string{"mail", "data"} {
		if p := phaseStats(t, r, name); time.Duration(p.P50Ns) > time.Millisecond+late {
			t.Errorf("%s: p50 %v, want it unaffected by the injected delays (at most 1ms + %v)", name, time.Duration(p.P50Ns), late)
		}
	}
	// txn spans MAIL to the end-of-data reply: at least both delays.
	if p := phaseStats(t, r, "txn"); time.Duration(p.P50Ns) < 25*time.Millisecond {
		t.Errorf("txn p50 %v, want ≥ 25ms", time.Duration(p.P50Ns))
	}
}

// --rate 2000 for 5 s sends 10,000 messages ± 1% in about 5 s, about 2000 every second.
func TestOpenModelRateCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("5 s run")
	}
	_, addr := startGoSink(t)
	out := filepath.Join(t.TempDir(), "r.json")
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	// A generous --drop-after: on a busy CI machine a late message is still sent.
	probe := testpeer.ProbeScheduling(t)
	res := testpeer.Run(t, time.Minute, bin, "--rate", "2000", "--duration", "5s", "-d", "--drop-after", "30s", "--json", out, addr)
	// The machine's stalls, measured meanwhile, may leave as many messages unsent at the
	// hard end as they lasted (2000 a second).
	short := int64(2000 * probe.Stop().Worst().Seconds())
	if res.ExitCode != 0 {
		t.Fatalf("%v", res)
	}
	r := readReport(t, out)
	if a := r.Totals.Accepted; a < 9900-short || a > 10100 || r.Totals.Planned != 10000 {
		t.Fatalf("accepted %d of %d, want 10000 ± 1%% (at least %d)", a, r.Totals.Planned, 9900-short)
	}
	if el := time.Duration(r.ElapsedNs); el < 4950*time.Millisecond || el > 10*time.Second {
		t.Fatalf("elapsed %v, want about 5 s", el)
	}
}

// --stages: the per-second series follows the ramp up, the plateau and the ramp down.
func TestStagesSeries(t *testing.T) {
	_, addr := startGoSink(t)
	out := filepath.Join(t.TempDir(), "r.json")
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	probe := testpeer.ProbeScheduling(t)
	res := testpeer.Run(t, time.Minute, bin, "--stages", "2s:1000,2s:1000,2s:0", "-d", "--drop-after", "30s", "--json", out, addr)
	// A stall of the machine's (measured meanwhile) moves as many messages as it lasted
	// (at most 1000 a second) from one interval into a later one, and one at the end may
	// leave those due in its last moments (250·s² of the ramp down) unstarted.
	stall := probe.Stop().Worst().Seconds()
	if res.ExitCode != 0 {
		t.Fatalf("%v", res)
	}
	r := readReport(t, out)
	// ∫ = 1000 + 2000 + 1000
	if unsent := int64(250 * stall * stall); r.Totals.Planned != 4000 || r.Totals.Accepted < 4000-unsent {
		t.Fatalf("totals %+v, want 4000 accepted (at least %d)", r.Totals, 4000-unsent)
	}
	// Intervals sit on whole wall-clock seconds, so the first one is a part of a second:
	// compare each with the integral of the rate over its own span.
	cumulative := func(t float64) float64 {
		switch {
		case t < 0:
			return 0
		case t < 2:
			return 250 * t * t
		case t < 4:
			return 1000 + 1000*(t-2)
		case t < 6:
			return 3000 + 1000*(t-4) - 250*(t-4)*(t-4)
		}
		return 4000
	}
	if len(r.Intervals) < 5 {
		t.Fatalf("only %d intervals", len(r.Intervals))
	}
	for i, iv := range r.Intervals {
		a := iv.Start.Sub(r.Start).Seconds()
		b := a + float64(iv.DurationNs)/1e9
		want := cumulative(b) - cumulative(a)
		var got float64
		for _, p := range iv.Phases {
			if p.Phase == "schedule_lag" {
				got = float64(p.Count)
			}
		}
		if slack := 40 + 1000*stall; got < want*0.85-slack || got > want*1.15+slack {
			t.Errorf("interval %d [%.2fs, %.2fs): %.0f messages started, want about %.0f (± 15%% ± %.0f)", i, a, b, got, want, slack)
		}
	}
}

// Rejections at every phase, counted exactly: planned = accepted + rejected + failed +
// not started, the error table names the phase and code, and accepted equals what the
// sink says it accepted.
func TestAccountingAgainstSinkStats(t *testing.T) {
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	for _, tc := range []struct {
		reject string // go-smtp-sink -r (soft reject) command list; "" for none
		key    string // the error key expected
		reuse  bool
	}{
		{"", "", true},
		{"mail", "mail:temp:450:4.3.0", true},
		{"rcpt", "rcpt:temp:450:4.3.0", false},
		{"data", "data:temp:450:4.3.0", true},
		{".", "eod:temp:450:4.3.0", false},
	} {
		t.Run("reject "+tc.reject, func(t *testing.T) {
			stats := filepath.Join(t.TempDir(), "stats.json")
			opts := []string{"--stats", stats}
			if tc.reject != "" {
				opts = append(opts, "-r", tc.reject)
			}
			sink, addr := startGoSink(t, opts...)
			out := filepath.Join(t.TempDir(), "r.json")
			args := []string{"-A", "-s", "10", "-m", "300", "--json", out, addr}
			if tc.reuse {
				args = append([]string{"-d"}, args...)
			}
			res := testpeer.Run(t, time.Minute, bin, args...)
			if res.ExitCode != 0 {
				t.Fatalf("%v", res)
			}
			r := readReport(t, out)
			tot := r.Totals
			if tot.Accepted+tot.Rejected+tot.Failed+tot.NotStarted != tot.Planned || tot.Planned != 300 {
				t.Fatalf("accounting %+v", tot)
			}
			wantAccepted := int64(300)
			if tc.reject != "" {
				wantAccepted = 0
				if tot.Rejected != 300 {
					t.Fatalf("rejected %d, want 300", tot.Rejected)
				}
				found := false
				for _, e := range r.Errors {
					found = found || e.Key == tc.key && e.Count == 300
				}
				if !found {
					t.Fatalf("no error %q ×300 in %+v", tc.key, r.Errors)
				}
			}
			sink.Stop() // SIGTERM: the sink writes its stats and exits
			b, err := os.ReadFile(stats)
			if err != nil {
				t.Fatal(err)
			}
			var st struct {
				MessagesAccepted int64 `json:"messages_accepted"`
			}
			if err := json.Unmarshal(b, &st); err != nil {
				t.Fatalf("sink stats %s: %v", b, err)
			}
			if tot.Accepted != wantAccepted || st.MessagesAccepted != tot.Accepted {
				t.Fatalf("we counted %d accepted, the sink %d; want %d", tot.Accepted, st.MessagesAccepted, wantAccepted)
			}
		})
	}
}

// --log-messages writes one CSV line per message with the sink's queue id; --hdr-log
// writes an interval log that HdrHistogram's log reader takes back, tagged per phase.
func TestMessageLogAndHdrLog(t *testing.T) {
	_, addr := startGoSink(t)
	dir := t.TempDir()
	csvPath, hlogPath := filepath.Join(dir, "m.csv"), filepath.Join(dir, "r.hlog")
	bin := testpeer.BuildCommand(t, "go-smtp-source")
	res := testpeer.Run(t, time.Minute, bin, "-d", "-s", "4", "-m", "200", "--log-messages", csvPath, "--hdr-log", hlogPath, addr)
	if res.ExitCode != 0 {
		t.Fatalf("%v", res)
	}
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("CSV: %v", err)
	}
	if len(rows) != 201 || rows[0][0] != "seq" {
		t.Fatalf("%d rows, header %v", len(rows), rows[0])
	}
	seen := map[string]bool{}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	for _, row := range rows[1:] {
		if row[col["outcome"]] != "accepted" || row[col["code"]] != "250" || row[col["queue_id"]] == "" {
			t.Fatalf("row %v", row)
		}
		if seen[row[col["seq"]]] {
			t.Fatalf("message %s logged twice", row[col["seq"]])
		}
		seen[row[col["seq"]]] = true
		if eod, err := strconv.ParseFloat(row[col["eod_us"]], 64); err != nil || eod <= 0 {
			t.Fatalf("eod_us %q", row[col["eod_us"]])
		}
	}
	hf, err := os.Open(hlogPath)
	if err != nil {
		t.Fatal(err)
	}
	defer hf.Close()
	rd := hdr.NewHistogramLogReader(hf)
	tags := map[string]int64{}
	for {
		h, err := rd.NextIntervalHistogram()
		if err != nil {
			t.Fatalf("reading the interval log: %v", err)
		}
		if h == nil {
			break
		}
		tags[h.Tag()] += h.TotalCount()
	}
	if tags["eod"] != 200 || tags["mail"] != 200 {
		t.Fatalf("interval log counts per tag: %v", tags)
	}
}

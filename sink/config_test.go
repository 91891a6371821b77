package sink

import (
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/metrics"
)

func TestSetDelayW(t *testing.T) {
	tests := []struct {
		spec    string
		verb    Verb
		want    Delay
		wantErr string
	}{
		{"rcpt:0.005", VerbRCPT, Delay{Duration: 5 * time.Millisecond}, ""},
		{"data:2", VerbDATA, Delay{Duration: 2 * time.Second}, ""},
		{".:1:50", VerbDot, Delay{Duration: time.Second, Odds: 50}, ""},
		{"connect:10ms", VerbConnect, Delay{Duration: 10 * time.Millisecond}, ""},
		{"rcpt", 0, Delay{}, "want command:delay"},
		{"nope:1", 0, Delay{}, "unknown command"},
		{"rcpt:x", 0, Delay{}, "bad delay"},
		{"rcpt:1:100", 0, Delay{}, "odds"},
		{"rcpt:-1", 0, Delay{}, "out of range"},
	}
	for _, tt := range tests {
		var c Config
		err := c.SetDelayW(tt.spec)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("SetDelayW(%q) error %v, want %q", tt.spec, err, tt.wantErr)
			}
			continue
		}
		if err != nil || c.Delays[tt.verb] != tt.want {
			t.Errorf("SetDelayW(%q) = %+v, %v; want %+v", tt.spec, c.Delays[tt.verb], err, tt.want)
		}
	}
}

func TestSetDelays(t *testing.T) {
	var c Config
	if err := c.SetDelays("rcpt=5ms, dot=20ms:0.5,data=0.25:25%"); err != nil {
		t.Fatal(err)
	}
	if c.Delays[VerbRCPT] != (Delay{Duration: 5 * time.Millisecond}) ||
		c.Delays[VerbDot] != (Delay{Duration: 20 * time.Millisecond, Probability: 0.5}) ||
		c.Delays[VerbDATA] != (Delay{Duration: 250 * time.Millisecond, Probability: 0.25}) {
		t.Errorf("delays %+v", c.Delays)
	}
	for _, bad := range []string{"rcpt", "x=1ms", "rcpt=1ms:0", "rcpt=1ms:2", "rcpt=soon"} {
		if err := c.SetDelays(bad); err == nil {
			t.Errorf("SetDelays(%q) accepted", bad)
		}
	}
}

func TestDelayRoll(t *testing.T) {
	seq := func(vals ...float64) func() float64 {
		return func() float64 { v := vals[0]; vals = vals[1:]; return v }
	}
	ms := time.Millisecond
	tests := []struct {
		d      Delay
		random func() float64
		want   time.Duration
	}{
		{Delay{}, nil, 0},
		{Delay{Duration: ms}, nil, ms},
		{Delay{Duration: ms, Probability: 0.5}, seq(0.4), ms},
		{Delay{Duration: ms, Probability: 0.5}, seq(0.6), 0},
		{Delay{Duration: ms, Odds: 50}, seq(0.1, 0.2, 0.9), 2 * ms},
		{Delay{Duration: ms, Odds: 50}, seq(0.7), 0},
	}
	for i, tt := range tests {
		if got := tt.d.roll(tt.random); got != tt.want {
			t.Errorf("%d: %+v.roll = %v, want %v", i, tt.d, got, tt.want)
		}
	}
}

func TestSetFaultsAndValidate(t *testing.T) {
	var c Config
	if err := c.SetFaults("rcpt, data .", FaultHardReject); err != nil {
		t.Fatal(err)
	}
	if c.Faults[VerbRCPT] != FaultHardReject || c.Faults[VerbDATA] != FaultHardReject || c.Faults[VerbDot] != FaultHardReject {
		t.Errorf("faults %v", c.Faults)
	}
	if err := c.SetFaults("mail,bogus", FaultSoftReject); err == nil {
		t.Error("unknown command accepted")
	}
	if !c.withDefaults().DisablePipelining {
		t.Error("a reject fault must imply -p")
	}
	bad := []Config{
		{},
		{Listen: "x", DumpDir: "a", DumpFile: "b"},
		{Listen: "x", SoftReply: "550 no"},
		{Listen: "x", HardReply: "5x0 no"},
		{Listen: "x", MaxCommandLine: 100},
		{Listen: "x", Backlog: -1},
		{Listen: "x", TraceHeader: DefaultTraceHeader, TraceMaxSeq: metrics.MaxSeq + 1},
	}
	if err := (Config{Listen: "x", TraceHeader: DefaultTraceHeader, TraceMaxSeq: metrics.MaxSeq}).Validate(); err != nil {
		t.Errorf("the highest trace limit: %v", err)
	}
	for _, b := range bad {
		if err := b.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil", b)
		}
	}
}

func TestParseListenAddress(t *testing.T) {
	tests := []struct {
		operand string
		family  Family
		want    string
		wantErr string
	}{
		{"127.0.0.1:2525", FamilyAny, "tcp4://127.0.0.1:2525", ""},
		{"inet:127.0.0.1:2525", FamilyAny, "tcp4://127.0.0.1:2525", ""},
		{":2525", FamilyAny, "tcp4://0.0.0.0:2525", ""},
		{"[127.0.0.1]:2525", FamilyAny, "tcp4://127.0.0.1:2525", ""},
		{"[::1]:2525", FamilyAny, "tcp6://[::1]:2525", ""},
		{"[ipv6:::1]:2525", FamilyAny, "tcp6://[::1]:2525", ""},
		{"::1:2525", FamilyAny, "tcp6://[::1]:2525", ""},
		{"127.0.0.1:smtp", FamilyAny, "tcp4://127.0.0.1:25", ""},
		{"unix:/tmp/s.sock", FamilyAny, "unix:///tmp/s.sock", ""},
		{"[127.0.0.1", FamilyAny, "", `missing "]"`},
		{"[127.0.0.1]x", FamilyAny, "", `garbage after "]"`},
		{"[ipv6:127.0.0.1]:25", FamilyAny, "", "malformed IPv6"},
		{"127.0.0.1:2525", FamilyIPv6, "", "Address family"},
		{"[::1]:25", FamilyIPv4, "", "Address family"},
		{"127.0.0.1", FamilyAny, "", "missing port"},
		{"unix:/" + strings.Repeat("x", 120), FamilyAny, "", "too long"},
	}
	for _, tt := range tests {
		got, err := ParseListenAddress(tt.operand, tt.family)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseListenAddress(%q) = %q, %v; want error %q", tt.operand, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseListenAddress(%q) = %q, %v; want %q", tt.operand, got, err, tt.want)
		}
	}
}

func TestStrftime(t *testing.T) {
	tm := time.Date(2026, 11, 5, 7, 41, 9, 0, time.UTC)
	tests := map[string]string{
		"%Y%m%d%H/%M.":  "2026110507/41.",
		"%e|%j|%a %b":   " 5|309|Thu Nov",
		"plain":         "plain",
		"100%% %q %":    "100% %q %",
		"%y-%I%p %Z %z": "26-07AM UTC +0000",
	}
	for in, want := range tests {
		if got := Strftime(in, tm); got != want {
			t.Errorf("Strftime(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReadAuthUsers(t *testing.T) {
	users, err := ReadAuthUsers(strings.NewReader("# comment\n\nalice:secret\nbob pw:with:colons\n"))
	if err != nil || users["alice"] != "secret" || users["bob pw"] != "with:colons" || len(users) != 2 {
		t.Errorf("ReadAuthUsers = %v, %v", users, err)
	}
	if _, err := ReadAuthUsers(strings.NewReader("nocolon\n")); err == nil {
		t.Error("a line without a password was accepted")
	}
}

func TestIDsAreUniqueAndHex(t *testing.T) {
	s := newIDSource(0xfffffffe)
	var a, b [8]byte
	s.next(&a)
	s.next(&b)
	if string(a[:]) != "ffffffff" || string(b[:]) != "00000000" {
		t.Errorf("ids %s %s", a, b)
	}
}

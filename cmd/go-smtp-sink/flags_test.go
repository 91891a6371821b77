package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/sink"
)

func TestParseArgsGetoptCompatible(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		check   func(*options) bool
		wantErr string // "usage" for errUsage
	}{
		{"operands only", []string{":2525", "10"}, func(o *options) bool { return o.listen == ":2525" && o.cfg.Backlog == 10 }, ""},
		{"atoi backlog", []string{":2525", "7x"}, func(o *options) bool { return o.cfg.Backlog == 7 }, ""},
		{"huge backlog fits listen(2)'s int", []string{":2525", "99999999999"}, func(o *options) bool { return o.cfg.Backlog == 1<<31-1 }, ""},
		{"bundled flags", []string{"-vcL", "127.0.0.1:25", "1"}, func(o *options) bool { return o.verbose && o.counters && o.cfg.LMTP }, ""},
		{"attached values", []string{"-m50", "-hmx.example", "-M3", "x:25", "1"}, func(o *options) bool {
			return o.cfg.MaxConnections == 50 && o.cfg.Hostname == "mx.example" && o.cfg.MaxMessages == 3
		}, ""},
		{"bundle ending in a value", []string{"-cm", "7", "x:25", "1"}, func(o *options) bool { return o.counters && o.cfg.MaxConnections == 7 }, ""},
		{"atoi: trailing garbage ignored", []string{"-m", "12abc", "x:25", "1"}, func(o *options) bool { return o.cfg.MaxConnections == 12 }, ""},
		{"double dash ends options", []string{"--", "x:25", "1"}, func(o *options) bool { return o.listen == "x:25" }, ""},
		{"delays and faults", []string{"-W", "rcpt:0.005", "--delay", "dot=20ms:50%", "-w", "1", "-f", "rcpt,data", "-Q", "mail", "-q", "quit", "-r", ".", "x:25", "1"}, func(o *options) bool {
			c := o.cfg
			return c.Delays[sink.VerbRCPT].Duration == 5*time.Millisecond && c.Delays[sink.VerbDot] == (sink.Delay{Duration: 20 * time.Millisecond, Probability: 0.5}) &&
				c.Delays[sink.VerbDATA].Duration == time.Second && c.Faults[sink.VerbRCPT] == sink.FaultHardReject &&
				c.Faults[sink.VerbDATA] == sink.FaultHardReject && c.Faults[sink.VerbMAIL] == sink.FaultClose421 &&
				c.Faults[sink.VerbQUIT] == sink.FaultDisconnect && c.Faults[sink.VerbDot] == sink.FaultSoftReject
		}, ""},
		{"abort and dumps", []string{"-A", "0.5", "-D", "/tmp/x", "-S", `>>\n`, "x:25", "1"}, func(o *options) bool {
			return o.cfg.AbortAfterData && o.cfg.AbortDelay == 500*time.Millisecond && o.cfg.DumpFile == "/tmp/x" && o.cfg.DumpPrefix == ">>\n"
		}, ""},
		{"timeouts, window, long options", []string{"-t", "5", "-T", "8192", "--stats", "s.json", "--unique-header", "Message-Id", "--loops", "3", "x:25", "1"}, func(o *options) bool {
			return o.cfg.IdleTimeout == 5*time.Second && o.cfg.SocketBuffer == 8192 && o.statsFile == "s.json" && o.cfg.UniqueHeader == "Message-Id" && o.cfg.EventLoops == 3
		}, ""},
		{"strict RFC 5321 line limit", []string{"--max-line", "512", "x:25", "1"}, func(o *options) bool { return o.cfg.MaxCommandLine == 512 }, ""},
		{"line limit below RFC 5321", []string{"--max-line", "100", "x:25", "1"}, nil, "bad value"},
		{"-H", []string{"-H", "0.25", "x:25", "1"}, func(o *options) bool { return o.cfg.DataReadDelay == 250*time.Millisecond }, ""},
		{"-6 after -4 wins", []string{"-4", "-6", "x:25", "1"}, func(o *options) bool { return o.family == sink.FamilyIPv6 }, ""},
		{"options after the operand", []string{"x:25", "1", "-v"}, nil, "usage"},
		{"one operand", []string{"x:25"}, nil, "usage"},
		{"bad backlog", []string{"x:25", "0"}, nil, "usage"},
		{"unknown option", []string{"-x", "x:25", "1"}, nil, "unknown shorthand flag: 'x'"},
		{"bad -n", []string{"-n", "0", "x:25", "1"}, nil, "bad value"},
		{"bad -W", []string{"-W", "rcpt", "x:25", "1"}, nil, "want command:delay"},
		{"bad fault list", []string{"-f", "rcpt,bogus", "x:25", "1"}, nil, "unknown command"},
		{"missing value", []string{"-m"}, nil, "needs an argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseArgs("go-smtp-sink", tt.args)
			switch {
			case tt.wantErr == "usage":
				if !errors.Is(err, errUsage) {
					t.Fatalf("err = %v, want the usage error", err)
				}
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
			case err != nil:
				t.Fatalf("err = %v", err)
			case !tt.check(o):
				t.Fatalf("options %+v", o)
			}
		})
	}
}

func TestUnescapeC(t *testing.T) {
	if got := unescapeC(`a\nb\tc\\d\101\0x`); got != "a\nb\tc\\dA\x00x" {
		t.Errorf("unescapeC = %q", got)
	}
}

func TestParsePushbackFlags(t *testing.T) {
	o, err := parseArgs("go-smtp-sink", []string{"--reject", "rcpt=550:5%,.=451:2%", "--reject", "mail=421/4.7.0:1%",
		"--greylist-delay", "2", "--greylist-max", "10", "--rate-limit", "200/s", "--rate-limit", "5/s,per=connection,reply=421",
		"--max-per-connection", "100", "--tarpit", "2ms,max=1s", "--seed", "9", "--trace-header", "X-T", "--http", "127.0.0.1:0", "x:25", "1"})
	if err != nil {
		t.Fatal(err)
	}
	c := o.cfg
	if len(c.Rejects) != 3 || c.Rejects[2] != (sink.RejectRule{Verb: sink.VerbMAIL, Code: 421, Enhanced: "4.7.0", Probability: 0.01}) ||
		c.Greylist != (sink.Greylist{Enabled: true, Delay: 2 * time.Second, MaxEntries: 10}) ||
		len(c.RateLimits) != 2 || !c.RateLimits[1].PerConnection || c.MaxPerConnection != 100 ||
		c.Tarpit != (sink.Tarpit{PerSession: 2 * time.Millisecond, Max: time.Second}) || c.Seed != 9 ||
		c.TraceHeader != "X-T" || o.push.httpListen != "127.0.0.1:0" || c.DisablePipelining {
		t.Errorf("config %+v", c)
	}
	if o, err := parseArgs("go-smtp-sink", []string{"--trace-file", "t.json", "x:25", "1"}); err != nil || o.cfg.TraceHeader != sink.DefaultTraceHeader {
		t.Errorf("--trace-file implies --trace: %v, %q", err, o.cfg.TraceHeader)
	}
	if o, err := parseArgs("go-smtp-sink", []string{"x:25", "1"}); err != nil || o.cfg.TraceHeader != "" || o.cfg.Greylist.Enabled {
		t.Errorf("defaults: %v %+v", err, o.cfg)
	}
	for _, bad := range [][]string{{"--reject", "rcpt=250"}, {"--rate-limit", "fast"}, {"--tarpit", "0"},
		{"--greylist-delay", "0"}, {"--max-per-connection", "-1"}} {
		if _, err := parseArgs("go-smtp-sink", append(bad, "x:25", "1")); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

package main_test

// TestCompatVerbose: -v prints the dialogue as smtp-source's -v does: each command sent
// as "PROG: COMMAND", each reply line as "PROG: <<< LINE", the lone "." but no message
// content. smtp-source's Postfix-library lines (name_mask, smtp_stream_setup,
// vstream_tweak_tcp, stream buffer size) are removed from its output before comparing;
// go-smtp-source's summary report at the end is its own.

import (
	"regexp"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

var compatVerboseNoise = regexp.MustCompile(`^PROG: (name_mask: |smtp_stream_setup: |vstream_tweak_tcp: |fd=\d+: stream buffer size )`)

func TestCompatVerbose(t *testing.T) {
	source := testpeer.Require(t, "smtp-source")
	tool := compatUnderTest(t)
	cases := []struct {
		name string
		args []string
		opts testpeer.CaptureOptions
	}{
		{name: "v", args: []string{"-v"}},
		{name: "v-S-d-m2", args: []string{"-v", "-S", "subj", "-d", "-m", "2"}},
		{name: "v-L-r2", args: []string{"-v", "-L", "-r", "2"}, opts: testpeer.CaptureOptions{LMTP: true}},
		{name: "v-o", args: []string{"-v", "-o"}},
		{name: "v-A-rcpt-450", args: []string{"-v", "-A"},
			opts: testpeer.CaptureOptions{Reject: []testpeer.CaptureReject{{Prefix: "RCPT", Reply: "450 4.3.0 Error: command failed"}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			refSrv := testpeer.StartCapture(t, tc.opts)
			gotSrv := testpeer.StartCapture(t, tc.opts)
			ref := testpeer.Run(t, compatRunLimit, source, append(append([]string{}, tc.args...), refSrv.Addr)...)
			got := testpeer.Run(t, compatRunLimit, tool.path, append(tool.args(nil, tc.args...), gotSrv.Addr)...)
			if ref.ExitCode != 0 {
				t.Fatalf("harness: smtp-source: %s", ref)
			}
			if got.ExitCode != 0 {
				t.Errorf("go-smtp-source: want exit 0, got %s", got)
			}
			var refLines []string
			for _, l := range compatStderrLines(ref.Stderr, source) {
				if !compatVerboseNoise.MatchString(l) {
					refLines = append(refLines, l)
				}
			}
			var gotLines []string
			for _, l := range compatOursDiagnostics(t, tool, got.Stderr) {
				if !tool.oracle || !compatVerboseNoise.MatchString(l) {
					gotLines = append(gotLines, l)
				}
			}
			if d := compatDiff(refLines, gotLines); d != "" {
				t.Errorf("-v output differs (program name normalised to PROG; Postfix library lines removed from smtp-source's):\n%s", d)
			}
			_ = refSrv.WaitConns(1, 5*time.Second)
			_ = gotSrv.WaitConns(1, 5*time.Second)
			if r, g := refSrv.Conns(), gotSrv.Conns(); len(r) == 1 && len(g) == 1 {
				if w, h := compatNormaliseStream(r[0].Bytes()), compatNormaliseStream(g[0].Bytes()); w != h {
					t.Errorf("client byte streams differ:\n%s", compatDiff(compatSplitLines(w), compatSplitLines(h)))
				}
			} else {
				t.Errorf("connections: smtp-source %d, go-smtp-source %d", len(r), len(g))
			}
		})
	}
}

package protocol

import (
	"errors"
	"strings"
	"testing"
)

func TestParseReply(t *testing.T) {
	long := "250 " + strings.Repeat("x", MaxReplyLine) + "\r\n"
	tests := []struct {
		name      string
		in        string
		code      int
		n         int // bytes consumed; 0 = incomplete
		lines     int
		enhanced  string
		text      string
		wantErr   error
		extraTail bool
	}{
		{name: "single", in: "250 2.1.0 Ok\r\n", code: 250, n: 14, lines: 1, enhanced: "2.1.0", text: "2.1.0 Ok"},
		{name: "bare LF", in: "220 hi\n", code: 220, n: 7, lines: 1, text: "hi"},
		{name: "code only", in: "250\r\n", code: 250, n: 5, lines: 1},
		{name: "multi-line", in: "250-smtp-sink\r\n250-PIPELINING\r\n250 \r\n", code: 250, n: 37, lines: 3, text: "smtp-sink\nPIPELINING\n"},
		{name: "two replies: first only", in: "250 a\r\n354 b\r\n", code: 250, n: 7, lines: 1, text: "a"},
		{name: "partial line", in: "250 2.1.", n: 0},
		{name: "partial multi-line", in: "250-a\r\n250 b", n: 0},
		{name: "last line's code counts", in: "250-a\r\n550 b\r\n", code: 550, n: 14, lines: 2, text: "a\nb"},
		{name: "enhanced with class mismatch", in: "550 2.1.0 x\r\n", code: 550, n: 13, lines: 1, text: "2.1.0 x"},
		{name: "enhanced three-digit fields", in: "452 4.5.300 x\r\n", code: 452, n: 15, lines: 1, enhanced: "4.5.300", text: "4.5.300 x"},
		{name: "two digits", in: "25 ok\r\n", wantErr: ErrMalformedReply},
		{name: "four digits", in: "2500 ok\r\n", wantErr: ErrMalformedReply},
		{name: "letters", in: "abc ok\r\n", wantErr: ErrMalformedReply},
		// smtp-source's rule: three digits, then anything but a digit.
		{name: "no space after the code", in: "250ok\r\n", code: 250, n: 7, lines: 1, text: "ok"},
		{name: "code beyond 5xx", in: "600 x\r\n", code: 600, n: 7, lines: 1, text: "x"},
		{name: "code 999", in: "999 ok\r\n", code: 999, n: 8, lines: 1, text: "ok"},
		{name: "code 000", in: "000\r\n", code: 0, n: 5, lines: 1},
		{name: "tab after the code", in: "250\tok\r\n", code: 250, n: 8, lines: 1, text: "ok"},
		{name: "continuation without text", in: "250-\r\n250ok\r\n", code: 250, n: 13, lines: 2, text: "\nok"},
		{name: "letters after continuation", in: "250-x\r\n250 y\r\n", code: 250, n: 14, lines: 2, text: "x\ny"},
		{name: "empty line", in: "\r\n", wantErr: ErrMalformedReply},
		{name: "line too long", in: long, wantErr: ErrReplyTooLong},
		{name: "unterminated too long", in: long[:MaxReplyLine+1], wantErr: ErrReplyTooLong},
		{name: "reply too long", in: strings.Repeat("250-"+strings.Repeat("y", 1000)+"\r\n", 70), wantErr: ErrReplyTooLong},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, n, err := ParseReply([]byte(tc.in))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if n != tc.n {
				t.Fatalf("consumed %d, want %d", n, tc.n)
			}
			if n == 0 {
				return
			}
			if r.Code != tc.code || r.Lines != tc.lines || string(r.Enhanced) != tc.enhanced || r.Text() != tc.text {
				t.Fatalf("got code %d lines %d enhanced %q text %q; want %d %d %q %q",
					r.Code, r.Lines, r.Enhanced, r.Text(), tc.code, tc.lines, tc.enhanced, tc.text)
			}
		})
	}
}

func TestParseCapabilities(t *testing.T) {
	in := "250-mx.example\r\n250-pipelining\r\n250-SIZE 10240000\r\n250-AUTH PLAIN LOGIN\r\n250-STARTTLS\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n"
	r, _, err := ParseReply([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	caps := ParseCapabilities(&r)
	for _, e := range []Extension{ExtPipelining, ExtSize, ExtAuth, ExtStartTLS, Ext8BitMIME, ExtEnhancedStatusCodes} {
		if !caps.Has(e) {
			t.Errorf("missing extension %b", e)
		}
	}
	if caps.Has(ExtChunking) || caps.Has(ExtSMTPUTF8) {
		t.Error("extension not announced but reported")
	}
	if caps.MaxSize != 10240000 || caps.AuthMechs != "PLAIN LOGIN" {
		t.Errorf("size %d auth %q", caps.MaxSize, caps.AuthMechs)
	}
	// The greeting line is the server's name, never an extension.
	r, _, _ = ParseReply([]byte("250 PIPELINING\r\n"))
	if c := ParseCapabilities(&r); c.Has(ExtPipelining) {
		t.Error("first line taken as an extension")
	}
}

func TestReplyErrorText(t *testing.T) {
	r, _, _ := ParseReply([]byte("550-line one\r\n550 line\x01two\r\n"))
	err := rejection(PhaseMail, "sender rejected", &r)
	if got, want := err.Error(), "sender rejected: 550 line one?line?two"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// FuzzParseReply: any input either parses into a reply within the bounds, is incomplete,
// or is an error — never a panic, and never a claim to consume more than it was given.
func FuzzParseReply(f *testing.F) {
	for _, s := range []string{"250 ok\r\n", "250-a\r\n250 b\r\n", "220 x\n", "354 go\r\n", "25", "999 x\r\n", "250-\r\n", "250ok\r\n", "600 x\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		r, n, err := ParseReply(p)
		if err != nil {
			if n != 0 {
				t.Fatalf("error with consumed %d", n)
			}
			return
		}
		if n < 0 || n > len(p) || n > MaxReplyBytes {
			t.Fatalf("consumed %d of %d", n, len(p))
		}
		if n > 0 {
			if r.Code < 0 || r.Code > 999 || len(r.Raw) != n || p[n-1] != '\n' {
				t.Fatalf("bad reply %+v", r)
			}
			_ = r.Text()
			_ = ParseCapabilities(&r)
		}
		checkResumedParse(t, p, r, n, err)
	})
}

// checkResumedParse: the same bytes arriving one at a time, the parser resuming where
// it stopped (as Client.Feed does with a reply split across reads), give the same
// result as all of them at once.
func checkResumedParse(t *testing.T, p []byte, r Reply, n int, err error) {
	t.Helper()
	var s replyScan
	for i := 1; i <= len(p); i++ {
		var rr Reply
		nn, ee := parseReply(p[:i], &s, &rr)
		if ee != nil || nn > 0 || i == len(p) {
			if (ee == nil) != (err == nil) || nn != n || rr.Code != r.Code || rr.Lines != r.Lines || string(rr.Enhanced) != string(r.Enhanced) {
				t.Fatalf("byte by byte: %d bytes, code %d, %d lines, %v; at once: %d, %d, %d, %v", nn, rr.Code, rr.Lines, ee, n, r.Code, r.Lines, err)
			}
			return
		}
	}
}

func TestParseReplyResumes(t *testing.T) {
	for _, in := range []string{"250-smtp-sink\r\n250-PIPELINING\r\n250 \r\n", "220 hi\n", "250-a\r\n25x b\r\n",
		strings.Repeat("250-"+strings.Repeat("y", 1000)+"\r\n", 70)} {
		r, n, err := ParseReply([]byte(in))
		checkResumedParse(t, []byte(in), r, n, err)
	}
}

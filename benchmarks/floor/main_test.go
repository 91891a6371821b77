package main

import "testing"

func TestParseArgs(t *testing.T) {
	s, m, log, addr, err := parseArgs([]string{"-d", "-s", "100", "-m", "2000", "--log-messages", "x.csv", "127.0.0.1:25"})
	if err != nil || s != 100 || m != 2000 || log != "x.csv" || addr.String() != "127.0.0.1:25" {
		t.Fatalf("got %d %d %q %v %v", s, m, log, addr, err)
	}
	for _, bad := range [][]string{
		{"-s", "0", "127.0.0.1:25"},
		{"-m", "x", "127.0.0.1:25"},
		{"-s", "1"},
		{"localhost:25"},
		{"[::1]:25"},
	} {
		if _, _, _, _, err := parseArgs(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

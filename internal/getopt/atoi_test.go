package getopt

import "testing"

func TestAtoi(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"10", 10}, {"2abc", 2}, {"  7", 7}, {"-3", -3}, {"+4", 4}, {"x", 0}, {"", 0}, {"0", 0},
	} {
		if got := Atoi(tc.in); got != tc.want {
			t.Errorf("Atoi(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
	// Too many digits: capped, never wrapped around to a negative or small number.
	if got := Atoi("99999999999999999999"); got < 1<<40 {
		t.Errorf("Atoi of 20 nines = %d", got)
	}
}

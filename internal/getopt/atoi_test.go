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

// TestInt: the values glibc's atoi() gives on x86-64 (printed by a C program calling
// atoi on each string, Debian 12, glibc 2.36).
func TestInt(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int32
	}{
		{"4294967297", 1}, {"4294967298", 2}, {"2147483648", -2147483648},
		{"99999999999999999999", -1}, {"-99999999999999999999", 0}, {" +12x", 12},
		{"-9223372036854775808", 0}, {"9223372036854775808", -1}, {"9223372036854775807", -1},
		{"-2147483649", 2147483647}, {"", 0}, {"-", 0}, {"0x10", 0},
		{"10", 10}, {"2abc", 2}, {"\t\n 7", 7}, {"-3", -3}, {"2147483647", 2147483647},
		{"4294967296", 0}, {"6442450943", 2147483647}, {"00000000000000000000000000005", 5},
	} {
		if got := Int(tc.in); got != tc.want {
			t.Errorf("Int(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

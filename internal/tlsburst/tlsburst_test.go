package tlsburst

import "testing"

func TestDetector(t *testing.T) {
	cases := []struct {
		name      string
		perSecond []int64 // handshakes completed in each second
		ends      []int   // the seconds at which Second reports a burst's end
	}{
		{"5000 sessions start TLS, then park", []int64{900, 1100, 1000, 1000, 1000, 0, 0, 0}, []int{5}},
		{"the burst tails off: it ends below a tenth of its peak", []int64{1500, 1200, 300, 160, 140, 0}, []int{4}},
		{"two bursts", []int64{800, 800, 0, 0, 700, 700, 1, 0}, []int{2, 6}},
		{"too few handshakes to be worth a full GC", []int64{300, 300, 0, 0}, nil},
		{"-d -s 100: all in the first second", []int64{100, 0, 0}, nil},
		{"a connection per message: handshakes never stop", []int64{1000, 1050, 990, 1010, 1000}, nil},
		{"no TLS", []int64{0, 0, 0}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var d Detector
			var ends []int
			for i, n := range c.perSecond {
				if d.Second(n) {
					ends = append(ends, i)
				}
			}
			if len(ends) != len(c.ends) {
				t.Fatalf("bursts ended at seconds %v, want %v", ends, c.ends)
			}
			for i := range ends {
				if ends[i] != c.ends[i] {
					t.Fatalf("bursts ended at seconds %v, want %v", ends, c.ends)
				}
			}
		})
	}
}

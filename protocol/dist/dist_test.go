package dist

import (
	"math"
	"sort"
	"strings"
	"testing"
)

func TestParseAccepts(t *testing.T) {
	for _, tc := range []struct {
		in       string
		kind     Kind
		min, max int64
	}{
		{"1000", Fixed, 1000, 1000},
		{"30k", Fixed, 30 << 10, 30 << 10},
		{"2M", Fixed, 2 << 20, 2 << 20},
		{"uniform:10k-200k", Uniform, 10 << 10, 200 << 10},
		{"lognormal:median=30k,sigma=1.2", LogNormal, 1, MaxValue},
		{"1k:50%,10k:30%,100k:15%,2m:5%", Table, 1 << 10, 2 << 20},
		{"1:80%,2-5:18%,50:2%", Table, 1, 50},
		{"3:1,4:3", Table, 3, 4},
	} {
		d, err := Parse(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if d.Kind() != tc.kind || d.Min() != tc.min || d.Max() != tc.max || d.String() != tc.in {
			t.Errorf("%s: kind %d min %d max %d %q", tc.in, d.Kind(), d.Min(), d.Max(), d.String())
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, in := range []string{"", "abc", "-5", "+5", "10x", "uniform:", "uniform:5-1", "uniform:1-",
		"lognormal:median=30k", "lognormal:sigma=1", "lognormal:median=0,sigma=1", "lognormal:median=1k,sigma=-1",
		"lognormal:median=1k,sigma=1,median=2k", "lognormal:mean=1k,sigma=1", "1k:50%,2k:40%", "1k:50%,2k:50",
		"1k:0,2k:0", "1k:x", "9999999999g", "1k:50%,,2k:50%", "1k:NaN"} {
		if _, err := Parse(in); err == nil {
			t.Errorf("%q: accepted", in)
		} else if !strings.Contains(err.Error(), "distribution") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error %q should be one line naming the distribution", in, err)
		}
	}
}

// quantiles of n evenly spread draws, against the distribution's own.
func TestQuantiles(t *testing.T) {
	const n = 10000
	for _, spec := range []string{"uniform:10k-200k", "lognormal:median=30k,sigma=1.2"} {
		d, _ := Parse(spec)
		v := make([]int64, n)
		for i := range v {
			v[i] = d.Quantile(Even(42, int64(i+1), StreamSize))
		}
		sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
		for _, q := range []float64{0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99} {
			got, want := float64(v[int(q*n)]), float64(d.Quantile(q))
			if math.Abs(got-want)/want > 0.02 {
				t.Errorf("%s: q%g %g, want %g", spec, q, got, want)
			}
		}
	}
	d, _ := Parse("lognormal:median=30k,sigma=1.2")
	if got := d.Quantile(0.5); got != 30<<10 {
		t.Errorf("lognormal median %d", got)
	}
	if got, want := d.Quantile(0.8413447460685429), int64(math.Round(30*1024*math.Exp(1.2))); got != want {
		t.Errorf("lognormal +1 sigma %d, want %d", got, want)
	}
}

func TestTableShares(t *testing.T) {
	d, _ := Parse("1:80%,2-5:18%,50:2%")
	counts := map[int64]int{}
	const n = 100000
	for i := range n {
		counts[d.Quantile(Unit(7, int64(i), StreamRcptCount))]++
	}
	share := func(lo, hi int64) float64 {
		c := 0
		for v := lo; v <= hi; v++ {
			c += counts[v]
		}
		return float64(c) / n
	}
	if math.Abs(share(1, 1)-0.8) > 0.01 || math.Abs(share(2, 5)-0.18) > 0.01 || math.Abs(share(50, 50)-0.02) > 0.003 {
		t.Fatalf("shares %v", counts)
	}
	for v := int64(2); v <= 5; v++ {
		if math.Abs(share(v, v)-0.045) > 0.005 {
			t.Fatalf("%d: share %g of the range's 18%%", v, share(v, v))
		}
	}
	if len(counts) != 6 {
		t.Fatalf("values outside the table: %v", counts)
	}
}

func TestDrawsReproducible(t *testing.T) {
	if Hash(1, 5, StreamSize) != Hash(1, 5, StreamSize) || Hash(1, 5, StreamSize) == Hash(2, 5, StreamSize) ||
		Hash(1, 5, StreamSize) == Hash(1, 6, StreamSize) || Hash(1, 5, StreamSize) == Hash(1, 5, StreamRcpt) {
		t.Fatal("Hash is not a function of (seed, seq, stream) alone")
	}
	for seq := int64(0); seq < 1000; seq++ {
		if u := Unit(3, seq, StreamBody); u < 0 || u >= 1 {
			t.Fatalf("Unit %g", u)
		}
		if u := Even(3, seq, StreamBody); u < 0 || u >= 1 {
			t.Fatalf("Even %g", u)
		}
	}
}

func TestChoice(t *testing.T) {
	c, err := ParseChoice("a.example:70,b.example:30")
	if err != nil {
		t.Fatal(err)
	}
	if c.Pick(0) != "a.example" || c.Pick(0.69) != "a.example" || c.Pick(0.7) != "b.example" || c.Pick(0.999) != "b.example" {
		t.Fatal("picks")
	}
	for _, bad := range []string{"", "a", "a:", ":5", "a b:5", "a:50%,b:5", "a:0", "a:-1"} {
		if _, err := ParseChoice(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"30k", "uniform:10k-200k", "lognormal:median=30k,sigma=1.2", "1k:50%,10k:30%,100k:15%,2m:5%", "1:80%,2-5:18%,50:2%"} {
		f.Add(s, 0.5)
	}
	f.Fuzz(func(t *testing.T, s string, u float64) {
		d, err := Parse(s)
		if err != nil {
			return
		}
		v := d.Quantile(u)
		if v < d.Min() || v > d.Max() {
			t.Fatalf("%q: Quantile(%g) = %d outside [%d, %d]", s, u, v, d.Min(), d.Max())
		}
		if _, err := Parse(d.String()); err != nil {
			t.Fatalf("%q does not parse again: %v", d.String(), err)
		}
	})
}

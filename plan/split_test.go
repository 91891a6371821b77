package plan

import (
	"math/rand/v2"
	"reflect"
	"testing"
)

func TestSplitProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 1))
	for iter := 0; iter < 500; iter++ {
		n := 1 + rng.IntN(12)
		weights := make([]int64, n)
		var total int64
		for k := range weights {
			weights[k] = 1
			if iter%2 == 1 {
				weights[k] = 1 + rng.Int64N(9)
			}
			total += weights[k]
		}
		s, err := NewSplit(weights)
		if err != nil {
			t.Fatal(err)
		}
		// Every process computes the same pattern.
		again, _ := NewSplit(append([]int64(nil), weights...))
		if !reflect.DeepEqual(s.owner, again.owner) {
			t.Fatalf("weights %v: two patterns", weights)
		}
		// Shard k appears w_k times in the pattern.
		seen := make([]int64, n)
		for _, o := range s.owner {
			seen[o]++
		}
		if !reflect.DeepEqual(seen, weights) {
			t.Fatalf("weights %v: pattern counts %v", weights, seen)
		}
		// Integer shares add up exactly and stay within 1 of the exact proportion.
		for _, q := range []int64{0, 1, int64(n) - 1, rng.Int64N(100), rng.Int64N(1 << 40)} {
			var sum int64
			for k := 0; k < n; k++ {
				sh := s.Share(k, q)
				if sh < 0 {
					t.Fatalf("weights %v q %d: negative share", weights, q)
				}
				exact := float64(q) * float64(weights[k]) / float64(total)
				if d := float64(sh) - exact; d <= -1 || d >= 1 {
					t.Fatalf("weights %v q %d: share %d of shard %d, exact %g", weights, q, sh, k, exact)
				}
				sum += sh
			}
			if sum != q {
				t.Fatalf("weights %v: shares of %d add up to %d", weights, q, sum)
			}
		}
		// Every message is owned exactly once, and the ownership says the same.
		m := rng.Int64N(3000)
		owners := make([]int, m)
		for g := range owners {
			owners[g] = -1
		}
		var counted int64
		for k := 0; k < n; k++ {
			sh := s.Shard(k)
			if err := sh.Validate(); err != nil {
				t.Fatalf("weights %v shard %d: %v", weights, k, err)
			}
			c := sh.Count(m)
			counted += c
			for i := int64(0); i < c; i++ {
				g := sh.Global(i)
				if g >= m || owners[g] != -1 {
					t.Fatalf("weights %v: message %d owned by %d and %d (or beyond %d)", weights, g, owners[min(g, m-1)], k, m)
				}
				owners[g] = k
				if s.Owner(g) != k {
					t.Fatalf("weights %v: Owner(%d) = %d, shard %d sends it", weights, g, s.Owner(g), k)
				}
			}
		}
		if counted != m {
			t.Fatalf("weights %v: %d messages owned of %d", weights, counted, m)
		}
		// Validate: every shard with messages gets a session.
		sessions := rng.Int64N(2 * int64(n))
		err = s.Validate(m, sessions)
		want := true
		for k := 0; k < n; k++ {
			if (m == 0 || s.Shard(k).Count(m) > 0) && s.Share(k, sessions) == 0 {
				want = false
			}
		}
		if (err == nil) != want {
			t.Fatalf("weights %v m %d s %d: Validate %v", weights, m, sessions, err)
		}
	}
}

func TestEqualSplitIsModulo(t *testing.T) {
	s, err := EqualSplit(5)
	if err != nil {
		t.Fatal(err)
	}
	for g := int64(0); g < 50; g++ {
		if s.Owner(g) != int(g%5) {
			t.Fatalf("owner(%d) = %d", g, s.Owner(g))
		}
	}
}

// Equal weights take the direct round-robin, which is the general loop's pattern for them.
func TestEqualWeightsAreRoundRobin(t *testing.T) {
	for n := 1; n <= 9; n++ {
		for c := int64(1); c <= 3; c++ {
			w := make([]int64, n)
			for i := range w {
				w[i] = c
			}
			if got, want := smoothInterleave(w, int64(n)*c), weightedRoundRobin(w, int64(n)*c); !reflect.DeepEqual(got, want) {
				t.Fatalf("%d weights of %d: %v, the general loop %v", n, c, got, want)
			}
		}
	}
	if _, err := ParseShard("0/65536"); err != nil {
		t.Fatal(err) // a moment, not 65,536² steps
	}
}

func TestSmoothInterleave(t *testing.T) {
	s, _ := NewSplit([]int64{5, 1, 1})
	if got, want := s.owner, []int{0, 0, 1, 0, 2, 0, 0}; !reflect.DeepEqual(got, want) {
		t.Errorf("pattern %v, want %v", got, want)
	}
}

func TestParseShard(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"0/1", "0/1", true}, {"2/3", "2/3", true}, {"1/3:1,2,1", "1/3:1,2,1", true}, {"0/2:1,1", "0/2", true},
		{"3/3", "", false}, {"-1/3", "", false}, {"1/0", "", false}, {"x", "", false}, {"0/2:1", "", false},
		{"0/2:1,0", "", false}, {"0/2:1,a", "", false},
	} {
		id, err := ParseShard(c.in)
		if (err == nil) != c.ok || c.ok && id.String() != c.want {
			t.Errorf("ParseShard(%q) = %v, %v", c.in, id, err)
		}
	}
	if _, err := NewSplit([]int64{MaxWeightSum, 1}); err == nil {
		t.Error("oversized weights accepted")
	}
}

func TestOwnershipCount(t *testing.T) {
	s := &Ownership{Period: 5, Offsets: []int64{1, 3}}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	for total := int64(0); total < 23; total++ {
		n := int64(0)
		for g := int64(0); g < total; g++ {
			if g%5 == 1 || g%5 == 3 {
				if s.Global(n) != g {
					t.Fatalf("Global(%d) = %d, want %d", n, s.Global(n), g)
				}
				n++
			}
		}
		if s.Count(total) != n {
			t.Fatalf("Count(%d) = %d, want %d", total, s.Count(total), n)
		}
	}
	for _, bad := range []Ownership{{Period: 0, Offsets: []int64{0}}, {Period: 2, Offsets: []int64{2}}, {Period: 3, Offsets: []int64{1, 1}}, {Period: 3, Offsets: []int64{2, 1}}, {Period: 2}} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

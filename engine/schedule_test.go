package engine

import (
	"math"
	"testing"
	"time"
)

func TestConstantRateSchedule(t *testing.T) {
	s := ConstantRate(2000, 20000)
	if s.Total() != 20000 {
		t.Fatalf("total %d", s.Total())
	}
	for _, g := range []int64{0, 1, 1999, 19999} {
		d, ok := s.Due(g)
		want := time.Duration(float64(g) / 2000 * float64(time.Second))
		if !ok || d != want {
			t.Errorf("Due(%d) = %v %v, want %v", g, d, ok, want)
		}
	}
	if _, ok := s.Due(20000); ok {
		t.Error("message past the count is due")
	}
}

func TestRampingSchedule(t *testing.T) {
	stages, err := ParseStages("10s:100,20s:100,10s:0")
	if err != nil {
		t.Fatal(err)
	}
	s := RampingRate(0, stages, 0)
	// ∫ = 10·100/2 + 20·100 + 10·100/2 = 3000
	if s.Total() != 3000 {
		t.Fatalf("total %d, want 3000", s.Total())
	}
	prev := time.Duration(-1)
	for g := int64(0); g < s.Total(); g++ {
		d, ok := s.Due(g)
		if !ok || d < prev || d > s.Length() {
			t.Fatalf("Due(%d) = %v (prev %v)", g, d, prev)
		}
		prev = d
		// The arrivals due by d match the integral of the rate.
		if n := s.cumulative(d); math.Abs(n-float64(g)) > 1e-6 {
			t.Fatalf("Due(%d) = %v where the integral is %f", g, d, n)
		}
	}
	// Halfway up the first ramp (5 s, rate 50) the integral is 125.
	if d, _ := s.Due(125); (d - 5*time.Second).Abs() > time.Millisecond {
		t.Errorf("Due(125) = %v, want 5s", d)
	}
	// The plateau: messages 500..2499 at 100/s from 10 s.
	if d, _ := s.Due(1500); (d - 20*time.Second).Abs() > time.Millisecond {
		t.Errorf("Due(1500) = %v, want 20s", d)
	}
	if r := s.RateAt(35 * time.Second); math.Abs(r-50) > 1e-9 {
		t.Errorf("rate at 35s = %v, want 50", r)
	}
	if capped := RampingRate(0, stages, 100); capped.Total() != 100 {
		t.Errorf("cap: %d", capped.Total())
	}
}

func TestParseStagesErrors(t *testing.T) {
	for _, bad := range []string{"", "10s", "x:1", "10s:-1", "0s:5", "10s:1,", "10s:NaN"} {
		if _, err := ParseStages(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

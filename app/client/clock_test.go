package client

import (
	"math/rand/v2"
	"testing"
	"time"
)

// page simulates a page and a server exchanging Syncs over a network whose
// one-way delays vary: the page's clock is the server's plus skew.
type page struct {
	t      *testing.T
	r      *rand.Rand
	server int64 // the server's clock now
	skew   int64 // page − server
	est    clockEstimator
}

// roundTrip sends one Sync and takes its answer: out and back are the
// one-way delays.
func (p *page) roundTrip(out, back time.Duration) {
	p.t.Helper()
	sent := p.server + p.skew
	p.server += int64(out)
	answer := p.server
	p.server += int64(back)
	if !p.est.sample(sent, answer, p.server+p.skew) {
		p.t.Fatalf("sample with round trip %v refused", out+back)
	}
}

// jittery runs n round trips with random delays (5–200 ms each way, and
// now and then a fast one), spaced a second apart.
func (p *page) jittery(n int) {
	for range n {
		out := time.Duration(5+p.r.IntN(195)) * time.Millisecond
		back := time.Duration(5+p.r.IntN(195)) * time.Millisecond
		p.roundTrip(out, back)
		p.server += int64(time.Second)
	}
}

// toServer is a local stamp on the server's clock by the estimate.
func (p *page) check(what string) {
	p.t.Helper()
	offset, errBound, ok := p.est.estimate()
	if !ok {
		p.t.Fatalf("%s: no estimate", what)
	}
	local := p.server + p.skew
	got := local + offset
	if d := abs64(got - p.server); d > errBound {
		p.t.Fatalf("%s: a local stamp put on the server's clock is off by %v, over the error bound %v", what, time.Duration(d), time.Duration(errBound))
	}
	if errBound > int64(200*time.Millisecond) {
		p.t.Fatalf("%s: error bound %v: the fastest round trip was not kept", what, time.Duration(errBound))
	}
}

func TestClockEstimateWithinItsError(t *testing.T) {
	for _, tc := range []struct {
		name string
		skew time.Duration
	}{
		{"same clock", 0},
		{"an hour ahead", time.Hour},
		{"ten minutes behind", -10 * time.Minute},
		{"37 ms ahead", 37 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &page{t: t, r: rand.New(rand.NewPCG(1, uint64(tc.skew))), server: time.Date(2026, 12, 6, 20, 0, 0, 0, time.UTC).UnixNano(), skew: int64(tc.skew)}
			if _, _, ok := p.est.estimate(); ok {
				t.Fatal("an estimate before any sample")
			}
			p.jittery(20)
			p.check("after 20 samples")
			// An asymmetric route (slow out, fast back) is still within
			// the bound: rtt/2 is the worst case.
			p.roundTrip(time.Millisecond, 0)
			p.check("after a fast asymmetric round trip")
			if _, errBound, _ := p.est.estimate(); errBound != int64(time.Millisecond)/2 {
				t.Fatalf("error bound %v, want the fastest round trip's half, 500µs", time.Duration(errBound))
			}
		})
	}
}

// Two pages with clocks an hour apart, the same network: the same
// server-clock stamps within the error.
func TestClockSkewGivesTheSameServerStamps(t *testing.T) {
	at := time.Date(2026, 12, 6, 20, 0, 0, 0, time.UTC).UnixNano()
	right := &page{t: t, r: rand.New(rand.NewPCG(3, 4)), server: at}
	wrong := &page{t: t, r: rand.New(rand.NewPCG(3, 4)), server: at, skew: int64(time.Hour)}
	right.jittery(10)
	wrong.jittery(10)
	ro, re, _ := right.est.estimate()
	wo, we, _ := wrong.est.estimate()
	local := right.server // both pages stamp the same moment
	if d := abs64((local + ro) - (local + wrong.skew + wo)); d > re+we {
		t.Fatalf("the two pages' stamps of one moment differ by %v, over their errors %v + %v", time.Duration(d), time.Duration(re), time.Duration(we))
	}
}

// A clock stepped by an hour between samples: the kept sample no longer
// agrees with the new ones, and the estimate follows the step at once.
func TestClockSteppedFollowsAtOnce(t *testing.T) {
	p := &page{t: t, r: rand.New(rand.NewPCG(5, 6)), server: time.Date(2026, 12, 6, 20, 0, 0, 0, time.UTC).UnixNano()}
	p.jittery(8)
	p.check("before the step")
	p.skew += int64(time.Hour)
	p.roundTrip(80*time.Millisecond, 90*time.Millisecond) // slower than the best kept one
	p.check("right after the step")
	p.skew -= int64(90 * time.Minute)
	p.jittery(1)
	p.check("after a step back")
}

// A clock stepped back while a Sync is out gives a negative round trip:
// refused, the estimate unchanged.
func TestClockRefusesANegativeRoundTrip(t *testing.T) {
	var e clockEstimator
	if e.sample(1000, 5000, 900) {
		t.Fatal("a negative round trip was taken")
	}
	if _, _, ok := e.estimate(); ok {
		t.Fatal("an estimate from a refused sample")
	}
}

// The best sample ages out after two windows: a route that got slower for
// good is followed.
func TestClockForgetsAnOldFastSample(t *testing.T) {
	p := &page{t: t, r: rand.New(rand.NewPCG(7, 8)), server: time.Date(2026, 12, 6, 20, 0, 0, 0, time.UTC).UnixNano()}
	p.roundTrip(time.Millisecond, time.Millisecond)
	for range 2*int(clockWindow/time.Second) + 5 {
		p.server += int64(time.Second)
		p.roundTrip(50*time.Millisecond, 50*time.Millisecond)
	}
	if _, errBound, _ := p.est.estimate(); errBound != int64(50*time.Millisecond) {
		t.Fatalf("error bound %v after two windows of 100 ms round trips, want 50ms", time.Duration(errBound))
	}
}

package client

import (
	"time"

	"github.com/telltale/telltale/shared/sla"
)

// clockEstimator puts the page's stamps on the server's clock (issue 18).
//
// Each wire.Sync answered by a wire.Clock is one NTP-style sample: the page
// sent at local time c, the server answered at its time s, the answer
// arrived at local time a. The round trip is a − c and the offset
// s − (c + a)/2, which is wrong by at most half the round trip (the answer
// was stamped somewhere between send and arrival). The sample with the
// smallest round trip is the best, so it is kept, over two rotating
// windows as lagMeter does: a route that became slower for good is followed
// within two windows, and one fast sample is not trusted forever.
//
// A clock that is stepped (by the operator, by NTP on a phone) makes the
// samples disagree: the true offset lies within rtt/2 of every honest
// sample, so two samples whose intervals do not overlap mean one of the
// clocks jumped, and the older samples are dropped. The page's default clock
// (monoClock) cannot be stepped anyway: it is the wall clock at page load
// carried forward by the monotonic clock (performance.now in a browser).
type clockEstimator struct {
	cur, prev   clockSample
	windowStart int64 // local ns; zero before the first sample
}

// clockSample is one round trip: its length and the offset it gives
// (server − local), nanoseconds.
type clockSample struct {
	rtt, offset int64
	ok          bool
}

// clockWindow is how long one of the two windows lasts.
const clockWindow = 2 * time.Minute

// sample takes one Sync sent at local time sent, answered at server time
// server, the answer arriving at local time arrival. It reports whether the
// sample was usable (a round trip neither negative nor absurdly long).
func (e *clockEstimator) sample(sent, server, arrival int64) bool {
	rtt := arrival - sent
	if rtt < 0 || rtt > 2*int64(sla.MaxClockErr) {
		return false
	}
	s := clockSample{rtt: rtt, offset: server - (sent + rtt/2), ok: true}
	if b := e.best(); b.ok && abs64(s.offset-b.offset) > (s.rtt+b.rtt)/2+1 {
		// The two samples cannot both be right: a clock was stepped.
		// Start over from this one.
		e.cur, e.prev, e.windowStart = s, clockSample{}, arrival
		return true
	}
	if e.windowStart == 0 || arrival-e.windowStart > int64(clockWindow) || arrival < e.windowStart {
		e.prev, e.cur, e.windowStart = e.cur, clockSample{}, arrival
	}
	if !e.cur.ok || s.rtt < e.cur.rtt {
		e.cur = s
	}
	return true
}

// best is the kept sample with the smallest round trip.
func (e *clockEstimator) best() clockSample {
	if e.prev.ok && (!e.cur.ok || e.prev.rtt < e.cur.rtt) {
		return e.prev
	}
	return e.cur
}

// estimate is the offset to add to a local stamp to put it on the server's
// clock, and its error bound (half the best round trip); ok is false until
// a sample was taken.
func (e *clockEstimator) estimate() (offset, errBound int64, ok bool) {
	b := e.best()
	return b.offset, b.rtt / 2, b.ok
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// monoClock is the page's clock for stamps: Unix nanoseconds by the wall
// clock when it was made, carried forward by the monotonic clock, so that a
// wall clock stepped meanwhile changes nothing (the offset estimate would
// otherwise be wrong until the next sample).
func monoClock() func() int64 {
	start := time.Now()
	base := start.UnixNano()
	return func() int64 { return base + int64(time.Since(start)) }
}

// syncBurst is how many Syncs the client sends right after the welcome,
// each once the one before is answered, so the page has a good estimate
// within a few round trips (the first of a new connection is often slow);
// after that one Sync follows each ping.
const syncBurst = 4

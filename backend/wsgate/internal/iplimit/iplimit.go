// Package iplimit limits new connections per client address with a token
// bucket each, bounded in the addresses it tracks.
package iplimit

import (
	"net"
	"sync"
	"time"
)

// Limiter is a per-address token bucket for new connections: each address
// may open burst connections at once and rate per second after that. It
// forgets addresses idle for a minute and never holds more than maxAddrs of
// them (a flood of spoofed sources resets it rather than growing it).
type Limiter struct {
	rate  float64
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

const maxAddrs = 100_000

// New returns a Limiter of rate connections per second after burst at
// once, on the clock now; a rate of zero or less allows everything.
func New(rate float64, burst int, now func() time.Time) *Limiter {
	return &Limiter{rate: rate, burst: float64(burst), now: now, buckets: make(map[string]*bucket)}
}

// Allow takes a token for addr, or says how long until one is there. A nil
// Limiter allows everything.
func (l *Limiter) Allow(addr string) (bool, time.Duration) {
	if l == nil || l.rate <= 0 {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute || len(l.buckets) >= maxAddrs {
		l.sweep(now)
	}
	b := l.buckets[addr]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[addr] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// sweep forgets addresses idle for a minute; if the table is still full (a
// flood of sources), it drops a random tenth of it, so that a full table
// costs one sweep per tenth of its size, not one per connection.
func (l *Limiter) sweep(now time.Time) {
	for a, b := range l.buckets {
		if now.Sub(b.last) > time.Minute {
			delete(l.buckets, a)
		}
	}
	if len(l.buckets) >= maxAddrs {
		drop := maxAddrs / 10
		for a := range l.buckets { // map order is random
			if drop == 0 {
				break
			}
			delete(l.buckets, a)
			drop--
		}
	}
	l.swept = now
}

// ClientIP is the address a request came from: the TCP peer, with IPv6
// addresses cut to their /64 (one host usually holds a whole /64, and would
// otherwise get a fresh budget per address). remote is the request's
// RemoteAddr, which the server (package realip) has already set to the
// client's address when the request came through a trusted proxy; headers
// are never read here.
func ClientIP(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.To4() != nil {
		return host
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

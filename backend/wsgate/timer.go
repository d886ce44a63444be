package wsgate

import (
	"sync"
	"time"

	"github.com/telltale/telltale/shared/wire"
)

// deadlines is a connection's one timer, as centrifuge's client keeps one:
// it fires at the earliest of the connection's due operations (the next
// ping, the token's expiry warning, its expiry, the slow path's write
// watchdog) and runs those that are due. Moving a deadline later resets
// nothing: the timer fires, finds nothing due, and waits for the earliest
// again, so a slow-path write costs one lock and at most one Reset.
type deadlines struct {
	mu sync.Mutex
	t  *time.Timer
	at time.Time // when t fires; zero while stopped
	// When each operation is due; zero: not scheduled.
	ping, warn, expiry, watchdog time.Time
	exp                          time.Time // the token expiry warn and expiry are for
	// hurried, once set (hurry), is the latest any write's watchdog may
	// fire from then on: a sign-out's deadline holds for the write under
	// way and for every write after it.
	hurried time.Time
}

// startTimer schedules the connection's first ping; called before the
// connection can be closed (ServeHTTP), so teardown always finds the timer.
func (c *conn) startTimer() {
	d := &c.timer
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ping = time.Now().Add(c.g.cfg.PingInterval)
	c.armLocked()
}

// armLocked makes the timer fire at the earliest deadline, if that is
// sooner than it fires now; under d.mu.
func (c *conn) armLocked() {
	d := &c.timer
	var next time.Time
	for _, t := range [...]time.Time{d.ping, d.warn, d.expiry, d.watchdog} {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if next.IsZero() || (!d.at.IsZero() && !next.Before(d.at)) {
		return
	}
	d.at = next
	if d.t == nil {
		d.t = time.AfterFunc(time.Until(next), c.fire)
		return
	}
	d.t.Reset(time.Until(next))
}

// stopTimer stops the timer for good (teardown): after the slow path and
// the readers, the last that could arm it, have ended.
func (c *conn) stopTimer() {
	d := &c.timer
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.t != nil {
		d.t.Stop()
	}
	d.at = time.Time{}
}

// due reports whether *t is set and not after now, and clears it if so.
func due(t *time.Time, now time.Time) bool {
	if t.IsZero() || t.After(now) {
		return false
	}
	*t = time.Time{}
	return true
}

// fire runs the operations that are due, then waits for the next.
func (c *conn) fire() {
	d := &c.timer
	now := time.Now()
	d.mu.Lock()
	d.at = time.Time{}
	if c.life.Load() == closed {
		d.mu.Unlock()
		return
	}
	stuck := due(&d.watchdog, now)
	ping := due(&d.ping, now)
	warn := due(&d.warn, now)
	expiry := due(&d.expiry, now)
	exp := d.exp
	interval := c.g.cfg.PingInterval
	if ping {
		d.ping = now.Add(interval)
	}
	c.armLocked()
	d.mu.Unlock()

	if stuck {
		// Writes take no context (one per write would cost a timer and a
		// registration per frame): closing the socket fails the write.
		c.timedOut.Store(true)
		c.nc.Close()
	}
	if c.ending() {
		return // only the watchdog matters to a connection that is closing
	}
	if warn {
		if b, err := wire.Encode(wire.Expiring{At: exp.UnixNano()}); err == nil {
			c.out.push(b)
		}
	}
	if expiry {
		if p := c.principal(); p == nil || !p.Expires.After(exp) { // not refreshed meanwhile
			c.g.m.expired.Inc()
			c.signOut(closeTokenExpired)
		}
	}
	if ping {
		if now.UnixNano()-c.lastRead.Load() > 2*int64(interval) {
			c.g.m.idleCloses.Inc()
			c.close(closeIdle)
			return
		}
		if b, err := wire.Encode(wire.Ping{Time: now.UnixNano()}); err == nil {
			c.out.push(b)
		}
	}
}

// expireAt schedules the token's expiry warning and expiry for exp (none
// for a zero exp): an expiring frame ahead of it (ExpiryWarning, or half
// the token's remaining life if shorter), then the sign-out at exp unless a
// refresh came first.
func (c *conn) expireAt(exp time.Time) {
	d := &c.timer
	d.mu.Lock()
	defer d.mu.Unlock()
	d.warn, d.expiry, d.exp = time.Time{}, time.Time{}, exp
	if exp.IsZero() {
		return
	}
	now := time.Now()
	left := exp.Sub(now)
	d.warn = now.Add(left - min(c.g.cfg.ExpiryWarning, left/2))
	d.expiry = now.Add(left)
	c.armLocked()
}

// watch starts the watchdog of a slow-path write: the socket is closed if
// the write takes longer than limit, which fails it.
func (c *conn) watch(limit time.Duration) {
	d := &c.timer
	d.mu.Lock()
	d.watchdog = time.Now().Add(limit)
	if !d.hurried.IsZero() && d.hurried.Before(d.watchdog) {
		d.watchdog = d.hurried
	}
	c.armLocked()
	d.mu.Unlock()
}

// hurry bounds every write from now on, the one under way and those after
// it, to end at most limit from now: a sign-out queued behind a large
// write, on a socket whose reader stopped, must not wait for the write
// timeout. A write that starts between two others (no watchdog running at
// the moment of the call) is bounded too.
func (c *conn) hurry(limit time.Duration) {
	d := &c.timer
	d.mu.Lock()
	defer d.mu.Unlock()
	at := time.Now().Add(limit)
	if d.hurried.IsZero() || at.Before(d.hurried) {
		d.hurried = at
	}
	if !d.watchdog.IsZero() && at.Before(d.watchdog) {
		d.watchdog = at
		c.armLocked()
	}
}

// unwatch stops the watchdog after a write; false (the write failed or timed
// out) closes the connection.
func (c *conn) unwatch(err error) bool {
	c.endWatch()
	if err == nil {
		return true
	}
	if c.timedOut.Load() {
		c.g.m.slowCloses.Inc()
	}
	c.close(closeWriteTimedOut)
	return false
}

// endWatch clears the watchdog; the timer is left to fire for nothing
// rather than reset on every write.
func (c *conn) endWatch() {
	d := &c.timer
	d.mu.Lock()
	d.watchdog = time.Time{}
	d.mu.Unlock()
}

package client

import (
	"math"
	"sync"
	"time"
)

// silentAfter is how long an open socket may go without any frame (event,
// ping, ack, anything), in ping intervals, before the status says so
// (Degraded, with Info.LastFrameAt): the server pings every interval
// whatever else it sends, so a socket that heard nothing for 1.2 intervals
// missed a ping. That is 18 s at the server's default 15 s interval, against
// the 30 s (two intervals) after which the watchdog declares the socket dead
// and reconnects: the operator is told 12 s sooner, and a late ping that
// does come costs a moment of amber, not a reconnect.
const silentAfter = 1.2

// watch is a session's silence detector and watchdog in one timer, re-armed
// by every frame: past silentAfter intervals without a frame it marks the
// client silent, past two (or a probe's earlier deadline) it declares the
// socket dead. One timer, so a frame costs one Reset, as before.
type watch struct {
	mu      sync.Mutex
	t       *time.Timer
	c       *Client
	idle    time.Duration // two ping intervals
	last    int64         // newest frame, Unix ns
	probeAt int64         // a probe's deadline, Unix ns; zero if none
	silent  bool
	dead    func() // closes the socket; called once, without the lock
	fired   bool
}

// newWatch starts watching from now with a first allowance of idle.
func newWatch(c *Client, idle time.Duration, dead func()) *watch {
	w := &watch{c: c, idle: idle, dead: dead}
	w.t = time.AfterFunc(math.MaxInt64, w.check)
	w.mu.Lock()
	w.last = time.Now().UnixNano()
	c.lastFrame.Store(w.last)
	w.armLocked(w.last)
	w.mu.Unlock()
	return w
}

// frame notes a frame that arrived now.
func (w *watch) frame(now time.Time) {
	w.mu.Lock()
	w.last, w.probeAt = now.UnixNano(), 0
	w.c.lastFrame.Store(w.last)
	w.t.Reset(w.quiet())
	if w.silent {
		w.silent = false
		w.c.setSilent(false) // under w.mu: a racing check cannot undo it
	}
	w.mu.Unlock()
}

// setIdle sets the allowance (two ping intervals) the welcome announced.
func (w *watch) setIdle(idle time.Duration) {
	w.mu.Lock()
	w.idle = idle
	w.armLocked(time.Now().UnixNano())
	w.mu.Unlock()
}

// probe checks the socket at once (Kick): silent for more than one ping
// interval, it is presumed dead now (reported true); else it gets one more
// interval from its last frame, plus a second of grace.
func (w *watch) probe() (since time.Duration, dead bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now().UnixNano()
	interval := w.idle / 2
	since = time.Duration(now - w.last)
	if since > interval {
		return since, true
	}
	w.probeAt = w.last + int64(interval+time.Second)
	w.armLocked(now)
	return since, false
}

func (w *watch) stop() {
	w.t.Stop()
	w.mu.Lock()
	w.fired = true
	w.mu.Unlock()
}

func (w *watch) quiet() time.Duration {
	return time.Duration(float64(w.idle) / 2 * silentAfter)
}

// check runs when the timer fires.
func (w *watch) check() {
	w.mu.Lock()
	if w.fired {
		w.mu.Unlock()
		return
	}
	now := time.Now().UnixNano()
	if now >= w.deadlineLocked() {
		w.fired = true
		w.mu.Unlock()
		w.dead()
		return
	}
	if !w.silent && now >= w.last+int64(w.quiet()) {
		w.silent = true
		w.c.setSilent(true)
	}
	w.armLocked(now)
	w.mu.Unlock()
}

func (w *watch) deadlineLocked() int64 {
	dead := w.last + int64(w.idle)
	if w.probeAt != 0 && w.probeAt < dead {
		dead = w.probeAt
	}
	return dead
}

// armLocked sets the timer for the next thing due: silence, then death.
func (w *watch) armLocked(now int64) {
	next := w.deadlineLocked()
	if q := w.last + int64(w.quiet()); !w.silent && q < next {
		next = q
	}
	w.t.Reset(time.Duration(max(0, next-now)))
}

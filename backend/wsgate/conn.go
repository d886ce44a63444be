package wsgate

import (
	"bufio"
	"context"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/backend/metrics"
)

type conn struct {
	g      *Gateway
	stages atomic.Pointer[metrics.TenantStages] // the tenant's; see hubSent
	ws     *websocket.Conn
	id     string
	tenant string
	who    *auth.Principal // set by the handshake; read under whoMu elsewhere
	whoMu  sync.Mutex
	expiry *time.Timer // closes the connection when the token expires; under whoMu
	warn   *time.Timer // sends expiring ahead of that; under whoMu
	out    *outbox
	remote string
	// place is the connection's in the unauthenticated budget until its
	// hello is verified; then authed is set (Gateway.promote).
	place  *pending
	authed atomic.Bool
	// ctx is the connection's life, from accept to finish: kept here
	// because no goroutine lives as long (reads run on goroutines the
	// poller starts).
	ctx    context.Context
	cancel context.CancelFunc
	net    *heldWriter   // every write to the socket goes through it
	in     *bufio.Reader // what the library reads through
	inMu   sync.Mutex    // held by the close handshake, which reads in
	// deflate: permessage-deflate was negotiated, so frames of
	// Config.CompressAbove bytes or more are compressed.
	deflate bool

	// Reading: one reader at a time (the first goroutine, then those the
	// poller starts), each ordered after the last by rmu.
	rmu     sync.Mutex
	reading bool // a reader the poller started runs
	ended   bool // finish began: start no reader
	readers sync.WaitGroup
	pollID  uint64 // the poller's number for the connection; 0 when not registered
	pollFD  int    // the epoll instance it is registered with

	subs     map[string]func() // stream → cancel; owned by the reader
	bad      int
	slaDue   int64          // the sync/report rate limit (report.go); owned by the reader
	lastRead atomic.Int64   // Unix ns of the last frame read
	fetches  sync.WaitGroup // history reads for resuming subscriptions

	closeOnce sync.Once
	closing   atomic.Bool // close was called: write nothing more

	// Writing (flush.go): the connection's flusher writes what it queues;
	// the slow path, a goroutine of the connection's own, writes what must
	// wait for the socket. At most one of them writes at a time (state).
	fl    *flusher
	state atomic.Int32 // idle or busy
	due   int64        // GCRA: theoretical time of the next write (Gateway.now)
	at    int64        // when it may write, while in its flusher's queue

	wmu      sync.Mutex
	stopped  bool // the connection is over: start no slow path
	writers  sync.WaitGroup
	pinger   *time.Timer
	stuck    *time.Timer // closes the socket when a slow-path write takes too long
	timedOut atomic.Bool // the stuck timer fired
}

// close ends the connection with a code the client can act on. Safe to call
// from any goroutine, any number of times. The connection is torn down
// (finish) once the close handshake is over.
func (c *conn) close(code websocket.StatusCode, reason string) {
	c.closeOnce.Do(func() {
		c.closing.Store(true)
		// Not c.cancel() first: cancelling a pending Read's context makes the
		// websocket library drop the TCP connection without a close frame,
		// and the client would never see the code.
		go func() {
			c.net.shutdown() // no frame of ours after the close frame
			c.inMu.Lock()    // the close handshake reads c.in
			_ = c.ws.Close(code, reason)
			c.inMu.Unlock()
			c.cancel()
			c.finish()
		}()
	})
}

// start runs on the connection's first goroutine: the handshake, the frames
// that came with the hello, then the poller takes over the socket. loop
// reports that the connection must read on a goroutine of its own instead
// (TLS, no epoll): readLoop.
func (c *conn) start() (loop bool) {
	defer c.recovered()
	if err := c.handshake(); err != nil {
		c.g.cfg.Logger.Debug("handshake", "conn", c.id, "remote", c.remote, "err", err)
		c.close(websocket.StatusNormalClosure, "")
		return false
	}
	if !c.drain() {
		return false
	}
	return !c.g.poll.add(c)
}

// finish tears the connection down once its socket is closed: after the
// last reader, subscriptions, timers, the slow path and history reads end,
// and the gateway forgets the connection.
func (c *conn) finish() {
	c.rmu.Lock()
	c.ended = true
	c.rmu.Unlock()
	c.readers.Wait()
	c.g.poll.remove(c)
	for _, cancel := range c.subs {
		cancel()
	}
	c.whoMu.Lock()
	stopTimers(c.expiry, c.warn)
	c.whoMu.Unlock()
	c.stopWriting()
	c.fetches.Wait()
	c.g.forget(c)
}

// recovered ends the connection on a panic in its handling, as net/http
// does for a handler: a bug met by one connection ends that connection, not
// the server.
func (c *conn) recovered() {
	v := recover()
	if v == nil {
		return
	}
	stack := debug.Stack()
	if p, ok := v.(*connPanic); ok {
		v, stack = p.value, p.stack
	}
	c.g.m.panics.Inc()
	c.g.cfg.Logger.Error("websocket connection panicked", "conn", c.id, "remote", c.remote, "panic", v, "stack", string(stack))
	c.close(websocket.StatusInternalError, "internal error")
}

// closeAfterQueued closes the connection once what is queued (the error
// frames that explain it) is written, and waits for that or the write
// timeout.
func (c *conn) closeAfterQueued(ctx context.Context, code int, reason string) {
	c.out.pushClose(code, reason)
	t := time.NewTimer(c.g.cfg.WriteTimeout)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

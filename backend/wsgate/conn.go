package wsgate

import (
	"bufio"
	"context"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/backend/wsgate/internal/epoll"
	"github.com/telltale/telltale/backend/wsgate/internal/wsframe"
)

// Connection lifecycle (conn.life). A connection only moves forward:
//
//	handshake → open → closing → closed
//
// handshake: upgraded, the hello not verified yet; open: verified
// (Gateway.promote); closing: close began, so no client frame is acted on
// (the reader reads on only to see the peer's close) and nothing is queued
// or written but the close handshake's frame; closed: torn down
// (teardown), so no reader, slow path or timer starts again. Readers, the
// flushers, the slow path and the timer all consult it; it is the one
// answer to "is this connection ending".
const (
	handshake int32 = iota
	open
	closing
	closed
)

// conn is one client connection. Its fields are grouped by the side that
// owns them, as nats-server groups a client's outbound state: the
// connection's own (lifecycle), its read side (connRead), its protocol
// session (connSession) and its write side (connWrite). The groups are
// embedded, so each field keeps its short name.
type conn struct {
	g      *Gateway
	nc     net.Conn // the socket; written only through the write side (net)
	id     string
	remote string
	life   atomic.Int32 // handshake, open, closing or closed; see above
	// place is the connection's in the unauthenticated budget until its
	// hello is verified; then authed is set (Gateway.promote).
	place  *pending
	authed atomic.Bool
	// ctx is the connection's life, from accept to teardown: kept here
	// because no goroutine lives as long (reads run on goroutines the
	// poller starts).
	ctx    context.Context
	cancel context.CancelFunc
	// timer drives the connection's next due operation: ping, expiry
	// warning, expiry or the write watchdog (timer.go).
	timer deadlines

	connRead
	connSession
	connWrite
}

// connRead is the read side (read.go): one reader at a time (the first
// goroutine, then those the poller starts), each ordered after the last by
// rmu.
type connRead struct {
	in      *bufio.Reader   // what rd reads through
	rd      *wsframe.Reader // client frames from in
	rmu     sync.Mutex
	reading bool // a reader the poller started runs; under rmu
	readers sync.WaitGroup
	pollReg epoll.Reg // the socket's registration with the poller, if any

	lastRead atomic.Int64 // Unix ns of the last frame read

	// readOver is closed when the read side is over: the peer's close
	// frame was read, or reading failed. The close handshake waits for it.
	readOver     chan struct{}
	readOverOnce sync.Once
}

// connSession is the protocol state (session.go), owned by the reader but
// for the principal, which timers and Sweep read under whoMu.
type connSession struct {
	tenant  string
	who     *auth.Principal // set by the handshake; read under whoMu elsewhere
	whoMu   sync.Mutex
	subs    map[string]func() // stream → cancel; owned by the reader
	bad     int
	slaDue  int64          // the sync/report rate limit (report.go); owned by the reader
	fetches sync.WaitGroup // history reads for resuming subscriptions
}

// connWrite is the write side (write.go, flush.go): the connection's
// flusher writes what its outbox queues; the slow path, a goroutine of the
// connection's own, writes what must wait for the socket. At most one of
// them writes at a time (sched).
type connWrite struct {
	out    *outbox
	net    *heldWriter                          // every write to the socket goes through it
	stages atomic.Pointer[metrics.TenantStages] // the tenant's; see hubSent
	// deflate: permessage-deflate was negotiated, so frames of
	// Config.CompressAbove bytes or more are compressed.
	deflate bool
	fl      *flusher
	sched   atomic.Int32 // idle or busy
	due     int64        // GCRA: theoretical time of the next write (Gateway.now)
	at      int64        // when it may write, while in its flusher's queue

	wmu      sync.Mutex // orders starting a slow path before teardown's wait
	writers  sync.WaitGroup
	timedOut atomic.Bool // the watchdog closed the socket
}

// ending reports whether close began: write and read nothing more.
func (c *conn) ending() bool { return c.life.Load() >= closing }

// close ends the connection with a code the client can act on: the one
// step from handshake or open to closing. Safe to call from any goroutine,
// any number of times; the first close wins. The connection is torn down
// (teardown) once the close handshake is over.
func (c *conn) close(cl Close) {
	for {
		s := c.life.Load()
		if s >= closing {
			return
		}
		if c.life.CompareAndSwap(s, closing) {
			break
		}
	}
	c.g.cfg.Logger.Debug("websocket close", "conn", c.id, "code", int(cl.Code), "reason", cl.Reason, "reconnect", cl.Reconnect)
	// The close handshake (RFC 6455 §7.1.2): the close frame through the
	// write side, after any frame being written and before none; then the
	// reader, which goes on reading, sees the peer's (or the socket fail),
	// or closeWait passes. Then the socket is closed.
	go func() {
		c.net.shutdown() // no frame of ours after the close frame
		if sent, err := c.net.writeClose(int(cl.Code), cl.Reason, closeWait); sent && err == nil {
			t := time.NewTimer(closeWait)
			select {
			case <-c.readOver:
			case <-t.C:
			}
			t.Stop()
		}
		c.nc.Close() // fails a read still waiting
		c.cancel()
		c.teardown()
	}()
}

// closeWait is how long the close handshake waits for the socket to take
// the close frame and for the peer's answer.
const closeWait = 5 * time.Second

// start runs on the connection's first goroutine: the handshake, the frames
// that came with the hello, then the poller takes over the socket. loop
// reports that the connection must read on a goroutine of its own instead
// (TLS, no epoll): readLoop.
func (c *conn) start() (loop bool) {
	defer c.recovered()
	if err := c.handshake(); err != nil {
		c.g.cfg.Logger.Debug("handshake", "conn", c.id, "remote", c.remote, "err", err)
		c.close(closeGone)
		// The reader goes on until the peer answers the close.
	}
	if !c.drain() {
		return false
	}
	return !c.pollAdd()
}

// teardown takes the connection apart once its socket is closed: after the
// last reader, subscriptions, the slow path, the timer and history reads
// end, and the gateway forgets the connection. closed is set first: no
// reader or slow path starts after it (each checks it under the mutex that
// orders it before the wait here), and the timer does not fire again.
func (c *conn) teardown() {
	c.life.Store(closed)
	c.rmu.Lock() // a reader starting now sees closed
	c.rmu.Unlock()
	c.readers.Wait()
	c.g.poll.Remove(&c.pollReg)
	for _, cancel := range c.subs {
		cancel()
	}
	c.stopWriting()
	c.stopTimer()
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
	c.close(closeInternal)
}

// closeAfterQueued closes the connection once what is queued (the error
// frames that explain it) is written, and waits for that or the write
// timeout.
func (c *conn) closeAfterQueued(ctx context.Context, cl Close) {
	c.out.pushClose(cl)
	c.awaitClose(ctx)
}

// awaitClose waits for the close the write side was asked for (pushClose,
// pushSignOut) to begin, or for the write timeout.
func (c *conn) awaitClose(ctx context.Context) {
	t := time.NewTimer(c.g.cfg.WriteTimeout)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

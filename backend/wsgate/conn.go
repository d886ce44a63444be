package wsgate

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/backend/store"
	"github.com/telltale/telltale/shared/wire"
)

// maxBadFrames is how many refused frames a connection may send before it is
// closed: a confused client gets error frames, a hostile one gets cut off.
const maxBadFrames = 16

// Batches are split so that one frame stays well under a client's memory and
// a slow link still sees progress.
const (
	maxBatchEvents = 512
	maxBatchBytes  = 512 << 10
	// maxDeflates is how many frames are compressed at once across all
	// connections (Gateway.deflateSlots): 16 deflate writers, ~19 MB.
	maxDeflates = 16
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

// readLoop reads until the connection ends, for a connection the poller
// cannot watch.
func (c *conn) readLoop() {
	defer c.recovered()
	for c.readOne(true) {
	}
}

// readable is the poller saying the socket has something: a goroutine reads
// it, handles it, and hands the socket back. At most one reads at a time.
func (c *conn) readable() {
	c.rmu.Lock()
	if c.ended || c.reading {
		c.rmu.Unlock()
		return
	}
	c.reading = true
	c.readers.Add(1)
	c.rmu.Unlock()
	go func() {
		defer c.readers.Done()
		defer c.recovered()
		if !c.readOne(false) || !c.drain() {
			return
		}
		// The mutex orders this goroutine's work (c.subs and the like)
		// before the next reader's, which the poller starts after the
		// socket is armed again.
		c.rmu.Lock()
		c.reading = false
		c.rmu.Unlock()
		// A socket closed meanwhile (the write watchdog) is its closer's
		// to report.
		if err := c.g.poll.arm(c); err != nil && !c.closing.Load() && !errors.Is(err, net.ErrClosed) {
			c.g.cfg.Logger.Warn("epoll re-arm failed", "conn", c.id, "err", err)
			c.close(websocket.StatusInternalError, "internal error")
		}
	}()
}

// drain handles the frames already in the read buffer (the library reads
// ahead into it; the poller only sees the socket). false: the connection is
// over.
func (c *conn) drain() bool {
	for c.buffered() {
		if !c.readOne(false) {
			return false
		}
	}
	return !c.closing.Load()
}

// buffered reports whether the read buffer holds the start of a frame.
// Between two reads the library's close handshake may be reading it, under
// inMu.
func (c *conn) buffered() bool {
	c.inMu.Lock()
	defer c.inMu.Unlock()
	return !c.closing.Load() && c.in.Buffered() > 0
}

// readOne reads and handles one frame; shortStack handles it on a goroutine
// of its own (see onShortStack), for a reader that stays parked in between.
// false: the connection is over.
func (c *conn) readOne(shortStack bool) bool {
	// No context: one would cost a registration per read, and closing the
	// connection fails a pending read anyway.
	typ, fb, err := readFrame(c.ws) // into a pooled buffer (report.go)
	defer fb.free()
	b := fb.b
	if err != nil {
		c.g.cfg.Logger.Debug("read", "conn", c.id, "remote", c.remote, "err", err)
		c.close(websocket.StatusNormalClosure, "")
		return false
	}
	if !shortStack {
		return c.handle(c.ctx, typ, b)
	}
	var more bool
	onShortStack(func() { more = c.handle(c.ctx, typ, b) })
	return more
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

// onShortStack runs f to completion on a goroutine of its own. The reader
// goroutine of an idle connection spends its life parked in ws.Read; the
// frames it handles need a deep stack for a moment (JWT checks grow one to
// ~16 KB, a snapshot encode too), and the runtime never shrinks a parked
// stack below twice what the read path uses. Handled here, they leave the
// reader at 4 KB instead of 8–16 KB. Client frames are few (hello, subs, a
// pong every ping interval), so the extra goroutine is cheap.
//
// A panic in f is raised again on the caller's goroutine, with f's stack,
// where the connection's recover logs it (see Gateway.ServeHTTP).
func onShortStack(f func()) {
	var p *connPanic
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if v := recover(); v != nil {
				p = &connPanic{v, debug.Stack()}
			}
		}()
		f()
	}()
	<-done
	if p != nil {
		panic(p)
	}
}

// connPanic is a panic carried from onShortStack's goroutine.
type connPanic struct {
	value any
	stack []byte
}

// handle acts on one client frame (on a short stack: onShortStack); false
// ends the connection.
func (c *conn) handle(ctx context.Context, typ websocket.MessageType, b []byte) bool {
	c.lastRead.Store(time.Now().UnixNano())
	if typ != websocket.MessageBinary {
		c.refuse(&wire.Error{Code: wire.CodeBadFrame, Message: "frames are binary msgpack"})
		return true
	}
	f, err := decodeClient(b) // reports into pooled structures (report.go)
	if err != nil {
		var e *wire.Error
		if !errors.As(err, &e) {
			e = &wire.Error{Code: wire.CodeBadFrame, Message: err.Error()}
		}
		if wire.TypeOf(b) == wire.TypeReport { // over its caps, most likely
			c.g.m.reportsRefused.Inc()
		}
		c.refuse(e)
		return true
	}
	switch f := f.(type) {
	case wire.Sub:
		c.subscribe(ctx, f)
	case wire.Unsub:
		if cancel, ok := c.subs[f.Stream]; ok {
			cancel()
			delete(c.subs, f.Stream)
			c.out.forget(f.Stream)
		}
	case wire.Pong:
	case wire.Refresh:
		c.refresh(ctx, f)
	case wire.Sync:
		c.sync(f)
	case *wire.Report:
		c.report(f)
	case wire.Hello:
		c.refuse(&wire.Error{Code: wire.CodeBadFrame, Message: "hello was already received"})
	default:
		c.refuse(&wire.Error{Code: wire.CodeUnknownType, Message: fmt.Sprintf("%s is not a client frame", f.FrameType())})
	}
	if c.bad > maxBadFrames {
		// The writer closes after the error frames already queued, so the
		// client learns why.
		c.closeAfterQueued(ctx, wire.CloseProtocol, "too many refused frames")
		return false
	}
	return true
}

func (c *conn) handshake() error {
	ctx := c.ctx
	// Not derived from the connection's context, which would keep the map
	// of children it grew for this one for the connection's life.
	hctx, cancel := context.WithTimeout(context.Background(), c.g.cfg.HandshakeTimeout)
	defer cancel()
	_, b, err := c.ws.Read(hctx)
	if err != nil {
		if hctx.Err() != nil {
			c.g.m.helloTimeouts.Inc()
		}
		c.close(websocket.StatusPolicyViolation, "no hello in time")
		return fmt.Errorf("read hello: %w", err)
	}
	c.lastRead.Store(time.Now().UnixNano())
	f, err := wire.Decode(b)
	hello, ok := f.(wire.Hello)
	if err != nil || !ok {
		if wire.TypeOf(b) == wire.TypeReport {
			c.g.m.reportsRefused.Inc() // reports are taken only after a verified hello
		}
		c.close(websocket.StatusPolicyViolation, "the first frame must be hello")
		return fmt.Errorf("first frame: %T %v", f, err)
	}
	who := &auth.Principal{Subject: "anonymous", Tenant: c.g.cfg.DefaultTenant}
	if c.g.cfg.Authenticate != nil {
		if who, err = c.g.cfg.Authenticate(ctx, hello.Token); err != nil {
			c.g.m.unauthorized.Inc()
			reason := "invalid token"
			switch {
			case errors.Is(err, auth.ErrNoToken):
				reason = "no token: sign in"
			case errors.Is(err, auth.ErrExpired):
				reason = "token expired: sign in again"
			case errors.Is(err, auth.ErrRevoked):
				reason = "access revoked: sign in again"
			}
			c.g.cfg.Logger.Info("websocket refused", "conn", c.id, "err", err)
			c.signOut(wire.CloseUnauthorized, reason)
			return fmt.Errorf("authenticate: %w", err)
		}
	}
	if !c.g.promote(c) {
		return errors.New("evicted, or the server is at MaxConns")
	}
	c.setPrincipal(who)
	c.tenant = who.Tenant
	welcome, err := wire.Encode(wire.Welcome{
		Session:    c.id,
		ServerTime: time.Now().UnixNano(),
		Limits: wire.Limits{
			MaxFrameBytes:  c.g.cfg.MaxFrameBytes,
			MaxSubs:        c.g.cfg.MaxSubs,
			PingIntervalMs: c.g.cfg.PingInterval.Milliseconds(),
		},
	})
	if err != nil {
		return err
	}
	c.out.push(welcome)
	if len(hello.Cursors) > c.g.cfg.MaxSubs {
		c.refuse(&wire.Error{Code: wire.CodeTooManySubs, Message: fmt.Sprintf("a hello may carry at most %d cursors", c.g.cfg.MaxSubs)})
		c.closeAfterQueued(ctx, wire.CloseProtocol, "too many cursors")
		return errors.New("too many cursors")
	}
	// Each cursor of the hello resumes its stream, as a sub from it would.
	for i := range hello.Cursors {
		cur := hello.Cursors[i]
		c.subscribe(ctx, wire.Sub{Stream: cur.Stream, From: &cur})
	}
	if c.bad > maxBadFrames {
		c.closeAfterQueued(ctx, wire.CloseProtocol, "too many refused frames")
		return errors.New("too many refused cursors")
	}
	return nil
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

// subscribe answers a sub. Without a cursor: a snapshot, then the stream's
// deltas. With one: exactly the events after it (from the hub's ring, or read
// from History while live events are held), then the deltas; a cursor that
// cannot be continued gets a snapshot that says why. A sub for a stream the
// connection already has starts it again (that is how a client answers a
// resync or a gap).
func (c *conn) subscribe(ctx context.Context, s wire.Sub) {
	if err := wire.ValidStream(s.Stream); err != nil {
		c.refuse(&wire.Error{Code: wire.CodeBadStream, Message: err.Error(), Stream: truncate(s.Stream)})
		return
	}
	// The access rule, the one every path to tenant data goes through; a
	// derived stream follows its source's.
	src, derived, err := c.source(s.Stream)
	if err != nil {
		c.refuse(&wire.Error{Code: wire.CodeUnknownStream, Message: err.Error(), Stream: s.Stream})
		return
	}
	if err := c.who.Allow(c.tenant, src); err != nil {
		c.g.m.denied.Inc()
		c.g.cfg.Logger.Warn("subscription denied", "conn", c.id, "tenant", c.tenant, "sub", c.who.Subject, "stream", s.Stream, "err", err)
		c.refuse(&wire.Error{Code: wire.CodeForbidden, Message: "this token does not allow stream " + s.Stream, Stream: s.Stream})
		return
	}
	if cancel, ok := c.subs[s.Stream]; ok {
		cancel()
		delete(c.subs, s.Stream)
	} else if len(c.subs) >= c.g.cfg.MaxSubs {
		c.refuse(&wire.Error{Code: wire.CodeTooManySubs, Message: fmt.Sprintf("at most %d subscriptions per connection", c.g.cfg.MaxSubs), Stream: s.Stream})
		return
	}
	if derived {
		if err := c.g.cfg.Derived.Want(c.tenant, s.Stream); err != nil {
			code := wire.CodeInternal
			if errors.Is(err, store.ErrStreamQuota) {
				code = wire.CodeQuota
			}
			c.refuse(&wire.Error{Code: code, Message: err.Error(), Stream: s.Stream})
			return
		}
	}
	var (
		cancel func()
		res    hub.Resume
	)
	if s.From != nil {
		res, cancel, err = c.g.cfg.Hub.SubscribeFrom(c.tenant, s.Stream, c.out, *s.From, c.g.cfg.History != nil)
	} else {
		cancel, err = c.g.cfg.Hub.Subscribe(c.tenant, s.Stream, c.out)
	}
	if err != nil {
		c.refuse(&wire.Error{Code: wire.CodeInternal, Message: "subscribe failed", Stream: s.Stream})
		c.g.cfg.Logger.Error("subscribe", "conn", c.id, "stream", s.Stream, "err", err)
		return
	}
	c.subs[s.Stream] = cancel
	if res.Fetch {
		// One fetch per subscription, ended with it: a client that sends the
		// same stale cursor again and again replaces its fetch rather than
		// piling them up, and the gateway reads at most maxFetches gaps at
		// once for everyone.
		fctx, fcancel := context.WithCancel(ctx)
		c.subs[s.Stream] = func() { fcancel(); cancel() }
		c.fetches.Add(1)
		go func() {
			defer c.fetches.Done()
			defer fcancel()
			select {
			case c.g.fetchSlots <- struct{}{}:
			case <-fctx.Done():
				return
			}
			history, ok := c.fetchHistory(fctx, s.Stream, res.After, res.UpTo)
			<-c.g.fetchSlots
			if fctx.Err() == nil {
				c.out.release(s.Stream, res.Token, history, res.UpTo, ok)
			}
		}()
	}
}

// fetchHistory reads (after, upTo] from History, encoded for the outbox. ok
// is false when they are not all there (trimmed, an error, too many).
func (c *conn) fetchHistory(ctx context.Context, stream string, after, upTo uint64) ([][]byte, bool) {
	if upTo-after > uint64(c.g.cfg.MaxReplay) {
		return nil, false
	}
	out := make([][]byte, 0, upTo-after)
	for next := after; next < upTo; {
		evs, err := c.g.cfg.History.Read(ctx, c.tenant, stream, next, int(min(upTo-next, 1000)))
		if err != nil || len(evs) == 0 || evs[0].Seq != next+1 {
			if err != nil && ctx.Err() == nil {
				c.g.cfg.Logger.Warn("resume history", "conn", c.id, "stream", stream, "after", next, "err", err)
			}
			return nil, false
		}
		for i := range evs {
			if evs[i].Seq > upTo {
				break
			}
			b, err := wire.EncodeEvent(&evs[i])
			if err != nil {
				return nil, false
			}
			out = append(out, b)
			next = evs[i].Seq
		}
	}
	c.g.m.replayedStore.Add(int64(len(out)))
	return out, true
}

// setPrincipal makes who the connection's principal and arms its expiry:
// an expiring frame ahead of exp (a minute, or half the token's remaining
// life if shorter), then the close at exp unless a refresh came first.
func (c *conn) setPrincipal(who *auth.Principal) {
	c.whoMu.Lock()
	defer c.whoMu.Unlock()
	c.who = who
	stopTimers(c.expiry, c.warn)
	c.expiry, c.warn = nil, nil
	if who.Expires.IsZero() {
		return
	}
	left := time.Until(who.Expires)
	exp := who.Expires
	c.warn = time.AfterFunc(left-min(c.g.cfg.ExpiryWarning, left/2), func() {
		if b, err := wire.Encode(wire.Expiring{At: exp.UnixNano()}); err == nil {
			c.out.push(b)
		}
	})
	c.expiry = time.AfterFunc(left, func() {
		if p := c.principal(); p != nil && p.Expires.After(exp) {
			return // refreshed while this timer fired
		}
		c.g.m.expired.Inc()
		c.signOut(wire.CloseTokenExpired, "token expired: sign in again")
	})
}

func stopTimers(ts ...*time.Timer) {
	for _, t := range ts {
		if t != nil {
			t.Stop()
		}
	}
}

// refresh swaps the connection's token for a new one of the same tenant and
// operator: the expiry moves, and subscriptions the new token no longer
// allows end with a forbidden error. A refused refresh leaves the current
// token in force until it expires.
func (c *conn) refresh(ctx context.Context, f wire.Refresh) {
	refuse := func(why string) {
		c.g.m.unauthorized.Inc()
		c.refuse(&wire.Error{Code: wire.CodeBadToken, Message: "refresh refused: " + why + "; the current token stays valid until it expires"})
	}
	if c.g.cfg.Authenticate == nil {
		refuse("this server does not use tokens")
		return
	}
	who, err := c.g.cfg.Authenticate(ctx, f.Token)
	switch {
	case err != nil:
		refuse(err.Error())
		return
	case who.Tenant != c.tenant || who.Subject != c.who.Subject:
		refuse("a refresh must be for the same tenant and operator")
		return
	}
	c.setPrincipal(who)
	for stream, cancel := range c.subs {
		src, _, err := c.source(stream)
		if err != nil {
			src = stream // its definition is gone: the name's own rule
		}
		if err := who.Allow(c.tenant, src); err != nil {
			cancel()
			delete(c.subs, stream)
			c.out.forget(stream)
			c.g.m.denied.Inc()
			// Not c.refuse: a legitimate refresh that narrows many streams
			// must not count toward closing the connection.
			if b, err := wire.Encode(wire.Error{Code: wire.CodeForbidden, Message: "the new token does not allow stream " + stream, Stream: stream}); err == nil {
				c.out.push(b)
			}
		}
	}
	if b, err := wire.Encode(wire.Expiring{At: who.Expires.UnixNano()}); err == nil {
		c.out.push(b)
	}
}

// source is the stream whose access rule stream follows: its source for a
// derived stream (derived true), itself otherwise.
func (c *conn) source(stream string) (src string, derived bool, err error) {
	if c.g.cfg.Derived == nil {
		return stream, false, nil
	}
	src, derived, err = c.g.cfg.Derived.Source(c.tenant, stream)
	if !derived {
		return stream, false, nil
	}
	return src, true, err
}

// principal is whom the connection speaks for; nil before the hello.
func (c *conn) principal() *auth.Principal {
	c.whoMu.Lock()
	defer c.whoMu.Unlock()
	return c.who
}

// signOut ends the connection over its token: an unauthorized error frame
// (which a browser client can read, unlike the close code), then the close.
func (c *conn) signOut(code websocket.StatusCode, reason string) {
	if b, err := wire.Encode(wire.Error{Code: wire.CodeUnauthorized, Message: reason}); err == nil {
		// Straight to the socket, not the outbox: it must go before the
		// close frame. A client that does not take it within a second is
		// closed without it.
		t := time.AfterFunc(time.Second, func() { c.ws.CloseNow() })
		_ = c.net.writeFrame(b)
		t.Stop()
	}
	c.close(code, reason)
}

func (c *conn) refuse(e *wire.Error) {
	c.bad++
	c.g.m.badFrames.Inc()
	if b, err := wire.Encode(*e); err == nil {
		c.out.push(b)
	}
}

func truncate(s string) string {
	if len(s) > wire.MaxStreamName {
		return s[:wire.MaxStreamName]
	}
	return s
}

// startWriting sets up the connection's writing: the outbox kicks the
// connection's flusher when something is queued, and a timer queues pings
// and closes a silent connection.
func (c *conn) startWriting() {
	c.due = c.g.now()
	c.out.kick = c.kick
	interval := c.g.cfg.PingInterval
	// Assigned under wmu, which the callback takes before it reads c.pinger:
	// the timer could otherwise fire before the assignment is visible to it.
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.pinger = time.AfterFunc(interval, func() {
		now := time.Now()
		if now.UnixNano()-c.lastRead.Load() > 2*int64(interval) {
			c.g.m.idleCloses.Inc()
			c.close(wire.CloseIdle, "no frame for two ping intervals")
			return
		}
		if b, err := wire.Encode(wire.Ping{Time: now.UnixNano()}); err == nil {
			c.out.push(b)
		}
		c.wmu.Lock()
		if !c.stopped {
			c.pinger.Reset(interval)
		}
		c.wmu.Unlock()
	})
}

// stopWriting waits for the slow path to end; the connection must be closed
// (c.close), which fails a write that waits.
func (c *conn) stopWriting() {
	c.wmu.Lock()
	c.stopped = true
	if c.pinger != nil {
		c.pinger.Stop()
	}
	c.wmu.Unlock()
	c.writers.Wait()
	if c.stuck != nil {
		c.stuck.Stop()
	}
}

// slowPath writes on a goroutine of the connection's own, which may wait for
// the socket: first rest, the remainder of a flusher's write (the socket
// mutex is still held for it, see heldWriter.tryWrite), or a whole write
// the socket was busy for (then not held); then items. The connection stays
// busy, so no flusher writes it meanwhile.
func (c *conn) slowPath(items []item, rest []byte, locked bool) {
	c.wmu.Lock()
	if c.stopped {
		c.wmu.Unlock()
		if locked {
			c.net.mu.Unlock()
		}
		c.state.Store(idle)
		return
	}
	c.writers.Add(1)
	c.wmu.Unlock()
	c.g.m.slowWrites.Inc()
	go func() {
		defer c.writers.Done()
		ok := true
		if len(rest) > 0 {
			c.watch()
			var err error
			if locked {
				err = c.net.finish(rest)
			} else {
				err = c.net.writeAll(rest)
			}
			ok = c.unwatch(err)
		}
		if ok && len(items) > 0 {
			ok = c.writeItems(items)
		}
		if !ok {
			c.state.Store(idle)
			return
		}
		c.wrote(c.g.now(), int64(c.g.window()))
		c.settle()
	}()
}

// writeItems writes items in order (see eachFrame), each frame waiting for
// the socket. false: the connection is over.
func (c *conn) writeItems(items []item) bool {
	var groups []group
	return eachFrame(items, &groups,
		func(g *group) bool { return !c.closing.Load() && c.writeBatches(g.stream, g.evs, g.ats, g.catchUp) },
		func(it *item) bool {
			switch {
			case c.closing.Load():
				return false
			case it.closeCode != 0:
				c.close(websocket.StatusCode(it.closeCode), string(it.b))
				return false
			}
			return c.write(it.b, true)
		})
}

// writeBatches writes a stream's queued events as batch frames; deflate
// says they are catch-up (replayed events), which may be compressed.
func (c *conn) writeBatches(stream string, evs [][]byte, ats []int64, deflate bool) bool {
	var frame []byte
	hubSent := c.hubSent()
	for len(evs) > 0 {
		n := batchLen(evs)
		sent := time.Now().UnixNano()
		frame = wire.AppendBatch(frame[:0], stream, sent, evs[:n])
		if !c.write(frame, deflate) {
			return false
		}
		observeSent(hubSent, ats[:n], sent)
		c.g.m.batches.Inc()
		c.g.m.eventsOut.Add(int64(n))
		evs, ats = evs[n:], ats[n:]
	}
	return true
}

// hubSent is the histogram of the connection's tenant's hub → sent stage:
// looked up again only when the tenant's label changed (it left or joined
// the top N), so a write pass takes no lock for it.
func (c *conn) hubSent() *metrics.Histogram {
	st := c.stages.Load()
	if st == nil || st.Dropped() {
		st = c.g.cfg.Stages.For(c.tenant, 0)
		c.stages.Store(st)
	}
	return st.HubSent
}

// write writes one frame, waiting for the socket. On a connection that
// negotiated deflate, a frame over Config.CompressAbove is compressed by the
// library when deflate allows it (snapshots and catch-up); every other frame
// goes as the gateway builds it: a live batch was encoded once for every
// subscriber, and compressing each copy would cost the fan-out its CPU.
//
// Compression takes one of the gateway's deflate slots, never waiting for
// one: with all of them busy the frame goes uncompressed. A slot covers only
// the compression (the library hands its deflate writer back before the
// frame is written, and the held writer keeps the whole compressed frame),
// so the socket write, to a slow client or not, happens after the slot is
// free again.
func (c *conn) write(b []byte, deflate bool) bool {
	c.watch()
	var err error
	switch {
	case !deflate || !c.deflate || len(b) < c.g.cfg.CompressAbove:
		err = c.net.writeFrame(b)
	default:
		// Held before a slot is taken: taking the socket may wait for a
		// control frame the library is writing, and no slot may be held
		// while a socket write waits.
		c.net.hold()
		select {
		case c.g.deflateSlots <- struct{}{}:
			err = c.ws.Write(context.Background(), websocket.MessageBinary, b)
			<-c.g.deflateSlots
			if rerr := c.net.release(); err == nil {
				err = rerr
			}
		default:
			c.g.m.deflateBusy.Inc()
			if err = c.net.release(); err == nil {
				err = c.net.writeFrame(b)
			}
		}
	}
	if !c.unwatch(err) {
		return false
	}
	c.g.m.framesOut.Inc()
	c.g.m.bytesOut.Add(int64(len(b)))
	return true
}

// watch starts the watchdog of a slow-path write: writes take no context (one
// per write would cost a timer and a registration per frame), and the
// watchdog closes the socket when a write takes longer than WriteTimeout,
// which fails the write.
func (c *conn) watch() {
	if c.stuck == nil {
		c.stuck = time.AfterFunc(c.g.cfg.WriteTimeout, func() {
			c.timedOut.Store(true)
			c.ws.CloseNow()
		})
		return
	}
	c.stuck.Reset(c.g.cfg.WriteTimeout)
}

// unwatch stops the watchdog after a write; false (the write failed or timed
// out) closes the connection.
func (c *conn) unwatch(err error) bool {
	c.stuck.Stop()
	if err == nil {
		return true
	}
	if c.timedOut.Load() {
		c.g.m.slowCloses.Inc()
	}
	c.close(wire.CloseSlowConsumer, "write failed or timed out")
	return false
}

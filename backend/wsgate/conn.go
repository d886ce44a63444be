package wsgate

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/telltale/telltale/backend/hub"
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
)

type conn struct {
	g      *Gateway
	ws     *websocket.Conn
	id     string
	tenant string
	out    *outbox
	cancel context.CancelFunc

	subs     map[string]func() // stream → cancel; owned by the reader
	bad      int
	lastRead atomic.Int64   // Unix ns of the last frame read
	fetches  sync.WaitGroup // history reads for resuming subscriptions

	closeOnce sync.Once

	// Owned by the writer goroutine.
	frame    []byte      // the batch frame being written, reused
	stuck    *time.Timer // closes the socket when a write takes too long
	timedOut atomic.Bool // the stuck timer fired
}

// close ends the connection with a code the client can act on. Safe to call
// from any goroutine, any number of times.
func (c *conn) close(code websocket.StatusCode, reason string) {
	c.closeOnce.Do(func() {
		// Not c.cancel() first: cancelling a pending Read's context makes the
		// websocket library drop the TCP connection without a close frame,
		// and the client would never see the code.
		go func() {
			_ = c.ws.Close(code, reason)
			c.cancel()
		}()
	})
}

func (c *conn) serve(ctx context.Context, remote string) {
	log := c.g.cfg.Logger.With("conn", c.id, "remote", remote)
	writerDone := make(chan struct{})
	defer func() {
		for _, cancel := range c.subs {
			cancel()
		}
		c.close(websocket.StatusNormalClosure, "")
		<-writerDone
		c.fetches.Wait()
	}()
	go func() {
		defer close(writerDone)
		c.writeLoop(ctx)
	}()

	if err := c.handshake(ctx); err != nil {
		log.Debug("handshake", "err", err)
		return
	}
	for {
		typ, b, err := c.ws.Read(ctx)
		if err != nil {
			log.Debug("read", "err", err)
			return
		}
		c.lastRead.Store(time.Now().UnixNano())
		if typ != websocket.MessageBinary {
			c.refuse(&wire.Error{Code: wire.CodeBadFrame, Message: "frames are binary msgpack"})
			continue
		}
		f, err := wire.Decode(b)
		if err != nil {
			var e *wire.Error
			if !errors.As(err, &e) {
				e = &wire.Error{Code: wire.CodeBadFrame, Message: err.Error()}
			}
			c.refuse(e)
			continue
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
		case wire.Hello:
			c.refuse(&wire.Error{Code: wire.CodeBadFrame, Message: "hello was already received"})
		default:
			c.refuse(&wire.Error{Code: wire.CodeUnknownType, Message: fmt.Sprintf("%s is not a client frame", f.FrameType())})
		}
		if c.bad > maxBadFrames {
			c.close(wire.CloseProtocol, "too many refused frames")
			return
		}
	}
}

func (c *conn) handshake(ctx context.Context) error {
	hctx, cancel := context.WithTimeout(ctx, c.g.cfg.HandshakeTimeout)
	defer cancel()
	_, b, err := c.ws.Read(hctx)
	if err != nil {
		c.close(websocket.StatusPolicyViolation, "no hello in time")
		return fmt.Errorf("read hello: %w", err)
	}
	c.lastRead.Store(time.Now().UnixNano())
	f, err := wire.Decode(b)
	hello, ok := f.(wire.Hello)
	if err != nil || !ok {
		c.close(websocket.StatusPolicyViolation, "the first frame must be hello")
		return fmt.Errorf("first frame: %T %v", f, err)
	}
	c.tenant = c.g.cfg.DefaultTenant
	if c.g.cfg.Authenticate != nil {
		if c.tenant, err = c.g.cfg.Authenticate(ctx, hello.Token); err != nil {
			c.close(websocket.StatusPolicyViolation, "authentication failed")
			return fmt.Errorf("authenticate: %w", err)
		}
	}
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
	// Each cursor of the hello resumes its stream, as a sub from it would.
	for i := range hello.Cursors {
		cur := hello.Cursors[i]
		c.subscribe(ctx, wire.Sub{Stream: cur.Stream, From: &cur})
	}
	return nil
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
	if cancel, ok := c.subs[s.Stream]; ok {
		cancel()
		delete(c.subs, s.Stream)
	} else if len(c.subs) >= c.g.cfg.MaxSubs {
		c.refuse(&wire.Error{Code: wire.CodeTooManySubs, Message: fmt.Sprintf("at most %d subscriptions per connection", c.g.cfg.MaxSubs), Stream: s.Stream})
		return
	}
	var (
		cancel func()
		res    hub.Resume
		err    error
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
		c.fetches.Add(1)
		go func() {
			defer c.fetches.Done()
			history, ok := c.fetchHistory(ctx, s.Stream, res.After, res.UpTo)
			c.out.release(s.Stream, res.Token, history, ok)
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

// writeLoop owns every write to the socket: queued frames, coalesced batches
// and pings. It ends when ctx ends or a write fails.
//
// Coalescing: a connection writes at most once per the gateway's current
// window (see Gateway.window); whatever arrives meanwhile joins the next
// write, many events to one batch frame. An idle connection's first frame
// goes at once.
func (c *conn) writeLoop(ctx context.Context) {
	interval := c.g.cfg.PingInterval
	ping := time.NewTicker(interval)
	defer ping.Stop()
	// Writes take no context: one per write would cost a timer and a
	// registration per frame. A watchdog armed around each write closes the
	// socket when it takes longer than WriteTimeout, which fails the write.
	c.stuck = time.AfterFunc(time.Hour, func() {
		c.timedOut.Store(true)
		c.ws.CloseNow()
	})
	c.stuck.Stop()
	defer c.stuck.Stop()
	hold := time.NewTimer(time.Hour)
	hold.Stop()
	var (
		items     []item
		pending   = make(map[string][][]byte)
		order     []string
		lastWrite time.Time
	)
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.out.wake:
		case now := <-ping.C:
			if now.UnixNano()-c.lastRead.Load() > 2*int64(interval) {
				c.g.m.idleCloses.Inc()
				c.close(wire.CloseIdle, "no frame for two ping intervals")
				return
			}
			b, err := wire.Encode(wire.Ping{Time: now.UnixNano()})
			if err == nil {
				c.out.push(b)
			}
			continue
		}
		if wait := c.g.window() - time.Since(lastWrite); wait > 0 {
			hold.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-hold.C:
			}
		}
		var slow bool
		items, slow = c.out.take(items)
		if slow {
			c.g.m.slowCloses.Inc()
			c.close(wire.CloseSlowConsumer, "slow consumer: control frames over the connection's limit")
			return
		}
		// Events are grouped per stream into batch frames. A stream's events
		// are flushed before any later control frame of the same stream, so a
		// stream's frames keep their order; across streams order is free.
		for _, it := range items {
			if it.event {
				if _, ok := pending[it.stream]; !ok {
					order = append(order, it.stream)
				}
				pending[it.stream] = append(pending[it.stream], it.b)
				continue
			}
			if evs := pending[it.stream]; it.stream != "" && len(evs) > 0 {
				if !c.writeBatches(it.stream, evs) {
					return
				}
				pending[it.stream] = evs[:0]
			}
			if !c.write(it.b) {
				return
			}
		}
		for _, s := range order {
			if evs := pending[s]; len(evs) > 0 && !c.writeBatches(s, evs) {
				return
			}
			delete(pending, s)
		}
		order = order[:0]
		clear(items)
		if len(items) > 0 {
			lastWrite = time.Now()
		}
	}
}

func (c *conn) writeBatches(stream string, evs [][]byte) bool {
	for len(evs) > 0 {
		n, size := 0, 0
		for n < len(evs) && n < maxBatchEvents && (n == 0 || size+len(evs[n]) <= maxBatchBytes) {
			size += len(evs[n])
			n++
		}
		c.frame = wire.AppendBatch(c.frame[:0], stream, time.Now().UnixNano(), evs[:n])
		ok := c.write(c.frame)
		if cap(c.frame) > 2*maxBatchBytes {
			c.frame = nil // one huge event: do not keep its buffer
		}
		if !ok {
			return false
		}
		c.g.m.batches.Inc()
		c.g.m.eventsOut.Add(int64(n))
		evs = evs[n:]
	}
	return true
}

func (c *conn) write(b []byte) bool {
	c.stuck.Reset(c.g.cfg.WriteTimeout)
	err := c.ws.Write(context.Background(), websocket.MessageBinary, b)
	c.stuck.Stop()
	if err != nil {
		if c.timedOut.Load() {
			c.g.m.slowCloses.Inc()
		}
		c.close(wire.CloseSlowConsumer, "write failed or timed out")
		return false
	}
	c.g.m.framesOut.Inc()
	c.g.m.bytesOut.Add(int64(len(b)))
	return true
}

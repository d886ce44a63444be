package wsgate

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/store"
	"github.com/telltale/telltale/backend/wsgate/internal/wsframe"
	"github.com/telltale/telltale/shared/wire"
)

// maxBadFrames is how many refused frames a connection may send before it is
// closed: a confused client gets error frames, a hostile one gets cut off.
const maxBadFrames = 16

// handle acts on one client frame (on a short stack: onShortStack); false
// ends the connection.
func (c *conn) handle(ctx context.Context, typ wsframe.Opcode, b []byte) bool {
	c.lastRead.Store(time.Now().UnixNano())
	if typ != wsframe.OpBinary {
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
		// The write side closes after the error frames already queued, so
		// the client learns why.
		c.closeAfterQueued(ctx, closeRefused)
		return false
	}
	return true
}

func (c *conn) handshake() error {
	ctx := c.ctx
	// A timer of the handshake's own, not a read deadline: a deadline is
	// the socket's, and would fail a pong written meanwhile.
	var late atomic.Bool
	t := time.AfterFunc(c.g.cfg.HandshakeTimeout, func() {
		late.Store(true)
		c.g.m.helloTimeouts.Inc()
		c.close(closeNoHello)
	})
	_, b, ok := c.next()
	if !t.Stop() || late.Load() || !ok {
		return errors.New("no hello")
	}
	c.lastRead.Store(time.Now().UnixNano())
	f, err := wire.Decode(b)
	hello, ok := f.(wire.Hello)
	if err != nil || !ok {
		if wire.TypeOf(b) == wire.TypeReport {
			c.g.m.reportsRefused.Inc() // reports are taken only after a verified hello
		}
		c.close(closeNotHello)
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
			c.signOut(signedOut(wire.CloseUnauthorized, reason))
			c.awaitClose(ctx) // start's own close must not come first
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
		c.closeAfterQueued(ctx, closeTooManyCursor)
		return errors.New("too many cursors")
	}
	// Each cursor of the hello resumes its stream, as a sub from it would.
	for i := range hello.Cursors {
		cur := hello.Cursors[i]
		c.subscribe(ctx, wire.Sub{Stream: cur.Stream, From: &cur})
	}
	if c.bad > maxBadFrames {
		c.closeAfterQueued(ctx, closeRefused)
		return errors.New("too many refused cursors")
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
		var maxAhead uint64
		if c.g.cfg.AheadWait > 0 {
			maxAhead = uint64(c.g.cfg.MaxReplay)
		}
		res, cancel, err = c.g.cfg.Hub.SubscribeFrom(c.tenant, s.Stream, c.out, *s.From, c.g.cfg.History != nil, maxAhead)
	} else {
		cancel, err = c.g.cfg.Hub.Subscribe(c.tenant, s.Stream, c.out)
	}
	if err != nil {
		c.refuse(&wire.Error{Code: wire.CodeInternal, Message: "subscribe failed", Stream: s.Stream})
		c.g.cfg.Logger.Error("subscribe", "conn", c.id, "stream", s.Stream, "err", err)
		return
	}
	c.subs[s.Stream] = cancel
	if res.Ahead {
		// Another node served this client further than this hub has
		// followed the shared store yet: wait for the hub to get there
		// (its deliveries held), then continue without what the client
		// has. Ended with the subscription, like a fetch.
		actx, acancel := context.WithCancel(ctx)
		c.subs[s.Stream] = func() { acancel(); cancel() }
		skip := int(res.UpTo - res.After) // at most MaxReplay
		reached := c.out.awaitHeld(s.Stream, res.Token, skip)
		c.g.m.aheadWaits.Inc()
		c.fetches.Add(1)
		go func() {
			defer c.fetches.Done()
			defer acancel()
			t := time.NewTimer(c.g.cfg.AheadWait)
			defer t.Stop()
			select {
			case <-reached:
			case <-t.C:
				c.g.m.aheadTimeouts.Inc()
			case <-actx.Done():
				return
			}
			c.out.releaseAhead(s.Stream, res.Token, res.After, skip)
		}()
	}
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

// setPrincipal makes who the connection's principal and schedules its
// expiry (expireAt).
func (c *conn) setPrincipal(who *auth.Principal) {
	c.whoMu.Lock()
	c.who = who
	c.whoMu.Unlock()
	c.expireAt(who.Expires)
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
// Both go through the write side, ahead of whatever else is queued (see
// outbox.pushSignOut); it never waits, so any goroutine may call it.
func (c *conn) signOut(cl Close) { c.leave(wire.CodeUnauthorized, cl) }

// leave ends a welcomed connection through its write side: an error frame
// of code with cl's reason (what a browser's client reads: the close code
// does not reach Go in wasm), then cl. What was queued is dropped: the
// client's cursor is where it resumes. Like signOut, it starts no goroutine
// and waits for no socket.
func (c *conn) leave(code wire.Code, cl Close) {
	b, err := wire.Encode(wire.Error{Code: code, Message: cl.Reason})
	if err != nil {
		b = nil // a fixed struct of a code and a string: cannot fail
	}
	c.out.pushSignOut(b, cl)
	// A write already waiting for the socket gets what the sign-out gets:
	// a client that takes nothing is cut off within signOutWait.
	c.hurry(signOutWait)
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

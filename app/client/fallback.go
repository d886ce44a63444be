package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/telltale/telltale/shared/wire"
)

// HTTPError is an HTTP answer other than 200, as Config.Get reports it.
type HTTPError struct {
	Status  int
	Message string
}

func (e *HTTPError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message) }

// maxHeldPolls is how many streams poll with the full wait. A browser opens
// at most six HTTP/1.1 connections per host, and the WebSocket retries and
// the zoom's window fetches need some: past this many streams each poll is
// held only pollShortWait, so the streams take turns.
const (
	maxHeldPolls  = 4
	pollShortWait = 2 * time.Second
)

// fallback is the HTTP polling that stands in for the WebSocket.
type fallback struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	c      *Client
	// reached: the server answered a poll (with events, or a 4xx). Until
	// then nothing says the WebSocket is blocked rather than the network
	// down; the first events mean the server is reachable again, and the
	// WebSocket is tried at once.
	reached atomic.Bool
	// follow starts polling one more stream (SetStreams); under c.mu.
	follow func(name string)
}

// stop ends the polls and waits for them.
func (fb *fallback) stop() {
	c := fb.c
	c.mu.Lock()
	c.poll = nil // no more streams added to the polls being stopped
	c.mu.Unlock()
	fb.cancel()
	fb.wg.Wait()
	c.mu.Lock()
	c.info.Transport = ""
	clear(c.catchUp)
	c.refreshLocked()
	c.mu.Unlock()
	c.changed()
}

// startFallback follows every stream with its own long-poll loop: a snapshot
// for a stream not held yet, then the events after its cursor, applied by the
// same idempotent, gap-refusing rules as over the WebSocket.
func (c *Client) startFallback(ctx context.Context) *fallback {
	ctx, cancel := context.WithCancel(ctx)
	fb := &fallback{cancel: cancel, c: c}
	c.mu.Lock()
	c.fresh = make(map[string]bool, len(c.streams))
	c.awaiting = make(map[string]bool)
	c.info.Transport = TransportPoll
	c.phase = Connecting
	c.lag.reset()
	c.refreshLocked()
	wait := c.cfg.PollWait
	if len(c.names) > maxHeldPolls {
		wait = min(wait, pollShortWait)
	}
	fb.follow = func(name string) {
		fb.wg.Add(1)
		go func() {
			defer fb.wg.Done()
			c.pollStream(ctx, fb, name, wait)
		}()
	}
	for _, name := range c.names {
		fb.follow(name)
	}
	c.poll = fb
	c.mu.Unlock()
	c.changed()
	return fb
}

// pollStream polls one stream until ctx ends, backing off after failures.
func (c *Client) pollStream(ctx context.Context, fb *fallback, name string, wait time.Duration) {
	attempt := 0
	for ctx.Err() == nil {
		err := c.pollOnce(ctx, name, wait)
		if errors.Is(err, errNotFollowed) {
			return // SetStreams dropped it
		}
		if err == nil {
			attempt = 0
			if fb.reached.CompareAndSwap(false, true) {
				c.Kick() // the server answers: try the WebSocket now
			}
			continue
		}
		if ctx.Err() != nil {
			return
		}
		c.cfg.Log("poll failed", "stream", name, "err", err)
		if he := (*HTTPError)(nil); errors.As(err, &he) && he.Status < 500 {
			fb.reached.Store(true) // the server itself answered (a proxy's 5xx says nothing)
		}
		c.mu.Lock()
		c.info.LastError = err.Error()
		if he := (*HTTPError)(nil); errors.As(err, &he) && he.Status == 401 {
			c.phase = SignedOut // SetToken's new token is used by the next poll
		} else if he == nil || he.Status != 429 {
			delete(c.fresh, name)
			if len(c.fresh) == 0 {
				c.phase = Offline
			}
		}
		c.refreshLocked()
		c.mu.Unlock()
		c.changed()
		ceiling := min(c.cfg.MaxBackoff, max(c.cfg.MinBackoff, time.Second)<<min(attempt, 16))
		attempt++
		t := time.NewTimer(rand.N(ceiling) + time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// errNotFollowed: a stream the client no longer follows (SetStreams).
var errNotFollowed = errors.New("stream no longer followed")

// pollOnce brings one stream forward by one request (two when the cursor
// cannot be continued and the snapshot is fetched).
func (c *Client) pollOnce(ctx context.Context, name string, wait time.Duration) error {
	c.mu.Lock()
	st := c.streams[name]
	if st == nil {
		c.mu.Unlock()
		return errNotFollowed
	}
	cur, token, settled := st.Cursor(), c.token, c.fresh[name]
	c.mu.Unlock()
	if cur.Epoch == 0 && cur.Seq == 0 {
		return c.pollSnapshot(ctx, name, token)
	}
	q := "?epoch=" + strconv.FormatUint(cur.Epoch, 10) + "&after=" + strconv.FormatUint(cur.Seq, 10)
	if settled {
		// The first answer of a stream comes at once, so the page leaves
		// "connecting" as soon as it can; later ones wait for events.
		q += "&wait=" + strconv.FormatInt(wait.Milliseconds(), 10) + "ms"
	}
	var asked, recv int64 // the request and its answer on the meter's clock
	if c.cfg.Meter != nil {
		asked = c.cfg.Meter.Now()
	}
	body, err := c.cfg.Get(ctx, c.streamsURL(name, "events")+q, token)
	if c.cfg.Meter != nil {
		recv = c.cfg.Meter.Now()
	}
	if he := (*HTTPError)(nil); errors.As(err, &he) && he.Status == 409 {
		return c.pollSnapshot(ctx, name, token) // another epoch, or trimmed: start over
	}
	if err != nil {
		return err
	}
	f, err := wire.DecodeServer(body)
	if err != nil {
		return fmt.Errorf("events of %s: %w", name, err)
	}
	b, ok := f.(wire.Batch)
	if !ok || b.Stream != name {
		return fmt.Errorf("events of %s: got a %s frame", name, f.FrameType())
	}
	if c.cfg.Meter != nil && b.Sent != 0 {
		// The server stamped Sent between the request and its answer: a
		// clock sample as a Sync's, there being no Sync over HTTP (a
		// held poll's is wide; the smallest round trip is kept).
		c.cfg.Meter.sync(asked, b.Sent, recv)
	}
	if _, _, err := c.applyBatch(&b, recv); err != nil {
		return c.pollSnapshot(ctx, name, token) // a gap: never a silent hole
	}
	c.polled(name, true)
	return nil
}

// polled records an answer for the stream: the connection works again.
func (c *Client) polled(name string, resumed bool) {
	c.mu.Lock()
	if c.streams[name] == nil {
		c.mu.Unlock()
		return // dropped by SetStreams meanwhile
	}
	if c.phase == Offline || c.phase == SignedOut {
		c.phase = Connecting
	}
	if !c.fresh[name] {
		c.fresh[name] = true
		if resumed {
			c.info.Resumes++
		}
	}
	c.settleLocked()
	c.mu.Unlock()
	c.changed()
}

func (c *Client) pollSnapshot(ctx context.Context, name, token string) error {
	body, err := c.cfg.Get(ctx, c.streamsURL(name, "snapshot"), token)
	if err != nil {
		return err
	}
	f, err := wire.DecodeServer(body)
	if err != nil {
		return fmt.Errorf("snapshot of %s: %w", name, err)
	}
	snap, ok := f.(wire.Snapshot)
	if !ok || snap.Stream != name {
		return fmt.Errorf("snapshot of %s: got a %s frame", name, f.FrameType())
	}
	c.applySnapshot(&snap)
	c.polled(name, false)
	return nil
}

// streamsURL is the stream API's URL of one stream's endpoint.
func (c *Client) streamsURL(stream, endpoint string) string {
	base := c.cfg.StreamsURL
	if base == "" {
		u, err := url.Parse(c.cfg.URL)
		if err != nil {
			return ""
		}
		u.Scheme = strings.Replace(u.Scheme, "ws", "http", 1)
		u.Path, u.RawQuery = "/api/v1/streams", ""
		base = u.String()
	}
	return strings.TrimSuffix(base, "/") + "/" + url.PathEscape(stream) + "/" + endpoint
}

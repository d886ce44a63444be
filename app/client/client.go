// Package client is Telltale's client runtime in plain Go: it connects to the
// gateway, subscribes, folds snapshots and batches into per-stream state
// (idempotent by seq, refusing gaps) and reconnects with backoff. The wasm UI,
// the native tests and the load generator all use it.
//
// It must never touch the DOM or syscall/js: browser bridges live in wasm/.
package client

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

// Status is the connection state shown to the operator.
type Status int

// Connection states.
const (
	Connecting Status = iota // dialling or waiting for the first snapshot
	Live                     // connected and following every stream, on time
	Offline                  // disconnected; retrying
	SignedOut                // the server refused the token: waiting for SetToken
	// CatchingUp: connected, replaying the events missed while away
	// (Info.CatchUp says how far).
	CatchingUp
	// Degraded: following every stream, but events arrive late (Info.Lag
	// over Config.DegradedLag), over the HTTP fallback (Info.Transport), or
	// nothing at all (no event, no ping) arrived for silentAfter ping
	// intervals (Info.LastFrameAt says since when).
	Degraded
)

func (s Status) String() string {
	switch s {
	case Live:
		return "live"
	case Offline:
		return "offline"
	case SignedOut:
		return "signed out"
	case CatchingUp:
		return "catching up"
	case Degraded:
		return "degraded"
	}
	return "connecting"
}

// Transports.
const (
	TransportWebSocket = "websocket"
	TransportPoll      = "http-poll" // the fallback: HTTP long-polls
)

// Config configures a Client. Zero values are the documented defaults.
type Config struct {
	URL     string   // ws:// or wss:// URL of the gateway; required
	Token   string   // sent in hello
	Streams []string // streams to follow (SetStreams changes them)
	Limits  livestate.Limits
	// StreamLimits are the limits of particular streams, instead of
	// Limits (a small stream whose every row matters, such as the list of
	// dashboards, next to tables that keep only their newest rows).
	StreamLimits map[string]livestate.Limits
	// OnChange is called after state or status changed, from the client's
	// goroutine. It must return quickly (the UI marks itself dirty).
	OnChange func()
	// AfterSnapshot, when set, is called on the client's goroutine after
	// each snapshot is applied (and OnChange told), before the next frame
	// is read. The browser waits in it for the page to draw: its snapshots
	// are queued before the page draws anything, and without a wait the
	// client decodes all of them before the browser gets a frame, so the
	// first chart waits for the last snapshot. It must return within a
	// frame or two; nil means no wait.
	AfterSnapshot func(ctx context.Context)
	MinBackoff    time.Duration // zero means 250ms
	MaxBackoff    time.Duration // zero means 30s
	// MaxFrameBytes bounds one server frame; zero means 16 MiB.
	MaxFrameBytes int64
	// Trace, when set, is told every event applied (snapshot false) and every
	// snapshot taken (snapshot true, seq its position), in order, with the
	// client's lock held: for checkers that prove no seq is lost or applied
	// twice. It must be quick.
	Trace func(stream string, epoch, seq uint64, snapshot bool)
	// OnEvent, when set, sees every event applied, in order, with the
	// client's lock held (the load generator measures latency with it). It
	// must be quick and must not keep ev or its maps: the next frame reuses
	// them.
	OnEvent func(ev *wire.Event)
	// Refresh, when set, is asked for a new token when the server says the
	// current one is about to expire; the client hands it over on the open
	// connection (no reconnect, nothing missed). Nil means the connection
	// ends at expiry and the status turns SignedOut.
	Refresh func(ctx context.Context) (string, error)
	// Get fetches url with the token as a Bearer credential and returns the
	// body of a 200 answer; any other status is an *HTTPError. It enables
	// the HTTP fallback: nil means the client only ever uses WebSockets.
	// The browser build hands in a fetch-based getter (net/http would add
	// 850 KB to app.wasm); native code can use NetHTTPGet.
	Get func(ctx context.Context, url, token string) ([]byte, error)
	// StreamsURL is the stream API's base (http[s]://host/api/v1/streams);
	// zero derives it from URL.
	StreamsURL string
	// FallbackAfter is how many WebSocket attempts in a row must fail
	// before the client polls over HTTP; zero means 3.
	FallbackAfter int
	// PollWait is how long the server may hold a poll; zero means 25s.
	PollWait time.Duration
	// DegradedLag is the end-to-end lag over which the status turns
	// Degraded; it turns back under half of it. Zero means 3s.
	DegradedLag time.Duration
	// Log receives diagnostics; nil discards them. It has the shape of
	// slog.Logger's methods (Log: logger.Debug) without importing log/slog,
	// which would add 30 KB brotli to app.wasm.
	Log func(msg string, args ...any)
	// Meter, when set, measures what the page paints (meter.go): the
	// client stamps each event applied and keeps the clock estimate by
	// sending wire.Sync (syncBurst of them after the welcome, each after
	// the answer to the one before, then one per ping). Nil: no stamps,
	// no Sync.
	Meter *Meter
}

// Info summarises the connection for display.
type Info struct {
	Status      Status
	LastEventAt time.Time // local time the newest event arrived; zero if none
	// LastFrameAt is the local time the newest frame of any kind (event,
	// ping, ack, snapshot) arrived on the open WebSocket, or the session
	// began if none has yet; zero between sessions.
	LastFrameAt time.Time
	// NetworkDown: the browser says the device has no network
	// (SetOnline(false)); the status is Offline whatever the socket says.
	NetworkDown bool
	// Silent: the open socket has had no frame for silentAfter ping
	// intervals (since LastFrameAt); the status is Degraded.
	Silent     bool
	LastError  string
	Reconnects int
	// Resumes counts streams continued from their cursor after a reconnect
	// (only the missed events travelled); Snapshots counts full snapshots.
	Resumes, Snapshots int
	// Duplicates counts events received at or below their stream's
	// position: ignored, since applying is idempotent by seq, and counted,
	// since the server resumes with exactly the missed events and should
	// send none.
	Duplicates int64
	// LastResync says why the server last replaced a stream with a
	// snapshot instead of continuing it, for the UI to show.
	LastResync string
	// TokenExpires is when the server will end the session unless the token
	// is refreshed; zero until the server says.
	TokenExpires time.Time
	// Transport is how events arrive now: TransportWebSocket,
	// TransportPoll (the fallback), or "" while neither works.
	Transport string
	// CatchUp is the progress of the replay after a resume: events applied
	// of those missed, over all streams catching up; zero when none is.
	CatchUp Progress
	// Lag is the end-to-end lag of the newest event received (creation to
	// arrival, corrected for the clock offset between the two machines, see
	// lag.go); zero until measured.
	Lag time.Duration
	// RetryAt is when the next WebSocket attempt is due while waiting out
	// the backoff; zero otherwise. Kick brings it forward to now.
	RetryAt time.Time
	// ClockOffset is the server's clock minus the page's, as Sync round
	// trips estimate it (Config.Meter), within ClockErr; ClockErr is zero
	// while there is no estimate.
	ClockOffset, ClockErr time.Duration
}

// Progress counts events: Done of Total.
type Progress struct{ Done, Total uint64 }

// Client follows a set of streams. Read is safe from any goroutine.
type Client struct {
	cfg Config

	mu      sync.Mutex
	names   []string // the streams followed, in order (SetStreams changes them)
	token   string
	retoken chan struct{}   // capacity 1: SetToken was called
	live    *websocket.Conn // the open connection, for refreshes; nil between sessions
	streams map[string]*livestate.Stream
	info    Info
	fresh   map[string]bool // streams settled this session: snapshot, or refused
	// awaiting holds streams resubscribed after a gap or resync: their batches
	// are ignored until the new snapshot, so one gap costs one resubscribe.
	awaiting map[string]bool
	phase    Status             // Connecting, Live, Offline or SignedOut; Status derives from it
	catchUp  map[string]catchUp // streams replaying after a resume
	lag      lagMeter
	kick     chan struct{}       // capacity 1: Kick was called
	probe    func(reason string) // checks the open connection at once; nil between sessions
	silent   bool                // no frame for silentAfter ping intervals on the open socket
	netDown  bool                // SetOnline(false): the browser says there is no network
	handover bool                // the last session ended with CloseRestart: Connecting reads CatchingUp
	// lastFrame is when the session's newest frame arrived (Unix
	// nanoseconds; zero between sessions): an atomic, so the read loop
	// stamps it without the lock, and Read copies it into Info.
	lastFrame atomic.Int64
	// welcomed: the open WebSocket's hello was answered, so a stream
	// SetStreams adds is subscribed at once (before, the welcome does it).
	welcomed bool
	poll     *fallback // the HTTP polls while they run; nil otherwise
}

// catchUp is one stream's replay: from the cursor it resumed at to head.
type catchUp struct{ from, head uint64 }

// New returns a client; call Run to connect.
func New(cfg Config) *Client {
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 250 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.MaxFrameBytes <= 0 {
		cfg.MaxFrameBytes = 16 << 20
	}
	if cfg.Log == nil {
		cfg.Log = func(string, ...any) {}
	}
	if cfg.FallbackAfter <= 0 {
		cfg.FallbackAfter = 3
	}
	if cfg.PollWait <= 0 {
		cfg.PollWait = 25 * time.Second
	}
	if cfg.DegradedLag <= 0 {
		cfg.DegradedLag = 3 * time.Second
	}
	c := &Client{cfg: cfg, token: cfg.Token, retoken: make(chan struct{}, 1), kick: make(chan struct{}, 1),
		streams: make(map[string]*livestate.Stream), catchUp: make(map[string]catchUp)}
	for _, s := range cfg.Streams {
		if _, dup := c.streams[s]; !dup {
			c.names = append(c.names, s)
			c.streams[s] = &livestate.Stream{Name: s, Limits: c.limits(s)}
		}
	}
	return c
}

// limits are the limits of stream name: its StreamLimits, else Limits.
func (c *Client) limits(name string) livestate.Limits {
	if l, ok := c.cfg.StreamLimits[name]; ok {
		return l
	}
	return c.cfg.Limits
}

// followed is a copy of the names of the streams followed.
func (c *Client) followed() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.names...)
}

// Read calls fn with the streams and connection info, locked: fn must not
// keep references to the state after it returns, and must be quick.
func (c *Client) Read(fn func(streams map[string]*livestate.Stream, info Info)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.info.LastFrameAt = time.Time{}
	if t := c.lastFrame.Load(); t != 0 {
		c.info.LastFrameAt = time.Unix(0, t)
	}
	if c.cfg.Meter != nil {
		if off, e, ok := c.cfg.Meter.Clock(); ok {
			c.info.ClockOffset, c.info.ClockErr = time.Duration(off), time.Duration(max(e, 1))
		}
	}
	fn(c.streams, c.info)
}

// setStatus sets the connection's phase (Connecting, Live, Offline,
// SignedOut); the status shown derives from it.
func (c *Client) setStatus(s Status, errText string) {
	c.mu.Lock()
	c.phase = s
	if errText != "" {
		c.info.LastError = errText
	}
	c.refreshLocked()
	c.mu.Unlock()
	c.changed()
}

// refreshLocked derives the status and the catch-up progress from the
// phase, the streams replaying, the transport and the lag.
func (c *Client) refreshLocked() {
	c.info.CatchUp = Progress{}
	for name, cu := range c.catchUp {
		seq := min(c.streams[name].Seq, cu.head)
		c.info.CatchUp.Total += cu.head - cu.from
		c.info.CatchUp.Done += seq - min(seq, cu.from)
	}
	c.info.Lag = c.lag.lag
	c.info.NetworkDown, c.info.Silent = c.netDown, c.silent
	s := c.phase
	if s == Connecting && c.handover {
		s = CatchingUp // moving to another node (errRestarting)
	}
	if s == Live {
		switch {
		case len(c.catchUp) > 0:
			s = CatchingUp
		case c.info.Transport == TransportPoll || c.lag.high || c.silent:
			s = Degraded
		}
	}
	if c.netDown && (s == Live || s == Connecting || s == CatchingUp || s == Degraded) {
		s = Offline
	}
	c.info.Status = s
}

// SetOnline tells the client what the browser says of the device's network
// (navigator.onLine, the online and offline events). Without a network the
// status is Offline at once: an open socket may not notice for two ping
// intervals (Chromium's offline emulation leaves it open, and so does a
// phone whose radio dropped), and the operator must not read "live"
// meanwhile. The network coming back kicks the client (see Kick).
func (c *Client) SetOnline(online bool) {
	c.mu.Lock()
	was := c.netDown
	c.netDown = !online
	c.refreshLocked()
	c.mu.Unlock()
	if was != !online {
		c.changed()
	}
	if online {
		c.Kick()
	}
}

// setSilent notes whether the open socket has gone without a frame for
// silentAfter ping intervals.
func (c *Client) setSilent(silent bool) {
	c.mu.Lock()
	was := c.silent
	c.silent = silent
	c.refreshLocked()
	c.mu.Unlock()
	if was != silent {
		c.changed()
	}
}

// Kick makes the client try to reconnect now instead of waiting out its
// backoff, and checks an open WebSocket at once: the page calls it when the
// network comes back, when it is shown again and when it returns from the
// back-forward cache, which is when a phone's socket has most likely died
// without a close.
func (c *Client) Kick() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
	c.mu.Lock()
	probe := c.probe
	c.mu.Unlock()
	if probe != nil {
		probe("woken")
	}
}

func (c *Client) changed() {
	if c.cfg.OnChange != nil {
		c.cfg.OnChange()
	}
}

// Token is the token the client signs in with now.
func (c *Client) Token() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token
}

// SetToken replaces the token the client signs in with. On an open
// connection it is handed over as a refresh; a client that was signed out
// connects again at once. The state it holds is kept, so it resumes from its
// cursors.
func (c *Client) SetToken(token string) {
	c.mu.Lock()
	c.token = token
	ws := c.live
	c.mu.Unlock()
	if ws != nil {
		go func() { _ = c.send(context.Background(), ws, wire.Refresh{Token: token}) }()
	}
	select {
	case c.retoken <- struct{}{}:
	default:
	}
}

// errSignedOut is a session the server ended over the token.
var errSignedOut = errors.New("signed out")

// errRestarting is a session the server ended with wire.CloseRestart: it is
// stopping (a rolling restart, a node drained out of its load balancer),
// and the next connection, after a short jittered wait, reaches a node that
// resumes the streams from their cursors.
var errRestarting = errors.New("server restarting")

// Run connects and follows the streams until ctx ends, reconnecting with
// exponential backoff and full jitter (a random wait between zero and the
// current ceiling, so a restarted server is not hit by every client at once).
// Kick cuts a wait short. After Config.FallbackAfter WebSocket attempts in a
// row that fail (a proxy that refuses the upgrade looks, in a browser, like
// any failed dial), it follows the streams by HTTP long-polls (Config.Get)
// while it keeps trying the WebSocket, and goes back to it when it works.
// A server that refuses the token stops the retries until SetToken: the
// status is SignedOut and the last state stays readable.
func (c *Client) Run(ctx context.Context) error {
	attempt, failures := 0, 0
	var fb *fallback
	defer func() {
		if fb != nil {
			fb.stop()
		}
	}()
	for {
		if fb == nil {
			c.setStatus(Connecting, "")
		}
		var welcomed bool
		ws, err := c.dial(ctx)
		if err == nil {
			if fb != nil {
				fb.stop() // back to the WebSocket: it resumes from the cursors
				fb = nil
				c.cfg.Log("websocket works again: polling stopped")
				c.setStatus(Connecting, "")
			}
			welcomed, err = c.session(ctx, ws)
		}
		// A welcomed session the server ended to restart is handed over
		// to the next one: the operator reads "catching up", not
		// "offline", until it resumes (or a connection fails: offline).
		handover := welcomed && errors.Is(err, errRestarting)
		c.mu.Lock()
		c.handover = handover
		c.mu.Unlock()
		if ctx.Err() != nil {
			c.setStatus(Offline, "")
			return ctx.Err()
		}
		if errors.Is(err, errSignedOut) {
			c.setStatus(SignedOut, err.Error())
			c.cfg.Log("signed out", "err", err)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-c.retoken:
				attempt, failures = 0, 0
				continue
			}
		}
		if welcomed {
			attempt, failures = 0, 0
		} else {
			failures++
		}
		c.mu.Lock()
		c.info.Reconnects++
		c.mu.Unlock()
		if fb == nil && failures >= c.cfg.FallbackAfter && c.cfg.Get != nil {
			c.cfg.Log("websocket failed repeatedly: polling over HTTP", "failures", failures, "err", err)
			fb = c.startFallback(ctx)
		}
		if fb == nil && handover {
			c.setStatus(Connecting, err.Error())
		} else if fb == nil {
			c.setStatus(Offline, err.Error())
		}
		c.cfg.Log("session ended", "err", err)
		ceiling := min(c.cfg.MaxBackoff, c.cfg.MinBackoff<<min(attempt, 16))
		attempt++
		wait := rand.N(ceiling) + time.Millisecond
		c.mu.Lock()
		c.info.RetryAt = time.Now().Add(wait)
		c.mu.Unlock()
		c.changed()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			c.setStatus(Offline, "")
			return ctx.Err()
		case <-t.C:
		case <-c.kick:
			t.Stop()
			// A kick means the network is probably back: try now, and keep
			// the next few waits short in case it is not quite there yet.
			attempt = min(attempt, 2)
			if fb != nil && !fb.reached.Load() {
				// Polling never reached the server either: the network was
				// down, not the WebSocket blocked. Catch up over the
				// WebSocket, and poll again only if it fails as often.
				fb.stop()
				fb, failures = nil, 0
			}
		}
		c.mu.Lock()
		c.info.RetryAt = time.Time{}
		c.mu.Unlock()
	}
}

// dial opens a WebSocket to the gateway.
func (c *Client) dial(ctx context.Context) (*websocket.Conn, error) {
	dctx, dcancel := context.WithTimeout(ctx, 15*time.Second)
	defer dcancel()
	ws, _, err := websocket.Dial(dctx, c.cfg.URL, dialOptions())
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	return ws, nil
}

// session runs one connection. welcomed reports whether the server accepted
// the hello, which resets the backoff.
func (c *Client) session(ctx context.Context, ws *websocket.Conn) (welcomed bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer ws.CloseNow()
	ws.SetReadLimit(c.cfg.MaxFrameBytes)
	c.mu.Lock()
	c.live = ws
	c.info.Transport = TransportWebSocket
	c.lag.reset()
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.live = nil
		c.welcomed = false
		c.probe = nil
		c.info.TokenExpires = time.Time{}
		c.info.Transport = ""
		clear(c.catchUp)
		c.mu.Unlock()
	}()
	c.mu.Lock()
	c.fresh = make(map[string]bool, len(c.streams))
	c.awaiting = make(map[string]bool)
	c.mu.Unlock()

	// Streams already held resume from their cursors (the server replays
	// only what was missed); the others are subscribed right behind the
	// hello, not after the welcome: the server reads a connection's frames
	// in order and answers them once the hello is verified, so the first
	// snapshots come a round trip sooner (a refused hello closes the
	// socket, and the subs go with it).
	c.mu.Lock()
	hello := wire.Hello{Token: c.token, Client: "telltale-go"}
	var early []string
	for _, name := range c.names {
		if st := c.streams[name]; st.Epoch != 0 {
			hello.Cursors = append(hello.Cursors, st.Cursor())
		} else {
			early = append(early, name)
		}
	}
	resuming := len(hello.Cursors)
	c.mu.Unlock()
	if err := c.send(ctx, ws, hello); err != nil {
		return false, err
	}
	subbed := make(map[string]bool, len(early)) // before the welcome
	for _, s := range early {
		if err := c.send(ctx, ws, wire.Sub{Stream: s}); err != nil {
			return false, err
		}
		subbed[s] = true
	}
	// Reads take no context: a context per read costs a timer and a
	// registration per frame, the biggest cost after the syscall at
	// hundreds of frames per second. Instead the session's end and an idle
	// watchdog, re-armed by every frame, close the socket, which ends a
	// pending read; the same timer says when the socket has gone silent
	// (silence.go). Until the welcome tells the ping interval, allow a
	// generous wait.
	var dead atomic.Bool
	var kicked atomic.Value // string: why a probe closed the socket
	watchdog := newWatch(c, 30*time.Second, func() {
		dead.Store(true)
		ws.CloseNow()
	})
	defer func() {
		watchdog.stop()
		c.lastFrame.Store(0)
		c.setSilent(false)
	}()
	// A probe (Kick) does not wait out two ping intervals: a connection that
	// has been silent for more than one is presumed dead now (the server
	// pings every interval), else it gets one more interval from its last
	// frame, plus a second of grace.
	c.mu.Lock()
	c.probe = func(reason string) {
		if since, dead := watchdog.probe(); dead {
			kicked.Store(fmt.Sprintf("%s after %v without a frame: reconnecting", reason, since.Round(time.Millisecond)))
			ws.CloseNow()
		}
	}
	c.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { ws.CloseNow() })
	defer stop()
	var buf bytes.Buffer       // one frame's bytes, reused: decoding copies what it keeps
	var dec wire.ServerDecoder // one batch's events, reused: applying copies what it keeps
	signedOut := ""            // why the server refused the token, from its error frame
	restarting := false        // the server said it is stopping (CodeRestarting)
	synced := 0                // Syncs sent of the burst after the welcome
	for {
		typ, b, err := readFrame(ws, &buf)
		if err != nil {
			switch {
			case ctx.Err() != nil:
				return welcomed, ctx.Err()
			case signedOut != "":
				return welcomed, fmt.Errorf("%w: %s", errSignedOut, signedOut)
			case restarting:
				return welcomed, fmt.Errorf("%w: closed by server: %d", errRestarting, wire.CloseRestart)
			case dead.Load():
				return welcomed, errors.New("no frame for two ping intervals: connection presumed dead")
			case kicked.Load() != nil:
				return welcomed, errors.New(kicked.Load().(string))
			}
			if code := websocket.CloseStatus(err); code != -1 {
				if code == wire.CloseUnauthorized || code == wire.CloseTokenExpired {
					return welcomed, fmt.Errorf("%w: %s", errSignedOut, closeReason(err))
				}
				if code == wire.CloseRestart {
					return welcomed, fmt.Errorf("%w: closed by server: %d", errRestarting, code)
				}
				return welcomed, fmt.Errorf("closed by server: %d", code)
			}
			return welcomed, fmt.Errorf("read: %w", err)
		}
		watchdog.frame(time.Now())
		var recv int64 // the frame's arrival on the meter's clock
		if c.cfg.Meter != nil {
			recv = c.cfg.Meter.Now()
		}
		if typ != websocket.MessageBinary {
			continue
		}
		f, err := dec.Decode(b)
		if err != nil {
			c.cfg.Log("bad frame from server", "err", err)
			continue
		}
		switch f := f.(type) {
		case wire.Welcome:
			welcomed = true
			c.serverClock(f.ServerTime)
			if ms := f.Limits.PingIntervalMs; ms > 0 {
				watchdog.setIdle(2 * time.Duration(ms) * time.Millisecond)
			}
			c.mu.Lock()
			c.welcomed = true // from here SetStreams subscribes what it adds
			names := append([]string(nil), c.names...)
			var dropped []string // resumed by the hello or subscribed behind it, then dropped by SetStreams
			for _, cur := range hello.Cursors {
				if c.streams[cur.Stream] == nil {
					dropped = append(dropped, cur.Stream)
				}
			}
			for _, s := range early {
				if c.streams[s] == nil {
					dropped = append(dropped, s)
				}
			}
			c.mu.Unlock()
			for _, s := range dropped {
				if err := c.send(ctx, ws, wire.Unsub{Stream: s}); err != nil {
					return welcomed, err
				}
			}
			for _, s := range names {
				if subbed[s] || resuming > 0 && c.held(s) {
					continue // subscribed behind the hello, or resumed by it
				}
				if err := c.send(ctx, ws, wire.Sub{Stream: s}); err != nil {
					return welcomed, err
				}
			}
			if c.cfg.Meter != nil {
				synced = 1
				if err := c.send(ctx, ws, wire.Sync{Client: c.cfg.Meter.Now()}); err != nil {
					return welcomed, err
				}
			}
		case wire.Clock:
			if c.cfg.Meter != nil {
				c.cfg.Meter.sync(f.Client, f.Server, recv)
				if synced < syncBurst { // the next of the burst
					synced++
					if err := c.send(ctx, ws, wire.Sync{Client: c.cfg.Meter.Now()}); err != nil {
						return welcomed, err
					}
				}
			}
		case wire.Snapshot:
			c.applySnapshot(&f)
			if c.cfg.AfterSnapshot != nil {
				c.cfg.AfterSnapshot(ctx)
			}
		case *wire.Batch:
			if stream, from, err := c.applyBatch(f, recv); err != nil {
				// A gap: ask for exactly what is missing, from the cursor.
				c.cfg.Log("resubscribing", "stream", stream, "err", err)
				if err := c.send(ctx, ws, wire.Sub{Stream: stream, From: from}); err != nil {
					return welcomed, err
				}
			}
		case wire.Resync:
			if c.markResync(f.Stream) {
				if err := c.send(ctx, ws, wire.Sub{Stream: f.Stream}); err != nil {
					return welcomed, err
				}
			}
		case wire.Ping:
			c.serverClock(f.Time)
			if err := c.send(ctx, ws, wire.Pong{Time: f.Time}); err != nil {
				return welcomed, err
			}
			if c.cfg.Meter != nil {
				if err := c.send(ctx, ws, wire.Sync{Client: c.cfg.Meter.Now()}); err != nil {
					return welcomed, err
				}
			}
		case wire.Expiring:
			c.expiring(ctx, ws, time.Unix(0, f.At))
		case wire.Error:
			c.cfg.Log("server refused a request", "code", f.Code, "message", f.Message, "stream", f.Stream)
			if f.Code == wire.CodeUnauthorized {
				// The close follows; in a browser its code does not reach us.
				signedOut = f.Message
				continue
			}
			if f.Code == wire.CodeRestarting {
				restarting = true // the close (4010) follows
				continue
			}
			c.refused(&f)
		}
	}
}

// expiring notes when the session's token expires and, when it is close and
// the application can get a new token, hands one over. The server sends
// expiring ahead of exp and again (with the new exp) after a refresh.
func (c *Client) expiring(ctx context.Context, ws *websocket.Conn, at time.Time) {
	c.mu.Lock()
	c.info.TokenExpires = at
	c.mu.Unlock()
	c.changed()
	if c.cfg.Refresh == nil || time.Until(at) > 5*time.Minute {
		return
	}
	go func() {
		tok, err := c.cfg.Refresh(ctx)
		if err != nil || tok == "" {
			c.cfg.Log("no token to refresh with", "err", err)
			return
		}
		c.mu.Lock()
		c.token = tok
		c.mu.Unlock()
		if err := c.send(ctx, ws, wire.Refresh{Token: tok}); err != nil {
			c.cfg.Log("refresh", "err", err)
		}
	}()
}

// closeReason is the reason text of a close frame, for the operator.
func closeReason(err error) string {
	var ce websocket.CloseError
	if errors.As(err, &ce) && ce.Reason != "" {
		return ce.Reason
	}
	return "the server refused the token"
}

// readFrame reads one message into buf, which it reuses: no allocation per
// frame once buf has grown to the usual frame size.
func readFrame(ws *websocket.Conn, buf *bytes.Buffer) (websocket.MessageType, []byte, error) {
	typ, r, err := ws.Reader(context.Background())
	if err != nil {
		return 0, nil, err
	}
	buf.Reset()
	if buf.Cap() > 4<<20 {
		*buf = bytes.Buffer{} // do not keep a huge snapshot's buffer for small frames
	}
	if _, err := buf.ReadFrom(r); err != nil {
		return 0, nil, err
	}
	return typ, buf.Bytes(), nil
}

// refused records a refusal. A refused stream counts as settled, so that one
// bad stream does not hold the whole connection at "connecting".
func (c *Client) refused(e *wire.Error) {
	c.mu.Lock()
	c.info.LastError = e.Error()
	if _, ok := c.streams[e.Stream]; ok && c.fresh != nil {
		c.fresh[e.Stream] = true
		delete(c.awaiting, e.Stream)
		c.settleLocked()
	}
	c.mu.Unlock()
	c.changed()
}

func (c *Client) settleLocked() {
	if c.phase == Connecting && len(c.fresh) == len(c.streams) {
		c.phase = Live
	}
	c.refreshLocked()
}

func (c *Client) send(ctx context.Context, ws *websocket.Conn, f wire.ClientFrame) error {
	b, err := wire.EncodeClient(f)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := ws.Write(wctx, websocket.MessageBinary, b); err != nil {
		return fmt.Errorf("send %s: %w", f.FrameType(), err)
	}
	return nil
}

func (c *Client) applySnapshot(s *wire.Snapshot) {
	c.mu.Lock()
	st, ok := c.streams[s.Stream]
	if ok {
		st.Reset(s)
		if c.cfg.Trace != nil {
			c.cfg.Trace(s.Stream, s.Epoch, s.Seq, true)
		}
		c.fresh[s.Stream] = true
		delete(c.awaiting, s.Stream)
		delete(c.catchUp, s.Stream)
		c.info.Snapshots++
		if s.Reason != "" {
			c.info.LastResync = s.Stream + ": " + s.Reason
		}
		c.settleLocked()
	}
	c.mu.Unlock()
	if ok {
		c.changed()
	}
}

// held reports whether the client holds state of the stream to resume from.
func (c *Client) held(stream string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.streams[stream]
	return ok && st.Epoch != 0
}

// applyBatch folds a batch. An empty batch acknowledges a resumed stream. A
// gap stops the batch and returns the stream and cursor to resume from, once:
// never a silent hole. A foreign epoch returns no cursor (start over).
//
// recv is when the batch arrived on the meter's clock (zero without one).
func (c *Client) applyBatch(b *wire.Batch, recv int64) (string, *wire.Cursor, error) {
	c.mu.Lock()
	st, ok := c.streams[b.Stream]
	if !ok {
		c.mu.Unlock()
		return "", nil, nil
	}
	if len(b.Events) == 0 {
		// Over the WebSocket the server only sends an empty batch to
		// acknowledge a sub from a cursor: what follows continues the
		// stream, up to its head when the server says.
		delete(c.awaiting, b.Stream)
		c.trackCatchUpLocked(b.Stream, st, b.Head)
		if c.fresh != nil && !c.fresh[b.Stream] {
			c.fresh[b.Stream] = true
			c.info.Resumes++
		}
		c.settleLocked()
		c.mu.Unlock()
		c.changed()
		return "", nil, nil
	}
	if c.awaiting[b.Stream] {
		c.mu.Unlock()
		return "", nil, nil
	}
	var err error
	applied := 0
	for i := range b.Events {
		var ok bool
		if ok, err = st.Apply(&b.Events[i]); err != nil {
			c.awaiting[b.Stream] = true
			break
		}
		if !ok {
			c.info.Duplicates++
		}
		if ok {
			applied++
			if c.cfg.Trace != nil {
				c.cfg.Trace(b.Stream, st.Epoch, st.Seq, false)
			}
			if c.cfg.OnEvent != nil {
				c.cfg.OnEvent(&b.Events[i])
			}
		}
	}
	if applied > 0 && c.cfg.Meter != nil {
		c.cfg.Meter.received(b.Stream, st.Epoch, b.Events, b.Sent, st.Seq, recv, c.cfg.Meter.Now())
	}
	if applied > 0 {
		c.info.LastEventAt = time.Now()
		if _, replaying := c.catchUp[b.Stream]; !replaying {
			last := &b.Events[len(b.Events)-1]
			c.lag.observe(c.info.LastEventAt, b.Sent, cmp.Or(last.Created, last.Ingested), c.cfg.DegradedLag)
		}
	}
	c.trackCatchUpLocked(b.Stream, st, b.Head)
	if applied > 0 {
		c.refreshLocked()
	}
	var from *wire.Cursor
	if errors.Is(err, livestate.ErrGap) {
		cur := st.Cursor()
		from = &cur
	}
	c.mu.Unlock()
	if applied > 0 {
		c.changed()
	}
	if err != nil {
		return b.Stream, from, err
	}
	return "", nil, nil
}

// trackCatchUpLocked follows a stream's replay: head (when the server says
// it) is where the replay ends; a stream that reached it is caught up.
func (c *Client) trackCatchUpLocked(name string, st *livestate.Stream, head uint64) {
	cu, ok := c.catchUp[name]
	switch {
	case head > st.Seq && !ok:
		c.catchUp[name] = catchUp{from: st.Seq, head: head}
	case head > st.Seq:
		cu.head = max(cu.head, head)
		c.catchUp[name] = cu
	case ok && st.Seq >= cu.head:
		delete(c.catchUp, name)
	}
}

// serverClock takes a server's clock reading (welcome, ping) as a sample of
// the clock offset.
func (c *Client) serverClock(at int64) {
	c.mu.Lock()
	c.lag.observe(time.Now(), at, 0, c.cfg.DegradedLag)
	c.mu.Unlock()
}

// markResync stops applying deltas to the stream until its next snapshot
// (the old state stays on screen meanwhile). It reports whether a
// resubscribe is due: false for a stream the client no longer follows. A
// resync while one is under way is due too: the server sends no second
// resync of a stream before it has read the sub, so it is the sub's answer
// (wsgate answers with a resync when the snapshot would pass its queue's
// bound), and waiting would wait for a snapshot that never comes.
func (c *Client) markResync(stream string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.streams[stream]; !ok {
		return false
	}
	c.awaiting[stream] = true
	return true
}

// ErrNoSocket: SendReport has no open WebSocket to send on (the fallback
// polls, or nothing is connected); the page posts the report instead.
var ErrNoSocket = errors.New("no open websocket")

// SendReport sends the page's freshness report on the open WebSocket.
func (c *Client) SendReport(ctx context.Context, r *wire.Report) error {
	c.mu.Lock()
	ws, ok := c.live, c.welcomed
	c.mu.Unlock()
	if ws == nil || !ok {
		return ErrNoSocket
	}
	return c.send(ctx, ws, r)
}

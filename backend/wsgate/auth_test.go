package wsgate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/telltale/telltale/app/client"
	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/internal/timing"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

// Two tenants hold a stream of the same name; each event carries a marker
// naming its tenant, so a test can look for the other tenant's bytes in
// everything a connection received.
const (
	acmeMark   = "acme-only-marker"
	globexMark = "globex-only-marker"
)

type tenants struct {
	*fixture
	keys *auth.Keys
}

// startTenants serves two tenants' data behind tokens, with revocation kept
// in the fixture's store and reloaded every 2 s, as the binary does.
func startTenants(t *testing.T) *tenants {
	t.Helper()
	keys, err := auth.HS256([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	var guard *auth.Guard
	f := start(t, Config{
		Authenticate: func(_ context.Context, tok string) (*auth.Principal, error) { return guard.Verify(tok) },
		Revoked:      func(p *auth.Principal) bool { return guard.Revoked(p) },
	})
	guard = auth.NewGuard(keys, f.store)
	if err := guard.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		_ = guard.Run(ctx, 2*time.Second, slog.New(slog.DiscardHandler), f.gate.Sweep)
	}()
	t.Cleanup(func() { cancel(); <-ran })
	for tenant, mark := range map[string]string{"acme": acmeMark, "globex": globexMark} {
		for _, stream := range []string{"orders", "fleet.trucks"} {
			for i := range 5 {
				ev := wire.Event{Values: map[string]float64{mark: float64(i)}, Row: &wire.Row{Key: mark, Fields: map[string]any{"owner": mark}}}
				if err := f.store.Append(context.Background(), tenant, stream, []wire.Event{ev}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return &tenants{fixture: f, keys: keys}
}

func (ts *tenants) token(t *testing.T, tenant string, streams ...string) string {
	t.Helper()
	tok, err := ts.keys.Mint(tenant, "alice", time.Hour, streams, "")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// session sends hello (and then the frames), and collects every message until
// the server goes quiet for quiet or closes. It returns the decoded frames,
// all the raw bytes, and the close error if the server closed.
func session(t *testing.T, url, token string, quiet time.Duration, frames ...wire.Frame) ([]wire.Frame, []byte, error) {
	t.Helper()
	r := dial(t, url)
	r.send(wire.Hello{Token: token})
	for _, f := range frames {
		b, err := wire.Encode(f)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = r.ws.Write(ctx, websocket.MessageBinary, b)
		cancel()
		if err != nil {
			return nil, nil, err // closed already: the hello was refused
		}
	}
	var (
		got []wire.Frame
		all []byte
	)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), quiet)
		_, b, err := r.ws.Read(ctx)
		cancel()
		if err != nil {
			if websocket.CloseStatus(err) != -1 {
				return got, all, err
			}
			return got, all, nil // quiet: the server said all it had to say
		}
		all = append(all, b...)
		f, err := wire.Decode(b)
		if err != nil {
			t.Fatalf("undecodable frame from the server: %v", err)
		}
		got = append(got, f)
	}
}

// TestCrossTenantAttempts: each attempt is denied in a way the client can see
// (an error frame or a close code), and not one byte of the other tenant's
// data arrives.
func TestCrossTenantAttempts(t *testing.T) {
	ts := startTenants(t)
	acme := ts.token(t, "acme")
	acmeFleetOnly := ts.token(t, "acme", "fleet.*")
	globexCursor := func() wire.Cursor {
		c, ok := ts.gate.cfg.Hub.Cursor("globex", "orders")
		if !ok {
			t.Fatal("globex has no orders")
		}
		c.Stream = "orders"
		return c
	}()
	none := func() string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodNone, auth.Claims{RegisteredClaims: jwt.RegisteredClaims{Subject: "mallory", IssuedAt: jwt.NewNumericDate(time.Now()), ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}, Tenant: "globex"}).SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()
	signed := func(key string, c auth.Claims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(key))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	claims := func(tenant string, exp time.Duration) auth.Claims {
		return auth.Claims{RegisteredClaims: jwt.RegisteredClaims{Subject: "mallory", IssuedAt: jwt.NewNumericDate(time.Now().Add(min(exp, 0) - time.Minute)), ExpiresAt: jwt.NewNumericDate(time.Now().Add(exp))}, Tenant: tenant}
	}
	const secret = "0123456789abcdef0123456789abcdef"

	type want struct {
		code  wire.Code // an error frame with this code
		close int       // or a close with this code
	}
	for _, tc := range []struct {
		name   string
		token  string
		frames []wire.Frame
		want   want
	}{
		{"upper-case name", acme, []wire.Frame{wire.Sub{Stream: "ORDERS"}}, want{code: wire.CodeBadStream}},
		{"unicode look-alike", acme, []wire.Frame{wire.Sub{Stream: "ordérs"}}, want{code: wire.CodeBadStream}},
		{"path to the other tenant", acme, []wire.Frame{wire.Sub{Stream: "../globex/orders"}}, want{code: wire.CodeBadStream}},
		{"tenant prefix", acme, []wire.Frame{wire.Sub{Stream: "globex/orders"}}, want{code: wire.CodeBadStream}},
		{"tenant key syntax", acme, []wire.Frame{wire.Sub{Stream: "globex:orders"}}, want{code: wire.CodeBadStream}},
		{"very long name", acme, []wire.Frame{wire.Sub{Stream: strings.Repeat("o", 10000)}}, want{code: wire.CodeBadStream}},
		{"stream outside the token's patterns", acmeFleetOnly, []wire.Frame{wire.Sub{Stream: "orders"}}, want{code: wire.CodeForbidden}},
		{"resume outside the token's patterns", acmeFleetOnly, []wire.Frame{wire.Sub{Stream: "orders", From: &wire.Cursor{Stream: "orders", Epoch: globexCursor.Epoch, Seq: 1}}}, want{code: wire.CodeForbidden}},
		{"token signed with another key", signed("another-secret-another-secret-00", claims("globex", time.Hour)), []wire.Frame{wire.Sub{Stream: "orders"}}, want{close: wire.CloseUnauthorized}},
		{"alg none", none, []wire.Frame{wire.Sub{Stream: "orders"}}, want{close: wire.CloseUnauthorized}},
		{"expired token", signed(secret, claims("globex", -time.Minute)), []wire.Frame{wire.Sub{Stream: "orders"}}, want{close: wire.CloseUnauthorized}},
		{"token with no tenant", signed(secret, claims("", time.Hour)), []wire.Frame{wire.Sub{Stream: "orders"}}, want{close: wire.CloseUnauthorized}},
		{"no token", "", []wire.Frame{wire.Sub{Stream: "orders"}}, want{close: wire.CloseUnauthorized}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, all, err := session(t, ts.url, tc.token, 300*time.Millisecond, tc.frames...)
			if bytes.Contains(all, []byte(globexMark)) {
				t.Fatalf("globex data reached the connection: %q", all)
			}
			if tc.want.close != 0 {
				if code := websocket.CloseStatus(err); int(code) != tc.want.close {
					t.Fatalf("got close %v (%v), want %d", code, err, tc.want.close)
				}
				// Only the unauthorized error frame, which browsers can read.
				if len(got) != 1 || got[0].(wire.Error).Code != wire.CodeUnauthorized {
					t.Fatalf("got %+v before the close, want one unauthorized error frame", got)
				}
				return
			}
			denied := false
			for _, f := range got {
				switch f := f.(type) {
				case wire.Error:
					if f.Code == tc.want.code {
						denied = true
					}
				case wire.Snapshot, wire.Batch:
					t.Fatalf("got %T for a denied subscription", f)
				}
			}
			if !denied {
				t.Fatalf("got %+v, want an error frame %s", got, tc.want.code)
			}
		})
	}

	// Cursors in the hello take the same path as sub.from: a forbidden or
	// malformed one is refused, and nothing of it is answered.
	t.Run("hello cursors", func(t *testing.T) {
		r := dial(t, ts.url)
		r.send(wire.Hello{Token: acmeFleetOnly, Cursors: []wire.Cursor{
			{Stream: "orders", Epoch: globexCursor.Epoch, Seq: 1},
			{Stream: "../globex/orders", Epoch: globexCursor.Epoch, Seq: 1},
		}})
		codes := map[wire.Code]bool{}
		var all []byte
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			_, b, err := r.ws.Read(ctx)
			cancel()
			if err != nil {
				break
			}
			all = append(all, b...)
			f, err := wire.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			switch f := f.(type) {
			case wire.Error:
				codes[f.Code] = true
			case wire.Snapshot, wire.Batch:
				t.Fatalf("got %T for a refused cursor", f)
			}
		}
		if !codes[wire.CodeForbidden] || !codes[wire.CodeBadStream] {
			t.Fatalf("got error codes %v, want forbidden and bad_stream", codes)
		}
		if bytes.Contains(all, []byte(globexMark)) || bytes.Contains(all, []byte(acmeMark)) {
			t.Fatalf("data answered to refused cursors: %q", all)
		}
	})

	// A cursor copied from the other tenant's stream names only the
	// caller's own stream of that name: it gets the caller's data (a replay
	// if the epochs happen to agree, a snapshot if not), never the other's.
	t.Run("resume with the other tenant's cursor", func(t *testing.T) {
		behind := globexCursor
		behind.Seq = 2
		got, all, err := session(t, ts.url, acme, 300*time.Millisecond, wire.Sub{Stream: "orders", From: &behind})
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(all, []byte(globexMark)) {
			t.Fatalf("globex data reached acme: %q", all)
		}
		if !bytes.Contains(all, []byte(acmeMark)) {
			t.Fatalf("acme's own data did not arrive: %+v", got)
		}
	})
}

// TestTokenExpiryClosesTheConnection: a token that expires while connected
// closes the connection with its own code.
func TestTokenExpiryClosesTheConnection(t *testing.T) {
	ts := startTenants(t)
	tok, err := ts.keys.Mint("acme", "alice", 1500*time.Millisecond, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	r := dial(t, ts.url)
	r.send(wire.Hello{Token: tok})
	r.expect(wire.TypeWelcome)
	r.send(wire.Sub{Stream: "orders"})
	r.expect(wire.TypeSnapshot)
	told := false
	for {
		var f wire.Frame
		if f, err = r.read(); err != nil {
			break
		}
		if e, ok := f.(wire.Error); ok && e.Code == wire.CodeUnauthorized {
			told = true
		}
	}
	if !told {
		t.Error("no unauthorized error frame before the close")
	}
	if code := websocket.CloseStatus(err); code != wire.CloseTokenExpired {
		t.Fatalf("got %v (%v), want close %d", code, err, wire.CloseTokenExpired)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("the connection outlived its token")
	}
}

// TestRevocationClosesWithinFiveSeconds: revoking an operator closes their
// open connection within 5 s (the default check), refuses their old token
// at the next hello, and leaves other operators alone; a token minted after
// the revocation works.
func TestRevocationClosesWithinFiveSeconds(t *testing.T) {
	ts := startTenants(t)
	// iat has whole seconds: alice's token is issued well before the
	// revocation, and her new one after it, without waiting for the clock.
	alice, err := ts.keys.WithClock(func() time.Time { return time.Now().Add(-5 * time.Second) }).Mint("acme", "alice", time.Hour, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	bobTok, err := ts.keys.Mint("acme", "bob", time.Hour, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	open := func(tok string) *raw {
		r := dial(t, ts.url)
		r.send(wire.Hello{Token: tok})
		r.expect(wire.TypeWelcome)
		r.send(wire.Sub{Stream: "orders"})
		r.expect(wire.TypeSnapshot)
		return r
	}
	ra, rb := open(alice), open(bobTok)
	revokedAt := time.Now()
	at := revokedAt.Add(-2 * time.Second) // after alice's iat, before any token minted from now on
	if err := ts.store.Revoke(context.Background(), auth.Revocation{Tenant: "acme", Subject: "alice", At: at, Until: revokedAt.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	var (
		told bool
		f    wire.Frame
	)
	for err == nil {
		if f, err = ra.read(); err == nil {
			if e, ok := f.(wire.Error); ok && e.Code == wire.CodeUnauthorized {
				told = true
			}
		}
	}
	if took := time.Since(revokedAt); timing.Over(t, took, 5*time.Second) || websocket.CloseStatus(err) != wire.CloseUnauthorized || !told {
		t.Fatalf("alice's connection: %v after the revocation, close %v, told %v; want closed 4012 with an error frame within 5s", took, err, told)
	}
	// Bob is untouched: his connection still answers.
	rb.send(wire.Sub{Stream: "fleet.trucks"})
	rb.expect(wire.TypeSnapshot)
	// Alice's old token is refused at once; a new one (a later second) works.
	if _, _, err := session(t, ts.url, alice, 300*time.Millisecond); websocket.CloseStatus(err) != wire.CloseUnauthorized {
		t.Fatalf("revoked token: got %v, want close 4012", err)
	}
	open(ts.token(t, "acme"))
	if n := ts.reg.Lookup("telltale_ws_revoked_total").Load(); n != 1 {
		t.Fatalf("revoked counter %d, want 1", n)
	}
}

// TestRefreshKeepsTheConnection: the server warns ahead of exp; a refresh
// with a new token of the same operator keeps the connection open past the
// old exp with every event delivered in order; a refresh for another
// operator is refused and changes nothing.
func TestRefreshKeepsTheConnection(t *testing.T) {
	ts := startTenants(t)
	// exp has whole seconds, and the warning comes half the token's life
	// ahead: at least 1.5 s for the expiring frame and the refresh's
	// round trip, which once took over half a second on a loaded machine.
	short, err := ts.keys.Mint("acme", "alice", 4*time.Second, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	oldExp, _ := ts.keys.Verify(short)
	r := dial(t, ts.url)
	r.send(wire.Hello{Token: short})
	r.expect(wire.TypeWelcome)
	r.send(wire.Sub{Stream: "orders"})
	snap := r.expect(wire.TypeSnapshot).(wire.Snapshot)

	stop := make(chan struct{})
	published := make(chan int)
	go func() {
		n := 0
		defer func() { published <- n }()
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond): // a producer's pace
			}
			if err := ts.store.Append(context.Background(), "acme", "orders", []wire.Event{{Values: map[string]float64{"n": float64(n)}}}); err != nil {
				t.Error(err)
				return
			}
			n++
		}
	}()
	seq := snap.Seq
	refreshed, refused := false, 0
	for time.Now().Before(oldExp.Expires.Add(time.Second)) {
		f, err := r.read()
		if err != nil {
			t.Fatalf("connection ended (refreshed %v): %v", refreshed, err)
		}
		switch f := f.(type) {
		case wire.Batch:
			for _, ev := range f.Events {
				if ev.Seq != seq+1 {
					t.Fatalf("seq %d after %d", ev.Seq, seq)
				}
				seq = ev.Seq
			}
		case wire.Expiring:
			if !refreshed {
				if at := time.Unix(0, f.At); !at.Equal(oldExp.Expires) {
					t.Fatalf("expiring at %v, want %v", at, oldExp.Expires)
				}
				bob, _ := ts.keys.Mint("acme", "bob", time.Hour, nil, "")
				r.send(wire.Refresh{Token: bob})                   // another operator: refused
				r.send(wire.Refresh{Token: ts.token(t, "globex")}) // another tenant: refused
				r.send(wire.Refresh{Token: "not-a-token"})         // garbage: refused
				r.send(wire.Refresh{Token: ts.token(t, "acme")})
				refreshed = true
			}
		case wire.Error:
			if f.Code != wire.CodeBadToken {
				t.Fatalf("got error %+v", f)
			}
			refused++
		}
	}
	close(stop)
	n := <-published
	if !refreshed || refused != 3 {
		t.Fatalf("expiring seen %v, %d of 3 foreign refreshes refused; want both", refreshed, refused)
	}
	// Drain what is still on its way: every published event arrives.
	for seq < snap.Seq+uint64(n) {
		b := r.expect(wire.TypeBatch).(wire.Batch)
		for _, ev := range b.Events {
			if ev.Seq != seq+1 {
				t.Fatalf("seq %d after %d", ev.Seq, seq)
			}
			seq = ev.Seq
		}
	}
}

// TestClientRefreshesBeforeExpiry: the client runtime, given a way to get
// tokens, refreshes on the open connection: no reconnect, no resync, and the
// session outlives its first token.
func TestClientRefreshesBeforeExpiry(t *testing.T) {
	ts := startTenants(t)
	// At least 1.5 s between the expiring frame and exp (see
	// TestRefreshKeepsTheConnection).
	first, err := ts.keys.Mint("acme", "alice", 4*time.Second, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := ts.keys.Verify(first)
	c := client.New(client.Config{
		URL: ts.url, Token: first, Streams: []string{"orders"},
		Refresh: func(context.Context) (string, error) {
			return ts.keys.Mint("acme", "alice", time.Hour, nil, "")
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	poll.Until(t, 10*time.Second, func() error {
		var info client.Info
		c.Read(func(_ map[string]*livestate.Stream, i client.Info) { info = i })
		switch {
		case time.Now().Before(p.Expires.Add(500 * time.Millisecond)):
			return errors.New("waiting past the first token's expiry")
		case info.Status != client.Live || info.Reconnects != 0:
			return fmt.Errorf("status %s after %d reconnects, want live with none", info.Status, info.Reconnects)
		case !info.TokenExpires.After(time.Now().Add(30 * time.Minute)):
			return fmt.Errorf("token expires %v, want the refreshed hour", info.TokenExpires)
		}
		return nil
	})
}

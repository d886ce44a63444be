package wsgate

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/wire"
)

// operatorToken is the one token the fixture of these tests accepts.
const operatorToken = "operator-token"

func startOperators(t *testing.T, cfg Config) *fixture {
	t.Helper()
	cfg.Authenticate = func(_ context.Context, tok string) (*auth.Principal, error) {
		if tok != operatorToken {
			return nil, auth.ErrToken
		}
		return &auth.Principal{Subject: "op", Tenant: "demo"}, nil
	}
	return start(t, cfg)
}

// operator connects from source with a valid token and returns the socket
// once the server has welcomed it.
func operator(t *testing.T, f *fixture, source string) *raw {
	t.Helper()
	ws, status, err := dialFrom(t, f.url, source, nil)
	if err != nil {
		t.Fatalf("operator from %s: upgrade refused with %d: %v", source, status, err)
	}
	r := &raw{t, ws}
	r.send(wire.Hello{Token: operatorToken})
	fr, err := r.read()
	if err != nil {
		t.Fatalf("operator from %s locked out: %v (close %d)", source, err, websocket.CloseStatus(err))
	}
	if fr.FrameType() != wire.TypeWelcome {
		t.Fatalf("operator from %s: got %T %+v, want a welcome", source, fr, fr)
	}
	return r
}

// silent opens n sockets from source that never say hello; it returns those
// the server upgraded and how many it refused with 503.
func silent(t *testing.T, f *fixture, source string, n int) (open []*websocket.Conn, refused int) {
	t.Helper()
	for range n {
		ws, status, err := dialFrom(t, f.url, source, nil)
		if err != nil {
			if status != http.StatusServiceUnavailable {
				t.Fatalf("silent socket from %s: got status %d (%v), want 503 past the budget", source, status, err)
			}
			refused++
			continue
		}
		open = append(open, ws)
	}
	return open, refused
}

// TestUnauthenticatedSocketsCannotLockOutOperators: sockets that never say
// hello, from one address and from several, far more of them than
// MaxConns, neither stop an operator with a valid token from connecting nor
// outlive the hello deadline; the excess is refused with 503 at once, and
// every refusal, eviction and timeout is counted.
func TestUnauthenticatedSocketsCannotLockOutOperators(t *testing.T) {
	const deadline = 2 * time.Second
	f := startOperators(t, Config{MaxConns: 4, MaxUnauth: 8, MaxUnauthPerAddr: 4, HandshakeTimeout: deadline, ConnRate: -1})
	began := time.Now()

	// One address opens three times MaxConns sockets and says nothing.
	flood, refused := silent(t, f, "127.0.0.2", 12)
	op1 := operator(t, f, "127.0.0.1")
	if len(flood) != 4 || refused != 8 {
		t.Fatalf("one address: %d sockets upgraded and %d refused, want 4 (its budget) and 8", len(flood), refused)
	}

	// More addresses fill the total budget: a newcomer takes the place of
	// the oldest silent socket of the address holding the most, until no
	// address holds more than two over another.
	var total int
	for _, src := range []string{"127.0.0.3", "127.0.0.4"} {
		open, n := silent(t, f, src, 6)
		flood, total = append(flood, open...), total+n
	}
	if total != 6 { // .3: 4 upgraded, 2 past its own budget; .4: 2 upgraded (evicting one of .2 and one of .3), then 4 refused
		t.Fatalf("two more addresses: %d refused, want 6", total)
	}
	if got := f.reg.Lookup("telltale_ws_unauthenticated").Load(); got != 8 {
		t.Fatalf("%d unauthenticated sockets, want the total budget of 8", got)
	}
	// With the total budget full, another operator still gets in.
	op2 := operator(t, f, "127.0.0.1")

	// Every silent socket is closed by the hello deadline (or evicted
	// before it), well within a few seconds of its opening.
	for i, ws := range flood {
		ctx, cancel := context.WithDeadline(context.Background(), began.Add(deadline+4*time.Second))
		_, _, err := ws.Read(ctx)
		cancel()
		if err == nil || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("silent socket %d still open %v after the flood began: %v", i, time.Since(began), err)
		}
		if code := websocket.CloseStatus(err); code != -1 && code != websocket.StatusPolicyViolation {
			t.Fatalf("silent socket %d: close %d, want %d (no hello in time) or a dropped connection", i, code, websocket.StatusPolicyViolation)
		}
	}
	poll.Until(t, 10*time.Second, func() error {
		if got := f.reg.Lookup("telltale_ws_unauthenticated").Load(); got != 0 {
			return fmt.Errorf("%d unauthenticated sockets still counted", got)
		}
		return nil
	})
	for name, want := range map[string]int64{
		"telltale_ws_unauth_refused_total": 14,
		"telltale_ws_unauth_evicted_total": 3, // two by .4, one by the second operator
		"telltale_ws_hello_timeouts_total": 7, // the 10 upgraded less the 3 evicted
		"telltale_ws_full_total":           0,
		"telltale_ws_authenticated":        2,
	} {
		if got := f.reg.Lookup(name).Load(); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	// The operators never noticed.
	f.publish(t, "orders", 1)
	for _, op := range []*raw{op1, op2} {
		op.send(wire.Sub{Stream: "orders"})
		op.expect(wire.TypeSnapshot)
	}
}

// TestAuthenticatedConnectionsLeaveTheUnauthenticatedBudget: a budget of one
// unauthenticated socket per address still lets one address hold many
// operators, each counted against MaxConns once it is verified.
func TestAuthenticatedConnectionsLeaveTheUnauthenticatedBudget(t *testing.T) {
	f := startOperators(t, Config{MaxConns: 3, MaxUnauth: 1, MaxUnauthPerAddr: 1, ConnRate: -1})
	for range 3 {
		operator(t, f, "127.0.0.1")
	}
	if got := f.reg.Lookup("telltale_ws_authenticated").Load(); got != 3 {
		t.Fatalf("%d authenticated, want 3", got)
	}
	// The fourth is past MaxConns: told so with the cap's own close code.
	ws, status, err := dialFrom(t, f.url, "127.0.0.1", nil)
	if err != nil {
		t.Fatalf("upgrade refused with %d: %v", status, err)
	}
	r := &raw{t, ws}
	if _, err := r.read(); websocket.CloseStatus(err) != wire.CloseFull {
		t.Fatalf("fourth operator: got %v, want close %d", err, wire.CloseFull)
	}
}

// TestUnauthBudgetFairShare: the budget's rule on its own. An address past
// its share is refused; when the total is full a newcomer evicts the oldest
// socket of the address holding the most, if that holds at least two more
// than the newcomer's address.
func TestUnauthBudgetFairShare(t *testing.T) {
	b := newUnauthBudget(4, 3)
	var a []*pending
	for range 3 {
		p, victim, ok := b.admit("a")
		if !ok || victim != nil {
			t.Fatalf("a: admit %v, victim %v", ok, victim)
		}
		a = append(a, p)
	}
	if _, _, ok := b.admit("a"); ok {
		t.Fatal("a fourth socket of a passed its per-address budget of 3")
	}
	b1, victim, ok := b.admit("b")
	if !ok || victim != nil {
		t.Fatalf("b: admit %v, victim %v; want a place (total 4)", ok, victim)
	}
	// Full: c evicts a's oldest.
	_, victim, ok = b.admit("c")
	if !ok || victim != a[0] {
		t.Fatalf("c with the total full: admit %v, victim %v; want a's oldest evicted", ok, victim)
	}
	if b.leave(a[0]) {
		t.Fatal("an evicted socket left the budget twice")
	}
	// a 2, b 1, c 1: b holds one, a holds two: no eviction for b.
	if _, _, ok := b.admit("b"); ok {
		t.Fatal("b took a place from a that holds only one more")
	}
	// A verified socket leaves, making room without evicting.
	if !b.leave(b1) {
		t.Fatal("b's socket was not in the budget")
	}
	if _, victim, ok := b.admit("d"); !ok || victim != nil {
		t.Fatalf("d after b left: admit %v, victim %v", ok, victim)
	}
	if b.n != 4 {
		t.Fatalf("budget holds %d, want 4", b.n)
	}
}

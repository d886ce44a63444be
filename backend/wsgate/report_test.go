package wsgate

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/sla"
	"github.com/telltale/telltale/shared/wire"
)

// sink is a backend/sla.Sink that keeps what it was given, refusing with
// err when set.
type sink struct {
	mu    sync.Mutex
	taken []taken
	err   error
}

type taken struct {
	tenant string
	report wire.Report
}

func (s *sink) Take(tenant string, r *wire.Report, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.taken = append(s.taken, taken{tenant, cloneReport(r)})
	return nil
}

// cloneReport is a deep copy of r, empty slices as nil: a sink may not
// keep the report it is given (the gateway decodes the next one into the
// same arrays).
func cloneReport(r *wire.Report) wire.Report {
	c := *r
	c.Panels = cloneOrNil(r.Panels)
	for i := range c.Panels {
		p := &c.Panels[i]
		p.Stale = cloneOrNil(p.Stale)
		p.Stages = cloneOrNil(p.Stages)
		for j := range p.Stages {
			h := &p.Stages[j]
			h.Index, h.Counts, h.Packed = cloneOrNil(h.Index), cloneOrNil(h.Counts), cloneOrNil(h.Packed)
		}
	}
	return c
}

func cloneOrNil[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

func (s *sink) got() []taken {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]taken(nil), s.taken...)
}

// waitTaken waits for the sink to hold n reports.
func (s *sink) waitTaken(t *testing.T, n int) []taken {
	t.Helper()
	poll.Until(t, 5*time.Second, func() error {
		if got := len(s.got()); got != n {
			return fmt.Errorf("the sink holds %d reports, want %d", got, n)
		}
		return nil
	})
	return s.got()
}

func reportsCounted(f *fixture, result string) int64 {
	return f.reg.Lookup(`telltale_sla_reports_total{result="` + result + `"}`).Load()
}

func smallReport(dashboard string) wire.Report {
	return wire.Report{Screen: "screen-1", Dashboard: dashboard, From: 1, To: 2, Transport: sla.TransportSocket, Panels: []wire.PanelReport{{
		Panel: "p", Painted: 3, FreshMs: 9000, StaleMs: 1000,
		Stages: []wire.StageHist{{Stage: sla.StageTotal, Index: []int32{sla.Bin(40)}, Counts: []uint32{3}}},
	}}}
}

// A sync is answered at once with the client's stamp and the server's clock.
func TestSyncIsAnsweredWithTheServersClock(t *testing.T) {
	f := start(t, Config{})
	r := dial(t, f.url)
	r.send(wire.Hello{})
	r.expect(wire.TypeWelcome)
	before := time.Now().UnixNano()
	r.send(wire.Sync{Client: 42})
	c := r.expect(wire.TypeClock).(wire.Clock)
	after := time.Now().UnixNano()
	if c.Client != 42 || c.Server < before || c.Server > after {
		t.Fatalf("got %+v, want client 42 and a server time in [%d, %d]", c, before, after)
	}
}

// A report is taken under the tenant of the connection's token: whatever it
// names (a dashboard id, a forged tenant field), the sink hears the token's.
func TestReportTakesTheTenantFromTheToken(t *testing.T) {
	keys, err := auth.HS256([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{}
	f := start(t, Config{Reports: s, Authenticate: func(_ context.Context, tok string) (*auth.Principal, error) { return keys.Verify(tok) }})
	hello := func(tenant string) *raw {
		tok, err := keys.Mint(tenant, "alice", time.Hour, []string{"*"}, "")
		if err != nil {
			t.Fatal(err)
		}
		r := dial(t, f.url)
		r.send(wire.Hello{Token: tok})
		r.expect(wire.TypeWelcome)
		return r
	}
	acme, globex := hello("acme"), hello("globex")
	acme.send(smallReport("acme-board"))
	s.waitTaken(t, 1)
	globex.send(smallReport("acme-board")) // another tenant's dashboard id
	s.waitTaken(t, 2)
	forged, err := msgpack.Marshal(map[string]any{"v": wire.Version, "t": "report", "b": map[string]any{
		"tenant": "globex", "screen": "x", "dashboard": "globex-board", "panels": []any{},
	}})
	if err != nil {
		t.Fatal(err)
	}
	acme.sendBytes(forged)
	got := s.waitTaken(t, 3)
	for i, want := range []struct{ tenant, dashboard string }{{"acme", "acme-board"}, {"globex", "acme-board"}, {"acme", "globex-board"}} {
		if got[i].tenant != want.tenant || got[i].report.Dashboard != want.dashboard {
			t.Errorf("report %d: got tenant %q dashboard %q, want %q %q", i, got[i].tenant, got[i].report.Dashboard, want.tenant, want.dashboard)
		}
	}
	if n := reportsCounted(f, "taken"); n != 3 {
		t.Errorf("got %d reports counted taken, want 3", n)
	}
}

// A report sent before the hello is never taken: the connection closes as
// for any first frame that is not a hello, and the report counts refused.
func TestReportBeforeHelloIsRefused(t *testing.T) {
	s := &sink{}
	f := start(t, Config{Reports: s})
	r := dial(t, f.url)
	r.send(smallReport("d"))
	_, err := r.read()
	if got := websocket.CloseStatus(err); got != websocket.StatusPolicyViolation {
		t.Fatalf("got close %v (%v), want policy violation", got, err)
	}
	if got := s.got(); len(got) != 0 {
		t.Fatalf("the sink took %d reports sent before hello", len(got))
	}
	if n := reportsCounted(f, "refused"); n != 1 {
		t.Fatalf("got %d reports counted refused, want 1", n)
	}
}

// A report over its caps (within the frame size) is refused with an error
// frame, counted, and the connection goes on: its next sync and report are
// answered and taken.
func TestOversizedReportKeepsTheConnection(t *testing.T) {
	s := &sink{}
	f := start(t, Config{Reports: s})
	r := dial(t, f.url)
	r.send(wire.Hello{})
	r.expect(wire.TypeWelcome)
	over := smallReport("d")
	over.Panels = make([]wire.PanelReport, sla.MaxPanels+1)
	r.send(over)
	if e := r.expect(wire.TypeError).(wire.Error); e.Code != wire.CodeBadFrame {
		t.Fatalf("got %v (%s), want bad_frame", e.Code, e.Message)
	}
	r.send(wire.Sync{Client: 7})
	r.expect(wire.TypeClock)
	r.send(smallReport("d"))
	s.waitTaken(t, 1)
	if taken, refused := reportsCounted(f, "taken"), reportsCounted(f, "refused"); taken != 1 || refused != 1 {
		t.Fatalf("got %d taken and %d refused, want 1 and 1", taken, refused)
	}
}

// Without a sink, and when the sink refuses, a report gets an error frame
// that says so, and however many come the connection stays open: an honest
// page must not be cut off for reporting.
func TestRefusedReportsKeepTheConnection(t *testing.T) {
	for _, tt := range []struct {
		name string
		sink *sink
		code wire.Code
	}{
		{"no sink", nil, wire.CodeReportsOff},
		{"sink refuses", &sink{err: errors.New("to is an hour ahead")}, wire.CodeBadReport},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{SLARate: -1}
			if tt.sink != nil {
				cfg.Reports = tt.sink
			}
			f := start(t, cfg)
			r := dial(t, f.url)
			r.send(wire.Hello{})
			r.expect(wire.TypeWelcome)
			for range 2 * maxBadFrames {
				r.send(smallReport("d"))
				if e := r.expect(wire.TypeError).(wire.Error); e.Code != tt.code {
					t.Fatalf("got %v (%s), want %v", e.Code, e.Message, tt.code)
				}
			}
			r.send(wire.Sync{Client: 1})
			r.expect(wire.TypeClock)
			if n := reportsCounted(f, "refused"); n != 2*maxBadFrames {
				t.Fatalf("got %d reports counted refused, want %d", n, 2*maxBadFrames)
			}
		})
	}
}

// Syncs and reports share the connection's rate limit: past the burst each
// is refused with rate_limited, and a client that keeps on is closed as
// one sending refused frames.
func TestSyncAndReportRateLimit(t *testing.T) {
	s := &sink{}
	f := start(t, Config{Reports: s, SLARate: 0.001, SLABurst: 3})
	r := dial(t, f.url)
	r.send(wire.Hello{})
	r.expect(wire.TypeWelcome)
	r.send(wire.Sync{Client: 1})
	r.expect(wire.TypeClock)
	r.send(smallReport("d"))
	r.send(wire.Sync{Client: 2})
	r.expect(wire.TypeClock)
	s.waitTaken(t, 1)
	r.send(smallReport("d"))
	if e := r.expect(wire.TypeError).(wire.Error); e.Code != wire.CodeRateLimited {
		t.Fatalf("got %v (%s), want rate_limited", e.Code, e.Message)
	}
	r.send(wire.Sync{Client: 3})
	if e := r.expect(wire.TypeError).(wire.Error); e.Code != wire.CodeRateLimited {
		t.Fatalf("got %v (%s), want rate_limited", e.Code, e.Message)
	}
	var err error
	for i := 0; err == nil && i < 4*maxBadFrames; i++ {
		r.send(wire.Sync{Client: 4})
		for {
			var fr wire.Frame
			if fr, err = r.read(); err != nil || fr.FrameType() != wire.TypePing {
				break
			}
		}
	}
	if got := websocket.CloseStatus(err); got != wire.CloseProtocol {
		t.Fatalf("got close %v (%v), want %d (too many refused frames)", got, err, wire.CloseProtocol)
	}
	if len(s.got()) != 1 || reportsCounted(f, "refused") != 1 {
		t.Fatalf("got %d taken and %d counted refused, want 1 and 1", len(s.got()), reportsCounted(f, "refused"))
	}
	if n := f.reg.Lookup("telltale_ws_sla_rate_limited_total").Load(); n < maxBadFrames {
		t.Fatalf("got %d frames counted rate limited, want at least %d", n, maxBadFrames)
	}
}

// Reports are decoded into reused structures (reportPool): each report a
// connection sends reaches the sink as it was sent, whatever the one
// before it held, from one connection and from several at once.
func TestReportsReachTheSinkAsSent(t *testing.T) {
	s := &sink{}
	f := start(t, Config{Reports: s, SLARate: -1})
	big := func(screen string) wire.Report {
		r := smallReport("big-board")
		r.Screen, r.ClockErr = screen, 5
		r.Panels = nil
		for i := range 6 {
			p := wire.PanelReport{Panel: fmt.Sprint("panel-", i), Painted: uint64(i), FreshMs: 7, StaleMs: 3,
				Stale: []wire.StalePeriod{{Start: 1, Ms: 2, Cause: sla.CauseSilent}}}
			for k, st := range sla.Stages {
				p.Stages = append(p.Stages, wire.StageHist{Stage: st, Index: []int32{sla.Bin(1), sla.Bin(float64(10 * (k + 1)))}, Counts: []uint32{uint32(i), 9}})
			}
			r.Panels = append(r.Panels, p)
		}
		return r
	}
	small := smallReport("small-board") // fewer panels, stages and bins; no stale periods; no clock error
	var want []wire.Report
	var conns []*raw
	for i := range 3 {
		r := dial(t, f.url)
		r.send(wire.Hello{})
		r.expect(wire.TypeWelcome)
		conns = append(conns, r)
		want = append(want, big(fmt.Sprint("screen-", i)), small)
	}
	for k := range 2 {
		for i, r := range conns {
			r.send(want[2*i+k])
		}
	}
	got := s.waitTaken(t, len(want))
	for _, w := range want {
		found := false
		for _, g := range got {
			if reflect.DeepEqual(g.report, w) {
				found = true
			}
		}
		if !found {
			t.Errorf("the sink never got %+v", w)
		}
	}
}

// A page sends its histograms packed, a page cached from before as index
// and counts: reports of both shapes, in turn on one socket (decoded into
// one pooled report), reach the sink as they were sent.
func TestReportsOfBothShapesReachTheSink(t *testing.T) {
	s := &sink{}
	f := start(t, Config{Reports: s})
	r := dial(t, f.url)
	r.send(wire.Hello{})
	r.expect(wire.TypeWelcome)
	var sent []wire.Report
	for i := range 4 {
		rep := smallReport(fmt.Sprint("board-", i))
		h := &rep.Panels[0].Stages[0]
		h.Index, h.Counts = []int32{sla.Bin(40), sla.Bin(50), sla.Bin(400)}, []uint32{3, uint32(200 + i), 1}
		if i%2 == 1 {
			h.First, h.Packed = wire.PackBins(nil, h.Index, h.Counts)
			h.Index, h.Counts = nil, nil
		}
		r.send(rep)
		sent = append(sent, rep)
	}
	got := s.waitTaken(t, len(sent))
	for i := range sent {
		if !reflect.DeepEqual(got[i].report, sent[i]) {
			t.Errorf("report %d: got %+v, want %+v", i, got[i].report.Panels[0].Stages, sent[i].Panels[0].Stages)
		}
	}
}

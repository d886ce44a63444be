package alert

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/telltale/telltale/shared/dashboard"
	shared "github.com/telltale/telltale/shared/sla"
	"github.com/telltale/telltale/shared/wire"
)

// fakeQuerier answers from a table set by the test, by tenant and dashboard.
type fakeQuerier struct {
	mu    sync.Mutex
	ans   map[string]*shared.Answer // tenant/dashboard →
	asked []time.Duration           // to - from of each query
}

func (q *fakeQuerier) set(tenant, d string, a *shared.Answer) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.ans[tenant+"/"+d] = a
}

func (q *fakeQuerier) Query(_ context.Context, tenant, d string, from, to time.Time) (*shared.Answer, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.asked = append(q.asked, to.Sub(from))
	if a := q.ans[tenant+"/"+d]; a != nil {
		return a, nil
	}
	return &shared.Answer{Dashboard: d, From: from, To: to}, nil
}

// rig is an Evaluator over fakes, on a clock the test moves.
type rig struct {
	t       *testing.T
	e       *Evaluator
	q       *fakeQuerier
	now     time.Time
	boards  map[string][]dashboard.Dashboard
	newest  map[string]time.Time // tenant/stream →
	current map[string][]dashboard.Alert
	failPub error
	written map[string][]dashboard.Alert // tenant → rows written, in order
	notes   []string                     // tenant id state
}

func newRig(t *testing.T) *rig {
	r := &rig{t: t, q: &fakeQuerier{ans: map[string]*shared.Answer{}}, now: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC),
		boards: map[string][]dashboard.Dashboard{}, newest: map[string]time.Time{}, current: map[string][]dashboard.Alert{}, written: map[string][]dashboard.Alert{}}
	r.e = New(Config{
		Querier: r.q,
		Tenants: func(context.Context) ([]string, error) {
			var out []string
			for t := range r.boards {
				out = append(out, t)
			}
			return out, nil
		},
		Dashboards: func(_ context.Context, tenant string) ([]dashboard.Dashboard, error) { return r.boards[tenant], nil },
		Newest: func(tenant, stream string) (time.Time, bool) {
			n, ok := r.newest[tenant+"/"+stream]
			return n, ok
		},
		Current: func(tenant string) ([]dashboard.Alert, error) { return r.current[tenant], nil },
		Publish: func(_ context.Context, tenant string, evs []wire.Event) error {
			if r.failPub != nil {
				return r.failPub
			}
			for _, ev := range evs {
				a, ok := dashboard.ParseAlert(ev.Row)
				if !ok {
					t.Fatalf("wrote %+v: not an alert row", ev.Row)
				}
				r.written[tenant] = append(r.written[tenant], a)
			}
			return nil
		},
		Notify: func(tenant string, a dashboard.Alert, at time.Time) {
			if !at.Equal(r.now) {
				t.Errorf("notified at %v, want the evaluation's time %v", at, r.now)
			}
			r.notes = append(r.notes, tenant+" "+a.ID+" "+a.State)
		},
		Now: func() time.Time { return r.now },
	})
	return r
}

// eval moves the clock by d and evaluates.
func (r *rig) eval(d time.Duration) {
	r.t.Helper()
	r.now = r.now.Add(d)
	r.e.Evaluate(context.Background())
}

// expect checks the notes since the last expect.
func (r *rig) expect(want ...string) {
	r.t.Helper()
	if strings.Join(r.notes, "\n") != strings.Join(want, "\n") {
		r.t.Fatalf("notified %q, want %q", r.notes, want)
	}
	r.notes = nil
}

func desk(s *dashboard.SLA) dashboard.Dashboard {
	return dashboard.Dashboard{ID: "orders-desk", Title: "Orders", SLA: s, Panels: []dashboard.Panel{
		{ID: "latest", Kind: dashboard.KindTable, Title: "Latest orders", Stream: "orders", Columns: []dashboard.Column{{Field: "id"}}},
		{ID: "count", Kind: dashboard.KindKPI, Title: "Orders today", Stream: "orders", Field: "n"},
	}}
}

func slow(p95 float64, painted uint64) *shared.Answer {
	return &shared.Answer{Dashboard: "orders-desk", Panels: []shared.PanelSLA{{Dashboard: "orders-desk", Panel: "latest", Painted: painted, P95Ms: p95, FreshPct: 100,
		Stages: []shared.StageSLA{
			{Stage: shared.StageDatabase, ShareOfTotalPct: 3}, {Stage: shared.StageHub, ShareOfTotalPct: 5},
			{Stage: shared.StageSocket, ShareOfTotalPct: 82}, {Stage: shared.StageNetwork, ShareOfTotalPct: 9},
			{Stage: shared.StagePaint, ShareOfTotalPct: 1}, {Stage: shared.StageTotal, ShareOfTotalPct: 100},
		}}}}
}

// A p95 past its target over the period fires once, holds without a word
// while it stays, and resolves only after it was clear at two evaluations
// in a row (a clear evaluation followed by a miss keeps it firing).
func TestP95FiresHoldsAndResolvesWithHysteresis(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	d := desk(nil)
	d.Panels[0].SLA = &dashboard.SLA{P95Ms: 1000, For: "5m"}
	r.boards["acme"] = []dashboard.Dashboard{d}
	r.q.set("acme", "orders-desk", slow(3100, 500))

	r.eval(0)
	r.expect("acme orders-desk/latest/p95 firing")
	if len(r.q.asked) != 1 || r.q.asked[0] != 5*time.Minute {
		t.Fatalf("queried %v, want once over the 5 min period", r.q.asked)
	}
	got := r.written["acme"]
	want := "orders-desk · Latest orders: p95 event→paint 3.1 s over the last 5 min (target 1 s); 82% of the time spent between hub and socket"
	if len(got) != 1 || got[0].Message != want || got[0].State != dashboard.AlertFiring || !got[0].Since.Equal(r.now) || got[0].Dashboard != "orders-desk" || got[0].Panel != "latest" {
		t.Fatalf("wrote %+v, want one firing row saying %q", got, want)
	}
	since := got[0].Since

	r.eval(15 * time.Second) // still slow: holds
	r.expect()
	r.q.set("acme", "orders-desk", slow(400, 500))
	r.eval(15 * time.Second) // clear once
	r.expect()
	r.q.set("acme", "orders-desk", slow(1500, 500))
	r.eval(15 * time.Second) // missed again: still the same episode
	r.expect()
	r.q.set("acme", "orders-desk", slow(400, 500))
	r.eval(15 * time.Second)
	r.expect()
	r.eval(15 * time.Second) // clear for a whole evaluation
	r.expect("acme orders-desk/latest/p95 resolved")
	rows := r.written["acme"]
	last := rows[len(rows)-1]
	if len(rows) != 2 || last.State != dashboard.AlertResolved || !last.Since.Equal(since) || !strings.Contains(last.Message, "resolved after 1 min 15 s") {
		t.Fatalf("rows %+v, want the firing one and a resolve of the same episode", rows)
	}
	r.eval(15 * time.Second)
	r.expect()

	// A new miss is a new episode.
	r.q.set("acme", "orders-desk", slow(3100, 500))
	r.eval(15 * time.Second)
	r.expect("acme orders-desk/latest/p95 firing")
	if rows := r.written["acme"]; !rows[len(rows)-1].Since.Equal(r.now) {
		t.Fatalf("new episode since %v, want %v", rows[len(rows)-1].Since, r.now)
	}
}

// Too few painted events say nothing about a p95: no alert.
func TestP95NeedsEnoughPaintedEvents(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.boards["acme"] = []dashboard.Dashboard{desk(&dashboard.SLA{P95Ms: 1000})}
	r.q.set("acme", "orders-desk", slow(9000, 5))
	r.eval(0)
	r.expect()
	if r.q.asked[0] != dashboard.DefaultSLAFor {
		t.Fatalf("queried over %v, want the default period %v", r.q.asked[0], dashboard.DefaultSLAFor)
	}
}

// The fresh share under its target fires, naming the main stale cause.
func TestFreshShareFires(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.boards["acme"] = []dashboard.Dashboard{desk(&dashboard.SLA{FreshPct: 99, For: "10m"})}
	a := slow(100, 500)
	a.Panels[0].FreshPct = 82.04
	a.Panels[0].Stale = []shared.StaleSLA{{Ms: 60_000, Cause: shared.CauseDisconnect, Screens: 2}, {Ms: 30_000, Cause: shared.CauseSilent, Screens: 1}}
	r.q.set("acme", "orders-desk", a)
	r.eval(0)
	r.expect("acme orders-desk/latest/fresh firing")
	want := "orders-desk · Latest orders: fresh 82% of the time over the last 10 min (target 99%); mostly because connections were lost"
	if got := r.written["acme"][0].Message; got != want {
		t.Fatalf("message %q, want %q", got, want)
	}
}

// A stream silent past fresh_within fires (from the hub's newest event
// time), and resolves once it has spoken for a whole evaluation; a panel's
// sla overrides its dashboard's.
func TestSilentStream(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	d := desk(&dashboard.SLA{P95Ms: 1000})
	d.Panels[1].SLA = &dashboard.SLA{FreshWithin: "5s"}
	r.boards["acme"] = []dashboard.Dashboard{d}
	r.newest["acme/orders"] = r.now
	r.eval(3 * time.Second)
	r.expect()
	r.eval(4 * time.Second)
	r.expect("acme orders-desk/count/silent firing")
	if got, want := r.written["acme"][0].Message, "orders-desk · Orders today: stream orders silent for 7 s (it should speak within 5 s)"; got != want {
		t.Fatalf("message %q, want %q", got, want)
	}
	r.newest["acme/orders"] = r.now.Add(time.Second) // it speaks
	r.eval(time.Second)
	r.expect()
	r.newest["acme/orders"] = r.now.Add(time.Second)
	r.eval(time.Second)
	r.expect("acme orders-desk/count/silent resolved")
}

// A stream the hub holds nothing of is silent from the evaluator's first
// look at it.
func TestNeverSeenStreamIsSilentFromTheFirstLook(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.boards["acme"] = []dashboard.Dashboard{desk(&dashboard.SLA{FreshWithin: "1m"})}
	r.eval(0)
	r.eval(50 * time.Second)
	r.expect()
	r.eval(15 * time.Second)
	r.expect("acme orders-desk/latest/silent firing", "acme orders-desk/count/silent firing")
}

// After a restart the alerts stream's firing rows go on: no second firing
// message, and a resolve when they clear.
func TestFiringAlertsGoOnAfterARestart(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.boards["acme"] = []dashboard.Dashboard{desk(&dashboard.SLA{P95Ms: 1000})}
	before := r.now.Add(-time.Hour)
	r.current["acme"] = []dashboard.Alert{
		{ID: "orders-desk/latest/p95", State: dashboard.AlertFiring, Dashboard: "orders-desk", Panel: "latest", Message: "slow", Since: before},
		{ID: "orders-desk/count/p95", State: dashboard.AlertResolved, Dashboard: "orders-desk", Panel: "count", Since: before},
	}
	r.q.set("acme", "orders-desk", slow(3100, 500))
	r.eval(0)
	r.expect()
	r.q.set("acme", "orders-desk", slow(100, 500))
	r.eval(15 * time.Second)
	r.eval(15 * time.Second)
	r.expect("acme orders-desk/latest/p95 resolved")
	if rows := r.written["acme"]; len(rows) != 1 || !rows[0].Since.Equal(before) {
		t.Fatalf("wrote %+v, want the resolve of the episode since %v", rows, before)
	}
}

// A firing alert kept from before a restart whose target is gone since
// resolves at once.
func TestFiringAlertWithoutTargetAfterARestartResolves(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.boards["acme"] = []dashboard.Dashboard{desk(nil)}
	r.current["acme"] = []dashboard.Alert{{ID: "orders-desk/latest/p95", State: dashboard.AlertFiring, Dashboard: "orders-desk", Panel: "latest", Message: "slow", Since: r.now.Add(-time.Hour)}}
	r.eval(0)
	r.expect("acme orders-desk/latest/p95 resolved")
	r.eval(15 * time.Second)
	r.expect()
}

// A firing alert whose target goes away resolves at once.
func TestRemovedTargetResolves(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.boards["acme"] = []dashboard.Dashboard{desk(&dashboard.SLA{P95Ms: 1000})}
	r.q.set("acme", "orders-desk", slow(3100, 500))
	r.eval(0)
	r.expect("acme orders-desk/latest/p95 firing")
	r.boards["acme"] = []dashboard.Dashboard{desk(nil)}
	r.eval(15 * time.Second)
	r.expect("acme orders-desk/latest/p95 resolved")
	if m := r.written["acme"][1].Message; !strings.Contains(m, "its target was removed") {
		t.Fatalf("message %q does not say the target was removed", m)
	}
}

// Each tenant's alerts go to its own stream: a tenant whose numbers are
// fine gets nothing however bad another's are.
func TestTenantsAreApart(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.boards["acme"] = []dashboard.Dashboard{desk(&dashboard.SLA{P95Ms: 1000})}
	r.boards["globex"] = []dashboard.Dashboard{desk(&dashboard.SLA{P95Ms: 1000})}
	r.q.set("acme", "orders-desk", slow(3100, 500))
	r.q.set("globex", "orders-desk", slow(300, 500))
	r.eval(0)
	r.expect("acme orders-desk/latest/p95 firing")
	if len(r.written["globex"]) != 0 {
		t.Fatalf("globex got %+v", r.written["globex"])
	}
}

// A row that could not be written is neither notified nor taken as
// firing: the next evaluation tries again.
func TestPublishFailureIsTriedAgain(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.boards["acme"] = []dashboard.Dashboard{desk(&dashboard.SLA{P95Ms: 1000})}
	r.q.set("acme", "orders-desk", slow(3100, 500))
	r.failPub = errors.New("store down")
	r.eval(0)
	r.expect()
	r.failPub = nil
	r.eval(15 * time.Second)
	r.expect("acme orders-desk/latest/p95 firing")
}

func TestMessageNumbers(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ got, want string }{
		{ms(850.4), "850 ms"}, {ms(1000), "1 s"}, {ms(3140), "3.1 s"}, {ms(12_000), "12 s"},
		{pct(82.04), "82%"}, {pct(99.5), "99.5%"},
		{duration(45 * time.Second), "45 s"}, {duration(5 * time.Minute), "5 min"}, {duration(75 * time.Second), "1 min 15 s"}, {duration(90 * time.Minute), "1 h 30 min"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

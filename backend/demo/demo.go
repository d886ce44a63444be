// Package demo is the built-in feed that makes a fresh install look like a
// working business: an orders stream (new orders and status changes, an
// orders-today counter), a metrics stream (pick rate, pack rate, queue depth
// and p95 latency at 50 points/s each), a fleet stream (vehicle status,
// region, ETA, delay), packing lines, and a trading desk (positions, P&L,
// order latency), plus the dashboard specs that show them: its own and the
// three of examples/ (Dashboards).
//
// It must never be required: it only publishes through the same path any
// producer uses.
package demo

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/telltale/telltale/examples"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/wire"
)

// Publisher is where the feed writes: the embedded store or PostgreSQL.
type Publisher interface {
	Append(ctx context.Context, tenant, stream string, evs []wire.Event) error
}

// Config configures the feed. Zero values are the documented defaults.
type Config struct {
	Tenant string // zero means "demo"
	// Seed makes the feed repeatable; zero means random.
	Seed uint64
	// Speed multiplies every rate (events per second); zero means 1.
	Speed float64
}

// Stream names the feed publishes.
const (
	StreamOrders  = "orders"
	StreamMetrics = "metrics"
	StreamFleet   = "fleet"
	// The examples' streams besides those (examples/*/dashboard.yaml).
	StreamLines     = "packing-lines"
	StreamPositions = "positions"
	StreamDesk      = "desk"
	StreamLatency   = "latency"
)

// Dashboards are the built-in dashboards of a server with the demo feed: its
// own first (the front page), then the examples', all fed by Run.
func Dashboards() []dashboard.Dashboard {
	ex, err := examples.Dashboards()
	if err != nil {
		// The examples are embedded and their test validates them: this is
		// a broken build, not a runtime condition.
		panic(err)
	}
	return append([]dashboard.Dashboard{Dashboard()}, ex...)
}

// Dashboard is the spec that draws the demo streams.
func Dashboard() dashboard.Dashboard {
	return dashboard.Dashboard{
		ID:    "warehouse",
		Title: "Warehouse operations",
		Panels: []dashboard.Panel{
			{ID: "orders-today", Kind: dashboard.KindKPI, Title: "Orders today", Stream: StreamOrders, Field: "orders_today", Width: 3, ExpectedCadenceMs: 2000},
			{ID: "revenue-today", Kind: dashboard.KindKPI, Title: "Revenue today", Stream: StreamOrders, Field: "revenue_today", Format: dashboard.FormatMoney, Currency: "EUR", Width: 3, ExpectedCadenceMs: 2000},
			{ID: "open-orders", Kind: dashboard.KindKPI, Title: "Open orders", Stream: StreamOrders, Field: "orders_open", Width: 3, ExpectedCadenceMs: 2000},
			// The queue wanders around 40: over 60 it wants a look, over 80 a hand.
			{ID: "queue-now", Kind: dashboard.KindKPI, Title: "Queue depth", Stream: StreamMetrics, Field: "queue_depth", Width: 3, ExpectedCadenceMs: 500,
				Thresholds: []dashboard.Threshold{{Value: 60, Level: dashboard.LevelWarn}, {Value: 80, Level: dashboard.LevelCritical}}},
			{ID: "throughput", Kind: dashboard.KindTimeSeries, Title: "Pick & pack rate", Stream: StreamMetrics, Series: []string{"pick_rate", "pack_rate"}, Labels: map[string]string{"pick_rate": "Pick rate", "pack_rate": "Pack rate"}, Unit: "/min", Width: 6, WindowSeconds: 60, ExpectedCadenceMs: 500},
			{ID: "latency", Kind: dashboard.KindTimeSeries, Title: "Queue depth & p95 latency", Stream: StreamMetrics, Series: []string{"queue_depth", "p95_ms"}, Labels: map[string]string{"queue_depth": "Queue depth", "p95_ms": "p95 latency (ms)"}, Width: 6, WindowSeconds: 60, ExpectedCadenceMs: 500},
			{ID: "orders-feed", Kind: dashboard.KindTable, Title: "Latest orders", Stream: StreamOrders, Width: 7, ExpectedCadenceMs: 2000, Columns: []dashboard.Column{
				// "key": the row's key, which is the order number (an order
				// sent without an id field still shows it: README's example).
				{Field: "key", Title: "Order"}, {Field: "status", Title: "Status", Priority: 2}, {Field: "region", Title: "Region", Priority: 3},
				{Field: "total", Title: "Total", Format: dashboard.FormatMoney, Currency: "EUR", Priority: 1},
			}},
			{ID: "fleet", Kind: dashboard.KindTable, Title: "Fleet", Stream: StreamFleet, Width: 5, ExpectedCadenceMs: 3000, Columns: []dashboard.Column{
				{Field: "vehicle", Title: "Vehicle"}, {Field: "status", Title: "Status", Priority: 1, ValueMap: fleetLevels},
				{Field: "speed", Title: "km/h", Format: dashboard.FormatInt, Priority: 3}, {Field: "eta_min", Title: "ETA min", Format: dashboard.FormatInt, Priority: 2,
					Thresholds: []dashboard.Threshold{{Value: 45, Level: dashboard.LevelWarn}}},
			}},
			{ID: "fleet-status", Kind: dashboard.KindStatus, Title: "Fleet status", Stream: StreamFleet, Field: "status", LabelField: "vehicle", ValueMap: fleetLevels, ExpectedCadenceMs: 3000},
		},
	}
}

// fleetLevels colour a vehicle by its status: a delayed truck needs action,
// an idle one a look.
var fleetLevels = map[string]dashboard.Level{"delayed": dashboard.LevelCritical, "idle": dashboard.LevelWarn, "en route": dashboard.LevelOK, "loading": dashboard.LevelOK}

// Run publishes until ctx ends; it returns the first publish error.
func Run(ctx context.Context, pub Publisher, cfg Config) error {
	if cfg.Tenant == "" {
		cfg.Tenant = "demo"
	}
	if cfg.Speed <= 0 {
		cfg.Speed = 1
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	f := newFeed(rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), time.Now())
	scale := func(d time.Duration) time.Duration { return time.Duration(float64(d) / cfg.Speed) }

	metricsTick := time.NewTicker(scale(100 * time.Millisecond))
	defer metricsTick.Stop()
	fleetTick := time.NewTicker(scale(400 * time.Millisecond))
	defer fleetTick.Stop()
	deskTick := time.NewTicker(scale(500 * time.Millisecond))
	defer deskTick.Stop()
	lineTick := time.NewTicker(scale(2 * time.Second))
	defer lineTick.Stop()
	orderTimer := time.NewTimer(0)
	defer orderTimer.Stop()

	// Every row stream whole first (the fleet, the lines, the positions), so
	// the tables and grids are full from the first second.
	for _, first := range []struct {
		stream string
		evs    []wire.Event
	}{
		{StreamFleet, f.allVehicles()},
		{StreamLines, f.allLines()},
		{StreamPositions, f.allPositions()},
		{StreamDesk, []wire.Event{f.desk()}},
	} {
		if err := pub.Append(ctx, cfg.Tenant, first.stream, first.evs); err != nil {
			return fmt.Errorf("demo publish %s: %w", first.stream, err)
		}
	}
	for {
		var stream string
		var evs []wire.Event
		select {
		case <-ctx.Done():
			return nil
		case now := <-metricsTick.C:
			stream, evs = StreamMetrics, []wire.Event{f.metrics(now)}
			if lat, ok := f.latency(now); ok {
				if err := pub.Append(ctx, cfg.Tenant, StreamLatency, []wire.Event{lat}); err != nil {
					if ctx.Err() != nil {
						return nil
					}
					return fmt.Errorf("demo publish %s: %w", StreamLatency, err)
				}
			}
		case <-fleetTick.C:
			stream, evs = StreamFleet, []wire.Event{f.vehicle()}
		case <-deskTick.C:
			stream, evs = StreamPositions, []wire.Event{f.position()}
			if err := pub.Append(ctx, cfg.Tenant, StreamDesk, []wire.Event{f.desk()}); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("demo publish %s: %w", StreamDesk, err)
			}
		case <-lineTick.C:
			stream, evs = StreamLines, []wire.Event{f.line()}
		case <-orderTimer.C:
			stream, evs = StreamOrders, []wire.Event{f.order()}
			orderTimer.Reset(scale(time.Duration(80+f.rng.IntN(320)) * time.Millisecond))
		}
		if err := pub.Append(ctx, cfg.Tenant, stream, evs); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("demo publish %s: %w", stream, err)
		}
	}
}

type order struct {
	id     string
	status string
	region string
	total  float64
	line   string
	pickMs float64
}

type feed struct {
	rng *rand.Rand

	ordersToday, revenue float64
	nextOrder            int
	open                 []*order

	lastMetric time.Time
	pick, pack float64
	queue      float64
	phase      float64

	vehicles []map[string]any
	lines    []map[string]any

	positions  []*position
	lastFill   time.Time
	latencyRef float64
}

type position struct {
	symbol         string
	qty            float64
	avgPrice, last float64
}

var (
	regions  = []string{"north", "south", "east", "west", "central"}
	statuses = []string{"new", "picking", "packed", "shipped"}
	vStatus  = []string{"en route", "loading", "idle", "delayed", "en route", "en route"}
	lStatus  = []string{"running", "running", "running", "running", "slow", "stopped"}
	symbols  = []string{"AAPL", "MSFT", "NVDA", "AMZN", "ASML", "SAP", "TSLA", "JPM"}
)

func newFeed(rng *rand.Rand, now time.Time) *feed {
	// Start the day's counters where a warehouse would be at this hour.
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
	hours := now.Sub(midnight).Hours()
	f := &feed{
		rng:         rng,
		ordersToday: math.Round(hours * 410),
		nextOrder:   100000 + int(hours*410),
		lastMetric:  now,
		pick:        120, pack: 110, queue: 40,
	}
	f.revenue = f.ordersToday * 64.5
	for i := range 12 {
		f.vehicles = append(f.vehicles, f.vehicleFields(fmt.Sprintf("TRK-%02d", i+1), regions[i%len(regions)], float64(5+rng.IntN(60)), now))
	}
	for i := range 6 {
		f.lines = append(f.lines, map[string]any{
			"id": fmt.Sprintf("L%d", i+1), "name": fmt.Sprintf("Line %d", i+1),
			"status": lStatus[rng.IntN(len(lStatus))], "per_hour": float64(150 + rng.IntN(100)),
		})
	}
	for _, sym := range symbols {
		p := 50 + rng.Float64()*400
		f.positions = append(f.positions, &position{symbol: sym, qty: float64((rng.IntN(40) - 15) * 100), avgPrice: p, last: p * (1 + rng.NormFloat64()*0.01)})
	}
	f.lastFill, f.latencyRef = now, 4
	return f
}

// vehicleFields is one vehicle's row: as a watched vehicles table would
// carry it (examples/fleet/schema.sql), plus the demo dashboard's speed and
// eta_min.
func (f *feed) vehicleFields(name, region string, etaMin float64, now time.Time) map[string]any {
	status := vStatus[f.rng.IntN(len(vStatus))]
	speed, delay := 0.0, 0.0
	if status == "en route" || status == "delayed" {
		speed = float64(25 + f.rng.IntN(65))
	}
	if status == "delayed" {
		delay = float64((5 + f.rng.IntN(40)) * 60_000)
	}
	return map[string]any{
		"vehicle": name, "status": status, "region": region, "speed": speed, "eta_min": etaMin,
		"eta":      float64(now.Add(time.Duration(etaMin)*time.Minute).UnixMilli()) + delay,
		"delay_ms": delay, "updated": float64(now.UnixMilli()),
	}
}

func (f *feed) allVehicles() []wire.Event {
	evs := make([]wire.Event, len(f.vehicles))
	for i, v := range f.vehicles {
		evs[i] = wire.Event{Row: &wire.Row{Key: v["vehicle"].(string), Fields: v}}
	}
	return evs
}

func (f *feed) allLines() []wire.Event {
	evs := make([]wire.Event, len(f.lines))
	for i, l := range f.lines {
		evs[i] = wire.Event{Row: &wire.Row{Key: l["id"].(string), Fields: l}}
	}
	return evs
}

// line changes one packing line's status: mostly running, sometimes slow,
// now and then stopped.
func (f *feed) line() wire.Event {
	l := f.lines[f.rng.IntN(len(f.lines))]
	l = map[string]any{"id": l["id"], "name": l["name"], "status": lStatus[f.rng.IntN(len(lStatus))], "per_hour": float64(150 + f.rng.IntN(100))}
	for i := range f.lines {
		if f.lines[i]["id"] == l["id"] {
			f.lines[i] = l
		}
	}
	return wire.Event{Row: &wire.Row{Key: l["id"].(string), Op: wire.RowUpdate, Fields: l}}
}

func (p *position) row() wire.Event {
	pnl := math.Round((p.last - p.avgPrice) * p.qty)
	return wire.Event{Row: &wire.Row{Key: p.symbol, Fields: map[string]any{
		"symbol": p.symbol, "qty": p.qty, "avg_price": round2(p.avgPrice), "last": round2(p.last), "pnl": pnl,
	}}}
}

func (f *feed) allPositions() []wire.Event {
	evs := make([]wire.Event, len(f.positions))
	for i, p := range f.positions {
		evs[i] = p.row()
	}
	return evs
}

// position moves one symbol's price by a random walk.
func (f *feed) position() wire.Event {
	p := f.positions[f.rng.IntN(len(f.positions))]
	p.last = math.Max(1, p.last*(1+f.rng.NormFloat64()*0.004))
	return p.row()
}

// desk is the desk's P&L (the positions' sum) and gross exposure.
func (f *feed) desk() wire.Event {
	var pnl, exposure float64
	for _, p := range f.positions {
		pnl += (p.last - p.avgPrice) * p.qty
		exposure += math.Abs(p.qty * p.last)
	}
	return wire.Event{Values: map[string]float64{"pnl": math.Round(pnl), "exposure": math.Round(exposure)}}
}

// latency is the order latencies of the fills since the last call, about
// 20 a second: a log-normal body around a few ms with a slow tail, so
// p50, p95 and p99 tell apart.
func (f *feed) latency(now time.Time) (wire.Event, bool) {
	const step = 50 * time.Millisecond
	var ts []int64
	var ms []float64
	f.latencyRef += (4-f.latencyRef)*0.05 + f.rng.NormFloat64()*0.2
	for t := f.lastFill.Add(step); !t.After(now); t = t.Add(step) {
		f.lastFill = t
		if len(ts) == 100 { // after a stall: the last 5 s only
			ts, ms = ts[1:], ms[1:]
		}
		ts = append(ts, t.UnixMilli())
		ms = append(ms, round1(math.Max(0.3, f.latencyRef)*math.Exp(f.rng.NormFloat64()*0.6)))
	}
	if len(ts) == 0 {
		return wire.Event{}, false
	}
	return wire.Event{Points: &wire.Points{TS: ts, Cols: []wire.Column{{Name: "order_ms", Vals: ms}}}}, true
}

func (f *feed) order() wire.Event {
	// An order takes three steps to ship, so three in four ticks move an
	// open order on; the share leans on the backlog so it hovers near 40.
	advance := 0.75 + 0.1*math.Tanh(float64(len(f.open)-40)/20)
	if len(f.open) > 0 && f.rng.Float64() < advance {
		i := f.rng.IntN(len(f.open))
		o := f.open[i]
		for k, s := range statuses {
			if s == o.status && k+1 < len(statuses) {
				o.status = statuses[k+1]
				break
			}
		}
		switch o.status {
		case "picking":
			o.line = f.lines[f.rng.IntN(len(f.lines))]["id"].(string)
		case "packed":
			// A pick takes about a minute, some take three.
			o.pickMs = math.Round(20_000 + f.rng.ExpFloat64()*45_000)
		case "shipped":
			f.open = append(f.open[:i], f.open[i+1:]...)
		}
		return f.orderEvent(o, wire.RowUpdate)
	}
	f.nextOrder++
	o := &order{
		id:     fmt.Sprintf("SO-%d", f.nextOrder),
		status: "new",
		region: regions[f.rng.IntN(len(regions))],
		total:  math.Round((15+f.rng.ExpFloat64()*55)*100) / 100,
	}
	f.ordersToday++
	f.revenue += o.total
	f.open = append(f.open, o)
	if len(f.open) > 200 {
		f.open = f.open[1:]
	}
	return f.orderEvent(o, wire.RowInsert)
}

// orderEvent is an order's row as a watched orders table gives it
// (examples/warehouse/schema.sql: inserted, then updated at each step),
// with the day's counters.
func (f *feed) orderEvent(o *order, op wire.RowOp) wire.Event {
	// Null until known, as the watched table has them.
	var line, pickMs any
	if o.line != "" {
		line = o.line
	}
	if o.pickMs > 0 {
		pickMs = o.pickMs
	}
	return wire.Event{
		Values: map[string]float64{
			"orders_today":  f.ordersToday,
			"revenue_today": math.Round(f.revenue*100) / 100, // to the cent
			"orders_open":   float64(len(f.open)),
		},
		Row: &wire.Row{Key: o.id, Op: op, Fields: map[string]any{
			"id": o.id, "status": o.status, "region": o.region, "total": o.total,
			"line": line, "pick_ms": pickMs,
		}},
	}
}

// metrics emits the samples since the last tick at 50 points/s, so each
// series' rate does not depend on how punctual the ticker was.
func (f *feed) metrics(now time.Time) wire.Event {
	const step = 20 * time.Millisecond
	var ts []int64
	for t := f.lastMetric.Add(step); !t.After(now); t = t.Add(step) {
		ts = append(ts, t.UnixMilli())
		f.lastMetric = t
	}
	if len(ts) > 250 { // after a stall, do not flood: keep the last 5 s
		ts = ts[len(ts)-250:]
	}
	pick := make([]float64, len(ts))
	pack := make([]float64, len(ts))
	queue := make([]float64, len(ts))
	p95 := make([]float64, len(ts))
	for i := range ts {
		f.phase += 0.004
		f.pick += (120+25*math.Sin(f.phase)-f.pick)*0.02 + f.rng.NormFloat64()*1.5
		// Packers chase the pickers, and more so when the queue is long, so
		// the queue wanders around 40 instead of drifting away.
		f.pack += (f.pick-2+0.2*(f.queue-40)-f.pack)*0.03 + f.rng.NormFloat64()*1.2
		f.queue = math.Max(0, f.queue+(f.pick-f.pack)*0.01+f.rng.NormFloat64()*0.4)
		pick[i] = round1(f.pick)
		pack[i] = round1(f.pack)
		queue[i] = round1(f.queue)
		p95[i] = round1(80 + f.queue*1.8 + math.Abs(f.rng.NormFloat64())*12)
	}
	ev := wire.Event{Points: &wire.Points{TS: ts, Cols: []wire.Column{
		{Name: "pick_rate", Vals: pick}, {Name: "pack_rate", Vals: pack},
		{Name: "queue_depth", Vals: queue}, {Name: "p95_ms", Vals: p95},
	}}}
	if n := len(ts); n > 0 {
		ev.Values = map[string]float64{"queue_depth": queue[n-1], "pick_rate": pick[n-1]}
	}
	return ev
}

func (f *feed) vehicle() wire.Event {
	i := f.rng.IntN(len(f.vehicles))
	v := f.vehicles[i]
	eta := v["eta_min"].(float64) - 1
	if eta < 1 {
		eta = float64(10 + f.rng.IntN(50))
	}
	name := v["vehicle"].(string)
	f.vehicles[i] = f.vehicleFields(name, v["region"].(string), eta, time.Now())
	return wire.Event{Row: &wire.Row{Key: name, Fields: f.vehicles[i]}}
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
func round2(v float64) float64 { return math.Round(v*100) / 100 }

package aggregate

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/telltale/telltale/internal/pgtest"
	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/wire"
)

// propEvent is one change of a watched orders table, as the test writes it
// to PostgreSQL and hands it to the states.
type propEvent struct {
	seq      int
	ts       int64
	key, op  string
	status   *string
	region   *string
	total    *float64
	customer *string
}

// genEvents makes a watched table's changes over three hours across UTC
// midnight: inserts, updates and deletes of random keys, one in ten of them
// late by up to 30 minutes. It applies them to the table cur as it goes.
func genEvents(t *testing.T, ctx context.Context, conn *pgx.Conn, r *rand.Rand, n int, t0 int64) []propEvent {
	t.Helper()
	statuses := []string{"new", "paid", "packed", "shipped", "cancelled"}
	regions := []string{"eu", "us", "apac", "latam"}
	live := map[string]bool{}
	var keys []string
	var out []propEvent
	clock := t0
	str := func(s string) *string { return &s }
	for i := range n {
		clock += int64(r.IntN(36_000))
		e := propEvent{seq: i, ts: clock}
		if r.IntN(10) == 0 {
			e.ts = clock - int64(r.IntN(30*60_000))
		}
		switch k := r.IntN(10); {
		case k < 6 || len(keys) == 0:
			e.key, e.op = fmt.Sprint("o", i), "insert"
			keys = append(keys, e.key)
		case k < 9:
			e.key, e.op = keys[r.IntN(len(keys))], "update"
		default:
			e.key, e.op = keys[r.IntN(len(keys))], "delete"
		}
		if e.op != "delete" {
			e.status = str(statuses[r.IntN(len(statuses))])
			if r.IntN(8) > 0 {
				e.region = str(regions[r.IntN(len(regions))])
			}
			if r.IntN(8) > 0 {
				v := float64(r.IntN(20000)) / 100
				e.total = &v
			}
			e.customer = str(fmt.Sprint("c", r.IntN(25)))
		}
		if e.op == "update" && !live[e.key] {
			e.op = "insert" // a key deleted before comes back
		}
		if e.op == "delete" && !live[e.key] {
			continue
		}
		var err error
		switch e.op {
		case "insert":
			live[e.key] = true
			_, err = conn.Exec(ctx, `INSERT INTO cur VALUES ($1, $2, $3, $4, $5)`, e.key, e.status, e.region, e.total, e.customer)
		case "update":
			_, err = conn.Exec(ctx, `UPDATE cur SET status = $2, region = $3, total = $4, customer = $5 WHERE key = $1`, e.key, e.status, e.region, e.total, e.customer)
		case "delete":
			delete(live, e.key)
			_, err = conn.Exec(ctx, `DELETE FROM cur WHERE key = $1`, e.key)
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// wireEvent is e as a watched table's event, its total in one of the ways
// a number arrives (float64, int64, json.Number, a numeric string).
func (e propEvent) wireEvent() *wire.Event {
	f := map[string]any{}
	if e.status != nil {
		f["status"] = *e.status
	}
	if e.region != nil {
		f["region"] = *e.region
	}
	if e.customer != nil {
		f["customer"] = *e.customer
	}
	if e.total != nil {
		v := *e.total
		switch e.seq % 4 {
		case 0:
			f["total"] = v
		case 1:
			if v == math.Trunc(v) {
				f["total"] = int64(v)
			} else {
				f["total"] = v
			}
		case 2:
			f["total"] = json.Number(strconv.FormatFloat(v, 'f', -1, 64))
		case 3:
			f["total"] = strconv.FormatFloat(v, 'f', 2, 64)
		}
	} else if e.seq%3 == 0 && e.op != "delete" {
		f["total"] = nil
	}
	return &wire.Event{Time: e.ts, Row: &wire.Row{Key: e.key, Op: wire.RowOp(e.op), Fields: f}}
}

// model is a page's picture of a derived stream: what the emitted events
// add up to.
type model struct {
	series map[int64]map[string]float64 // tumbling: by bucket start
	value  float64
	has    bool
	groups map[string]float64
}

func (m *model) apply(evs []wire.Event) {
	for _, e := range evs {
		switch {
		case e.Points != nil:
			for i, ts := range e.Points.TS {
				// Upsert: the columns named replace theirs at ts, the
				// others keep what they had, as a page does.
				cols := m.series[ts]
				if cols == nil {
					cols = map[string]float64{}
					m.series[ts] = cols
				}
				for _, c := range e.Points.Cols {
					cols[c.Name] = c.Vals[i]
				}
			}
		case e.Values != nil:
			m.value, m.has = e.Values[agg.Value], true
		case e.Row != nil && e.Row.Op == wire.RowDelete:
			delete(m.groups, e.Row.Key)
		case e.Row != nil:
			m.groups[e.Row.Key] = e.Row.Fields[agg.Value].(float64)
		}
	}
}

// wireState is the model as the hub folds the derived stream: values,
// rows, and points aligned by timestamp with NaN where a column has none.
func (m *model) wireState() *wire.State {
	st := &wire.State{}
	if m.has {
		st.Values = map[string]float64{agg.Value: m.value}
	}
	for k, v := range m.groups {
		st.Rows = append(st.Rows, wire.Row{Key: k, Fields: map[string]any{"key": k, agg.Value: v}})
	}
	names := map[string]int{}
	for ts, cols := range m.series {
		st.Points.TS = append(st.Points.TS, ts)
		for name := range cols {
			if _, ok := names[name]; !ok {
				names[name] = len(st.Points.Cols)
				st.Points.Cols = append(st.Points.Cols, wire.Column{Name: name})
			}
		}
	}
	slices.Sort(st.Points.TS)
	for i := range st.Points.Cols {
		c := &st.Points.Cols[i]
		for _, ts := range st.Points.TS {
			v, ok := m.series[ts][c.Name]
			if !ok {
				v = math.NaN()
			}
			c.Vals = append(c.Vals, v)
		}
	}
	return st
}

func newModel() *model {
	return &model{series: map[int64]map[string]float64{}, groups: map[string]float64{}}
}

type propCase struct {
	def   agg.Def
	spec  *agg.Spec
	state *State
	m     *model
}

// TestStateMatchesSQL: random changes of a watched table through every
// function and window, each with and without group_by and with a filter,
// emitted as they come; what the emitted events add up to (and what Full
// says) equals the same aggregate computed by PostgreSQL over the same
// changes: date_trunc and floor buckets, FILTER and WHERE for filters,
// percentile_cont for percentiles (time windows: within the sketch's 1% of
// the values around the rank; current: exactly), current rows over the
// final table.
func TestStateMatchesSQL(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	for seed := range uint64(3) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			conn, err := pgx.Connect(ctx, db.DSN)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			if _, err := conn.Exec(ctx, `
				DROP TABLE IF EXISTS ev, cur;
				CREATE TABLE cur (key text PRIMARY KEY, status text, region text, total double precision, customer text);
				CREATE TABLE ev (seq int, ts_ms bigint, t timestamptz, key text, op text, status text, region text, total double precision, customer text)`); err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(seed, 16))
			t0 := time.Date(2026, 12, 5, 22, 20, 0, 0, time.UTC).UnixMilli()
			events := genEvents(t, ctx, conn, r, 700, t0)
			rows := make([][]any, len(events))
			for i, e := range events {
				rows[i] = []any{e.seq, e.ts, time.UnixMilli(e.ts), e.key, e.op, e.status, e.region, e.total, e.customer}
			}
			if _, err := conn.CopyFrom(ctx, pgx.Identifier{"ev"}, []string{"seq", "ts_ms", "t", "key", "op", "status", "region", "total", "customer"}, pgx.CopyFromRows(rows)); err != nil {
				t.Fatal(err)
			}
			cases := propCases(t)
			var nowMax, clock int64
			restart := len(events)/2 + r.IntN(len(events)/4)
			for i, e := range events {
				we := e.wireEvent()
				if nowMax > 0 && e.ts > nowMax+50_000 {
					// Wall time passes as events come: the runtime emits
					// every emit_ms, so no event is a minute ahead of now.
					now := e.ts - int64(r.IntN(5000))
					nowMax = max(nowMax, now)
					for _, c := range cases {
						c.m.apply(c.state.Emit(time.UnixMilli(now)))
					}
				}
				for _, c := range cases {
					c.state.Add(we)
				}
				if i == restart {
					// A restart: each state rebuilt from the log so far,
					// told what its derived stream holds.
					for _, c := range cases {
						c.state = NewState(c.spec)
						for _, old := range events[:i+1] {
							c.state.Add(old.wireEvent())
						}
						c.state.Restore(c.m.wireState())
					}
				}
				clock = max(clock, e.ts)
				if r.IntN(15) == 0 || i == len(events)-1 {
					now := clock + int64(r.IntN(5000))
					nowMax = max(nowMax, now)
					for _, c := range cases {
						c.m.apply(c.state.Emit(time.UnixMilli(now)))
					}
				}
			}
			var maxTs int64
			for _, e := range events {
				maxTs = max(maxTs, e.ts)
			}
			checked, stale := 0, 0
			for _, c := range cases {
				full := newModel()
				full.apply(c.state.Full(time.UnixMilli(nowMax)))
				chosen := full.series
				if c.spec.Gauge() {
					chosen = map[int64]map[string]float64{0: full.groups}
				}
				want := sqlAggregate(t, ctx, conn, c.spec, maxTs, nowMax, chosen)
				name := fmt.Sprintf("%s %s field=%q group_by=%q filter=%q", c.def.Fn, c.def.Window, c.def.Field, c.def.GroupBy, c.def.Filter)
				stale += compareModel(t, name+" (emitted)", c.spec, c.m, want, true)
				compareModel(t, name+" (full)", c.spec, full, want, false)
				checked++
			}
			t.Logf("%d events (%d late), %d aggregates checked; %d buckets where a page keeps a stale other", len(events), lateCount(events), checked, stale)
		})
	}
}

func lateCount(evs []propEvent) int {
	n := 0
	var newest int64
	for _, e := range evs {
		if e.ts < newest {
			n++
		}
		newest = max(newest, e.ts)
	}
	return n
}

func propCases(t *testing.T) []*propCase {
	type fnField struct{ fn, field string }
	fns := []fnField{{"count", ""}, {"count", "total"}, {"sum", "total"}, {"avg", "total"}, {"min", "total"}, {"max", "total"},
		{"last", "total"}, {"rate", ""}, {"rate", "total"}, {"distinct", "customer"}, {"p50", "total"}, {"p95", "total"}}
	windows := []struct{ w, tz string }{{"1m", ""}, {"5m", ""}, {"last 10m", ""}, {"last 1h", ""}, {"today", ""}, {"this hour", "Asia/Kolkata"}, {"current", ""}}
	filters := []string{"", "status in (paid, packed) and total > 20", "status != cancelled", "_op = update"}
	var out []*propCase
	i := 0
	for _, w := range windows {
		for _, f := range fns {
			if w.w == "current" && (f.fn == "rate" || f.fn == "last") {
				continue
			}
			for _, group := range []string{"", "region"} {
				filter := filters[i%len(filters)]
				i++
				if w.w == "current" && filter == "_op = update" {
					filter = "total >= 50"
				}
				d := agg.Def{Source: "orders", Fn: f.fn, Field: f.field, GroupBy: group, Window: w.w, TZ: w.tz, Filter: filter}
				if group != "" {
					d.Top = 2
				}
				spec := mustSpec(t, d)
				out = append(out, &propCase{def: d, spec: spec, state: NewState(spec), m: newModel()})
			}
		}
	}
	return out
}

// sqlResult is what PostgreSQL says: per bucket (or 0 for a gauge) per
// group (agg.Value without group_by) the value, and for percentiles of
// time windows the values at the ranks around the quantile.
type sqlResult struct {
	vals   map[int64]map[string]sqlVal
	gauge  bool
	nullOK bool // an ungrouped gauge without a value: nothing to compare
}

type sqlVal struct {
	v, lo, hi float64
	hasV      bool
}

// sqlAggregate computes s in SQL. chosen, for a grouped percentile, are the
// groups the state kept by bucket: sketch values may order close groups
// otherwise than exact ones, so the test checks that the choice is one the
// sketch's error allows and then folds the rest as the state did.
func sqlAggregate(t *testing.T, ctx context.Context, conn *pgx.Conn, s *agg.Spec, maxTs, nowMax int64, chosen map[int64]map[string]float64) sqlResult {
	t.Helper()
	from := "ev"
	where := []string{"op IN ('insert', 'upsert')"}
	if strings.Contains(s.Def.Filter, "_op") {
		where = []string{"op IN ('insert', 'upsert', 'update')"}
	}
	if s.Kind == agg.Current {
		from, where = "cur", []string{"true"}
	}
	for _, c := range s.Filter {
		col := c.Field
		if col == OpField {
			col = "op"
		}
		quote := func(v string) string { return "'" + strings.ReplaceAll(v, "'", "''") + "'" }
		switch c.Op {
		case "=":
			where = append(where, fmt.Sprintf("%s = %s", col, quote(c.Vals[0])))
		case "!=":
			where = append(where, fmt.Sprintf("%s <> %s", col, quote(c.Vals[0])))
		case "in":
			var qs []string
			for _, v := range c.Vals {
				qs = append(qs, quote(v))
			}
			where = append(where, fmt.Sprintf("%s IN (%s)", col, strings.Join(qs, ", ")))
		default:
			where = append(where, fmt.Sprintf("%s %s %g", col, c.Op, c.Num))
		}
	}
	bucket := "0::bigint"
	secs := 1.0
	switch s.Kind {
	case agg.Tumbling:
		w := s.Width.Milliseconds()
		if s.Width == time.Minute {
			bucket = "(extract(epoch FROM date_trunc('minute', t))*1000)::bigint"
		} else {
			bucket = fmt.Sprintf("(ts_ms / %d) * %d", w, w)
		}
		head := floorDiv(maxTs, w)
		where = append(where, fmt.Sprintf("ts_ms / %d > %d", w, head-MaxBuckets))
		secs = s.Width.Seconds()
	case agg.Sliding:
		sw := s.Width.Milliseconds() / SlidingSteps
		head := max(floorDiv(maxTs, sw), floorDiv(nowMax, sw))
		where = append(where, fmt.Sprintf("ts_ms / %d > %d AND ts_ms / %d <= %d", sw, head-SlidingSteps, sw, head))
		secs = s.Width.Seconds()
	case agg.Calendar:
		tz := s.Def.TZ
		if tz == "" {
			tz = "UTC"
		}
		var start int64
		at := time.UnixMilli(max(maxTs, nowMax))
		if err := conn.QueryRow(ctx, fmt.Sprintf(`SELECT (extract(epoch FROM date_trunc('%s', $1::timestamptz AT TIME ZONE '%s') AT TIME ZONE '%s')*1000)::bigint`, s.Unit, tz, tz), at).Scan(&start); err != nil {
			t.Fatal(err)
		}
		end := time.UnixMilli(start).In(s.Loc)
		if s.Unit == "day" {
			end = end.AddDate(0, 0, 1)
		} else {
			end = end.Add(time.Hour)
		}
		where = append(where, fmt.Sprintf("ts_ms >= %d AND ts_ms < %d", start, end.UnixMilli()))
		secs = max(float64(max(maxTs, nowMax)-start)/1000, 1)
	}
	group := "'value'"
	if s.GroupBy != "" {
		group = "coalesce(" + s.GroupBy + ", 'null')"
	}
	base := fmt.Sprintf("SELECT *, %s AS b, %s AS g FROM %s WHERE %s", bucket, group, from, strings.Join(where, " AND "))
	val, lo, hi := sqlValue(s, secs)
	query := func(label string) map[int64]map[string]sqlVal {
		q := fmt.Sprintf("SELECT b, %s AS label, count(*), %s, %s, %s FROM (%s) x GROUP BY 1, 2", label, val, lo, hi, base)
		rows, err := conn.Query(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		out := map[int64]map[string]sqlVal{}
		for rows.Next() {
			var b int64
			var l string
			var n int64
			var v, vlo, vhi *float64
			if err := rows.Scan(&b, &l, &n, &v, &vlo, &vhi); err != nil {
				t.Fatal(err)
			}
			if out[b] == nil {
				out[b] = map[string]sqlVal{}
			}
			sv := sqlVal{hasV: v != nil}
			if v != nil {
				sv.v = *v
			}
			if vlo != nil {
				sv.lo, sv.hi = *vlo, *vhi
			}
			out[b][l] = sv
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return out
	}
	res := sqlResult{gauge: s.Kind != agg.Tumbling}
	per := query("g")
	if s.GroupBy == "" {
		res.vals = per
		for b, groups := range per {
			if !res.gauge && !groups[agg.Value].hasV {
				delete(per, b) // no value in the bucket: no point
			}
		}
		if res.gauge && len(per) == 0 {
			// An empty window: count, distinct, rate and sum are 0.
			switch s.Fn {
			case "count", "distinct", "rate", "sum":
				res.vals = map[int64]map[string]sqlVal{0: {agg.Value: {hasV: true}}}
			default:
				res.nullOK = true
			}
		} else if res.gauge && !per[0][agg.Value].hasV {
			res.nullOK = true
		}
		return res
	}
	// Top N by value (ties by name) per bucket, the rest as other. Where
	// the state's choice may differ from SQL's (its buckets keep the
	// columns they were shown with; sketch values order close groups
	// otherwise), the test takes the state's choice after checking that it
	// is one: every group it folds into other has at least Top kept groups
	// above it (by sketch error, for percentiles), and it keeps SQL's top
	// N of exact values.
	_, pct := agg.Percentile(s.Fn)
	pct = pct && s.Kind != agg.Current
	var keep []string
	for b, groups := range per {
		type gv struct {
			g string
			v sqlVal
		}
		var list []gv
		for g, v := range groups {
			if v.hasV {
				list = append(list, gv{g, v})
			}
		}
		slices.SortFunc(list, func(x, y gv) int {
			if c := cmp.Compare(y.v.v, x.v.v); c != 0 {
				return c
			}
			return cmp.Compare(x.g, y.g)
		})
		if !pct && s.Kind != agg.Tumbling {
			for i, e := range list {
				if i < s.Top {
					keep = append(keep, fmt.Sprintf("'%d|%s'", b, e.g))
				}
			}
			continue
		}
		kept := chosen[b]
		for i, e := range list {
			_, in := kept[e.g]
			if in {
				keep = append(keep, fmt.Sprintf("'%d|%s'", b, e.g))
			}
			if i < s.Top && !pct && !in {
				t.Errorf("%s %s: bucket %d: group %s is in SQL's top %d, the state folds it into other", s.Fn, s.Window, b, e.g, s.Top)
			}
			if in {
				continue
			}
			above := 0
			for _, k := range list {
				if _, ok := kept[k.g]; !ok {
					continue
				}
				if pct && max(k.v.lo, k.v.hi)*(1+SketchAccuracy) >= min(e.v.lo, e.v.hi)*(1-SketchAccuracy) ||
					!pct && (k.v.v > e.v.v || k.v.v == e.v.v && k.g < e.g) {
					above++
				}
			}
			if above < s.Top {
				t.Errorf("%s %s: bucket %d: the state folds %s (%v) into other with only %d kept groups above it", s.Fn, s.Window, b, e.g, e.v.v, above)
			}
		}
		for g := range kept {
			if v, ok := groups[g]; g != agg.Other && (!ok || !v.hasV) {
				t.Errorf("%s %s: bucket %d: the state keeps group %s, which SQL does not have", s.Fn, s.Window, b, g)
			}
		}
	}
	label := "'other'"
	if len(keep) > 0 {
		label = fmt.Sprintf("CASE WHEN b::text || '|' || g IN (%s) THEN g ELSE 'other' END", strings.Join(keep, ", "))
	}
	res.vals = query(label)
	for b, groups := range res.vals {
		if o, ok := groups[agg.Other]; ok && !o.hasV {
			delete(groups, agg.Other)
		}
		if len(groups) == 0 {
			delete(res.vals, b)
		}
	}
	return res
}

// sqlValue is the SQL of s's function, and of the values at the ranks
// around a percentile's (NULL otherwise).
func sqlValue(s *agg.Spec, secs float64) (val, lo, hi string) {
	f := s.Field
	lo, hi = "NULL::float8", "NULL::float8"
	switch s.Fn {
	case "count":
		if f == "" {
			return "count(*)::float8", lo, hi
		}
		return fmt.Sprintf("count(%s)::float8", f), lo, hi
	case "sum":
		return fmt.Sprintf("sum(%s)", f), lo, hi
	case "avg":
		return fmt.Sprintf("avg(%s)", f), lo, hi
	case "min", "max":
		return fmt.Sprintf("%s(%s)", s.Fn, f), lo, hi
	case "last":
		return fmt.Sprintf("(array_agg(%s ORDER BY ts_ms DESC, seq DESC) FILTER (WHERE %s IS NOT NULL))[1]", f, f), lo, hi
	case "rate":
		if f == "" {
			return fmt.Sprintf("count(*)::float8 / %g", secs), lo, hi
		}
		return fmt.Sprintf("sum(%s) / %g", f, secs), lo, hi
	case "distinct":
		return fmt.Sprintf("count(DISTINCT %s)::float8", f), lo, hi
	}
	q, _ := agg.Percentile(s.Fn)
	sorted := fmt.Sprintf("(array_agg(%s ORDER BY %s) FILTER (WHERE %s IS NOT NULL))", f, f, f)
	return fmt.Sprintf("percentile_cont(%g) WITHIN GROUP (ORDER BY %s)", q, f),
		fmt.Sprintf("%s[floor(%g * (count(%s) - 1))::int + 1]", sorted, q, f),
		fmt.Sprintf("%s[ceil(%g * (count(%s) - 1))::int + 1]", sorted, q, f)
}

// compareModel compares a page's picture with SQL's and returns in how many
// buckets the page keeps a stale other (emitted: see below).
func compareModel(t *testing.T, name string, s *agg.Spec, m *model, want sqlResult, emitted bool) int {
	t.Helper()
	got := map[int64]map[string]float64{}
	stale := 0
	switch {
	case !want.gauge:
		// A bucket keeps its columns (a page keeps those an upsert does not
		// name), so once its other empties (its groups all climbed into the
		// top), other is 0 where that counts, and where it has no value
		// (avg, min, max, last, percentiles) the page keeps the last one:
		// a known limit of upserts, counted, checked exact by Full.
		for b, cols := range m.series {
			got[b] = maps.Clone(cols)
			if _, ok := want.vals[b][agg.Other]; ok {
				continue
			}
			if v, ok := cols[agg.Other]; ok {
				switch {
				case v == 0 && (s.Fn == "count" || s.Fn == "sum" || s.Fn == "rate" || s.Fn == "distinct"):
					delete(got[b], agg.Other)
				case emitted && s.Fn != "count" && s.Fn != "sum" && s.Fn != "rate" && s.Fn != "distinct":
					delete(got[b], agg.Other)
					stale++
				}
			}
		}
	case s.GroupBy == "":
		if want.nullOK {
			return 0 // no value now: the page keeps the last one it had
		}
		if m.has {
			got[0] = map[string]float64{agg.Value: m.value}
		}
	default:
		if len(m.groups) > 0 {
			got[0] = m.groups
		}
	}
	if len(got) != len(want.vals) {
		t.Errorf("%s: got %d buckets, SQL %d: got %v, SQL %v", name, len(got), len(want.vals), got, want.vals)
		return stale
	}
	for b, groups := range want.vals {
		g := got[b]
		if len(g) != len(groups) {
			t.Errorf("%s: bucket %d: got groups %v, SQL %v", name, b, g, groups)
			continue
		}
		for label, w := range groups {
			v, ok := g[label]
			if !ok {
				t.Errorf("%s: bucket %d: no %s, SQL says %v", name, b, label, w.v)
				continue
			}
			if !close(s, v, w) {
				t.Errorf("%s: bucket %d group %s: got %v, SQL %v (ranks %v–%v)", name, b, label, v, w.v, w.lo, w.hi)
			}
		}
	}
	return stale
}

func close(s *agg.Spec, got float64, want sqlVal) bool {
	if _, pct := agg.Percentile(s.Fn); pct && s.Kind != agg.Current {
		// DDSketch: within 1% of a value whose rank is the quantile's.
		lo, hi := min(want.lo, want.hi), max(want.lo, want.hi)
		return got >= lo-SketchAccuracy*math.Abs(lo)-1e-9 && got <= hi+SketchAccuracy*math.Abs(hi)+1e-9
	}
	return math.Abs(got-want.v) <= 1e-9*math.Max(1, math.Abs(want.v))+1e-6
}

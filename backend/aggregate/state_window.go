package aggregate

import (
	"cmp"
	"slices"
	"strconv"
	"time"
	"unsafe"

	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/wire"
)

// OpField is the pseudo-field a filter reads a row's operation from:
// insert, update or upsert ("_op in (insert, update)"). A filter that names
// it makes time windows observe updates too.
const OpField = "_op"

// Null is the group of a row without the group_by field.
const Null = "null"

// bucket is one tumbling bucket, sliding sub-bucket or calendar period.
type bucket struct {
	idx    int64
	used   bool
	dirty  bool
	all    cell             // without group_by
	groups map[string]*cell // with group_by: at most MaxGroups
	other  cell             // groups first seen past MaxGroups
	// shown are the groups a tumbling bucket was emitted with as columns:
	// they stay its columns, out of other, even when they fall out of the
	// top N, because a page keeps the columns an upsert does not name.
	shown map[string]struct{}
	// spare are the cells of the groups of the bucket this slot held
	// before, emptied: a new bucket (every second for a
	// "1s" or "last 1m" window) reuses their sets and sketches instead of
	// growing new ones.
	spare []*cell
}

func (b *bucket) reset(idx int64) {
	g, sh, sp := b.groups, b.shown, b.spare
	for _, c := range g {
		c.recycle()
		sp = append(sp, c)
	}
	clear(g)
	clear(sh)
	*b = bucket{idx: idx, used: true, groups: g, shown: sh, spare: sp}
}

// cellFor is group g's cell (with group_by; without it, &b.all).
func (b *bucket) cellFor(g string) *cell {
	if c, ok := b.groups[g]; ok {
		return c
	}
	if b.groups == nil {
		b.groups = make(map[string]*cell)
	}
	if len(b.groups) >= MaxGroups {
		return &b.other
	}
	var c *cell
	if n := len(b.spare); n > 0 {
		c, b.spare = b.spare[n-1], b.spare[:n-1]
	} else {
		c = &cell{}
	}
	b.groups[g] = c
	return c
}

func (b *bucket) size() int {
	if !b.used {
		return 0
	}
	// What the bucket points to: its cells' sets and sketches, and per
	// group a map entry (about 48 bytes with Go's overhead) and a cell.
	n := b.all.size() + b.other.size() - 2*int(unsafe.Sizeof(cell{}))
	for k, c := range b.groups {
		n += len(k) + 48 + c.size()
	}
	for _, c := range b.spare {
		n += 8 + c.size()
	}
	return n + len(b.shown)*48
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func (s *State) group(fields map[string]any, rf *rowFields) string {
	if s.spec.GroupBy == "" {
		return ""
	}
	v, ok := rf.get(fields, s.spec.GroupBy)
	if !ok || v == nil {
		return Null
	}
	return text(v)
}

func (s *State) nullGroup() string {
	if s.spec.GroupBy == "" {
		return ""
	}
	return Null
}

// slot is the ring's place for bucket idx.
func (s *State) slot(idx int64) *bucket {
	n := int64(len(s.ring))
	return &s.ring[(idx%n+n)%n]
}

// advance moves the newest bucket (or sub-bucket) to idx if it is newer.
func (s *State) advance(idx int64) {
	if !s.started {
		s.head, s.started = idx, true
		return
	}
	if idx > s.head {
		if s.win != nil { // the steps leaving the window leave its values
			n := int64(len(s.ring))
			for i := s.head - n + 1; i <= min(s.head, idx-n); i++ {
				if b := s.slot(i); b.used && b.idx == i {
					s.winEvict(b)
				}
			}
		}
		s.head = idx
		s.gaugeChanged = true // a sliding window lost its oldest step
	}
}

// winAdd counts a value newly in a step of a sliding distinct's group g.
func (s *State) winAdd(g, v string) {
	m := s.win[g]
	if m == nil {
		m = make(map[string]int32)
		s.win[g] = m
	}
	m[v]++
}

// winEvict takes a step's values out of a sliding distinct's window.
func (s *State) winEvict(b *bucket) {
	s.winTake("", &b.all)
	s.winTake(otherGroup, &b.other)
	for g, c := range b.groups {
		s.winTake(g, c)
	}
}

func (s *State) winTake(g string, c *cell) {
	m := s.win[g]
	if m == nil {
		return
	}
	for v := range c.set {
		if m[v]--; m[v] <= 0 {
			delete(m, v)
		}
	}
	if len(m) == 0 {
		delete(s.win, g)
	}
}

// place adds o, dated t, to group g of its bucket or period.
func (s *State) place(t int64, g string, o obs) {
	if s.now != 0 && t > s.now+MaxAhead.Milliseconds() {
		s.dropped++
		return
	}
	o.t = t
	grouped := s.spec.GroupBy != ""
	switch s.spec.Kind {
	case agg.Tumbling, agg.Sliding:
		idx := floorDiv(t, s.widthMs)
		s.advance(idx)
		if idx <= s.head-int64(len(s.ring)) {
			s.dropped++
			return
		}
		if idx < s.head {
			s.late++
			s.closed.valid = false // a step before the newest changed
		}
		b := s.slot(idx)
		if !b.used || b.idx != idx {
			b.reset(idx)
		}
		c := &b.all
		if grouped {
			c = b.cellFor(g)
		}
		if s.fn == fnDistinct && c.set == nil {
			c.set = make(map[string]struct{}, s.distinctHint(idx, g))
		}
		c.add(s, o)
		if !b.dirty && s.spec.Kind == agg.Tumbling {
			s.dirtyIdx = append(s.dirtyIdx, idx)
		}
		b.dirty = true
		if s.win != nil && s.added {
			s.added = false
			if c == &b.other {
				g = otherGroup
			}
			s.winAdd(g, o.str)
		}
	case agg.Calendar:
		if t < s.pStart || t >= s.pEnd {
			if t < s.pStart {
				s.dropped++
				return
			}
			s.newPeriod(t)
		}
		c := &s.period.all
		if grouped {
			c = s.period.cellFor(g)
		}
		c.add(s, o)
	}
	s.gaugeChanged = true
}

// distinctHint is how many values the distinct set of a new cell of group
// g in bucket idx is made for: as many as the bucket before held for g. A
// set grown from empty by doubling rehashes its values as it grows: 0.10 s
// of State.add's 1.16 s in BenchmarkEngineCold_ (every second begins a "1s"
// bucket, and for minutes a new one, before the ring's slots are reused;
// bench/results/2026-12-06-aggregate-cpu.md).
func (s *State) distinctHint(idx int64, g string) int {
	p := s.slot(idx - 1)
	if !p.used || p.idx != idx-1 {
		return 0
	}
	c := &p.all
	if s.spec.GroupBy != "" {
		if c = p.groups[g]; c == nil {
			return 0
		}
	}
	return len(c.set)
}

// mergeStep merges sliding step i, if the ring holds it, into all, groups
// and other.
func (s *State) mergeStep(i int64, all *cell, groups map[string]*cell, other *cell) {
	b := s.slot(i)
	if !b.used || b.idx != i {
		return
	}
	all.merge(&b.all)
	other.merge(&b.other)
	for g, c := range b.groups {
		acc := groups[g]
		if acc == nil {
			acc = &cell{}
			groups[g] = acc
		}
		acc.merge(c)
	}
}

// newPeriod starts the calendar period (day or hour in the spec's zone)
// that holds t, empty.
func (s *State) newPeriod(t int64) {
	loc := s.spec.Loc
	if loc == nil {
		loc = time.UTC
	}
	tm := time.UnixMilli(t).In(loc)
	if s.spec.Unit == "hour" {
		// By the zone's offset at t, not time.Truncate (UTC hours): a zone
		// half an hour off UTC has its hours half past.
		_, off := tm.Zone()
		hour := int64(time.Hour / time.Millisecond)
		s.pStart = t - ((t+int64(off)*1000)%hour+hour)%hour
		s.pEnd = s.pStart + hour
	} else {
		y, m, d := tm.Date()
		s.pStart = time.Date(y, m, d, 0, 0, 0, 0, loc).UnixMilli()
		s.pEnd = time.Date(y, m, d+1, 0, 0, 0, 0, loc).UnixMilli()
	}
	s.period.reset(0)
	s.gaugeChanged = true
}

func (s *State) emit(now time.Time, full bool) []wire.Event {
	nowMs := now.UnixMilli()
	if nowMs > s.now {
		s.now = nowMs
	}
	switch s.spec.Kind {
	case agg.Tumbling:
		return s.emitBuckets(full)
	case agg.Sliding:
		s.advance(floorDiv(nowMs, s.widthMs))
		if !s.gaugeChanged && !full {
			return nil
		}
		var all, other cell
		groups := map[string]*cell{}
		if s.win != nil {
			// distinct: the window's values counted as steps come and go,
			// not a union of 60 sets at every emit (1 ms at 3,000 values).
			all.dv, other.dv = s.win[""], s.win[otherGroup]
			other.n = int64(len(other.dv))
			for g, m := range s.win {
				if g != "" && g != otherGroup {
					groups[g] = &cell{n: int64(len(m)), dv: m}
				}
			}
			return s.emitGauge(&all, groups, &other, s.spec.Width.Seconds(), full)
		}
		// The steps before the newest, merged once while the window stays
		// (four emits a step at 250 ms and 1 s steps), then a copy of them
		// with the newest merged last: the same merges in the same order
		// as merging the 60 steps at every emit, so the same values.
		cl := &s.closed
		if !cl.valid || cl.head != s.head {
			cl.all, cl.other = cell{}, cell{}
			if cl.groups == nil {
				cl.groups = map[string]*cell{}
			}
			clear(cl.groups)
			for i := s.head - int64(len(s.ring)) + 1; i < s.head; i++ {
				s.mergeStep(i, &cl.all, cl.groups, &cl.other)
			}
			cl.valid, cl.head = true, s.head
		}
		all, other = cl.all.clone(), cl.other.clone()
		for g, c := range cl.groups {
			acc := c.clone()
			groups[g] = &acc
		}
		s.mergeStep(s.head, &all, groups, &other)
		return s.emitGauge(&all, groups, &other, s.spec.Width.Seconds(), full)
	case agg.Calendar:
		if nowMs >= s.pEnd { // or no period yet: now's
			s.newPeriod(nowMs)
		}
		if s.fn == fnRate {
			s.gaugeChanged = true // a rate since the period began falls as time passes
		}
		if !s.gaugeChanged && !full {
			return nil
		}
		secs := float64(max(s.newest, s.now)-s.pStart) / 1000
		return s.emitGauge(&s.period.all, s.period.groups, &s.period.other, max(secs, 1), full)
	case agg.Current:
		return s.cur.emit(s, full)
	}
	return nil
}

// emitBuckets returns the changed (or, full, all) tumbling buckets.
func (s *State) emitBuckets(full bool) []wire.Event {
	if !s.started {
		return nil
	}
	secs := s.spec.Width.Seconds()
	var out []wire.Event
	var one *wire.Points // without group_by: every bucket in one event
	n := int64(len(s.ring))
	// The buckets to look at, oldest first: every one kept for a full
	// picture or after Restore, else only those dirtied since the last
	// emit. Scanning the 360 kept at every emit (four a second) read a
	// cache line of each, cold: 2.8 last-level cache misses per source
	// event, 9% of a beat's fold and emit (BenchmarkFoldStates under
	// cachegrind, bench/results/2026-12-06-aggregate-cpu.md).
	idxs := s.dirtyIdx
	if full || s.scanAll {
		idxs = idxs[:0]
		for i := s.head - n + 1; i <= s.head; i++ {
			idxs = append(idxs, i)
		}
	} else {
		slices.Sort(idxs)
		idxs = slices.Compact(idxs)
	}
	s.dirtyIdx, s.scanAll = idxs[:0], false
	for _, i := range idxs {
		if i <= s.head-n || i > s.head {
			continue // out of the ring's window, as the scan would have it
		}
		b := s.slot(i)
		if !b.used || b.idx != i || !(b.dirty || full) {
			continue
		}
		b.dirty = false
		ts := i * s.widthMs
		if s.spec.GroupBy == "" {
			v, ok := b.all.value(s, secs)
			if !ok {
				continue
			}
			if one == nil {
				one = &wire.Points{Cols: []wire.Column{{Name: agg.Value}}, Upsert: true}
			}
			one.TS = append(one.TS, ts)
			one.Cols[0].Vals = append(one.Cols[0].Vals, v)
			continue
		}
		ranked := s.rank(b.groups, &b.other, b.shown, secs)
		if len(ranked) == 0 {
			continue
		}
		if b.shown == nil {
			b.shown = make(map[string]struct{}, len(ranked))
		}
		for _, r := range ranked {
			b.shown[r.name] = struct{}{}
		}
		p := &wire.Points{TS: []int64{ts}, Cols: make([]wire.Column, len(ranked)), Upsert: true}
		for j, r := range ranked {
			p.Cols[j] = wire.Column{Name: r.name, Vals: []float64{r.v}}
		}
		out = append(out, wire.Event{Time: s.newest, Points: p})
	}
	if one != nil {
		out = append(out, wire.Event{Time: s.newest, Points: one})
	}
	return out
}

type ranked struct {
	name string
	v    float64
}

// rank returns the Top groups by value, largest first (ties by name), and
// the groups in keep whatever their rank, then "other" for the rest folded
// together (and the groups past MaxGroups), when it has a value (or was
// kept: an empty other of count, sum, rate or distinct is 0).
func (s *State) rank(groups map[string]*cell, other *cell, keep map[string]struct{}, secs float64) []ranked {
	type gv struct {
		ranked
		c *cell
	}
	list := make([]gv, 0, len(groups))
	var rest []*cell
	for g, c := range groups {
		v, ok := c.value(s, secs)
		if !ok || g == agg.Other {
			rest = append(rest, c)
			continue
		}
		list = append(list, gv{ranked{g, v}, c})
	}
	slices.SortFunc(list, func(a, b gv) int {
		if c := cmp.Compare(b.v, a.v); c != 0 {
			return c
		}
		return cmp.Compare(a.name, b.name)
	})
	out := make([]ranked, 0, min(len(list), s.spec.Top)+1)
	for i, e := range list {
		_, kept := keep[e.name]
		if i < s.spec.Top || kept {
			out = append(out, e.ranked)
		} else {
			rest = append(rest, e.c)
		}
	}
	if !other.empty() {
		rest = append(rest, other)
	}
	// other shown before and now empty (its groups climbed into the top):
	// 0 for what counts, so that the page does not keep what it was.
	if _, shown := keep[agg.Other]; len(rest) > 0 || shown {
		var acc cell
		for _, c := range rest {
			acc.merge(c)
		}
		if v, ok := acc.value(s, secs); ok {
			out = append(out, ranked{agg.Other, v})
		}
	}
	return out
}

// emitGauge returns a gauge window's changes (or, full, all of it).
func (s *State) emitGauge(all *cell, groups map[string]*cell, other *cell, secs float64, full bool) []wire.Event {
	s.gaugeChanged = false
	if s.spec.GroupBy == "" {
		v, ok := all.value(s, secs)
		if !ok || (!full && s.emittedDefined && s.emitted[agg.Value] == v) {
			return nil
		}
		s.emitted[agg.Value], s.emittedDefined = v, true
		return []wire.Event{{Time: s.newest, Values: map[string]float64{agg.Value: v}}}
	}
	return s.diffGroups(s.rank(groups, other, nil, secs), full)
}

// diffGroups turns the groups now into row events: an upsert per group new
// or changed (full: every group), a delete per group gone.
func (s *State) diffGroups(now []ranked, full bool) []wire.Event {
	var out []wire.Event
	seen := make(map[string]bool, len(now))
	for _, r := range now {
		seen[r.name] = true
		if old, ok := s.emitted[r.name]; ok && old == r.v && !full {
			continue
		}
		s.emitted[r.name] = r.v
		out = append(out, wire.Event{Time: s.newest, Row: &wire.Row{Key: r.name, Fields: map[string]any{"key": r.name, agg.Value: r.v}}})
	}
	var gone []string
	for g := range s.emitted {
		if !seen[g] {
			gone = append(gone, g)
		}
	}
	slices.Sort(gone)
	for _, g := range gone {
		delete(s.emitted, g)
		out = append(out, wire.Event{Time: s.newest, Row: &wire.Row{Key: g, Op: wire.RowDelete}})
	}
	return out
}

// cond is a filter condition with its values read as numbers once.
type cond struct {
	agg.Cond
	nums  []float64
	isNum []bool
}

func newCond(c agg.Cond) cond {
	out := cond{Cond: c}
	for _, v := range c.Vals {
		f, err := strconv.ParseFloat(v, 64)
		out.nums = append(out.nums, f)
		out.isNum = append(out.isNum, err == nil)
	}
	return out
}

// match reports whether a row passes the filter. A row without a field
// (or with null) fails every condition on it, != too, as in SQL.
func (s *State) match(r *wire.Row, rf *rowFields) bool {
	for i := range s.cond {
		if !s.cond[i].match(r, rf) {
			return false
		}
	}
	return true
}

func (c *cond) match(r *wire.Row, rf *rowFields) bool {
	var v any
	if c.Field == OpField {
		op := string(r.Op)
		if op == "" {
			op = "upsert"
		}
		v = op
	} else {
		var ok bool
		if v, ok = rf.get(r.Fields, c.Field); !ok || v == nil {
			return false
		}
	}
	switch c.Op {
	case "=", "in":
		return c.eq(v)
	case "!=":
		return !c.eq(v)
	}
	x, ok := number(v)
	if !ok {
		return false
	}
	switch c.Op {
	case ">":
		return x > c.Num
	case ">=":
		return x >= c.Num
	case "<":
		return x < c.Num
	case "<=":
		return x <= c.Num
	}
	return false
}

// eq: equal as numbers when both are, else as text.
func (c *cond) eq(v any) bool {
	x, isNum := number(v)
	var str string
	have := false
	for i, want := range c.Vals {
		if isNum && c.isNum[i] {
			if x == c.nums[i] {
				return true
			}
			continue
		}
		if !have {
			str, have = text(v), true
		}
		if str == want {
			return true
		}
	}
	return false
}

package aggregate

import (
	"cmp"
	"math"
	"slices"

	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/wire"
)

// otherGroup is where a "current" window puts rows of groups first seen
// past MaxGroups; rank folds it into "other".
const otherGroup = "\x00other"

// current is a "current" window: every kept row's projection (its group
// and the value it brings) by key, and per group what the function needs,
// so that an update moves a row between groups and a delete removes it.
// min, max and percentiles are computed at Emit from the kept values of
// the groups that changed: exact, whatever was deleted.
type current struct {
	// rows point to their projections, updated in place: a row's update
	// is one lookup of its key, not a lookup and an assignment.
	rows    map[string]*proj
	groups  map[string]*curGroup
	changed bool
}

type proj struct {
	g           *curGroup // its group: it lives as long as a row is in it
	num         float64
	has, hasNum bool
	str         string
}

type curGroup struct {
	// name is the group's key in groups: a row's group is compared with it
	// (memory every row of the group shares, in the cache) rather than with
	// a copy kept per row (from the row it came with, wherever that was).
	name      string
	n, nh, nv int64 // rows; with the field; with a number in it
	sum       float64
	vals      map[string]float64 // min, max, percentiles: number by key
	dv        map[string]int     // distinct: rows by value
}

func newCurrent() *current {
	return &current{rows: map[string]*proj{}, groups: map[string]*curGroup{}}
}

func (c *current) apply(s *State, r *wire.Row, rf *rowFields) {
	p := c.rows[r.Key]
	had := p != nil
	if r.Op == wire.RowDelete || !s.match(r, rf) {
		if had {
			c.remove(s, r.Key, p)
			delete(c.rows, r.Key)
			c.changed = true
		}
		return
	}
	if !had && len(c.rows) >= MaxCurrentRows {
		s.dropped++
		return
	}
	o, _ := s.rowObs(r.Fields, rf)
	group := s.group(r.Fields, rf)
	np := proj{num: o.num, has: o.has, hasNum: o.hasNum, str: o.str}
	c.changed = true
	if had && p.g.name == group {
		c.update(s, r.Key, p, np) // the common update: the row stays in its group
		return
	}
	if had {
		c.remove(s, r.Key, p)
	}
	g := c.groups[group]
	if g == nil && len(c.groups) >= MaxGroups {
		group, g = otherGroup, c.groups[otherGroup]
	}
	if g == nil {
		g = &curGroup{name: group}
		c.groups[group] = g
	}
	if !had {
		p = &proj{}
		c.rows[r.Key] = p
	}
	np.g = g
	*p = np
	c.add(s, r.Key, p)
}

// update is remove(p) and then add(np) for a row that stays in its group,
// with the same arithmetic in the same order, but each map touched once at
// most: a value that stays is not taken out and put back.
func (c *current) update(s *State, key string, p *proj, np proj) {
	g := p.g
	same := p.has && np.has && p.str == np.str
	g.n--
	if p.has {
		g.nh--
		if g.dv != nil && !same {
			if g.dv[p.str]--; g.dv[p.str] <= 0 {
				delete(g.dv, p.str)
			}
		}
	}
	if p.hasNum {
		g.nv--
		g.sum -= p.num
		if !np.hasNum {
			delete(g.vals, key)
		}
	}
	if g.nv == 0 {
		g.sum = 0 // as remove does (or a group emptied and made again)
	}
	np.g = g
	*p = np
	g.n++
	if np.has {
		g.nh++
		if s.fn == fnDistinct && !same {
			if g.dv == nil {
				g.dv = map[string]int{}
			}
			g.dv[np.str]++
		}
	}
	if np.hasNum {
		g.nv++
		g.sum += np.num
		if s.fn == fnMin || s.fn == fnMax || s.fn == fnPct {
			if g.vals == nil {
				g.vals = map[string]float64{}
			}
			g.vals[key] = np.num
		}
	}
}

func (c *current) add(s *State, key string, p *proj) {
	g := p.g
	g.n++
	if p.has {
		g.nh++
		if s.fn == fnDistinct {
			if g.dv == nil {
				g.dv = map[string]int{}
			}
			g.dv[p.str]++
		}
	}
	if p.hasNum {
		g.nv++
		g.sum += p.num
		if s.fn == fnMin || s.fn == fnMax || s.fn == fnPct {
			if g.vals == nil {
				g.vals = map[string]float64{}
			}
			g.vals[key] = p.num
		}
	}
}

func (c *current) remove(s *State, key string, p *proj) {
	g := p.g
	g.n--
	if p.has {
		g.nh--
		if g.dv != nil {
			if g.dv[p.str]--; g.dv[p.str] <= 0 {
				delete(g.dv, p.str)
			}
		}
	}
	if p.hasNum {
		g.nv--
		g.sum -= p.num
		delete(g.vals, key)
	}
	if g.n == 0 {
		delete(c.groups, g.name)
	} else if g.nv == 0 {
		g.sum = 0 // no drift left behind by adding and taking away
	}
}

// value is the aggregate over the rows of gs together.
func (c *current) value(s *State, gs []*curGroup) (float64, bool) {
	var n, nh, nv int64
	var sum float64
	for _, g := range gs {
		n, nh, nv, sum = n+g.n, nh+g.nh, nv+g.nv, sum+g.sum
	}
	switch s.fn {
	case fnCount:
		if s.spec.Field != "" {
			return float64(nh), true
		}
		return float64(n), true
	case fnDistinct:
		if len(gs) == 1 {
			return float64(len(gs[0].dv)), true
		}
		seen := map[string]bool{}
		for _, g := range gs {
			for v := range g.dv {
				seen[v] = true
			}
		}
		return float64(len(seen)), true
	}
	if nv == 0 {
		return 0, s.fn == fnSum && n == 0
	}
	switch s.fn {
	case fnSum:
		return sum, true
	case fnAvg:
		return sum / float64(nv), true
	}
	vals := make([]float64, 0, nv)
	for _, g := range gs {
		for _, v := range g.vals {
			vals = append(vals, v)
		}
	}
	switch s.fn {
	case fnMin:
		return slices.Min(vals), true
	case fnMax:
		return slices.Max(vals), true
	case fnPct:
		return percentileCont(vals, s.q), true
	}
	return 0, false
}

// percentileCont is PostgreSQL's percentile_cont: linear between the two
// values around rank q·(n-1). It reorders vals: a selection, not a sort
// (O(n): 5,000 rows a group at every emit).
func percentileCont(vals []float64, q float64) float64 {
	r := q * float64(len(vals)-1)
	lo := math.Floor(r)
	i := int(lo)
	nth(vals, i)
	if i+1 >= len(vals) || r == lo {
		return vals[i]
	}
	next := slices.Min(vals[i+1:]) // all at least vals[i] after nth
	return vals[i] + (r-lo)*(next-vals[i])
}

// nth puts the k-th smallest of a at a[k], the smaller before it and the
// larger after it (Hoare's selection, median-of-three pivots).
func nth(a []float64, k int) {
	lo, hi := 0, len(a)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		if a[mid] < a[lo] {
			a[mid], a[lo] = a[lo], a[mid]
		}
		if a[hi] < a[lo] {
			a[hi], a[lo] = a[lo], a[hi]
		}
		if a[hi] < a[mid] {
			a[hi], a[mid] = a[mid], a[hi]
		}
		p := a[mid]
		i, j := lo, hi
		for i <= j {
			for a[i] < p {
				i++
			}
			for a[j] > p {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return
		}
	}
}

func (c *current) emit(s *State, full bool) []wire.Event {
	if !c.changed && !full {
		return nil
	}
	c.changed = false
	if s.spec.GroupBy == "" {
		v, ok := c.value(s, slices.Collect(mapValues(c.groups)))
		if !ok || (!full && s.emittedDefined && s.emitted[agg.Value] == v) {
			return nil
		}
		s.emitted[agg.Value], s.emittedDefined = v, true
		return []wire.Event{{Time: s.newest, Values: map[string]float64{agg.Value: v}}}
	}
	type gv struct {
		ranked
		g *curGroup
	}
	list := make([]gv, 0, len(c.groups))
	var rest []*curGroup
	for name, g := range c.groups {
		v, ok := c.value(s, []*curGroup{g})
		if !ok || name == agg.Other || name == otherGroup {
			rest = append(rest, g)
			continue
		}
		list = append(list, gv{ranked{name, v}, g})
	}
	slices.SortFunc(list, func(a, b gv) int {
		if d := cmp.Compare(b.v, a.v); d != 0 {
			return d
		}
		return cmp.Compare(a.name, b.name)
	})
	now := make([]ranked, 0, min(len(list), s.spec.Top)+1)
	for i, e := range list {
		if i < s.spec.Top {
			now = append(now, e.ranked)
		} else {
			rest = append(rest, e.g)
		}
	}
	if len(rest) > 0 {
		if v, ok := c.value(s, rest); ok {
			now = append(now, ranked{agg.Other, v})
		}
	}
	return s.diffGroups(now, full)
}

func mapValues[K comparable, V any](m map[K]V) func(func(V) bool) {
	return func(yield func(V) bool) {
		for _, v := range m {
			if !yield(v) {
				return
			}
		}
	}
}

func (c *current) size() int {
	n := len(c.rows) * 96
	for k, g := range c.groups {
		n += len(k) + 64 + len(g.vals)*48 + len(g.dv)*40
	}
	return n
}

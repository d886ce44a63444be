package aggregate

import (
	"encoding/json"
	"math"
	"strconv"
	"unsafe"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/store"
)

type fnKind uint8

const (
	fnCount fnKind = iota
	fnSum
	fnAvg
	fnMin
	fnMax
	fnLast
	fnRate
	fnDistinct
	fnPct
)

func fnOf(fn string) fnKind {
	switch fn {
	case "sum":
		return fnSum
	case "avg":
		return fnAvg
	case "min":
		return fnMin
	case "max":
		return fnMax
	case "last":
		return fnLast
	case "rate":
		return fnRate
	case "distinct":
		return fnDistinct
	case "p50", "p90", "p95", "p99":
		return fnPct
	}
	return fnCount
}

// obs is what one row, gauge update or sample brings to a cell.
type obs struct {
	num    float64
	hasNum bool   // the field is a number
	has    bool   // the field is there and not null (count FIELD, distinct)
	str    string // distinct: the value as text
	t      int64  // last: when
	seq    uint64 // last: arrival, to break ties of t
}

// cell is one aggregate's accumulator for one group in one bucket,
// sub-bucket or period. Only what the function reads is kept.
type cell struct {
	n, nv    int64 // observations; numbers (or, for count FIELD, values present)
	sum      float64
	min, max float64
	lastT    int64
	lastSeq  uint64
	last     float64
	set      map[string]struct{}
	sk       *ddsketch.DDSketch
	// dv is a sliding distinct's window (State.win) standing for set.
	dv map[string]int32
}

// recycle empties c for another group or bucket, keeping its set's and
// sketch's memory: an emptied sketch counts as a new one does.
func (c *cell) recycle() {
	set, sk := c.set, c.sk
	clear(set)
	if sk != nil {
		sk.Clear()
	}
	*c = cell{set: set, sk: sk}
}

func newSketch() *ddsketch.DDSketch {
	sk, err := ddsketch.LogCollapsingLowestDenseDDSketch(SketchAccuracy, SketchBins)
	if err != nil {
		panic(err) // constant arguments
	}
	return sk
}

func (c *cell) add(s *State, o obs) {
	c.n++
	switch s.fn {
	case fnCount:
		if o.has {
			c.nv++
		}
		return
	case fnDistinct:
		if !o.has {
			return
		}
		if c.set == nil {
			c.set = make(map[string]struct{})
		}
		if n := len(c.set); n < MaxDistinct {
			c.set[o.str] = struct{}{} // one hash, not a look-up and then an insert
			s.added = len(c.set) > n
			return
		}
		if _, ok := c.set[o.str]; !ok {
			s.capped = true
		}
		return
	}
	if !o.hasNum {
		return
	}
	x := o.num
	if c.nv == 0 || x < c.min {
		c.min = x
	}
	if c.nv == 0 || x > c.max {
		c.max = x
	}
	c.nv++
	c.sum += x
	if o.t > c.lastT || (o.t == c.lastT && o.seq > c.lastSeq) || c.nv == 1 {
		c.lastT, c.lastSeq, c.last = o.t, o.seq, x
	}
	if s.fn == fnPct {
		if c.sk == nil {
			c.sk = newSketch()
		}
		_ = c.sk.Add(x) // beyond ±1e308 or NaN: not numbers a field holds
	}
}

// merge folds o into c (o is left as it was).
func (c *cell) merge(o *cell) {
	if o.nv > 0 {
		if c.nv == 0 || o.min < c.min {
			c.min = o.min
		}
		if c.nv == 0 || o.max > c.max {
			c.max = o.max
		}
		if c.nv == 0 || o.lastT > c.lastT || (o.lastT == c.lastT && o.lastSeq > c.lastSeq) {
			c.lastT, c.lastSeq, c.last = o.lastT, o.lastSeq, o.last
		}
	}
	c.n += o.n
	c.nv += o.nv
	c.sum += o.sum
	if len(o.set) > 0 {
		if c.set == nil {
			c.set = make(map[string]struct{}, len(o.set))
		}
		for k := range o.set {
			if len(c.set) >= MaxDistinct {
				break // a lower bound, as a cell's own set: and a bounded merge
			}
			c.set[k] = struct{}{}
		}
	}
	if len(o.dv) > 0 {
		if c.set == nil {
			c.set = make(map[string]struct{}, len(o.dv))
		}
		for k := range o.dv {
			if len(c.set) >= MaxDistinct {
				break
			}
			c.set[k] = struct{}{}
		}
	}
	if o.sk != nil && o.nv > 0 { // a recycled cell keeps an empty sketch
		if c.sk == nil {
			c.sk = o.sk.Copy()
		} else {
			_ = c.sk.MergeWith(o.sk) // one mapping for all: never fails
		}
	}
}

func (c *cell) empty() bool { return c.n == 0 }

// clone is a copy of c that shares nothing with it.
func (c *cell) clone() cell {
	o := *c
	if c.set != nil {
		o.set = make(map[string]struct{}, len(c.set))
		for k := range c.set {
			o.set[k] = struct{}{}
		}
	}
	if c.dv != nil {
		o.dv = make(map[string]int32, len(c.dv))
		for k, v := range c.dv {
			o.dv[k] = v
		}
	}
	if c.sk != nil {
		o.sk = c.sk.Copy()
	}
	return o
}

// value is the aggregate of c; false when it has none (SQL's NULL: an avg
// of no numbers). count, distinct, rate and sum of an empty cell are 0: an
// idle window's gauge falls to 0. seconds divides a rate.
func (c *cell) value(s *State, seconds float64) (float64, bool) {
	switch s.fn {
	case fnCount:
		if s.spec.Field != "" {
			return float64(c.nv), true
		}
		return float64(c.n), true
	case fnDistinct:
		if c.dv != nil {
			return float64(len(c.dv)), true
		}
		return float64(len(c.set)), true
	case fnRate:
		if seconds <= 0 {
			return 0, false
		}
		if s.spec.Field != "" {
			return c.sum / seconds, c.nv > 0 || c.n == 0 // as sum
		}
		return float64(c.n) / seconds, true
	}
	if c.nv == 0 {
		// A sum over nothing is 0 (an idle window); over rows without a
		// number, like every other function, it has no value (SQL's NULL).
		return 0, s.fn == fnSum && c.n == 0
	}
	switch s.fn {
	case fnSum:
		return c.sum, true
	case fnAvg:
		return c.sum / float64(c.nv), true
	case fnMin:
		return c.min, true
	case fnMax:
		return c.max, true
	case fnLast:
		return c.last, true
	case fnPct:
		if c.sk == nil {
			return 0, false
		}
		v, err := c.sk.GetValueAtQuantile(s.q)
		return v, err == nil
	}
	return 0, false
}

func (c *cell) size() int {
	n := int(unsafe.Sizeof(*c)) + len(c.set)*40
	if c.sk != nil {
		n += 128 + storeSize(c.sk.GetPositiveValueStore()) + storeSize(c.sk.GetNegativeValueStore())
	}
	return n
}

// storeSize is about the bytes of a sketch's dense store: a float64 a bin
// between its lowest and highest.
func storeSize(st store.Store) int {
	lo, err1 := st.MinIndex()
	hi, err2 := st.MaxIndex()
	if err1 != nil || err2 != nil {
		return 0
	}
	return 8 * (hi - lo + 1)
}

// numObs is what a gauge value or sample brings.
func (s *State) numObs(x float64) obs {
	o := obs{t: s.newest, seq: s.seq, has: true}
	if !math.IsNaN(x) && !math.IsInf(x, 0) {
		o.num, o.hasNum = x, true
	}
	if s.fn == fnDistinct {
		o.str = strconv.FormatFloat(x, 'f', -1, 64)
	}
	return o
}

// rowObs is what a row brings: its Field read as a number (and as text for
// distinct); false when the row brings nothing to the function.
func (s *State) rowObs(fields map[string]any, rf *rowFields) (obs, bool) {
	o := obs{seq: s.seq}
	if s.spec.Field == "" {
		return o, true
	}
	v, ok := rf.get(fields, s.spec.Field)
	if !ok || v == nil {
		return o, true // counted by count(*), not by count(FIELD)
	}
	o.has = true
	if s.fn == fnDistinct {
		o.str = text(v)
	} else {
		o.num, o.hasNum = number(v)
	}
	return o, true
}

// number reads a field as a number: JSON numbers decode as float64 (or
// json.Number), msgpack's as integers of any width, and a numeric string
// ("12.50", what PostgreSQL's numeric becomes in JSON) counts too. Booleans,
// other strings, NaN and infinities are not numbers.
func number(v any) (float64, bool) {
	var x float64
	switch v := v.(type) {
	case float64:
		x = v
	case float32:
		x = float64(v)
	case int:
		x = float64(v)
	case int8:
		x = float64(v)
	case int16:
		x = float64(v)
	case int32:
		x = float64(v)
	case int64:
		x = float64(v)
	case uint:
		x = float64(v)
	case uint8:
		x = float64(v)
	case uint16:
		x = float64(v)
	case uint32:
		x = float64(v)
	case uint64:
		x = float64(v)
	case json.Number:
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return 0, false
		}
		x = f
	case string:
		if !numeric(v) {
			return 0, false // "paid": no ParseFloat, whose error allocates
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, false
		}
		x = f
	default:
		return 0, false
	}
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, false
	}
	return x, true
}

func nan() float64 { return math.NaN() }

// numeric reports whether s may be a finite number: it starts as one does.
func numeric(s string) bool {
	if s == "" {
		return false
	}
	c := s[0]
	return c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.'
}

// text reads a field as text, for groups, distinct and = in filters: a
// number in its shortest form whatever type carried it (3, 3.0 and "3"
// as int64, float64 and json.Number are all "3"), a boolean as true or false.
func text(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case bool:
		if v {
			return "true"
		}
		return "false"
	case nil:
		return "null"
	case json.Number:
		if f, err := strconv.ParseFloat(string(v), 64); err == nil {
			return strconv.FormatFloat(f, 'f', -1, 64)
		}
		return string(v)
	}
	if f, ok := number(v); ok {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "?"
	}
	return string(b)
}

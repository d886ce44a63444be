package wire

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/telltale/telltale/shared/sla"
)

// gen makes frames with random and edge values: lengths on both sides of
// every msgpack header size, integers at every width's limits, NaN and
// infinities, nil against empty.
type gen struct{ rng *rand.Rand }

func (g gen) pick(n int) int { return g.rng.IntN(n) }

func (g gen) len() int {
	if g.pick(40) == 0 {
		return 200 + g.pick(200)
	}
	return [...]int{0, 1, 2, 3, 15, 16, 17}[g.pick(7)]
}

func (g gen) str() string {
	n := [...]int{0, 1, 5, 31, 32, 255, 256}[g.pick(7)]
	if g.pick(500) == 0 { // edgeFrames has more
		n = [...]int{65535, 65536}[g.pick(2)]
	}
	// Mostly a few distinct names, so that maps repeat keys and interning
	// is exercised; sometimes arbitrary bytes, which msgpack strings allow.
	if g.pick(4) == 0 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(g.rng.Uint32())
		}
		return string(b)
	}
	return strings.Repeat(string(rune('a'+g.pick(26))), n)
}

var edgeInts = []int64{0, 1, -1, 31, 32, 127, 128, -32, -33, -128, -129, 255, 256,
	math.MaxInt16, math.MinInt16, math.MaxUint16, math.MaxUint16 + 1, math.MaxInt32, math.MinInt32,
	math.MaxUint32, math.MaxUint32 + 1, math.MaxInt64, math.MinInt64}

func (g gen) int64() int64 {
	if g.pick(2) == 0 {
		return edgeInts[g.pick(len(edgeInts))]
	}
	v := g.rng.Int64() >> g.pick(64)
	if g.pick(2) == 0 {
		v = -v
	}
	return v
}

func (g gen) uint64() uint64 {
	if g.pick(4) == 0 {
		return math.MaxUint64
	}
	if g.pick(2) == 0 {
		return uint64(edgeInts[g.pick(len(edgeInts))])
	}
	return g.rng.Uint64() >> g.pick(64)
}

func (g gen) float64() float64 {
	edge := []float64{0, math.Copysign(0, -1), math.NaN(), math.Inf(1), math.Inf(-1), math.MaxFloat64,
		math.SmallestNonzeroFloat64, 1.5, -2, 1 << 53}
	if g.pick(2) == 0 {
		return edge[g.pick(len(edge))]
	}
	return g.rng.NormFloat64() * math.Pow(10, float64(g.pick(30)-15))
}

func (g gen) int64s() []int64 {
	if g.pick(5) == 0 {
		return nil
	}
	s := make([]int64, g.len())
	for i := range s {
		s[i] = g.int64()
	}
	return s
}

func (g gen) float64s() []float64 {
	if g.pick(5) == 0 {
		return nil
	}
	s := make([]float64, g.len())
	for i := range s {
		s[i] = g.float64()
	}
	return s
}

func (g gen) values() map[string]float64 {
	if g.pick(3) == 0 {
		return nil
	}
	m := make(map[string]float64)
	for range g.len() {
		m[g.str()] = g.float64()
	}
	return m
}

// value returns a row field's value of any type the codec supports.
func (g gen) value(depth int) any {
	n := 15
	if depth >= 4 {
		n = 13 // no more containers
	}
	switch g.pick(n) {
	case 0:
		return nil
	case 1:
		return g.pick(2) == 0
	case 2:
		return int(g.int64())
	case 3:
		return int8(g.int64())
	case 4:
		return int16(g.int64())
	case 5:
		return int32(g.int64())
	case 6:
		return g.int64()
	case 7:
		return [...]any{uint(g.uint64()), uint8(g.uint64()), uint16(g.uint64()), uint32(g.uint64())}[g.pick(4)]
	case 8:
		return g.uint64()
	case 9:
		return float32(g.float64())
	case 10:
		return g.float64()
	case 11:
		return g.str()
	case 12:
		switch g.pick(3) {
		case 0:
			return []byte(nil)
		case 1:
			return []byte{}
		}
		return []byte(g.str())
	case 13:
		if g.pick(5) == 0 {
			return []any(nil)
		}
		s := make([]any, g.len())
		for i := range s {
			s[i] = g.value(depth + 1)
		}
		return s
	}
	return g.fields(depth + 1)
}

func (g gen) fields(depth int) map[string]any {
	if g.pick(5) == 0 {
		return nil
	}
	m := make(map[string]any)
	for range g.len() {
		m[g.str()] = g.value(depth)
	}
	return m
}

func (g gen) row() Row {
	ops := []RowOp{RowUpsert, RowInsert, RowUpdate, RowDelete}
	return Row{Key: g.str(), Op: ops[g.pick(len(ops))], Fields: g.fields(0)}
}

func (g gen) points() Points {
	p := Points{TS: g.int64s(), Upsert: g.pick(3) == 0}
	if g.pick(5) != 0 {
		p.Cols = make([]Column, g.pick(4))
		for i := range p.Cols {
			p.Cols[i] = Column{Name: g.str(), Vals: g.float64s()}
		}
	}
	return p
}

func (g gen) event() Event {
	ev := Event{Stream: g.str(), Epoch: g.uint64(), Seq: g.uint64(), Time: g.int64(), Values: g.values()}
	if g.pick(2) == 0 {
		ev.Created, ev.Stored, ev.Ingested = g.int64(), g.int64(), g.int64()
	}
	if g.pick(2) == 0 {
		r := g.row()
		ev.Row = &r
	}
	if g.pick(2) == 0 {
		p := g.points()
		ev.Points = &p
	}
	return ev
}

func (g gen) cursor() Cursor { return Cursor{Stream: g.str(), Epoch: g.uint64(), Seq: g.uint64()} }

// frames returns one frame of each type.
func (g gen) frames() []Frame {
	hello := Hello{Token: g.str(), Client: g.str()}
	if g.pick(3) != 0 {
		hello.Cursors = make([]Cursor, g.len())
		for i := range hello.Cursors {
			hello.Cursors[i] = g.cursor()
		}
	}
	sub := Sub{Stream: g.str()}
	if g.pick(2) == 0 {
		c := g.cursor()
		sub.From = &c
	}
	st := State{Values: g.values(), Points: g.points(), LastTime: g.int64()}
	if g.pick(3) != 0 {
		st.Rows = make([]Row, g.len()/4)
		for i := range st.Rows {
			st.Rows[i] = g.row()
		}
	}
	batch := Batch{Stream: g.str(), Sent: g.int64()}
	if g.pick(2) == 0 {
		batch.Head = g.uint64()
	}
	if g.pick(5) != 0 {
		batch.Events = make([]Event, g.len()/4)
		for i := range batch.Events {
			batch.Events[i] = g.event()
		}
	}
	return []Frame{
		hello,
		Welcome{Session: g.str(), ServerTime: g.int64(), Limits: Limits{MaxFrameBytes: int(g.int64()), MaxSubs: int(g.int64()), PingIntervalMs: g.int64()}},
		sub,
		Unsub{Stream: g.str()},
		Snapshot{Stream: g.str(), Epoch: g.uint64(), Seq: g.uint64(), State: st, Reason: g.str()},
		batch,
		Resync{Stream: g.str(), Reason: g.str()},
		Error{Code: Code(g.uint64()), Message: g.str(), Stream: g.str()},
		Ping{Time: g.int64()},
		Pong{Time: g.int64()},
		Expiring{At: g.int64()},
		Refresh{Token: g.str()},
		Sync{Client: g.int64()},
		Clock{Client: g.int64(), Server: g.int64()},
		g.report(),
	}
}

// label is a string within a report's caps.
func (g gen) label() string {
	s := g.str()
	return s[:min(len(s), sla.MaxNameBytes)]
}

// report is a report within its caps (sla), which the decoder refuses past
// and the library does not know.
func (g gen) report() Report {
	r := Report{Screen: g.label(), Dashboard: g.label(), From: g.int64(), To: g.int64(), ClockErr: g.int64(), Transport: g.label()}
	if g.pick(5) == 0 {
		return r
	}
	r.Panels = make([]PanelReport, min(g.len(), sla.MaxPanels))
	for i := range r.Panels {
		p := PanelReport{Panel: g.label(), Painted: g.uint64(), FreshMs: g.int64(), StaleMs: g.int64()}
		if g.pick(3) != 0 {
			p.Stale = make([]StalePeriod, min(g.len(), sla.MaxStalePeriods))
			for j := range p.Stale {
				p.Stale[j] = StalePeriod{Start: g.int64(), Ms: g.int64(), Cause: g.label()}
			}
		}
		if g.pick(3) != 0 {
			p.Stages = make([]StageHist, g.pick(len(sla.Stages)+1))
			for j := range p.Stages {
				h := StageHist{Stage: g.label()}
				switch g.pick(5) {
				case 0:
				case 1, 2: // packed: any bytes, within the cap (Unpack reads them later)
					b := []byte(g.str())
					h.First, h.Packed = int32(g.int64()), b[:min(len(b), sla.MaxPackedBytes)]
				default:
					n := min(g.len(), sla.MaxBins)
					h.Index, h.Counts = make([]int32, n), make([]uint32, n)
					for k := range n {
						h.Index[k], h.Counts[k] = int32(g.int64()), uint32(g.uint64())
					}
				}
				p.Stages[j] = h
			}
		}
		r.Panels[i] = p
	}
	return r
}

// maxReport is a report at every cap of package sla: the most panels, stale
// periods, stages and bins, names of the longest length.
func maxReport() Report {
	name := strings.Repeat("n", sla.MaxNameBytes)
	r := Report{Screen: name, Dashboard: name, From: 1, To: 2, ClockErr: 3, Transport: name, Panels: make([]PanelReport, sla.MaxPanels)}
	for i := range r.Panels {
		p := &r.Panels[i]
		p.Panel, p.Painted, p.FreshMs, p.StaleMs = name, math.MaxUint64, math.MaxInt64, math.MinInt64
		p.Stale = make([]StalePeriod, sla.MaxStalePeriods)
		for j := range p.Stale {
			p.Stale[j] = StalePeriod{Start: int64(j), Ms: 1000, Cause: name}
		}
		p.Stages = make([]StageHist, len(sla.Stages))
		for j := range p.Stages {
			h := StageHist{Stage: name, Index: make([]int32, sla.MaxBins), Counts: make([]uint32, sla.MaxBins)}
			for k := range h.Index {
				h.Index[k], h.Counts[k] = sla.MinBin+int32(k), math.MaxUint32
			}
			p.Stages[j] = h
		}
	}
	return r
}

// edgeFrames are frames at the sizes where msgpack changes headers, which
// random ones reach only rarely.
func edgeFrames() []Frame {
	big := make([]int64, 1<<16)
	vals := make([]float64, 1<<16)
	values := make(map[string]float64, 1<<16)
	for i := range big {
		big[i] = int64(i) * 1000
		vals[i] = float64(i) / 3
		values[fmt.Sprint(i)] = float64(i)
	}
	fields := map[string]any{}
	for _, n := range []int{0, 15, 16, 31, 32, 255, 256, 65535, 65536} {
		m := make(map[string]any, n)
		for i := range n {
			m[fmt.Sprint(i)] = i
		}
		fields[fmt.Sprint("s", n)] = strings.Repeat("x", n)
		fields[fmt.Sprint("a", n)] = make([]any, n)
		fields[fmt.Sprint("b", n)] = []byte(strings.Repeat("y", n))
		fields[fmt.Sprint("m", n)] = m
	}
	long := strings.Repeat("s", 1<<16)
	return []Frame{
		Hello{Token: long, Cursors: make([]Cursor, 1<<16)},
		Snapshot{Stream: long, State: State{Values: values, Rows: []Row{{Key: long, Fields: fields}}, Points: Points{TS: big, Cols: []Column{{Name: long, Vals: vals}}}}},
		Batch{Stream: "s", Events: []Event{}},
		Snapshot{},
		Hello{Cursors: []Cursor{}},
		Error{Code: math.MaxUint16, Message: long},
		maxReport(),
		Report{Panels: []PanelReport{}},
	}
}

package sla

import (
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/mapping"
	"github.com/DataDog/sketches-go/ddsketch/store"

	"github.com/telltale/telltale/shared/sla"
	"github.com/telltale/telltale/shared/wire"
)

// Caps on one rollup (a tenant × dashboard × panel × minute), whatever its
// screens report: its size is bounded however many screens or reports
// there are.
const (
	// MaxScreens is how many distinct screens a rollup remembers (to count
	// them); past it, more screens are merged but not counted.
	MaxScreens = 1024
	// MaxStale is how many distinct stale periods (by start and cause) a
	// rollup keeps; past it, new ones are dropped (and counted).
	MaxStale = 64
	// MaxStaleScreens is how many screens a stale period counts.
	MaxStaleScreens = 64
)

// Rollup is one panel's merged reports for one minute of one tenant's
// dashboard: every report whose To falls in the minute.
type Rollup struct {
	Tenant, Dashboard, Panel string
	Minute                   time.Time // UTC, on the minute
	Painted                  uint64
	FreshMs, StaleMs         int64
	// Stages holds a DDSketch per stage (sla.Stages) of the latencies in
	// milliseconds, with sla.RelativeAccuracy's logarithmic mapping.
	Stages map[string]*ddsketch.DDSketch
	Stale  []Stale
	// Screens are the hashes (screenHash) of the screens that reported,
	// sorted, at most MaxScreens.
	Screens []uint64
}

// Stale is one stale period as the screens that saw it reported it, merged
// by its start (to the second) and cause; Ms is the longest any reported.
type Stale struct {
	Start   int64    `json:"start"` // Unix milliseconds, on the second
	Ms      int64    `json:"ms"`
	Cause   string   `json:"cause"`
	Screens []uint64 `json:"screens"` // sorted hashes, at most MaxStaleScreens
}

// slaMapping is the mapping of every sketch: sla.Bin's, so that a page's
// bin index is the sketch's.
var slaMapping = func() mapping.IndexMapping {
	m, err := mapping.NewLogarithmicMapping(sla.RelativeAccuracy)
	if err != nil {
		panic(err) // a constant accuracy in (0, 1): cannot fail
	}
	return m
}()

func newSketch() *ddsketch.DDSketch {
	return ddsketch.NewDDSketchFromStoreProvider(slaMapping, store.DefaultProvider)
}

func newRollup(tenant, dashboard, panel string, minute time.Time) *Rollup {
	return &Rollup{Tenant: tenant, Dashboard: dashboard, Panel: panel, Minute: minute, Stages: map[string]*ddsketch.DDSketch{}}
}

// screenHash names a screen in a rollup by a hash of its id: 8 bytes
// whatever the id, stable across restarts (FNV-1a), and not the id itself.
func screenHash(screen string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(screen))
	return h.Sum64()
}

// addReport merges one checked panel report of one screen into r; it
// returns how many stale periods it dropped at MaxStale.
func (r *Rollup) addReport(screen uint64, p *wire.PanelReport) (dropped int) {
	r.Painted = satAdd(r.Painted, p.Painted)
	r.FreshMs += p.FreshMs
	r.StaleMs += p.StaleMs
	for i := range p.Stages {
		h := &p.Stages[i]
		sk := r.Stages[h.Stage]
		if sk == nil {
			sk = newSketch()
			r.Stages[h.Stage] = sk
		}
		st := sk.GetPositiveValueStore()
		for k, b := range h.Index {
			if c := h.Counts[k]; c > 0 {
				// The bin's index is the sketch's (sla.Bin is the mapping):
				// added by index, it is the same bin exactly.
				st.AddWithCount(int(b), float64(c))
			}
		}
	}
	r.Screens = addHash(r.Screens, screen, MaxScreens)
	for _, s := range p.Stale {
		start := time.Unix(0, s.Start).Truncate(time.Second).UnixMilli()
		if !r.addStale(Stale{Start: start, Ms: s.Ms, Cause: s.Cause, Screens: []uint64{screen}}) {
			dropped++
		}
	}
	return dropped
}

// addStale merges s into r's stale periods; false if it was new and r had
// MaxStale already.
func (r *Rollup) addStale(s Stale) bool {
	for i := range r.Stale {
		o := &r.Stale[i]
		if o.Start == s.Start && o.Cause == s.Cause {
			o.Ms = max(o.Ms, s.Ms)
			for _, h := range s.Screens {
				o.Screens = addHash(o.Screens, h, MaxStaleScreens)
			}
			return true
		}
	}
	if len(r.Stale) >= MaxStale {
		return false
	}
	r.Stale = append(r.Stale, Stale{Start: s.Start, Ms: s.Ms, Cause: s.Cause, Screens: slices.Clone(s.Screens)})
	return true
}

// merge adds o into r (o is not changed); it returns how many stale periods
// it dropped at MaxStale.
func (r *Rollup) merge(o *Rollup) (dropped int) {
	r.Painted = satAdd(r.Painted, o.Painted)
	r.FreshMs += o.FreshMs
	r.StaleMs += o.StaleMs
	for stage, sk := range o.Stages {
		if r.Stages[stage] == nil {
			r.Stages[stage] = sk.Copy()
			continue
		}
		if err := r.Stages[stage].MergeWith(sk); err != nil {
			panic(err) // one mapping for every sketch: cannot fail
		}
	}
	for _, h := range o.Screens {
		r.Screens = addHash(r.Screens, h, MaxScreens)
	}
	for _, s := range o.Stale {
		if !r.addStale(s) {
			dropped++
		}
	}
	return dropped
}

// clone is a deep copy of r.
func (r *Rollup) clone() *Rollup {
	c := newRollup(r.Tenant, r.Dashboard, r.Panel, r.Minute)
	c.merge(r)
	return c
}

// addHash inserts h into the sorted set hs unless it holds max already.
func addHash(hs []uint64, h uint64, max int) []uint64 {
	i, found := slices.BinarySearch(hs, h)
	if found || len(hs) >= max {
		return hs
	}
	return slices.Insert(hs, i, h)
}

func satAdd(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}

// encodeStages is the stages' sketches in the library's encoding (without
// the mapping, which is always slaMapping), by stage name.
func encodeStages(stages map[string]*ddsketch.DDSketch) map[string][]byte {
	out := make(map[string][]byte, len(stages))
	for name, sk := range stages {
		var b []byte
		sk.Encode(&b, true)
		out[name] = b
	}
	return out
}

// decodeStages reverses encodeStages.
func decodeStages(enc map[string][]byte) (map[string]*ddsketch.DDSketch, error) {
	out := make(map[string]*ddsketch.DDSketch, len(enc))
	for name, b := range enc {
		sk, err := ddsketch.DecodeDDSketch(b, store.DefaultProvider, slaMapping)
		if err != nil {
			return nil, fmt.Errorf("decode the %s sketch: %w", name, err)
		}
		out[name] = sk
	}
	return out, nil
}

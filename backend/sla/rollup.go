package sla

import (
	"fmt"
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
	Minute                   time.Time // UTC, on the minute (on the hour if Hour)
	// Hour says the rollup is a whole hour's, from Minute: the minutes of
	// an hour older than Config.CompactAfter merged (Store.Compact).
	Hour             bool
	Painted          uint64
	FreshMs, StaleMs int64
	// Stages holds a DDSketch per stage (sla.Stages) of the latencies in
	// milliseconds, with sla.RelativeAccuracy's logarithmic mapping. A
	// rollup still open in Service keeps the screens' counts in bins
	// instead, which seal adds into Stages when it is flushed (and clone
	// and merge read as if they were there).
	Stages map[string]*ddsketch.DDSketch
	// bins are the counts of an open rollup's stages by bin (indexed as
	// sla.Stages), added from every report: a report's 2,240 bins cost an
	// add each into a plain array, where a sketch's store took a call and a
	// range check per bin (addReport was 0.31 of the report path's ~1 s
	// per minute in the 1,000-screen fan-out profile).
	bins []binCounts
	// encoded holds stages as a store read them (the library's encoding),
	// not yet decoded: merging decodes them straight into the target's
	// sketches, without a sketch of their own (a week's query merges
	// 100,000 rows).
	encoded map[string][]byte
	Stale   []Stale
	// Screens are the hashes (screenHash) of the screens that reported,
	// sorted, at most MaxScreens.
	Screens []uint64
	// merged is size() as Service.merge last left it: a pending rollup
	// changes only there (under Service.mu), so the next merge starts from
	// it instead of walking the sketches again (half of size()'s cost per
	// report).
	merged int64
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

// newSketch is an empty sketch of slaMapping. Its store is the library's
// dense one: adding a page's bins to it costs an array add each, several
// times faster than the default paginated store's (BenchmarkTake_10Panels:
// 587 → 275 µs a report on a loaded machine); memory is bounded by the
// span of bins (at most MaxBin − MinBin + 1, 8 bytes each) and accounted
// (Rollup.size, Config.MaxPendingBytes).
func newSketch() *ddsketch.DDSketch {
	return ddsketch.NewDDSketchFromStoreProvider(slaMapping, store.DenseStoreConstructor)
}

func newRollup(tenant, dashboard, panel string, minute time.Time) *Rollup {
	return &Rollup{Tenant: tenant, Dashboard: dashboard, Panel: panel, Minute: minute, Stages: map[string]*ddsketch.DDSketch{}}
}

// screenHash names a screen in a rollup by a hash of its id: 8 bytes
// whatever the id, stable across restarts (FNV-1a), and not the id itself.
func screenHash(screen string) uint64 {
	h := uint64(14695981039346656037) // hash/fnv's New64a, written out: it allocated twice a report
	for i := 0; i < len(screen); i++ {
		h = (h ^ uint64(screen[i])) * 1099511628211
	}
	return h
}

// addReport merges one checked panel report of one screen into r; it
// returns how many stale periods it dropped at MaxStale. p is checked
// (Check): its stages are known, each once, their bins ascending and in
// [sla.MinBin, sla.MaxBin].
func (r *Rollup) addReport(screen uint64, p *wire.PanelReport) (dropped int) {
	r.Painted = satAdd(r.Painted, p.Painted)
	r.FreshMs += p.FreshMs
	r.StaleMs += p.StaleMs
	if r.bins == nil && len(p.Stages) > 0 {
		r.bins = make([]binCounts, len(sla.Stages))
	}
	for i := range p.Stages {
		h := &p.Stages[i]
		r.bins[stageIndex(h.Stage)].add(h.Index, h.Counts)
	}
	r.Screens = addHash(r.Screens, screen, MaxScreens)
	one := [1]uint64{screen}
	for _, s := range p.Stale {
		start := time.Unix(0, s.Start).Truncate(time.Second).UnixMilli()
		if !r.addStaleOf(start, s.Ms, s.Cause, one[:]) {
			dropped++
		}
	}
	return dropped
}

// stageIndex is name's index in sla.Stages, -1 for any other name: a
// switch, where slices.Index compared up to seven strings (check, addReport
// and pageMetrics look up each of a report's 56 histograms' stage).
// TestStageIndex holds it to sla.Stages.
func stageIndex(name string) int {
	switch name {
	case sla.StageDatabase:
		return 0
	case sla.StageHub:
		return 1
	case sla.StageSocket:
		return 2
	case sla.StageNetwork:
		return 3
	case sla.StageApply:
		return 4
	case sla.StagePaint:
		return 5
	case sla.StageTotal:
		return 6
	}
	return -1
}

// binCounts is one stage's counts by bin: counts[i] is bin lo+i's. Its
// window spans the lowest to the highest bin with a count, as a sketch's
// dense store's would (Rollup.size counts it the same, 8 bytes a bin).
type binCounts struct {
	lo     int32
	counts []uint64
}

// add adds a histogram's counts (index ascending, as Check holds it).
// Bins with no count are left out, as a sketch leaves them.
func (b *binCounts) add(index []int32, counts []uint32) {
	first, last := 0, len(index)-1
	for first <= last && counts[first] == 0 {
		first++
	}
	for last >= first && counts[last] == 0 {
		last--
	}
	if first > last {
		return
	}
	lo, hi := index[first], index[last]
	switch {
	case len(b.counts) == 0:
		b.lo, b.counts = lo, make([]uint64, hi-lo+1)
	case lo < b.lo || hi >= b.lo+int32(len(b.counts)):
		nlo, nhi := min(lo, b.lo), max(hi, b.lo+int32(len(b.counts))-1)
		grown := make([]uint64, nhi-nlo+1)
		copy(grown[b.lo-nlo:], b.counts)
		b.lo, b.counts = nlo, grown
	}
	dst := b.counts
	for k := first; k <= last; k++ {
		dst[index[k]-b.lo] += uint64(counts[k])
	}
}

// addTo adds b's counts into sk, bin by bin: the bin's index is the
// sketch's (sla.Bin is its mapping). Sums of whole counts are exact in the
// sketch's float64 counts (below 2^53), so a sketch built from the sums
// equals one built report by report.
func (b *binCounts) addTo(sk *ddsketch.DDSketch) {
	st := sk.GetPositiveValueStore()
	for i, c := range b.counts {
		if c > 0 {
			st.AddWithCount(int(b.lo)+i, float64(c))
		}
	}
}

// seal adds an open rollup's bins into its sketches (Stages), for a store.
func (r *Rollup) seal() {
	for si := range r.bins {
		if b := &r.bins[si]; len(b.counts) > 0 {
			name := sla.Stages[si]
			sk := r.Stages[name]
			if sk == nil {
				sk = newSketch()
				r.Stages[name] = sk
			}
			b.addTo(sk)
		}
	}
	r.bins = nil
}

// addStale merges s into r's stale periods; false if it was new and r had
// MaxStale already.
func (r *Rollup) addStale(s Stale) bool {
	return r.addStaleOf(s.Start, s.Ms, s.Cause, s.Screens)
}

// addStaleOf is addStale with the period's fields apart: screens is only
// read (a Stale's Cause is kept, and escape analysis would move its
// Screens to the heap with it: an allocation a stale period a report).
func (r *Rollup) addStaleOf(start, ms int64, cause string, screens []uint64) bool {
	for i := range r.Stale {
		o := &r.Stale[i]
		if o.Start == start && o.Cause == cause {
			o.Ms = max(o.Ms, ms)
			for _, h := range screens {
				o.Screens = addHash(o.Screens, h, MaxStaleScreens)
			}
			return true
		}
	}
	if len(r.Stale) >= MaxStale {
		return false
	}
	r.Stale = append(r.Stale, Stale{Start: start, Ms: ms, Cause: cause, Screens: slices.Clone(screens)})
	return true
}

// merge adds o into r (o is not changed); it returns how many stale periods
// it dropped at MaxStale.
func (r *Rollup) merge(o *Rollup) (dropped int) {
	dropped, err := r.mergeAll(o)
	if err != nil {
		panic(err) // only a store's rollups are encoded, and their merges check it
	}
	return dropped
}

// mergeAll is merge, saying whether o's encoded stages were corrupt.
func (r *Rollup) mergeAll(o *Rollup) (dropped int, err error) {
	if err := r.mergeCounts(o); err != nil {
		return 0, err
	}
	for _, h := range o.Screens {
		r.Screens = addHash(r.Screens, h, MaxScreens)
	}
	for _, s := range o.Stale {
		if !r.addStale(s) {
			dropped++
		}
	}
	return dropped, nil
}

// mergeCounts adds o's counts, times and stages into r, not its stale
// periods or screens; an error says an encoded stage of o is corrupt.
func (r *Rollup) mergeCounts(o *Rollup) error {
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
	for si := range o.bins {
		if b := &o.bins[si]; len(b.counts) > 0 {
			name := sla.Stages[si]
			if r.Stages[name] == nil {
				r.Stages[name] = newSketch()
			}
			b.addTo(r.Stages[name])
		}
	}
	for stage, b := range o.encoded {
		if r.Stages[stage] == nil {
			r.Stages[stage] = newSketch()
		}
		if err := r.Stages[stage].DecodeAndMergeWith(b); err != nil {
			return fmt.Errorf("decode the %s sketch: %w", stage, err)
		}
	}
	return nil
}

// size estimates r's memory: its stages' bins (a dense window from the
// lowest bin to the highest, 8 bytes each), its stale periods and screens.
func (r *Rollup) size() int64 {
	n := int64(256 + 8*len(r.Screens))
	for _, sk := range r.Stages {
		st := sk.GetPositiveValueStore()
		lo, err1 := st.MinIndex()
		hi, err2 := st.MaxIndex()
		if err1 == nil && err2 == nil {
			n += 128 + 8*int64(hi-lo+1)
		}
	}
	for _, b := range r.bins {
		if len(b.counts) > 0 {
			n += 128 + 8*int64(len(b.counts))
		}
	}
	for _, s := range r.Stale {
		n += 64 + 8*int64(len(s.Screens))
	}
	return n
}

// overlaps says whether r's minute (or hour) overlaps [from, to).
func overlaps(r *Rollup, from, to time.Time) bool {
	start := from
	if r.Hour {
		start = from.Truncate(time.Hour)
	}
	return !r.Minute.Before(start) && r.Minute.Before(to)
}

// clone is a deep copy of r.
func (r *Rollup) clone() *Rollup {
	c := newRollup(r.Tenant, r.Dashboard, r.Panel, r.Minute)
	c.Hour = r.Hour
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

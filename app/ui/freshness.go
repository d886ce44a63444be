package ui

import (
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

// Freshness: every panel shows how old its data is, and warns when its
// stream has been silent longer than it should be even though the socket
// looks healthy (a stuck producer, a broken trigger). Ages are measured on
// the page's own clock, from when a stream's position last moved, so a
// skewed server or producer clock cannot make data look fresh. Only the
// first sight of a stream (its snapshot) is dated by its newest event's
// time, which is all the page knows then.
//
// A stream's expected cadence is the panel's expected_cadence_ms, or else
// learnt from the stream's own history, not only from what happened since
// the page opened:
//
//   - its snapshot (from the server, or the page's stored last-known-good
//     state): the typical gap between the timestamps of its points table,
//     or, for a stream of rows, between the times its rows carry (a field
//     that reads as a time, epoch milliseconds or RFC 3339, and never grows
//     down the newest-first rows). "Typical" is the time-weighted median of
//     the newest historyGaps gaps: the gap an observer at a random moment
//     would be waiting out, so a producer that sends bursts is judged by
//     the pauses between them, not by the spacing within;
//   - every move since (a frame in which its position moved): the gap in
//     event time since the previous move, else (events stamped in the same
//     millisecond) the gap on the page's clock. Live, the two agree; but
//     replayed events (a resume after an outage, the stored state's
//     catch-up) arrive faster than they happened, and an outage is no
//     rhythm of the source, so the event times say it. Moves update a
//     moving average;
//     the first move after a snapshot replaces a cadence from its points
//     table if it is longer (a table shows how often samples were taken,
//     not how often they arrive: a producer may flush ten seconds of
//     samples at once), unless it is longer than defaultStale (an outage is
//     not a rhythm).
//
// A stream is stale after staleFactor cadences, and never sooner than
// minStale. A stream with too little history to learn from (fewer than
// minGaps gaps: a single event, a gauge with no points or row times) is
// stale after defaultStale of silence, never "never".
const (
	staleFactor  = 4
	minStale     = 3 * time.Second
	defaultStale = time.Minute
	minGaps      = 2
	historyGaps  = 1024
	// cadenceWeight is the weight of the newest gap in the moving average.
	cadenceWeight = 0.2
)

// arrival is what the page knows of one stream's rhythm.
type arrival struct {
	seq   uint64
	epoch uint64
	at    time.Time // when its position last moved (page clock)
	last  int64     // its newest event time then (Unix ms; zero if none)
	// cadence is the learnt gap between moves, from gaps gaps (zero: not
	// learnt). fromTable: learnt from a snapshot's points table only.
	cadence   time.Duration
	gaps      int
	fromTable bool
}

// trackArrivals notes, once per frame, which streams moved.
func (s *Shell) trackArrivals(streams map[string]*livestate.Stream, now time.Time) {
	if s.arrivals == nil {
		s.arrivals = map[string]*arrival{}
	}
	for name, st := range streams {
		a := s.arrivals[name]
		if a == nil {
			a = &arrival{}
			s.arrivals[name] = a
		}
		a.track(st, now, derived(name))
	}
}

// A derived stream's points table (bucket starts) says nothing of when its
// events arrive, so its cadence is learnt from arrivals only.
func (a *arrival) track(st *livestate.Stream, now time.Time, derived bool) {
	if st.Seq == a.seq && st.Epoch == a.epoch {
		return
	}
	if a.epoch == 0 || st.Epoch != a.epoch {
		// First sight of the stream (a snapshot) or a new epoch: its data
		// is as old as its newest event, by the event's own clock but
		// never newer than now; a stream with no event has no age. Its
		// history says its rhythm; the gap across epochs does not.
		a.seq, a.epoch, a.at, a.last = st.Seq, st.Epoch, time.Time{}, st.State.LastTime
		if c, n, table := historyCadence(&st.State); n >= minGaps && !(table && derived) {
			a.cadence, a.gaps, a.fromTable = c, n, table
		}
		if st.Seq > 0 {
			a.at = now
			if t := st.State.LastTime; t > 0 && time.UnixMilli(t).Before(now) {
				a.at = time.UnixMilli(t)
			}
		}
		return
	}
	var gap time.Duration
	switch {
	case a.last > 0 && st.State.LastTime > a.last:
		gap = time.Duration(st.State.LastTime-a.last) * time.Millisecond
	case !a.at.IsZero():
		gap = now.Sub(a.at)
	}
	if gap > 0 {
		a.learn(gap)
	}
	a.seq, a.epoch, a.at, a.last = st.Seq, st.Epoch, now, max(a.last, st.State.LastTime)
}

// learn folds one gap between moves into the cadence.
func (a *arrival) learn(gap time.Duration) {
	switch {
	case a.gaps == 0:
		a.cadence = gap
	case a.fromTable && gap <= defaultStale:
		a.cadence = max(a.cadence, gap)
	default:
		a.cadence = time.Duration(cadenceWeight*float64(gap) + (1-cadenceWeight)*float64(a.cadence))
	}
	a.gaps++
	a.fromTable = false
}

// historyCadence is the typical gap in a snapshot's history: between the
// timestamps of its points table, else between its rows' times; n is how
// many gaps it is learnt from (zero: none), table whether from points.
func historyCadence(st *wire.State) (cadence time.Duration, n int, table bool) {
	var gaps []int // milliseconds
	ts := st.Points.TS
	for i := len(ts) - 1; i > 0 && len(gaps) < historyGaps; i-- {
		if d := ts[i] - ts[i-1]; d > 0 {
			gaps = append(gaps, int(d))
		}
	}
	table = len(gaps) >= minGaps
	if !table {
		gaps = rowGaps(st.Rows)
	}
	return typicalGap(gaps), len(gaps), table
}

// rowGaps are the gaps between the times the rows carry: the first field
// (by name) that every row has as a time and that never grows down the
// rows, which are newest first (milliseconds).
func rowGaps(rows []wire.Row) []int {
	if len(rows) <= minGaps {
		return nil
	}
	var names []string
	for k, v := range rows[0].Fields {
		if _, ok := rowTime(v); ok {
			names = append(names, k)
		}
	}
	sort.Strings(names) // not slices.Sort: go-app links this one already
	rows = rows[:min(len(rows), historyGaps+1)]
next:
	for _, name := range names {
		var gaps []int
		prev, _ := rowTime(rows[0].Fields[name])
		for _, r := range rows[1:] {
			t, ok := rowTime(r.Fields[name])
			if !ok || t > prev {
				continue next
			}
			if t < prev {
				gaps = append(gaps, int(prev-t))
			}
			prev = t
		}
		if len(gaps) >= minGaps {
			return gaps
		}
	}
	return nil
}

// rowTime reads a row's field as a time (Unix ms): epoch milliseconds
// between 2001 and 2248, or an RFC 3339 string (what PostgreSQL's JSON
// gives for a timestamptz).
func rowTime(v any) (int64, bool) {
	var ms float64
	switch x := v.(type) {
	case string:
		if len(x) < 20 || x[4] != '-' {
			return 0, false
		}
		t, err := time.Parse(time.RFC3339Nano, x)
		return t.UnixMilli(), err == nil
	case float64:
		ms = x
	case int64:
		ms = float64(x)
	case uint64:
		ms = float64(x)
	case int:
		ms = float64(x)
	default:
		return 0, false
	}
	return int64(ms), ms >= 1e12 && ms < 1<<43
}

// typicalGap is the time-weighted median of gaps (milliseconds): half of
// the time they cover is in gaps at most this long. Gaps are ints so that
// slices.Sort is the instantiation app.wasm already has (shared/decimate):
// a new one costs 8 KB.
func typicalGap(gaps []int) time.Duration {
	if len(gaps) == 0 {
		return 0
	}
	slices.Sort(gaps)
	total := 0
	for _, g := range gaps {
		total += g
	}
	sum := 0
	for _, g := range gaps {
		if sum += g; 2*sum >= total {
			return time.Duration(g) * time.Millisecond
		}
	}
	return time.Duration(gaps[len(gaps)-1]) * time.Millisecond
}

// freshness is a panel's data age and whether it is stale.
type freshness struct {
	known  bool // the stream has data: an age
	age    time.Duration
	stale  bool
	expect time.Duration // the cadence it is held to; zero: too little history (defaultStale)
}

func (s *Shell) freshness(p dashboard.Panel, now time.Time) freshness {
	a := s.arrivals[p.Stream]
	if a == nil || a.at.IsZero() {
		return freshness{}
	}
	f := freshness{known: true, age: now.Sub(a.at)}
	if a.gaps >= minGaps {
		f.expect = a.cadence
	}
	if p.ExpectedCadenceMs > 0 {
		f.expect = time.Duration(p.ExpectedCadenceMs) * time.Millisecond
	}
	if p.Agg != nil && f.expect > 0 {
		// An aggregate speaks at most once per EmitMs, so it is never
		// held to less; otherwise it is as quiet as its source, and as
		// stale.
		f.expect = max(f.expect, emitFloor(p.Agg))
	}
	f.stale = f.age > staleAfter(f.expect)
	return f
}

// staleAfter is how long a stream held to cadence may be silent (zero: its
// cadence is unknown).
func staleAfter(cadence time.Duration) time.Duration {
	if cadence <= 0 {
		return defaultStale
	}
	return max(minStale, staleFactor*cadence)
}

// freshnessLabel is the panel head's age: "0.4 s ago", or a stale warning.
func (s *Shell) freshnessLabel(p dashboard.Panel) app.UI {
	f := s.freshness(p, s.now)
	if !f.known && p.Agg != nil {
		return app.Span().Class("tt-age", "tt-agg-waiting").
			Title("The server computes this panel from stream “" + p.Agg.Source + "” and has not sent a value yet: it does once the source has events in the window.").
			Text("waiting for the first aggregate")
	}
	if !f.known {
		return app.Span().Class("tt-age").Text("no data yet")
	}
	if f.stale {
		why := "This stream usually updates every " + age(f.expect) + "; the connection may be fine but its source has gone quiet."
		if f.expect == 0 {
			why = "This stream has too little history to learn how often it updates, so it is flagged after " + age(defaultStale) + " of silence; set the panel's expected_cadence_ms to hold it to its own."
		}
		return app.Span().Class("tt-age", "tt-stale").Title(why).Text("stale · no data for " + age(f.age))
	}
	return app.Span().Class("tt-age").Text(coarseAge(f.age))
}

// dataHealth is what the panels say about the data, for the badge: how old
// the newest data anywhere is, and how many panels with data are stale.
type dataHealth struct {
	newest       time.Duration // age of the freshest stream; -1 if none has data
	stale, known int           // panels
}

func (s *Shell) dataHealth(now time.Time) dataHealth {
	h := dataHealth{newest: -1}
	for _, a := range s.arrivals {
		if !a.at.IsZero() && (h.newest < 0 || now.Sub(a.at) < h.newest) {
			h.newest = now.Sub(a.at)
		}
	}
	if s.spec == nil {
		return h
	}
	for _, p := range s.spec.Panels {
		if f := s.freshness(p, now); f.known {
			h.known++
			if f.stale {
				h.stale++
			}
		}
	}
	return h
}

// coarseAge is an age to the second: the label changes at most once a
// second, not every frame (each change is a style and layout pass over the
// grid; eight panels' tenths of a second cost frames in the render benchmark).
func coarseAge(d time.Duration) string {
	if d < time.Second {
		return "now"
	}
	if d < time.Minute {
		return strconv.Itoa(int(d.Seconds())) + " s ago"
	}
	return age(d) + " ago"
}

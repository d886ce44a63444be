package ui

// The last-known-good state: what the page keeps in the browser (the Store
// bridge: IndexedDB) so that a cold start with no network draws the last
// picture it had, with its age, and a start with network resumes from the
// stored cursors instead of fetching every snapshot again.
//
// It is one record, written whole (a reader never sees half of a save):
//
//	lkgHeader as JSON: format, whose data, when it is from, the dashboard
//	spec, and the length of each snapshot that follows
//	'\n'
//	per stream, a wire.Snapshot frame (msgpack, shared/wire's encoder),
//	whose epoch and seq are the stream's cursor
//
// A stored snapshot is compact, not the client's whole state: gauges whole,
// the newest lkgRows rows, and only the points of the longest window a chart
// of the stream shows, decimated as a chart draws them (decimate.Columns,
// lkgColumns pixel columns). On resume the missed events are applied on top
// of that table, so a chart's stored part stays decimated (finer than a
// chart's pixel width already) and scrolls out of its window as new points
// arrive; a zoom before the stored points asks the server's window API, as
// for any range older than the page holds.
//
// app.wasm is at its size budget: this file is written for few functions
// and closures (each costs about 1 KB of wasm), and the IndexedDB calls are
// in static/lkg.js.

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/telltale/telltale/app/client"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/decimate"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

const (
	// lkgSaveEvery: a save (one IndexedDB write of at most lkgMaxBytes)
	// runs at most this often while the data moves, and at once when the
	// page is hidden or unloaded. Each periodic save re-encodes only the
	// stream stored longest ago (decimating 100k points × 10 series is tens
	// of milliseconds in wasm, under the client's lock); the others keep
	// their stored snapshot, a consistent one at an older cursor. A hidden
	// or unloading page re-encodes every stream that moved.
	lkgSaveEvery = 5 * time.Second
	// lkgColumns: the stored window of a stream's points is decimated to
	// this many pixel columns (at most 5 rows each), more than a chart is
	// wide on most screens.
	lkgColumns = 1000
	// lkgRows is how many of a stream's newest rows are stored.
	lkgRows = 200
	// lkgFoldRows is how many rows of a stream's table one save folds into
	// its stored columns at most (tens of milliseconds in wasm).
	lkgFoldRows = 5_000
	// lkgFoldEvery is how often lkgFoldRows more rows are folded, between
	// saves, so a save finds its columns up to date.
	lkgFoldEvery = 250 * time.Millisecond
	// lkgMaxBytes bounds the record: a stream whose snapshot would pass it
	// is stored with half the columns and rows, then a quarter, ..., and
	// left out (it starts from a server snapshot) when even none do not fit.
	lkgMaxBytes = 512 << 10
	// lkgLoadWait is how long a start waits for the stored state before it
	// goes to the network without it.
	lkgLoadWait = time.Second
	lkgFormat   = 1
)

// lkgState is the shell's side of the stored state.
type lkgState struct {
	// asOf is when the stored data on screen was current (Unix ms), while
	// the page shows it and has not been live since; 0 otherwise.
	asOf atomic.Int64
	seed []wire.Snapshot // to start the client from; UI goroutine
	who  string          // whose they are: identity of the token they were saved with
	spec []byte          // JSON of the spec drawn; set before the client starts

	mu      sync.Mutex          // one save at a time
	lastKey uint64              // where the streams stood at the last save: no move, no save
	frames  map[string]lkgFrame // each stream's stored snapshot frame
	force   atomic.Bool
}

// lkgFrame is one stream's encoded snapshot and the cursor it is at.
type lkgFrame struct {
	epoch, seq uint64
	b          []byte
	at         time.Time         // when it was encoded
	dec        *decimate.Columns // its points' columns, kept between saves
	decEpoch   uint64            // the epoch dec's columns are of
}

type lkgHeader struct {
	Format int             `json:"format"`
	Who    string          `json:"who"`   // "operator @ tenant" of the token it was saved with
	AsOf   int64           `json:"as_of"` // Unix ms: when the newest stored event arrived
	Spec   json.RawMessage `json:"spec"`  // the dashboard spec
	// Want is the id the saving page's URL asked for: "" at "/" (the
	// default; records from before /d/{id} have none, and were saved at
	// "/"). A start at "/" draws only a record saved there, a start at
	// /d/{id} only dashboard id.
	Want  string `json:"want,omitempty"`
	Sizes []int  `json:"sizes"` // bytes of each snapshot frame that follows
}

// restoreLKG reads the stored state and starts the shell from it: the
// stored dashboard is drawn at once and the client resumes from the stored
// cursors. It runs before the spec is fetched, off the UI goroutine, and
// gives up after lkgLoadWait.
//
// There is one record, of the dashboard the browser showed last: it is
// drawn only for the same operator (who, "operator @ tenant" of the page's
// token: the spec, like the data, is the operator's to see) and the same
// dashboard (restorable). Opening another dashboard offline draws nothing
// rather than the stored one under the wrong URL; one record per dashboard
// would multiply the browser's storage and the save work for a case (an
// operator who switches dashboards and then starts offline) that a reload
// online fixes.
func (s *Shell) restoreLKG(ctx app.Context, who string) {
	if s.bridges.Store == nil {
		return
	}
	type loaded struct {
		b   []byte
		why string // why there is nothing, for the marks below
	}
	ch := make(chan loaded, 1)
	s.bridges.Store.Load(func(b []byte, err error) {
		l := loaded{b: b}
		if err != nil {
			l.why = ": " + err.Error()
			app.Log("last-known-good state:", err)
		}
		ch <- l
	})
	var l loaded
	select {
	case l = <-ch:
	case <-time.After(lkgLoadWait):
		l.why = ": not read within " + lkgLoadWait.String()
	}
	// The marks say what a start drew from (bench/cmd/render's timeline):
	// "lkg-restored N streams, B bytes", "lkg-none B bytes[: why]" or
	// "lkg-other" (another operator's or dashboard's record).
	spec, h, snaps := decodeLKG(l.b)
	switch {
	case spec == nil:
		startMark("lkg-none " + strconv.Itoa(len(l.b)) + " bytes" + l.why)
		return
	case h.Who != who || !restorable(h, spec, s.want):
		startMark("lkg-other")
		return
	}
	startMark("lkg-restored " + strconv.Itoa(len(snaps)) + " streams, " + strconv.Itoa(len(l.b)) + " bytes")
	ctx.Dispatch(func(ctx app.Context) {
		if s.spec == nil {
			s.spec, s.lkg.seed, s.lkg.who = spec, snaps, h.Who
			s.lkg.asOf.Store(h.AsOf)
			s.start(ctx)
		}
	})
}

// restorable reports whether a page that wants dashboard want ("": the
// default) may draw the stored spec: the same id, or the default when it
// was saved at "/".
func restorable(h lkgHeader, spec *dashboard.Dashboard, want string) bool {
	if want == "" {
		return h.Want == ""
	}
	return want == spec.ID
}

// decodeLKG reads a stored record; the spec is nil when there is nothing
// usable. The spec is the page's own save of one the server validated, and
// fetchSpec checks no more than this either: Dashboard.Validate, which only
// this called in the browser, was 24 KB of app.wasm's code.
func decodeLKG(b []byte) (spec *dashboard.Dashboard, h lkgHeader, snaps []wire.Snapshot) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 || json.Unmarshal(b[:i], &h) != nil || h.Format != lkgFormat || json.Unmarshal(h.Spec, &spec) != nil || spec == nil || len(spec.Panels) == 0 {
		return nil, h, nil
	}
	b = b[i+1:]
	for _, n := range h.Sizes {
		if n > len(b) {
			break
		}
		if f, err := wire.DecodeServer(b[:n]); err == nil {
			if snap, ok := f.(wire.Snapshot); ok {
				snaps = append(snaps, snap)
			}
		}
		b = b[n:]
	}
	return spec, h, snaps
}

// startLKG seeds the new client from the restored state and starts saving:
// every lkgSaveEvery while the data moves, and when the page is hidden or
// unloaded (a phone may never show it again).
func (s *Shell) startLKG(ctx app.Context, c *client.Client) {
	s.lkg.spec, _ = json.Marshal(s.storedSpec())
	if s.lkg.who == identity(c.Token()) {
		c.Seed(s.lkg.seed)
		for _, snap := range s.lkg.seed {
			s.trace.seed(snap.Stream, snap.Epoch, snap.Seq)
		}
	} else {
		// Another operator's data is never drawn (the spec is the
		// server's, the same for everyone): start empty.
		s.lkg.asOf.Store(0)
	}
	s.lkg.seed = nil
	if s.bridges.Store == nil {
		return
	}
	onHide := app.FuncOf(func(_ app.Value, args []app.Value) any {
		if args[0].Get("type").String() == "pagehide" || app.Window().Get("document").Get("visibilityState").String() == "hidden" {
			s.saveLKG(c, true) // now: the write starts before the page may freeze
		}
		return nil
	})
	app.Window().Call("addEventListener", "pagehide", onHide)
	app.Window().Get("document").Call("addEventListener", "visibilitychange", onHide)
	ctx.Async(func() {
		t := time.NewTicker(lkgSaveEvery)
		defer t.Stop()
		fold := time.NewTicker(lkgFoldEvery)
		defer fold.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.saveLKG(c, false)
			case <-fold.C:
				s.foldLKG(c)
			}
		}
	})
}

// saveLKG stores the client's state unless no stream moved since the last
// save. Safe from any goroutine and from a browser event handler: it never
// waits for the browser. Streams go in the spec's order; the record stays
// within lkgMaxBytes.
func (s *Shell) saveLKG(c *client.Client, all bool) {
	s.lkg.mu.Lock()
	defer s.lkg.mu.Unlock()
	var out []byte
	who := identity(c.Token()) // not inside Read: both take the client's lock
	c.Read(func(streams map[string]*livestate.Stream, info client.Info) {
		var key uint64
		for _, st := range streams {
			key += st.Epoch*1_000_003 + st.Seq // order-free: a map's order varies
		}
		if key == s.lkg.lastKey && !s.lkg.force.Swap(false) {
			return
		}
		asOf := info.LastEventAt.UnixMilli()
		if info.LastEventAt.IsZero() {
			asOf = s.lkg.asOf.Load() // still showing the stored data
			if asOf == 0 {
				asOf = time.Now().UnixMilli()
			}
		}
		if s.lkg.frames == nil {
			s.lkg.frames = map[string]lkgFrame{}
		}
		var pending bool
		out, pending = lkgRecord(s.spec, streams, lkgHeader{Format: lkgFormat, Who: who, AsOf: asOf, Spec: s.lkg.spec, Want: s.want}, s.lkg.frames, all, time.Now())
		if !pending {
			s.lkg.lastKey = key // every stream stored where it stands
		}
	})
	if out == nil {
		return
	}
	s.bridges.Store.Save(out, func(err error) {
		if err != nil {
			s.lkg.force.Store(true) // the next tick tries again
			app.Log("saving the last-known-good state:", err)
		}
	})
}

// foldLKG folds at most lkgFoldRows new rows of one stream's points into
// its stored columns (nextFold's choice), so that the work of decimating a
// long table is spread thinly between saves.
func (s *Shell) foldLKG(c *client.Client) {
	s.lkg.mu.Lock()
	defer s.lkg.mu.Unlock()
	c.Read(func(streams map[string]*livestate.Stream, _ client.Info) {
		if s.lkg.frames == nil {
			s.lkg.frames = map[string]lkgFrame{}
		}
		names := s.spec.Streams()
		share := (lkgMaxBytes - len(s.lkg.spec) - 1024) / max(1, len(names))
		if best := nextFold(s.spec, names, streams, s.lkg.frames); best != "" {
			f := s.lkg.frames[best]
			s.lkg.frames[best] = foldLKG(streams[best], windowMs(s.spec, best), share, f)
		}
	})
}

// nextFold is the stream whose rows to fold next: the first of names (the
// spec's order, the panels' order on screen) that a save cannot store yet
// (more than lkgFoldRows rows waiting), else the one with the most rows
// waiting. In that order the streams are stored one after another, the
// first panel's in seconds, instead of all at once when every pass ends
// (8 streams of 100k points: ~40 s); a warm visit draws the streams stored
// and gets snapshots for the others. "" when none waits.
func nextFold(spec *dashboard.Dashboard, names []string, streams map[string]*livestate.Stream, frames map[string]lkgFrame) string {
	best, most := "", 0
	for _, name := range names {
		st := streams[name]
		if st == nil || st.Epoch == 0 {
			continue
		}
		n := waitingRows(st, windowMs(spec, name), frames[name])
		if n > lkgFoldRows {
			return name
		}
		if n > most {
			best, most = name, n
		}
	}
	return best
}

// lkgRecord encodes the record: h (its Sizes filled in here), then the
// stored snapshot of each of spec's streams that streams holds, in the
// spec's order. frames holds each stream's last encoded snapshot: a stream
// that moved is re-encoded when all is set, else only the one encoded
// longest ago is (at most one decimation per save). Each stream gets an
// equal share of lkgMaxBytes, and its points as many pixel columns (4 rows
// each, decimate.Columns) as fit in it.
//
// pending reports whether some stream that moved still waits for a save.
func lkgRecord(spec *dashboard.Dashboard, streams map[string]*livestate.Stream, h lkgHeader, frames map[string]lkgFrame, all bool, now time.Time) (record []byte, pending bool) {
	names := spec.Streams()
	share := (lkgMaxBytes - len(h.Spec) - 1024) / max(1, len(names))
	stalest := ""
	for _, name := range names {
		st, f := streams[name], frames[name]
		if st == nil || st.Epoch == 0 || (f.epoch == st.Epoch && f.seq == st.Seq) {
			continue
		}
		switch {
		case all:
			frames[name] = encodeLKG(st, windowMs(spec, name), share, now, f)
		case stalest == "":
			stalest = name
		default:
			pending = true
			if f.at.Before(frames[stalest].at) {
				stalest = name
			}
		}
	}
	if stalest != "" {
		frames[stalest] = encodeLKG(streams[stalest], windowMs(spec, stalest), share, now, frames[stalest])
	}
	var body []byte
	for _, name := range names {
		if f, ok := frames[name]; ok && f.b != nil && len(body)+len(f.b) <= lkgMaxBytes-len(h.Spec)-1024 {
			body = append(body, f.b...)
			h.Sizes = append(h.Sizes, len(f.b))
		}
	}
	out, _ := json.Marshal(h)
	return append(append(out, '\n'), body...), pending
}

// lkgCols is how many pixel columns a stream's stored points get in share
// bytes: 4 rows a column, about 9 bytes a value, timestamp included.
func lkgCols(st *livestate.Stream, share int) int {
	return min(lkgColumns, share*3/4/(4*9*(1+len(st.State.Points.Cols))))
}

// waitingRows is how many rows of st's points in the window f's columns
// have not folded yet.
func waitingRows(st *livestate.Stream, window int64, f lkgFrame) int {
	p := &st.State.Points
	if window <= 0 || len(p.TS) == 0 {
		return 0
	}
	start := p.TS[len(p.TS)-1] - window
	if f.dec != nil && f.decEpoch == st.Epoch {
		start = max(start, f.dec.Keep())
	}
	return len(p.TS) - sort.Search(len(p.TS), func(i int) bool { return p.TS[i] >= start })
}

// foldLKG folds the next lkgFoldRows waiting rows of st into f's columns
// (a new epoch starts them over) and returns f with them.
func foldLKG(st *livestate.Stream, window int64, share int, f lkgFrame) lkgFrame {
	if f.dec == nil || f.decEpoch != st.Epoch {
		f.dec, f.decEpoch = &decimate.Columns{}, st.Epoch
	}
	cols := lkgCols(st, share)
	p := &st.State.Points
	if cols == 0 || window <= 0 || len(p.TS) == 0 {
		return f
	}
	start := max(f.dec.Keep(), p.TS[len(p.TS)-1]-window)
	i := sort.Search(len(p.TS), func(i int) bool { return p.TS[i] >= start })
	end := min(len(p.TS), i+lkgFoldRows)
	vals := make([][]float64, len(p.Cols))
	for c := range p.Cols {
		vals[c] = p.Cols[c].Vals[:end]
	}
	to := p.TS[end-1]
	f.dec.Update(p.TS[:end], vals, to-window, to, max(1, window/int64(cols)))
	return f
}

// encodeLKG encodes st's stored snapshot within share bytes: its points in
// as many columns as fit (halving columns and rows while it does not).
func encodeLKG(st *livestate.Stream, window int64, share int, now time.Time, prev lkgFrame) lkgFrame {
	f := lkgFrame{epoch: st.Epoch, seq: st.Seq, at: now, dec: prev.dec, decEpoch: st.Epoch}
	// A new epoch is a new table; an aggregate's few buckets change in
	// place (Upsert), which columns kept from the last save would miss.
	if f.dec == nil || prev.decEpoch != st.Epoch || derived(st.Name) {
		f.dec = &decimate.Columns{}
	}
	dec := f.dec
	cols := lkgCols(st, share)
	// A long table still waiting to be folded (the first pass over 100k
	// points × 10 series is ~200 ms in wasm) is folded lkgFoldRows at a time
	// (foldLKG, between saves); meanwhile the stream keeps its previous
	// stored snapshot, which is consistent with its own cursor.
	if waitingRows(st, window, f) > lkgFoldRows {
		f = foldLKG(st, window, share, prev)
		f.epoch, f.seq, f.b, f.at = prev.epoch, prev.seq, prev.b, now
		return f
	}
	for rows := lkgRows; ; cols, rows = cols/2, rows/2 {
		b, err := wire.Encode(compact(st, window, cols, rows, dec))
		if err == nil && len(b) <= share {
			f.b = b
			return f
		}
		dec = nil // fewer columns: a one-off full pass
		if cols == 0 && rows == 0 {
			return f // does not fit at all: the stream starts from a server snapshot
		}
	}
}

// windowMs is the longest window a time-series panel shows of stream (ms),
// or 0 when no chart draws it: then no points are stored.
func windowMs(spec *dashboard.Dashboard, stream string) int64 {
	var w int64
	for _, p := range spec.Panels {
		if p.Kind == dashboard.KindTimeSeries && p.Stream == stream {
			w = max(w, windowOf(p).Milliseconds())
		}
	}
	return w
}

// compact is st as a snapshot to store: the gauges, the newest rows, and
// the points of the last window ms decimated to cols pixel columns (none
// when cols or window is 0) by dec, which keeps its columns between saves
// so that a save re-reads only the points that arrived (nil: a fresh one). It shares st's maps and rows: encode it before
// the client's lock is released.
func compact(st *livestate.Stream, window int64, cols, rows int, dec *decimate.Columns) *wire.Snapshot {
	snap := &wire.Snapshot{Stream: st.Name, Epoch: st.Epoch, Seq: st.Seq, State: wire.State{
		LastTime: st.State.LastTime, Values: st.State.Values, Rows: st.State.Rows[:min(rows, len(st.State.Rows))]}}
	p := &st.State.Points
	if cols > 0 && window > 0 && len(p.TS) > 0 {
		vals := make([][]float64, len(p.Cols))
		for i := range p.Cols {
			vals[i] = p.Cols[i].Vals
		}
		to := p.TS[len(p.TS)-1]
		if dec == nil {
			dec = &decimate.Columns{}
		}
		ts, out := dec.Update(p.TS, vals, to-window, to, max(1, window/int64(cols)))
		snap.State.Points.TS = ts
		for i := range out {
			snap.State.Points.Cols = append(snap.State.Points.Cols, wire.Column{Name: p.Cols[i].Name, Vals: out[i]})
		}
	}
	return snap
}

// specArrived handles the spec fetched from the server when the shell
// already started from the stored one: a redefined dashboard is drawn in
// place, with the data held, as a live change is (switchTo). It reports
// whether the shell was already started.
func (s *Shell) specArrived(ctx app.Context, spec *dashboard.Dashboard, version int) bool {
	if s.client == nil {
		return false
	}
	s.switchTo(ctx, spec, version)
	return true
}

// showingLKG reports whether the page shows stored data and has not been
// live since; the first time it sees the client live, it stops for good.
func (s *Shell) showingLKG() bool {
	if s.client != nil && s.view.info.Status == client.Live {
		s.lkg.asOf.Store(0)
	}
	return s.lkg.asOf.Load() != 0
}

// lkgBanner says that the data on screen is stored, and how old it is:
// "offline — data as of 14:02:11, 3 min ago".
func (s *Shell) lkgBanner() app.UI {
	asOf := time.UnixMilli(s.lkg.asOf.Load())
	state := "offline"
	if s.view.info.Status == client.Connecting && s.loadErr == "" {
		state = "connecting"
	}
	return app.Div().Class("tt-lkg").ID("tt-lkg").DataSet("state", state).Text(
		state + " — data as of " + s.clock(asOf) + ", " + age(s.now.Sub(asOf)) + " ago")
}

// seed sets a stream's position without counting a snapshot: the stored
// state the page starts from, so the first resumed event must follow it.
func (t *trace) seed(stream string, epoch, seq uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last == nil {
		t.last = map[string][2]uint64{}
	}
	t.last[stream] = [2]uint64{epoch, seq}
}

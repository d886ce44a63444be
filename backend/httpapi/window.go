package httpapi

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/telltale/telltale/backend/store"
	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/decimate"
	"github.com/telltale/telltale/shared/wire"
)

const (
	// WindowSlack widens the event-time filter: a points event carries
	// points up to this much older or newer than its own time.
	WindowSlack = 10 * time.Minute
	// MaxWindowWidth bounds the pixel columns one window request asks for.
	MaxWindowWidth = 8192
	// MaxWindowEvents bounds the stored events one window request reads,
	// so one request cannot hold the store for long.
	MaxWindowEvents = 1_000_000
	// windowRows is how many table rows are gathered before folding them
	// into the pixel columns, bounding a request's memory.
	windowRows = 1 << 16
	// windowQueue is how long a window request waits for one of the
	// maxWindowReads readers before it is answered 503 (Retry-After 1).
	windowQueue = 3 * time.Second
	// maxWindowSeries bounds the series one request names.
	maxWindowSeries = 64
)

// window answers GET /api/v1/streams/{stream}/window?from=MS&to=MS&width=PX
// [&series=a,b]: the stream's points with timestamps in [from, to] read from
// stored history, decimated server-side to width pixel columns (per column
// each series' first, extremes and last: decimate.Columns), as a snapshot
// frame whose state holds only those points. Charts ask for it when the
// operator zooms out past what the page keeps.
func (a *api) window(w http.ResponseWriter, r *http.Request) {
	who, stream, ok := a.allow(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	from, err1 := strconv.ParseInt(q.Get("from"), 10, 64)
	to, err2 := strconv.ParseInt(q.Get("to"), 10, 64)
	width, err3 := strconv.Atoi(q.Get("width"))
	if errors.Join(err1, err2, err3) != nil || from >= to || width < 1 || width > MaxWindowWidth {
		problem(w, http.StatusBadRequest, "from and to (Unix milliseconds, from < to) and width (1 to "+strconv.Itoa(MaxWindowWidth)+" pixels) are required")
		return
	}
	var names []string
	if s := q.Get("series"); s != "" {
		names = strings.Split(s, ",")
		if len(names) > maxWindowSeries {
			problem(w, http.StatusBadRequest, "at most "+strconv.Itoa(maxWindowSeries)+" series")
			return
		}
	}
	// A page opening a dashboard asks a window of each chart at once:
	// they queue for a reader a while before being asked to retry.
	wait := time.NewTimer(windowQueue)
	select {
	case a.windows <- struct{}{}:
		wait.Stop()
		defer func() { <-a.windows }()
	case <-r.Context().Done():
		wait.Stop()
		return
	case <-wait.C:
		a.windowsBusy.Inc()
		w.Header().Set("Retry-After", "1")
		problem(w, http.StatusServiceUnavailable, "too many window requests now; retry")
		return
	}
	cur, _ := a.cfg.Hub.Cursor(who.Tenant, stream)
	pts, err := readWindow(r.Context(), a.cfg.History, who.Tenant, stream, from, to, width, names)
	if err != nil {
		a.cfg.Logger.Error("stream API: window", "tenant", who.Tenant, "stream", stream, "err", err)
		problem(w, http.StatusServiceUnavailable, "history is not readable now; retry")
		return
	}
	b, err := wire.Encode(&wire.Snapshot{Stream: stream, Epoch: cur.Epoch, Seq: cur.Seq, State: wire.State{Points: pts}})
	if err != nil {
		problem(w, http.StatusInternalServerError, "encode failed")
		return
	}
	frame(w, r, b)
}

// readWindow folds the stored points in [from, to] into width columns,
// streaming: rows are gathered into a table and folded every windowRows, and
// only the rows the next fold re-reads are kept. With no names, the series
// are those of the first points event, in its order. Rows out of time order
// (a producer sending older points later) are dropped: the columns need
// ascending time. A derived stream's rows (an aggregate's buckets, an m4
// stream's) are upserted as the page's table does: a row at the time of the
// one before replaces it, so a bucket emitted several times while it was
// live is drawn at its final value, not at every value it passed through.
func readWindow(ctx context.Context, rd store.History, tenant, stream string, from, to int64, width int, names []string) (wire.Points, error) {
	span := max(1, (to-from+int64(width)-1)/int64(width))
	var (
		cols  decimate.Columns
		ts    []int64
		vals  [][]float64
		index map[string]int
		after uint64
		read  int
	)
	setNames := func(n []string) {
		names = n
		vals = make([][]float64, len(n))
		index = make(map[string]int, len(n))
		for i, name := range n {
			index[name] = i
		}
	}
	if names != nil {
		setNames(names)
	}
	fold := func() {
		if len(ts) == 0 {
			return
		}
		cols.Update(ts, vals, from, to, span)
		keep := cols.Keep()
		cut := 0
		for cut < len(ts) && ts[cut] < keep {
			cut++
		}
		ts = append(ts[:0], ts[cut:]...)
		for s := range vals {
			vals[s] = append(vals[s][:0], vals[s][cut:]...)
		}
	}
	upsert := agg.Derived(stream)
	last := int64(-1 << 63)
	for read < MaxWindowEvents {
		evs, err := rd.ReadWindow(ctx, tenant, stream, time.UnixMilli(from).Add(-WindowSlack), time.UnixMilli(to).Add(WindowSlack), after, min(MaxEvents, MaxWindowEvents-read))
		if err != nil {
			return wire.Points{}, err
		}
		read += len(evs)
		for i := range evs {
			ev := &evs[i]
			after = ev.Seq
			p := ev.Points
			if p == nil || !p.Valid() || len(p.TS) == 0 {
				continue
			}
			if names == nil {
				n := make([]string, 0, len(p.Cols))
				for _, c := range p.Cols[:min(len(p.Cols), maxWindowSeries)] {
					n = append(n, c.Name)
				}
				setNames(n)
			}
			src := make([][]float64, len(names)) // this event's column per series, nil if absent
			for _, c := range p.Cols {
				if s, ok := index[c.Name]; ok {
					src[s] = c.Vals
				}
			}
			for j, t := range p.TS {
				if t < from || t > to || t < last {
					continue
				}
				if upsert && t == last && len(ts) > 0 {
					// A bucket emitted again: its newer value replaces the
					// older, as the page's table upserts it.
					for s := range vals {
						v := math.NaN()
						if src[s] != nil {
							v = src[s][j]
						}
						vals[s][len(vals[s])-1] = v
					}
					continue
				}
				last = t
				ts = append(ts, t)
				for s := range vals {
					v := math.NaN()
					if src[s] != nil {
						v = src[s][j]
					}
					vals[s] = append(vals[s], v)
				}
			}
			if len(ts) >= windowRows {
				fold()
			}
		}
		if len(evs) == 0 || ctx.Err() != nil {
			break
		}
	}
	if err := ctx.Err(); err != nil {
		return wire.Points{}, err
	}
	// The last fold reads what is left, the newest column's rows included.
	outTS, outVals := cols.Update(ts, vals, from, to, span)
	out := wire.Points{TS: append([]int64(nil), outTS...)}
	for s, name := range names {
		var v []float64
		if s < len(outVals) {
			v = append([]float64(nil), outVals[s]...)
		}
		if len(v) != len(out.TS) {
			v = make([]float64, len(out.TS))
			for i := range v {
				v[i] = math.NaN()
			}
		}
		out.Cols = append(out.Cols, wire.Column{Name: name, Vals: v})
	}
	return out, nil
}

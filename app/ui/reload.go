package ui

// Live reload: the page follows its tenant's dashboard.ChangesStream next to
// its dashboard's streams, on the same client (snapshot, resume, seq). When
// the stream names the dashboard on screen with a version newer than the
// one drawn, the page fetches the spec and switches to it in place: the
// streams both versions read keep their state (no snapshot is fetched again)
// and their charts their points, the streams the new version no longer
// reads are unsubscribed, new ones subscribed (client.SetStreams). A burst
// of saves costs one fetch in flight at a time, and the next one only if a
// newer version was announced meanwhile. The stream's rows are also the
// tenant's stored dashboards, so the picker follows them (mergeBoards), and
// a dashboard on screen whose row goes away was deleted: the page says so
// (deletedBanner) above the data it drew, marked.

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/telltale/telltale/app/client"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

// changesRows is how many dashboards of a tenant the page follows on the
// changes stream: its rows are the stored dashboards, every one of which
// matters (a row trimmed would read as deleted), unlike a table's oldest.
const changesRows = 1000

// reloadRetry is how long a failed fetch of a new version waits before the
// next attempt.
const reloadRetry = 5 * time.Second

// board is one dashboard of the picker: as the server lists it (a built-in
// has no version), then as the changes stream says.
type board struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Version int    `json:"version,omitempty"`
}

// reload is the shell's side of live reload. UI goroutine only.
type reload struct {
	// version is the version drawn; 0 while unknown (a built-in, or a
	// server that did not say).
	version int
	// stored: the dashboard on screen has been seen on the changes stream,
	// so its row going away means it was deleted.
	stored   bool
	deleted  bool
	fetching bool
	retryAt  time.Time
	// blank: one render without panels, so that go-app mounts the new
	// version's panels afresh (remounts).
	blank bool
	// snap: the changes stream's snapshot arrived; changes are its rows.
	snap    bool
	changes []dashboard.Change
	// onStream: the ids this page has seen on the changes stream. Only
	// these can be taken for deleted when their row is gone: the stream's
	// snapshot may lack a dashboard saved long ago (its announcement
	// deleted by PostgreSQL's retention, or older than a restart's warm-up
	// read), which the server's list still has.
	onStream map[string]bool
	at       [2]uint64 // the stream's epoch and seq when changes were read
	merged   []board   // pickerBoards' list; nil: to merge again
}

// observe decides, from the changes stream's rows, what the page showing
// dashboard id does: it returns the version to fetch, or 0. One fetch is in
// flight at a time; a version not newer than the one drawn is never fetched.
func (r *reload) observe(id string, now time.Time) (fetch int) {
	if !r.snap {
		return 0
	}
	i := slices.IndexFunc(r.changes, func(c dashboard.Change) bool { return c.ID == id })
	if i < 0 {
		r.deleted = r.deleted || r.stored
		return 0
	}
	r.stored, r.deleted = true, false
	c := r.changes[i]
	if r.fetching || c.Version <= r.version || now.Before(r.retryAt) {
		return 0
	}
	r.fetching = true
	return c.Version
}

// fetched records the answer to a fetch of version asked (0, and err, when
// it failed) and reports whether got should be drawn: a version newer than
// the one drawn. A server that does not say which version it sent sent at
// least the one asked for.
func (r *reload) fetched(asked, got int, err error, now time.Time) (draw int) {
	r.fetching = false
	if err != nil {
		r.retryAt = now.Add(reloadRetry)
		return 0
	}
	got = max(got, asked)
	if got <= r.version {
		return 0 // an answer overtaken by a newer one
	}
	return got
}

// followChanges reads the changes stream in a frame (under the client's
// lock) and starts a fetch when a newer version of the dashboard on screen
// was announced.
func (s *Shell) followChanges(ctx app.Context, streams map[string]*livestate.Stream) {
	st := streams[dashboard.ChangesStream]
	if st == nil || st.Epoch == 0 || s.spec == nil {
		return
	}
	if at := [2]uint64{st.Epoch, st.Seq}; at != s.reload.at || !s.reload.snap {
		s.reload.at, s.reload.snap = at, true
		s.reload.changes, s.reload.merged = s.reload.changes[:0], nil
		for i := range st.State.Rows {
			if c, ok := dashboard.ParseChange(&wire.Event{Row: &st.State.Rows[i]}); ok {
				s.reload.changes = append(s.reload.changes, c)
				if s.reload.onStream == nil {
					s.reload.onStream = map[string]bool{}
				}
				s.reload.onStream[c.ID] = true
			}
		}
	}
	id := s.spec.ID
	if v := s.reload.observe(id, time.Now()); v > 0 {
		ctx.Async(func() {
			spec, got, err := fetchSpec(ctx, id, storedToken(), 0)
			if ctx.Err() != nil {
				return
			}
			ctx.Dispatch(func(ctx app.Context) {
				var herr *client.HTTPError
				if errors.As(err, &herr) && herr.Status == 404 {
					s.reload.deleted = true // deleted before the fetch: its delete follows on the stream
				} else if err != nil {
					app.Log("new version of the dashboard:", err)
				}
				if draw := s.reload.fetched(v, got, err, time.Now()); draw > 0 {
					s.switchTo(ctx, spec, draw)
				}
				s.invalidate(ctx) // look again: a newer version may have come meanwhile
			})
		})
	}
}

// switchTo draws spec (the server's, version v) in place of the dashboard on
// screen, with the data already held: see the file's comment. The same spec
// only records its version.
func (s *Shell) switchTo(ctx app.Context, raw *dashboard.Dashboard, v int) {
	s.reload.version = v
	b, _ := json.Marshal(raw)
	if string(b) == string(s.lkg.spec) {
		return
	}
	old, next := s.spec, raw
	s.lite.raw = raw
	if s.lite.on {
		next, s.lite.buckets = liteSpec(raw, max(s.lite.px, 1))
	}
	_, drop, _ := streamPlan(old, next)
	s.lkg.mu.Lock() // saveLKG and foldLKG read both from other goroutines
	s.spec, s.lkg.spec = next, b
	for _, name := range drop {
		delete(s.lkg.frames, name)
	}
	s.lkg.mu.Unlock()
	for _, name := range drop {
		delete(s.arrivals, name)
	}
	s.client.SetStreams(pageStreams(next))
	s.reload.blank = remounts(old, next)
	was := map[string]string{}
	for _, p := range old.Panels {
		pb, _ := json.Marshal(p)
		was[p.ID] = string(pb)
		delete(s.hooks, p.ID)
	}
	for _, p := range next.Panels {
		s.hooks[p.ID] = s.chartHooks(ctx, p.ID)
		pb, _ := json.Marshal(p)
		if cs := s.charts[chartID(p.ID)]; cs != nil {
			if was[p.ID] != string(pb) {
				delete(s.charts, chartID(p.ID)) // another chart: its zoom and columns go
			} else if s.reload.blank {
				cs.key, cs.drawn = drawKey{}, time.Time{} // drawn again into its new element
			}
		}
		delete(was, p.ID)
	}
	for id := range was {
		delete(s.charts, chartID(id))
	}
	if s.reload.blank {
		ctx.Dispatch(func(app.Context) { s.reload.blank = false })
	}
	s.lkg.force.Store(true)
	go s.saveLKG(s.client, true) // the new spec, with the data drawn under it
	s.invalidate(ctx)
}

// streamPlan is what a switch from old to next does to the streams: those
// both read stay (with their state), those only old reads go, those only
// next reads come; each in its spec's order.
func streamPlan(old, next *dashboard.Dashboard) (keep, drop, add []string) {
	was, will := old.Streams(), next.Streams()
	for _, n := range was {
		if slices.Contains(will, n) {
			keep = append(keep, n)
		} else {
			drop = append(drop, n)
		}
	}
	for _, n := range will {
		if !slices.Contains(was, n) {
			add = append(add, n)
		}
	}
	return keep, drop, add
}

// remounts reports whether next's panels must be mounted afresh rather than
// updated in place: go-app matches elements by position, and a chart's
// element is its chart's (created at mount, under its panel's id), so
// anything but the same panels in the same places, with charts unchanged,
// starts the grid over. KPI and table panels draw from the spec at every
// render, so their other fields may change in place.
func remounts(old, next *dashboard.Dashboard) bool {
	if len(old.Panels) != len(next.Panels) {
		return true
	}
	for i, p := range old.Panels {
		q := next.Panels[i]
		if p.ID != q.ID || p.Kind != q.Kind {
			return true
		}
		if p.Kind != dashboard.KindKPI && p.Kind != dashboard.KindTable {
			a, _ := json.Marshal(p)
			b, _ := json.Marshal(q)
			if string(a) != string(b) {
				return true
			}
		}
	}
	return false
}

// mergeBoards is the picker's list: the server's list (built-in and stored
// dashboards, fetched once) brought up to date by the changes stream's rows
// once its snapshot arrived: titles changed, stored dashboards deleted
// since (listed with a version, seen on the stream and no longer on it),
// and new ones (after the listed ones, by title). A listed dashboard the
// stream never showed stays: the stream may not hold every dashboard's
// row (onStream).
func mergeBoards(listed []board, changes []dashboard.Change, onStream map[string]bool, snap bool) []board {
	if !snap {
		return listed
	}
	out := make([]board, 0, len(listed)+len(changes))
	byID := make(map[string]int, len(changes))
	for i, c := range changes {
		byID[c.ID] = i
	}
	seen := map[string]bool{}
	for _, b := range listed {
		i, ok := byID[b.ID]
		switch {
		case ok:
			b.Title, b.Version = cmp.Or(changes[i].Title, b.Title), changes[i].Version
		case b.Version > 0 && onStream[b.ID]:
			continue // stored when listed, deleted since
		}
		seen[b.ID] = true
		out = append(out, b)
	}
	var added []board
	for _, c := range changes {
		if !seen[c.ID] {
			seen[c.ID] = true
			added = append(added, board{ID: c.ID, Title: c.Title, Version: c.Version})
		}
	}
	slices.SortFunc(added, func(a, b board) int {
		return cmp.Or(cmp.Compare(cmp.Or(a.Title, a.ID), cmp.Or(b.Title, b.ID)), cmp.Compare(a.ID, b.ID))
	})
	return append(out, added...)
}

// pickerBoards is the picker's list as of the latest frame, merged again
// only when the list or the stream changed (every render asks).
func (s *Shell) pickerBoards() []board {
	if s.reload.merged == nil {
		s.reload.merged = mergeBoards(s.boards, s.reload.changes, s.reload.onStream, s.reload.snap)
	}
	return s.reload.merged
}

// versionNote is the title's tooltip: the version drawn, when known.
func (s *Shell) versionNote() string {
	if s.reload.version > 0 {
		return "version " + strconv.Itoa(s.reload.version)
	}
	return ""
}

// deletedBanner says that the dashboard on screen was deleted, with links
// to the others; the panels below keep what they drew, marked (the grid's
// data-deleted).
func (s *Shell) deletedBanner() app.UI {
	list := s.boardLinks(s.current()) // the others
	if list == "" {
		list = `<a class="tt-pick" href="/">the default dashboard</a>`
	}
	return app.Raw(`<div class="tt-error tt-deleted" id="tt-deleted" role="alert"><p>This dashboard was deleted: ` +
		`the panels below are the last version of <code>` + html.EscapeString(s.current()) + `</code>.</p>` +
		`<p class="tt-nodash-list">Dashboards: ` + list + `</p></div>`)
}

// fetchSpec fetches dashboard id ("": the default one) with the operator's
// token, and the version the server says it is (0 when it does not); a
// refusal or an unknown id is a *client.HTTPError (401, 404). The body is
// the spec, with a "version" beside its fields, or a stored version
// ({"version": n, "spec": {...}}). m4px > 0 is a lite page's width: the
// server starts computing the m4 streams it will follow
// (dashboard.QueryM4Px).
func fetchSpec(ctx context.Context, id, token string, m4px int) (*dashboard.Dashboard, int, error) {
	if token == "" {
		return nil, 0, errNoToken
	}
	if id == "" {
		id = "default"
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	u := origin().String() + APIDashboards + "/" + url.PathEscape(id)
	if m4px > 0 {
		u += "?" + dashboard.QueryM4Px + "=" + strconv.Itoa(m4px)
	}
	body, err := httpGet(ctx, u, token)
	if err != nil {
		return nil, 0, fmt.Errorf("fetch dashboard: %w", err)
	}
	var d struct {
		dashboard.Dashboard
		Version int                  `json:"version"`
		Spec    *dashboard.Dashboard `json:"spec"`
	}
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, 0, fmt.Errorf("decode dashboard: %w", err)
	}
	spec := &d.Dashboard
	if d.Spec != nil {
		spec = d.Spec
	}
	// Not Validate(): the server validated its specs when it saved them,
	// and the check (7 KB of wasm) is one the page cannot act on anyway.
	if len(spec.Panels) == 0 {
		return nil, 0, errors.New("decode dashboard: no panels")
	}
	return spec, d.Version, nil
}

package ui

import (
	"math"
	"reflect"
	"time"
	"unicode/utf8"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/telltale/telltale/shared/dashboard"
)

// Feed tables keep a stream's latest rows (Panel.Rows, up to 10,000) but put
// only the rows in view in the DOM, so a table costs the same at any length
// and any rate: a render diffs about 25 rows, whatever the stream holds.
const (
	// rowHeight is every row's height in pixels, header included: static/
	// telltale.css fixes it (.tt-table th, td), and the windowing relies on it
	// instead of measuring rows.
	rowHeight = 28
	// viewRows is how many body rows the scroll container shows: its
	// max-height is the header plus viewRows rows.
	viewRows = 12
	// overscan rows are drawn beyond each edge of the view, so a quick
	// scroll shows rows, not blank, until the next render.
	overscan = 6
	// flashFor is how long a new row stays highlighted: the length of the
	// tt-flash animations in static/telltale.css.
	flashFor = 1500 * time.Millisecond
	// flashMax bounds the rows one frame marks as new (a burst of thousands
	// would otherwise fill the map; only the newest can be on screen).
	flashMax = 256
	// headRows of a frame are remembered to tell the next frame's new rows.
	headRows = 8
)

// rowsKept is how many rows the client keeps per stream: the most any table
// (or status panel: a tile per row) of d keeps. livestate's limit is one per client, not per panel. Zero (no
// table) leaves livestate's default, enough for a kpi's "row.NAME".
func rowsKept(d *dashboard.Dashboard) int {
	n := 0
	for _, p := range d.Panels {
		if p.Kind == dashboard.KindTable || p.Kind == dashboard.KindStatus {
			n = max(n, p.KeepRows())
		}
	}
	return n
}

// tableRows is a stream's rows as of the shell's latest frame.
func (s *Shell) tableRows(stream string) []rowView { return s.view.rows[stream] }

// feedTable draws one table panel: a scroll container of fixed row height
// with the rows in view plus overscan, between two spacer rows as tall as
// the rows left out, so the scrollbar reflects every row. It shows the
// columns that fit its width, by Column.Priority, and never scrolls
// sideways.
type feedTable struct {
	app.Compo
	Panel dashboard.Panel
	// Frame is the shell's render count. go-app re-renders a component only
	// when an exported field changed, and compares fields with
	// reflect.DeepEqual: thousands of rows would be compared every frame, so
	// the rows come through rows and Frame says there is a new frame.
	Frame int

	rows   func(stream string) []rowView // the shell's latest frame; set once, at mount
	loc    Locale
	order  tableOrder // the reader's sort and filter (table_sort.go)
	f      feed
	fit    columnFit
	ro     app.Value // the ResizeObserver that keeps fit.width
	onSize app.Func
}

func (t *feedTable) OnInit() {
	t.f.update(t.ordered(), time.Now())
}

// OnMount follows the table's width: a ResizeObserver reports it at once
// and on every change (a rotation, the grid reflowing, a scrollbar), so
// no layout is read while rendering.
func (t *feedTable) OnMount(ctx app.Context) {
	ro := app.Window().Get("ResizeObserver")
	if !ro.Truthy() {
		return // the server, or an old browser: every column shows
	}
	t.onSize = app.FuncOf(func(_ app.Value, args []app.Value) any {
		entries := args[0]
		n := entries.Length()
		if n == 0 {
			return nil
		}
		w := entries.Index(n - 1).Get("contentRect").Get("width").Float()
		ctx.Dispatch(func(ctx app.Context) {
			if w == t.fit.width {
				ctx.PreventUpdate()
				return
			}
			t.fit.width = w
		})
		return nil
	})
	t.ro = ro.New(t.onSize)
	t.ro.Call("observe", t.JSValue())
}

func (t *feedTable) OnDismount() {
	if t.ro != nil {
		t.ro.Call("disconnect")
		t.onSize.Release()
		t.ro, t.onSize = nil, nil
	}
}

// OnUpdate takes the new frame's rows. When rows came in above a reader who
// has scrolled down, the container is scrolled by as much once go-app has
// updated the DOM, so what they read stays put.
func (t *feedTable) OnUpdate(ctx app.Context) {
	by := t.f.update(t.ordered(), time.Now())
	if by == 0 {
		return
	}
	ctx.Defer(func(ctx app.Context) {
		// Read and write together: the write lays out anyway, so the read
		// costs nothing more, and it keeps a scroll the reader made since
		// the last scroll event.
		el := ctx.JSSrc().Get("lastElementChild") // the scroll container, after the filter box
		el.Set("scrollTop", el.Get("scrollTop").Float()+by)
	})
}

// onScroll re-renders only when the rows to draw changed. (go-app then
// renders the shell too, which builds its tree but draws no chart.)
func (t *feedTable) onScroll(ctx app.Context, _ app.Event) {
	if !t.f.scroll(ctx.JSSrc().Get("scrollTop").Float(), time.Now()) {
		ctx.PreventUpdate()
	}
}

func (t *feedTable) Render() app.UI {
	cols := t.Panel.Columns
	f := &t.f
	loc := t.loc
	if loc == nil {
		loc = plainLocale{}
	}
	// Every drawn cell is written once, before the columns are chosen:
	// their widths depend on what they hold.
	formats := make([]Format, len(cols))
	for j, c := range cols {
		formats[j] = FormatOf(c.Format, c.Currency, c.Decimals)
	}
	now := time.Now()
	texts := t.fit.texts[:0]
	for _, d := range f.drawn {
		for j, c := range cols {
			texts = append(texts, formats[j].Value(loc, d.row.field(c.Field), now))
		}
	}
	t.fit.texts = texts
	t.fit.measure(cols, texts)
	shown := keepColumns(cols, t.fit.need, t.fit.width)
	return app.Div().Class("tt-table-box").Body(
		// A raw input: its value is the reader's, never re-rendered.
		app.Div().Class("tt-filter").On("input", t.onFilter).Body(
			app.Raw(`<input type="search" placeholder="Filter rows" aria-label="Filter rows" id="filter-`+t.Panel.ID+`">`),
		),
		t.scroller(cols, shown, texts),
	)
}

// scroller is the table's scroll container and the table in it.
func (t *feedTable) scroller(cols []dashboard.Column, shown []int, texts []string) app.UI {
	f := &t.f
	var total float64
	for _, j := range shown {
		total += t.fit.need[j]
	}
	return app.Div().Class("tt-table-wrap").OnScroll(t.onScroll).Body(
		// Fixed layout: column widths come from the <col>s, in proportion
		// to what each column needs, not from whichever rows are drawn, so
		// they do not shift while scrolling. The table is as wide as its
		// container: the columns shown fit it.
		app.Table().Class("tt-table").ID("table-"+t.Panel.ID).Body(
			app.ColGroup().Body(
				app.Range(shown).Slice(func(i int) app.UI {
					return app.Col().Style("width", "%.3f%%", 100*t.fit.need[shown[i]]/total)
				}),
			),
			app.THead().Body(app.Tr().Body(
				app.Range(shown).Slice(func(i int) app.UI {
					j := shown[i]
					// Focusable, and Enter or Space sorts as a click does.
					return app.Th().Class("tt-sortable").Aria("sort", t.order.ariaSort(j)).Title("Sort by "+cols[j].Title).
						Attr("tabindex", 0).OnClick(t.onSort(j)).OnKeyDown(t.onSortKey(j)).Text(cols[j].Title + t.order.sortMark(j))
				}),
			)),
			app.TBody().Body(
				spacer(len(shown), f.first),
				app.Range(f.drawn).Slice(func(i int) app.UI {
					d := f.drawn[i]
					tr := app.Tr().DataSet("key", d.row.key)
					if d.flash != "" {
						tr = tr.Class("tt-new", d.flash).Style("animation-delay", "-%dms", d.delay.Milliseconds())
					}
					return tr.Body(
						app.Range(shown).Slice(func(k int) app.UI {
							j := shown[k]
							td := app.Td().Class("tt-col-" + cols[j].Format).Text(texts[i*len(cols)+j])
							if l := cellLevel(cols[j], d.row.field(cols[j].Field)); l != "" {
								td = td.Class(levelClass(l)).DataSet("level", string(l)).Title(string(l) + " — " + cols[j].Rules().Describe(plainNumber))
							}
							return td
						}),
					)
				}),
				spacer(len(shown), len(f.rows)-f.last),
			),
		),
	)
}

// field is the value a column naming field shows for row r: the row's
// field of that name; for "key", when the row has no such field, the
// row's key (a row's key need not be one of its fields).
func (r rowView) field(name string) any {
	if v, ok := r.fields[name]; ok {
		return v
	}
	if name == "key" {
		return r.key
	}
	return nil
}

// How wide a column needs to be, estimated from the characters it holds
// rather than measured: a layout read per render would cost more than the
// render. Wide characters are assumed, so a column that is kept fits.
const (
	cellCharPx   = 10  // body text is 15px; digits are 0.55–0.64em, capitals up to 0.8em
	headCharPx   = 8.5 // headers are 12px, semi-bold
	cellPadPx    = 16  // .tt-table th, td: 8px each side
	maxCellChars = 24  // longer text is cut (an ellipsis) rather than widen its column
)

// columnFit is what a table knows to choose its columns.
type columnFit struct {
	width float64   // the container's content width in px; 0 until measured
	need  []float64 // per column, px: the widest title or value seen
	texts []string  // the drawn cells, row by row, reused between renders
}

// measure widens each column's need to its title and the cells in texts
// (rows of len(cols)). Needs only grow, so a column does not come and go
// as rows of different lengths scroll by.
func (c *columnFit) measure(cols []dashboard.Column, texts []string) {
	if len(c.need) != len(cols) {
		c.need = make([]float64, len(cols))
	}
	for j, col := range cols {
		c.need[j] = max(c.need[j], float64(utf8.RuneCountInString(col.Title))*headCharPx+cellPadPx)
	}
	for i, s := range texts {
		j := i % len(cols)
		c.need[j] = max(c.need[j], float64(min(maxCellChars, utf8.RuneCountInString(s)))*cellCharPx+cellPadPx)
	}
}

// keepColumns lists, in order, the columns a table width px wide shows when
// column j needs need[j] px: columns are hidden in hideOrder until the rest
// fit. An unknown width (0) shows them all.
func keepColumns(cols []dashboard.Column, need []float64, width float64) []int {
	hidden := make([]bool, len(cols))
	if width > 0 {
		var total float64
		for _, n := range need {
			total += n
		}
		for _, j := range hideOrder(cols) {
			if total <= width {
				break
			}
			hidden[j] = true
			total -= need[j]
		}
	}
	shown := make([]int, 0, len(cols))
	for j := range cols {
		if !hidden[j] {
			shown = append(shown, j)
		}
	}
	return shown
}

// hideOrder is the order a narrow table hides its columns in, as
// Column.Priority says: the largest priority first, zero counting as larger
// than any, the rightmost first among equals; never the first column.
func hideOrder(cols []dashboard.Column) []int {
	rank := func(p int) int {
		if p == 0 {
			return math.MaxInt
		}
		return p
	}
	order := make([]int, 0, len(cols))
	for j := len(cols) - 1; j >= 1; j-- {
		order = append(order, j)
	}
	// An insertion sort, stable: among equal priorities the rightmost
	// stays first. (A table has a few columns; slices.SortStableFunc costs
	// 6 KB of app.wasm.)
	for i := 1; i < len(order); i++ {
		for j := i; j > 0 && rank(cols[order[j]].Priority) > rank(cols[order[j-1]].Priority); j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	return order
}

// spacer stands for rows rows left out of the DOM.
func spacer(cols, rows int) app.UI {
	return app.Tr().Class("tt-spacer").Aria("hidden", true).Body(
		app.Td().ColSpan(cols).Style("height", "%dpx", rows*rowHeight),
	)
}

// span is the rows [first, last) of n a table draws when its container is
// scrolled top pixels: the rows in view, the one partly in view below them,
// and over rows each side. Scrolled past the end (the rows shrank), it draws
// the last view rows.
func span(top float64, rowH, view, over, n int) (first, last int) {
	at := inView(top, rowH, view, n)
	return max(0, at-over), min(n, at+view+1+over)
}

// inView is the index of the first row in view.
func inView(top float64, rowH, view, n int) int {
	at := 0
	if top > 0 {
		at = int(top) / rowH
	}
	return max(0, min(at, n-view))
}

// rowID tells a row's versions apart: rows are replaced, never changed in
// place (livestate.Clone), so an updated row has a new fields map.
type rowID struct {
	key    string
	fields uintptr
}

func idOf(r rowView) rowID {
	return rowID{r.key, reflect.ValueOf(r.fields).Pointer()}
}

func (id rowID) is(r rowView) bool {
	return r.key == id.key && reflect.ValueOf(r.fields).Pointer() == id.fields
}

// find is the index of row id in rows, or -1, looking outward from hint.
func find(rows []rowView, id rowID, hint int) int {
	hint = max(0, min(hint, len(rows)))
	for hi, lo := hint, hint-1; hi < len(rows) || lo >= 0; hi, lo = hi+1, lo-1 {
		if hi < len(rows) && id.is(rows[hi]) {
			return hi
		}
		if lo >= 0 && id.is(rows[lo]) {
			return lo
		}
	}
	return -1
}

// fresh counts the rows at the top of rows that the previous frame did not
// hold, given that frame's first rows (head). Rows enter only at the top
// (livestate.Fold puts a new or updated row first) and the rest keep their
// order, so the new rows are those above the first head row still held.
func fresh(head []rowID, rows []rowView) int {
	for i, id := range head {
		if at := find(rows, id, i); at >= 0 {
			return at
		}
	}
	return len(rows)
}

// shift is how many rows moved in above the reader: seen are the rows that
// were in view, the first at index at, and n rows are new. It is the move
// of the first of them still held; an updated row jumped to the top, so the
// next one is used.
func shift(seen []rowID, at int, rows []rowView, n int) (int, bool) {
	for j, id := range seen {
		if i := find(rows, id, at+j+n); i >= 0 {
			return i - (at + j), true
		}
	}
	return 0, false
}

// feed is a table's view state between renders, on the UI goroutine.
type feed struct {
	rows        []rowView // newest first, as of the latest frame
	top         float64   // the container's scrollTop, px
	at          int       // the first row in view
	first, last int       // the rows drawn
	drawn       []drawnRow
	head        []rowID // rows[:headRows]: what the next frame finds new
	seen        []rowID // the rows in view: what the reader keeps in place
	arrived     map[rowID]time.Time
	slots       []slot // per drawn position
}

// drawnRow is one row as Render draws it.
type drawnRow struct {
	row   rowView
	flash string        // "", or the highlight animation's class
	delay time.Duration // how far into the animation the row starts
}

// slot is what one drawn position (one <tr>: go-app reuses elements by
// position) showed. A new row arriving at the top moves every row down one
// element, so the highlight must follow the row, not the element: a slot
// whose row changed switches to the other of two identical animations
// (changing animation-name restarts it) with a negative delay of the row's
// age, so the row's fade goes on where it was. No timer per row: an
// animation that ended shows nothing, and the next render drops its class.
type slot struct {
	id    rowID
	alt   bool
	delay time.Duration
}

// update takes a frame's rows and returns how many pixels to scroll by to
// keep the rows in view in place. A reader at the very top (scrollTop 0)
// follows the newest rows instead. Rows the previous frame did not hold are
// highlighted, unless it held none (the table filled, nothing arrived).
func (f *feed) update(rows []rowView, now time.Time) (scrollBy float64) {
	n := fresh(f.head, rows)
	if len(f.rows) == 0 {
		n = 0
	}
	if f.arrived == nil {
		f.arrived = make(map[rowID]time.Time)
	}
	for id, t := range f.arrived {
		if now.Sub(t) >= flashFor {
			delete(f.arrived, id)
		}
	}
	for _, r := range rows[:min(n, flashMax)] {
		f.arrived[idOf(r)] = now
	}
	if f.top > 0 {
		if d, ok := shift(f.seen, f.at, rows, n); ok && d != 0 {
			scrollBy = float64(d * rowHeight)
			f.top = max(0, f.top+scrollBy)
		}
	}
	f.rows = rows
	f.place(now)
	return scrollBy
}

// scroll takes the container's scrollTop and reports whether the rows to
// draw changed.
func (f *feed) scroll(top float64, now time.Time) bool {
	first, last := f.first, f.last
	f.top = top
	f.place(now)
	return f.first != first || f.last != last
}

// place works out what to draw and what to remember for the next frame.
func (f *feed) place(now time.Time) {
	n := len(f.rows)
	f.at = inView(f.top, rowHeight, viewRows, n)
	f.first, f.last = span(f.top, rowHeight, viewRows, overscan, n)
	f.head = appendIDs(f.head[:0], f.rows[:min(n, headRows)])
	f.seen = appendIDs(f.seen[:0], f.rows[f.at:min(n, f.at+viewRows)])

	count := f.last - f.first
	if len(f.slots) > count {
		// Positions past the end become spacers or go: forget them, so
		// an element created there later starts afresh.
		clear(f.slots[count:])
		f.slots = f.slots[:count]
	}
	for len(f.slots) < count {
		f.slots = append(f.slots, slot{})
	}
	f.drawn = f.drawn[:0]
	for p := range count {
		r := f.rows[f.first+p]
		id := idOf(r)
		came, recent := f.arrived[id]
		recent = recent && now.Sub(came) < flashFor
		s := &f.slots[p]
		if s.id != id {
			s.id, s.alt, s.delay = id, !s.alt, 0
			if recent {
				s.delay = now.Sub(came)
			}
		}
		d := drawnRow{row: r}
		if recent {
			d.flash, d.delay = "tt-new-a", s.delay
			if s.alt {
				d.flash = "tt-new-b"
			}
		}
		f.drawn = append(f.drawn, d)
	}
}

func appendIDs(dst []rowID, rows []rowView) []rowID {
	for _, r := range rows {
		dst = append(dst, idOf(r))
	}
	return dst
}

package ui

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/telltale/telltale/shared/dashboard"
)

func TestSpan(t *testing.T) {
	const r = rowHeight
	tests := []struct {
		name        string
		top         float64
		rowH        int
		view, over  int
		n           int
		first, last int
	}{
		{"empty", 0, r, 12, 6, 0, 0, 0},
		{"fewer rows than the view", 0, r, 12, 6, 5, 0, 5},
		{"at the top", 0, r, 12, 6, 1000, 0, 19},
		{"one pixel down", 1, r, 12, 6, 1000, 0, 19},
		{"row 500 at the top", 500 * r, r, 12, 6, 1000, 494, 519},
		{"part of row 500 scrolled out", 500*r + 27.5, r, 12, 6, 1000, 494, 519},
		{"last screen", (1000 - 12) * r, r, 12, 6, 1000, 982, 1000},
		{"past the end after the rows shrank", 5000 * r, r, 12, 6, 100, 82, 100},
		{"negative (overscroll bounce)", -40, r, 12, 6, 1000, 0, 19},
		{"other row height", 400, 40, 10, 2, 1000, 8, 23},
		{"no overscan", 3 * r, r, 12, 0, 1000, 3, 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first, last := span(tt.top, tt.rowH, tt.view, tt.over, tt.n)
			if first != tt.first || last != tt.last {
				t.Fatalf("got [%d, %d), want [%d, %d)", first, last, tt.first, tt.last)
			}
			if drawn := last - first; drawn > tt.view+1+2*tt.over {
				t.Fatalf("got %d rows drawn, want at most %d", drawn, tt.view+1+2*tt.over)
			}
		})
	}
}

// rows makes keyed rows, newest first: rows("a", 3) is a2, a1, a0. Every row
// has its own fields map, as decoded rows do.
func rows(prefix string, n int) []rowView {
	out := make([]rowView, n)
	for i := range out {
		k := fmt.Sprintf("%s%d", prefix, n-1-i)
		out[i] = rowView{key: k, fields: map[string]any{"id": k}}
	}
	return out
}

func keys(rs []rowView) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.key
	}
	return out
}

// update returns a copy of rs with row key replaced by a new version, first.
func updated(rs []rowView, key string) []rowView {
	i := slices.IndexFunc(rs, func(r rowView) bool { return r.key == key })
	r := rowView{key: key, fields: map[string]any{"id": key, "v": 2}}
	return append([]rowView{r}, slices.Delete(slices.Clone(rs), i, i+1)...)
}

func TestFeedAnchorsTheReader(t *testing.T) {
	const r = rowHeight
	base := rows("r", 200)
	tests := []struct {
		name       string
		top        float64 // where the reader scrolled to
		next       func([]rowView) []rowView
		wantBy     float64 // the scroll the table asks for
		wantInView string  // the key at the top of the view afterwards
	}{
		{"at the top it follows the newest rows", 0,
			func(rs []rowView) []rowView { return append(rows("n", 3), rs...) }, 0, "n2"},
		{"scrolled down, rows inserted above keep it in place", 50 * r,
			func(rs []rowView) []rowView { return append(rows("n", 3), rs...) }, 3 * r, "r149"},
		{"the offset inside a row is kept", 50*r + 10,
			func(rs []rowView) []rowView { return append(rows("n", 3), rs...) }, 3 * r, "r149"},
		{"a few pixels down counts as scrolled", 5,
			func(rs []rowView) []rowView { return append(rows("n", 2), rs...) }, 2 * r, "r199"},
		{"rows removed above move it up", 50 * r,
			func(rs []rowView) []rowView { return slices.Delete(slices.Clone(rs), 10, 12) }, -2 * r, "r149"},
		{"the row in view updated: the next one stays put", 50 * r,
			func(rs []rowView) []rowView { return updated(rs, "r149") }, 0, "r150"},
		{"a row above updated: nothing moves", 50 * r,
			func(rs []rowView) []rowView { return updated(rs, "r180") }, 0, "r149"},
		{"nothing changed", 50 * r,
			func(rs []rowView) []rowView { return slices.Clone(rs) }, 0, "r149"},
		{"inserted and trimmed to the limit", 50 * r,
			func(rs []rowView) []rowView { return append(rows("n", 5), rs[:195]...) }, 5 * r, "r149"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f feed
			now := time.Unix(1000, 0)
			f.update(base, now)
			f.scroll(tt.top, now)
			by := f.update(tt.next(base), now.Add(time.Second))
			if by != tt.wantBy {
				t.Fatalf("got scroll by %v, want %v", by, tt.wantBy)
			}
			if got := f.rows[f.at].key; got != tt.wantInView {
				t.Fatalf("got %s at the top of the view, want %s", got, tt.wantInView)
			}
			if f.top != tt.top+tt.wantBy {
				t.Fatalf("got top %v, want %v", f.top, tt.top+tt.wantBy)
			}
			if !slices.Equal(keys(f.rows[f.first:f.last]), keys(drawnRows(f.drawn))) {
				t.Fatalf("drawn rows %v are not rows [%d, %d)", keys(drawnRows(f.drawn)), f.first, f.last)
			}
		})
	}
}

func drawnRows(d []drawnRow) []rowView {
	out := make([]rowView, len(d))
	for i, x := range d {
		out[i] = x.row
	}
	return out
}

// flashes lists the drawn keys with a highlight, as key:class.
func flashes(f *feed) []string {
	var out []string
	for _, d := range f.drawn {
		if d.flash != "" {
			out = append(out, fmt.Sprintf("%s:%s", d.row.key, d.flash))
		}
	}
	return out
}

func TestFeedHighlightsNewRows(t *testing.T) {
	var f feed
	t0 := time.Unix(1000, 0)
	if by := f.update(nil, t0); by != 0 || len(f.drawn) != 0 {
		t.Fatalf("empty: got by %v and %d rows drawn, want 0 and 0", by, len(f.drawn))
	}
	rs := rows("r", 100)
	f.update(rs, t0)
	if got := flashes(&f); got != nil {
		t.Fatalf("the table filled: got %v highlighted, want none", got)
	}

	// Two rows arrive, drawn at positions 0 and 1: those elements showed
	// other rows, so each flips to its other animation ("b" after the
	// fill, now "a"), and a row that just arrived starts at its beginning.
	rs = append(rows("n", 2), rs...)
	f.update(rs, t0.Add(100*time.Millisecond))
	if got, want := flashes(&f), []string{"n1:tt-new-a", "n0:tt-new-a"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if f.drawn[0].delay != 0 {
		t.Fatalf("got delay %v for a row that just arrived, want 0", f.drawn[0].delay)
	}

	// One more 500 ms later: every element's row changed, so each flips
	// its animation (which restarts it) and starts it as far in as the
	// row's age, so n1 and n0 keep fading where they were.
	rs = append([]rowView{{key: "m", fields: map[string]any{}}}, rs...)
	f.update(rs, t0.Add(600*time.Millisecond))
	if got, want := flashes(&f), []string{"m:tt-new-b", "n1:tt-new-b", "n0:tt-new-b"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if got, want := f.drawn[1].delay, 500*time.Millisecond; got != want {
		t.Fatalf("got delay %v for n1, want %v (its age)", got, want)
	}

	// A render where nothing moved changes nothing: the running animations
	// keep their class and delay.
	before := slices.Clone(f.drawn)
	f.update(slices.Clone(rs), t0.Add(700*time.Millisecond))
	for i := range before {
		if before[i].flash != f.drawn[i].flash || before[i].delay != f.drawn[i].delay {
			t.Fatalf("row %s: got %s %v, want %s %v unchanged", before[i].row.key, f.drawn[i].flash, f.drawn[i].delay, before[i].flash, before[i].delay)
		}
	}

	// An updated row is new again; past flashFor the others are not.
	rs = updated(rs, "r50")
	f.update(rs, t0.Add(100*time.Millisecond+flashFor))
	if got, want := flashes(&f), []string{"r50:tt-new-a", "m:tt-new-a"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	f.update(slices.Clone(rs), t0.Add(time.Hour))
	if got := flashes(&f); got != nil || len(f.arrived) != 0 {
		t.Fatalf("an hour later: got %v highlighted and %d remembered, want none", got, len(f.arrived))
	}
}

func TestFeedScroll(t *testing.T) {
	var f feed
	now := time.Unix(1000, 0)
	f.update(rows("r", 1000), now)
	if f.scroll(10, now) {
		t.Fatal("got a re-render for a scroll within the first row, want none")
	}
	if !f.scroll(500*rowHeight, now) {
		t.Fatal("got no re-render for a scroll to row 500")
	}
	if got := f.drawn[0].row.key; got != "r505" {
		t.Fatalf("got %s drawn first at row 500, want r505 (row 494)", got)
	}
	if len(f.drawn) > 40 {
		t.Fatalf("got %d rows drawn, want at most 40", len(f.drawn))
	}
}

func TestRowsKept(t *testing.T) {
	table := func(rows int) dashboard.Panel {
		return dashboard.Panel{Kind: dashboard.KindTable, Rows: rows}
	}
	tests := []struct {
		name   string
		panels []dashboard.Panel
		want   int
	}{
		{"no table: livestate's default", []dashboard.Panel{{Kind: dashboard.KindKPI}}, 0},
		{"a table without rows: the default", []dashboard.Panel{table(0)}, dashboard.DefaultRows},
		{"the largest table", []dashboard.Panel{table(50), table(1000), table(0)}, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rowsKept(&dashboard.Dashboard{Panels: tt.panels}); got != tt.want {
				t.Fatalf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestHideOrder(t *testing.T) {
	cols := func(priorities ...int) []dashboard.Column {
		out := make([]dashboard.Column, len(priorities))
		for i, p := range priorities {
			out[i] = dashboard.Column{Field: fmt.Sprint(i), Priority: p}
		}
		return out
	}
	tests := []struct {
		name string
		cols []dashboard.Column
		want []int
	}{
		{"no priorities: rightmost first, never the first", cols(0, 0, 0, 0), []int{3, 2, 1}},
		{"largest priority first", cols(0, 1, 3, 2), []int{2, 3, 1}},
		{"zero counts as larger than any number", cols(0, 5, 0, 100), []int{2, 3, 1}},
		{"rightmost among equals", cols(1, 2, 2, 1), []int{2, 1, 3}},
		{"the first column's priority does not matter", cols(9, 1, 2), []int{2, 1}},
		{"one column", cols(0), []int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hideOrder(tt.cols); !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestKeepColumns(t *testing.T) {
	// The README's shop table: order, placed, total, status, note.
	cols := []dashboard.Column{{Field: "key"}, {Field: "placed", Priority: 1}, {Field: "total", Priority: 2}, {Field: "status", Priority: 3}, {Field: "note"}}
	need := []float64{80, 100, 110, 70, 240}
	tests := []struct {
		name  string
		width float64
		want  []int
	}{
		{"unknown width shows all", 0, []int{0, 1, 2, 3, 4}},
		{"wide enough for all", 1000, []int{0, 1, 2, 3, 4}},
		{"exactly wide enough", 600, []int{0, 1, 2, 3, 4}},
		{"the note goes first (no priority)", 599, []int{0, 1, 2, 3}},
		{"then the largest priority", 359, []int{0, 1, 2}},
		{"a phone", 344, []int{0, 1, 2}},
		{"narrower", 200, []int{0, 1}},
		{"the first column stays however narrow", 10, []int{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := keepColumns(cols, need, tt.width); !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestColumnFitNeedsOnlyGrow(t *testing.T) {
	cols := []dashboard.Column{{Field: "key", Title: "Order"}, {Field: "note", Title: "N"}}
	var fit columnFit
	fit.measure(cols, []string{"SO-1", "a long note that goes on and on and on and on"})
	first := slices.Clone(fit.need)
	if want := 5*headCharPx + cellPadPx; first[0] != want {
		t.Fatalf("got %v px for a title longer than its cells, want %v", first[0], want)
	}
	if want := float64(maxCellChars*cellCharPx + cellPadPx); first[1] != want {
		t.Fatalf("got %v px for a long note, want the cap %v", first[1], want)
	}
	fit.measure(cols, []string{"SO-100001", "short"})
	if fit.need[0] <= first[0] || fit.need[1] != first[1] {
		t.Fatalf("got needs %v after %v, want the first to grow and the second to stay", fit.need, first)
	}
}

func TestKeyColumnShowsTheRowKey(t *testing.T) {
	r := rowView{key: "SO-1", fields: map[string]any{"status": "packed"}}
	if got := r.field("key"); got != "SO-1" {
		t.Fatalf("got %v, want the row's key SO-1", got)
	}
	if got := r.field("total"); got != nil {
		t.Fatalf("got %v for a missing field, want nil", got)
	}
	r.fields["key"] = "its own"
	if got := r.field("key"); got != "its own" {
		t.Fatalf("got %v, want the row's own key field", got)
	}
}

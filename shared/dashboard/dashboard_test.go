package dashboard

import (
	"encoding/json"
	"strings"
	"testing"
)

func valid() Dashboard {
	return Dashboard{ID: "ops", Title: "Ops", Panels: []Panel{
		{ID: "k", Kind: KindKPI, Stream: "orders", Field: "orders_today"},
		{ID: "t", Kind: KindTimeSeries, Stream: "metrics", Series: []string{"a"}},
		{ID: "f", Kind: KindTable, Stream: "orders", Columns: []Column{{Field: "id", Title: "ID"}}},
	}}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Dashboard)
		wantErr string
	}{
		{"valid", func(*Dashboard) {}, ""},
		{"no id", func(d *Dashboard) { d.ID = "" }, "no id"},
		{"id with a slash", func(d *Dashboard) { d.ID = "ops/night" }, `dashboard id "ops/night": want 1–64 characters of a-z`},
		{"id in capitals", func(d *Dashboard) { d.ID = "Ops" }, `dashboard id "Ops"`},
		{"no panels", func(d *Dashboard) { d.Panels = nil }, "no panels"},
		{"repeated panel id", func(d *Dashboard) { d.Panels[1].ID = "k" }, "repeated id"},
		{"bad stream", func(d *Dashboard) { d.Panels[0].Stream = "a/b" }, "stream name"},
		{"kpi without field", func(d *Dashboard) { d.Panels[0].Field = "" }, "no field"},
		{"series missing", func(d *Dashboard) { d.Panels[1].Series = nil }, "no series"},
		{"table without columns", func(d *Dashboard) { d.Panels[2].Columns = nil }, "no columns"},
		{"unknown kind", func(d *Dashboard) { d.Panels[0].Kind = "pie" }, "unknown kind"},
		{"too wide", func(d *Dashboard) { d.Panels[0].Width = 13 }, "width"},
		{"rows at the maximum", func(d *Dashboard) { d.Panels[2].Rows = MaxRows }, ""},
		{"negative rows", func(d *Dashboard) { d.Panels[2].Rows = -1 }, "keeps -1 rows, want 1–10000"},
		{"too many rows", func(d *Dashboard) { d.Panels[2].Rows = MaxRows + 1 }, "keeps 10001 rows"},
		{"money kpi in euros", func(d *Dashboard) { d.Panels[0].Format, d.Panels[0].Currency = FormatMoney, "EUR" }, ""},
		{"unknown kpi format", func(d *Dashboard) { d.Panels[0].Format = "currency" }, `panel k: unknown format "currency", want one of number, int, money`},
		{"unknown column format", func(d *Dashboard) { d.Panels[2].Columns[0].Format = "currency" }, `column id: unknown format "currency"`},
		{"currency not a code", func(d *Dashboard) { d.Panels[0].Format, d.Panels[0].Currency = FormatMoney, "€" }, "not an ISO 4217 code"},
		{"currency without money", func(d *Dashboard) { d.Panels[2].Columns[0].Currency = "USD" }, `currency USD needs format "money"`},
		{"decimals", func(d *Dashboard) { n := 2; d.Panels[0].Decimals = &n }, ""},
		{"too many decimals", func(d *Dashboard) { n := 11; d.Panels[2].Columns[0].Decimals = &n }, "decimals 11 is outside 0–10"},
		{"label of a series", func(d *Dashboard) { d.Panels[1].Labels = map[string]string{"a": "Alpha"} }, ""},
		{"label of no series", func(d *Dashboard) { d.Panels[1].Labels = map[string]string{"b": "Beta"} }, `labels names "b"`},
		{"column without field", func(d *Dashboard) { d.Panels[2].Columns[0].Field = "" }, "column #1 has no field"},
		{"negative priority", func(d *Dashboard) { d.Panels[2].Columns[0].Priority = -1 }, "priority -1 is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := valid()
			tt.mutate(&d)
			err := d.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestKeepRows(t *testing.T) {
	tests := []struct {
		name string
		rows int
		want int
	}{
		{"zero means the default", 0, DefaultRows},
		{"set", 1000, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (Panel{Kind: KindTable, Rows: tt.rows}).KeepRows(); got != tt.want {
				t.Fatalf("got %d, want %d", got, tt.want)
			}
		})
	}
	var d Dashboard
	if err := json.Unmarshal([]byte(`{"id":"x","panels":[{"id":"f","kind":"table","stream":"s","rows":500,"columns":[{"field":"a","title":"A"}]}]}`), &d); err != nil || d.Panels[0].Rows != 500 {
		t.Fatalf("got %+v %v, want rows 500 from JSON", d.Panels, err)
	}
}

func TestStreams(t *testing.T) {
	d := valid()
	got := strings.Join(d.Streams(), ",")
	if want := "orders,metrics"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestParse(t *testing.T) {
	one := `{"id":"x","panels":[{"id":"k","kind":"kpi","stream":"s","field":"row.total"}]}`
	if ds, err := Parse([]byte(one)); err != nil || len(ds) != 1 || ds[0].Panels[0].Field != "row.total" {
		t.Fatalf("one: got %+v %v", ds, err)
	}
	if ds, err := Parse([]byte("[" + one + "," + strings.Replace(one, `"x"`, `"y"`, 1) + "]")); err != nil || len(ds) != 2 {
		t.Fatalf("array: got %d %v, want 2", len(ds), err)
	}
	for _, bad := range []string{``, `[]`, `{"id":"x"}`, `{"id":`} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Fatalf("%q: got nil, want an error", bad)
		}
	}
}

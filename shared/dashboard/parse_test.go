package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// opsFile is a small dashboard file; each case of TestParseMistakes changes
// one line of it.
const opsFile = `[
  {
    "id": "ops",
    "title": "Operations",
    "panels": [
      {"id": "today", "kind": "kpi", "stream": "orders", "field": "orders_today", "width": 4},
      {
        "id": "orders",
        "kind": "table",
        "stream": "orders",
        "width": 8,
        "columns": [
          {"field": "status", "title": "Status"},
          {"field": "total", "title": "Total", "format": "money", "currency": "EUR"}
        ]
      }
    ]
  }
]
`

// aggFile is a dashboard of aggregates; each case of TestParseAggMistakes
// changes one line of it.
const aggFile = `{
  "id": "orders-desk",
  "panels": [
    {"id": "rev-today", "kind": "kpi", "agg": {"source": "orders", "fn": "sum", "field": "total", "window": "today"}},
    {"id": "per-min", "kind": "timeseries", "agg": {"source": "orders", "fn": "count", "window": "1m"}},
    {"id": "by-region", "kind": "timeseries", "series": ["eu", "other"], "agg": {"source": "orders", "fn": "count", "group_by": "region", "window": "1m"}},
    {"id": "open", "kind": "table", "columns": [{"field": "key"}, {"field": "value"}],
     "agg": {"source": "orders", "fn": "count", "group_by": "status", "window": "current"}},
    {"id": "rev-again", "kind": "kpi", "agg": {"source": "orders", "fn": "sum", "field": "total", "window": "today", "emit_ms": 250}}
  ]
}`

func TestParseMistakes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		old, new     string // opsFile with old replaced by new
		wantErr      string // the whole message
		wantLine     int
		wantCol      int
		wantNoSubstr string
	}{
		{"misspelt key in a panel", `"width": 8`, `"widht": 8`,
			`11:9: dashboard ops: panel orders: unknown key "widht" (did you mean "width"?)`, 11, 9, ""},
		{"misspelt columns", `"columns": [`, `"colums": [`,
			`12:9: dashboard ops: panel orders: unknown key "colums" (did you mean "columns"?)`, 12, 9, "has no columns"},
		{"plural of a key", `"width": 4}`, `"width": 4, "units": "/min"}`,
			`6:95: dashboard ops: panel today: unknown key "units" (did you mean "unit"?)`, 6, 95, ""},
		{"key nothing is close to", `"width": 4}`, `"width": 4, "alarm": 10}`,
			`6:95: dashboard ops: panel today: unknown key "alarm" (a panel's keys are id, kind, title, stream, agg, field, label_field, thresholds, direction, value_map, compare_seconds, series, columns, rows, unit, format, currency, decimals, labels, width, window_seconds, expected_cadence_ms, sla)`, 6, 95, ""},
		{"key of a threshold", `"width": 4}`, `"width": 4, "thresholds": [{"value": 1, "levle": "ok"}]}`,
			`6:123: dashboard ops: panel today: thresholds[0]: unknown key "levle" (did you mean "level"?)`, 6, 123, ""},
		{"level of a threshold", `"width": 4}`, `"width": 4, "thresholds": [{"value": 1, "level": "red"}]}`,
			`6:7: dashboard ops: panel today: thresholds #1: unknown level "red", want ok, warn or critical`, 6, 7, ""},
		{"level of a column's value", `"title": "Status"}`, `"title": "Status", "value_map": {"late": "bad"}}`,
			`13:11: dashboard ops: panel orders: column status: value_map "late": unknown level "bad", want ok, warn or critical`, 13, 11, ""},
		{"key of a column", `"title": "Status"}`, `"title": "Status", "fromat": "text"}`,
			`13:50: dashboard ops: panel orders: column status: unknown key "fromat" (did you mean "format"?)`, 13, 50, ""},
		{"key of an sla", `"width": 4}`, `"width": 4, "sla": {"p95": 900}}`,
			`6:103: dashboard ops: panel today: sla: unknown key "p95" (an sla's keys are p95_ms, fresh_pct, fresh_within, for)`, 6, 103, ""},
		{"key of a dashboard", `"title": "Operations"`, `"titel": "Operations"`,
			`4:5: dashboard ops: unknown key "titel" (did you mean "title"?)`, 4, 5, ""},
		{"key in another case", `"width": 8`, `"Width": 8`,
			`11:9: dashboard ops: panel orders: unknown key "Width" (did you mean "width"?)`, 11, 9, ""},
		{"key given twice", `"width": 8`, `"width": 8, "width": 6`,
			`11:21: dashboard ops: panel orders: key "width" is given twice`, 11, 21, ""},
		{"unknown format", `"format": "money", "currency": "EUR"`, `"format": "currency"`,
			`14:11: dashboard ops: panel orders: column total: unknown format "currency", want one of number, int, money, percent, time, datetime, text, relative, duration`, 14, 11, ""},
		{"no columns", `"columns": [`, `"rows": 5, "other": [`,
			`12:20: dashboard ops: panel orders: unknown key "other"`, 12, 20, ""},
		{"a string for a number", `"width": 8`, `"width": "8"`,
			`11:18: dashboard ops: panel orders: width: want a whole number, got the string "8"`, 11, 18, ""},
		{"a fraction for a number", `"width": 8`, `"width": 6.5`,
			`11:18: dashboard ops: panel orders: width: want a whole number, got 6.5`, 11, 18, ""},
		{"null", `"stream": "orders",`, `"stream": null,`,
			`6:48: dashboard ops: panel today: stream: want a string, got null`, 6, 48, ""},
		{"series not a list", `"field": "orders_today"`, `"field": "orders_today", "series": "a"`,
			`6:93: dashboard ops: panel today: series: want an array, got the string "a"`, 6, 93, ""},
		{"panel without an id", `{"id": "today", `, `{`,
			`6:7: dashboard ops: panel #1 has a missing or repeated id ""`, 6, 7, ""},
		{"syntax: trailing comma", `"title": "Status"}`, `"title": "Status",}`,
			`13:49: invalid character '}' looking for beginning of object key string`, 13, 49, ""},
		{"syntax: cut short", "  }\n]\n", "  }\n",
			`18:4: unexpected end of JSON input`, 18, 4, ""},
		{"table without columns", `,
        "columns": [
          {"field": "status", "title": "Status"},
          {"field": "total", "title": "Total", "format": "money", "currency": "EUR"}
        ]`, ``,
			`7:7: dashboard ops: table panel orders has no columns`, 7, 7, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(opsFile, tt.old) {
				t.Fatalf("opsFile lacks %q", tt.old)
			}
			_, err := Parse([]byte(strings.Replace(opsFile, tt.old, tt.new, 1)))
			if err == nil {
				t.Fatalf("got nil, want %s", tt.wantErr)
			}
			if got := err.Error(); !strings.HasPrefix(got, tt.wantErr) {
				t.Fatalf("got  %s\nwant %s", got, tt.wantErr)
			}
			if tt.wantNoSubstr != "" && strings.Contains(err.Error(), tt.wantNoSubstr) {
				t.Fatalf("got %s, which misleads with %q", err, tt.wantNoSubstr)
			}
			var pe *Error
			if !errors.As(err, &pe) || pe.Line != tt.wantLine || pe.Col != tt.wantCol {
				t.Fatalf("got %#v, want an *Error at %d:%d", pe, tt.wantLine, tt.wantCol)
			}
		})
	}
}

// TestParseRefusesADashboardDefinedTwice: the second of two dashboards with
// one id would be unreachable at /d/{id}.
func TestParseRefusesADashboardDefinedTwice(t *testing.T) {
	t.Parallel()
	one := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(opsFile), "["), "]")
	_, err := Parse([]byte("[" + one + ",\n" + one + "]"))
	const want = "21:3: dashboard ops is defined twice" // the second one's opening brace
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("got %v, want an error starting %q", err, want)
	}
}

func TestParseAcceptsTheOpsFile(t *testing.T) {
	t.Parallel()
	ds, err := Parse([]byte(opsFile))
	if err != nil {
		t.Fatal(err)
	}
	if got := ds[0].Panels[1].Columns[1].Currency; got != "EUR" {
		t.Fatalf("got currency %q, want EUR", got)
	}
}

func TestParseOneObject(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte(`{"id": "x", "panels": [{"id": "k", "kind": "kpi", "stream": "s", "field": "f", "decimals": null, "labels": {}}],
 "panel": 1}`))
	if want := `2:2: dashboard x: unknown key "panel" (did you mean "panels"?)`; err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	for _, tt := range []struct{ in, want string }{
		{`"ops"`, `1:1: want a dashboard (an object) or an array of them, got the string "ops"`},
		{`[1]`, `1:2: dashboard 1: want an object, got 1`},
		{`[]`, `no dashboards`},
		{"", `no dashboards`},
		{`{"id": "x", "panels": [{"id": "k", "kind": "timeseries", "stream": "s", "series": ["a"], "labels": {"a": 1}}]}`,
			`1:106: dashboard x: panel k: labels.a: want a string, got 1`},
	} {
		if _, err := Parse([]byte(tt.in)); err == nil || err.Error() != tt.want {
			t.Errorf("%s: got %v, want %s", tt.in, err, tt.want)
		}
	}
}

// FuzzParse: Parse never panics, and what it accepts is valid and reads back
// the same once written out again.
func FuzzParse(f *testing.F) {
	f.Add([]byte(opsFile))
	f.Add([]byte(aggFile))
	f.Add([]byte(`{"id":"x","panels":[{"id":"k","kind":"kpi","stream":"s","field":"f","decimals":null}]}`))
	f.Add([]byte(`[{"id":"x","panels":[{"id":"t","kind":"timeseries","stream":"s","series":["a"],"labels":{"a":"A"}}]}]`))
	f.Add([]byte(`[1, {"Width": "x"}]`))
	f.Add([]byte(`{"id":"x","panels":[{"id":"k","kind":"kpi","stream":"s","field":"f","labels":{},"columns":[]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ds, err := Parse(b)
		if err != nil {
			return
		}
		for i := range ds {
			if err := ds[i].Validate(); err != nil {
				t.Fatalf("Parse accepted an invalid dashboard: %v", err)
			}
		}
		out, err := json.Marshal(ds)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse refuses what it accepted, written out: %v\n%s", err, out)
		}
		// Compared written out: an empty list or map reads back as none.
		if out2, _ := json.Marshal(again); !bytes.Equal(out, out2) {
			t.Fatalf("read back differently:\n%s\n%s", out, out2)
		}
	})
}

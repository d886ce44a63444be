//go:build !js

package dashboard

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	yaml "github.com/goccy/go-yaml"

	"github.com/telltale/telltale/internal/timing"
)

// opsYAML is opsFile in YAML; each case of TestParseYAMLMistakes changes one
// line of it.
const opsYAML = `# the operations floor
- id: ops
  title: Operations
  panels:
    - {id: today, kind: kpi, stream: orders, field: orders_today, width: 4}
    - id: orders
      kind: table
      stream: orders
      width: 8
      columns:
        - field: status
          title: Status
        - field: total
          title: Total
          format: money
          currency: EUR
`

func TestParseYAMLGivesWhatParseGives(t *testing.T) {
	fromJSON, err := Parse([]byte(opsFile))
	if err != nil {
		t.Fatal(err)
	}
	fromYAML, err := ParseYAML([]byte(opsYAML))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromYAML, fromJSON) {
		t.Fatalf("got  %+v\nwant %+v", fromYAML, fromJSON)
	}
}

// TestExamplesInYAMLAndJSON: every dashboard of examples/ reads the same
// from YAML as from JSON: the JSON files read by ParseYAML (JSON is YAML)
// and turned into YAML, the YAML files turned into JSON and read by Parse.
func TestExamplesInYAMLAndJSON(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*.json")
	yamls, _ := filepath.Glob("../../examples/*.y*ml")
	if len(files) == 0 || len(yamls) == 0 {
		t.Fatalf("got %d JSON and %d YAML files in examples/, want some of each", len(files), len(yamls))
	}
	for _, path := range append(files, yamls...) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var js, ym []byte
			if filepath.Ext(path) == ".json" {
				js = b
				if ym, err = yaml.JSONToYAML(b); err != nil {
					t.Fatal(err)
				}
				// JSON is YAML too.
				asYAML, err := ParseYAML(b)
				if err != nil {
					t.Fatal(err)
				}
				want, err := Parse(b)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(asYAML, want) {
					t.Fatalf("the JSON read as YAML:\ngot  %+v\nwant %+v", asYAML, want)
				}
			} else {
				ym = b
				if js, err = yaml.YAMLToJSON(b); err != nil {
					t.Fatal(err)
				}
			}
			want, err := Parse(js)
			if err != nil {
				t.Fatalf("as JSON: %v\n%s", err, js)
			}
			got, err := ParseYAML(ym)
			if err != nil {
				t.Fatalf("as YAML: %v\n%s", err, ym)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestParseYAMLForms: documents, lists of dashboards, flow style, block
// scalars, anchors and !!str all give the dashboards the JSON gives.
func TestParseYAMLForms(t *testing.T) {
	const want = `[
  {"id": "a", "title": "Line one\nline two\n", "panels": [
    {"id": "k", "kind": "kpi", "stream": "s", "field": "f", "unit": "8", "decimals": null, "width": 6},
    {"id": "t", "kind": "timeseries", "stream": "s", "series": ["x", "3"], "labels": {"x": "X", "3": "Line 3"}, "width": 6}]},
  {"id": "b", "panels": [{"id": "k", "kind": "kpi", "stream": "s", "field": "f", "unit": "8", "width": 6}]},
  {"id": "c", "panels": [{"id": "k", "kind": "kpi", "stream": "s", "field": "f", "unit": "8", "width": 6}]}
]`
	const in = `%YAML 1.2
---
id: a
title: |
  Line one
  line two
panels:
  - &kpi {id: k, kind: kpi, stream: s, field: f, unit: !!str 8, decimals: ~, width: 6}
  - id: t
    kind: timeseries
    stream: s
    series: [x, "3"]
    labels:
      x: X
      3: Line 3
    width: 6
---
# the others, in a list
- id: b
  panels: [*kpi]
- {id: "c", panels: [*kpi]}
...
`
	wantDs, err := Parse([]byte(want))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseYAML([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, wantDs) {
		t.Fatalf("got  %+v\nwant %+v", got, wantDs)
	}
}

func TestParseYAMLMistakes(t *testing.T) {
	tests := []struct {
		name     string
		old, new string // opsYAML with old replaced by new
		wantErr  string // the whole message
	}{
		{"misspelt key in a panel", `width: 8`, `widht: 8`,
			`9:7: dashboard ops: panel orders: unknown key "widht" (did you mean "width"?)`},
		{"misspelt columns", `columns:`, `colums:`,
			`10:7: dashboard ops: panel orders: unknown key "colums" (did you mean "columns"?)`},
		{"key in a flow mapping", `width: 4}`, `width: 4, units: /min}`,
			`5:77: dashboard ops: panel today: unknown key "units" (did you mean "unit"?)`},
		{"key nothing is close to", `width: 4}`, `width: 4, alarm: 10}`,
			`5:77: dashboard ops: panel today: unknown key "alarm" (a panel's keys are id, kind, title, stream, agg, field, label_field, thresholds, direction, value_map, compare_seconds, series, columns, rows, unit, format, currency, decimals, labels, width, window_seconds, expected_cadence_ms, sla)`},
		{"key of a column", `title: Status`, "title: Status\n          fromat: text",
			`13:11: dashboard ops: panel orders: column status: unknown key "fromat" (did you mean "format"?)`},
		{"sla duration as a number", `width: 4}`, `width: 4, sla: {fresh_within: 5}}`,
			`5:97: dashboard ops: panel today: sla.fresh_within: want a string, got 5 (quoted, "5" is one)`},
		{"sla period not a duration", `width: 4}`, `width: 4, sla: {p95_ms: 900, for: 5 min}}`,
			`5:7: dashboard ops: panel today: sla: for "5 min" is not a duration: want one such as 30s, 5m or 1h`},
		{"key of a dashboard", `title: Operations`, `titel: Operations`,
			`3:3: dashboard ops: unknown key "titel" (did you mean "title"?)`},
		{"key given twice", `width: 8`, "width: 8\n      width: 6",
			`10:7: dashboard ops: panel orders: key "width" is given twice`},
		{"key given twice in a flow mapping", `width: 4}`, `width: 4, width: 5}`,
			`5:77: dashboard ops: panel today: key "width" is given twice`},
		{"a string for a number", `width: 8`, `width: "8"`,
			`9:14: dashboard ops: panel orders: width: want a whole number, got the string "8"`},
		{"a fraction for a number", `width: 8`, `width: 6.5`,
			`9:14: dashboard ops: panel orders: width: want a whole number, got 6.5`},
		{"a number for a string", `kind: table`, `kind: 7`,
			`7:13: dashboard ops: panel orders: kind: want a string, got 7 (quoted, "7" is one)`},
		{"an empty value", `stream: orders
      width`, `stream:
      width`,
			`8:14: dashboard ops: panel orders: stream: want a string, got null`},
		{"a boolean", `title: Status`, `title: true`,
			`12:18: dashboard ops: panel orders: column status: title: want a string, got true (quoted, "true" is one)`},
		{"series not a list", `field: orders_today`, `field: orders_today, series: a`,
			`5:75: dashboard ops: panel today: series: want a list, got the string "a"`},
		{"a column that is a string", "        - field: status\n          title: Status\n", "        - status\n",
			`11:11: dashboard ops: panel orders: column #1: want a mapping, got the string "status"`},
		{"panel without an id", `{id: today, `, `{`,
			`5:7: dashboard ops: panel #1 has a missing or repeated id ""`},
		{"unknown format", "format: money\n          currency: EUR", `format: currency`,
			`13:11: dashboard ops: panel orders: column total: unknown format "currency", want one of number, int, money, percent, time, datetime, text, relative, duration`},
		{"table without columns", `      columns:
        - field: status
          title: Status
        - field: total
          title: Total
          format: money
          currency: EUR
`, ``,
			`6:7: dashboard ops: table panel orders has no columns`},
		{"a merge key", `title: Operations`, `<<: {title: Operations}`,
			`3:3: dashboard ops: merge keys (<<) are not supported: write the keys out, or repeat the whole mapping with an alias`},
		{"an alias with no anchor", `- {id: today, kind: kpi, stream: orders, field: orders_today, width: 4}`, `- *today`,
			`5:7: alias *today names no anchor &today before it`},
		{"another tag", `kind: table`, `kind: !!binary dGFibGU=`,
			`7:13: dashboard ops: panel orders: kind: tag !!binary is not supported (only !!str)`},
		{"syntax: bad indent", `      stream: orders`, `     stream: orders`,
			`8:6: value is not allowed in this context`},
		{"syntax: a tab", `      width: 8`, "\twidth: 8",
			"9:1: found character '\t' that cannot start any token"},
		{"syntax: unclosed flow mapping", `width: 4}`, `width: 4`,
			`6:5: ',' or '}' must be specified`},
		{"syntax: unclosed quote", `title: Operations`, `title: "Operations`,
			`3:10: could not find end character of double-quoted text`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(opsYAML, tt.old) {
				t.Fatalf("opsYAML lacks %q", tt.old)
			}
			_, err := ParseYAML([]byte(strings.Replace(opsYAML, tt.old, tt.new, 1)))
			if err == nil {
				t.Fatalf("got nil, want %s", tt.wantErr)
			}
			if got := err.Error(); got != tt.wantErr {
				t.Fatalf("got  %s\nwant %s", got, tt.wantErr)
			}
			var pe *Error
			if !errors.As(err, &pe) || pe.Line == 0 || pe.Col == 0 {
				t.Fatalf("got %#v, want an *Error with a line and column", pe)
			}
		})
	}
}

func TestParseYAMLWholeFile(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"empty", "", "no dashboards"},
		{"only comments", "# nothing yet\n", "no dashboards"},
		{"empty list", "[]\n", "no dashboards"},
		{"a string", "ops\n", `1:1: dashboard 1: want a dashboard (a mapping) or a list of them, got the string "ops"`},
		{"a number in the list", "- 1\n", `1:3: dashboard 1: want a mapping, got 1`},
		{"a number after a dashboard", "- {id: a, panels: [{id: k, kind: kpi, stream: s, field: f}]}\n- 1\n", `2:3: dashboard 2: want a mapping, got 1`},
		{"defined twice", "id: a\npanels: [{id: k, kind: kpi, stream: s, field: f}]\n---\nid: a\npanels: [{id: k, kind: kpi, stream: s, field: f}]\n",
			`4:1: dashboard a is defined twice: ids name pages (/d/{id}) and must be unique`},
		{"second document's dashboard is named", "id: a\npanels: [{id: k, kind: kpi, stream: s, field: f}]\n---\n- id: b\n  panels: [{id: k, kind: kpi, stream: s, feild: f}]\n",
			`5:42: dashboard b: panel k: unknown key "feild" (did you mean "field"?)`},
		{"a panel named after its position", "id: a\npanels:\n  - {id: k, kind: kpi, stream: s, field: f}\n  - {kind: kpi, stream: s, fields: f}\n",
			`4:28: dashboard a: panel #2: unknown key "fields" (did you mean "field"?)`},
		{"a bad agg", "id: a\npanels:\n  - id: k\n    kind: kpi\n    agg:\n      source: orders\n      fn: median\n      window: 1m\n",
			`6:7: dashboard a: panel k: fn "median" is not one of count, sum`},
		{"a key that is a boolean", "id: a\npanels: [{id: t, kind: timeseries, stream: s, series: [x], labels: {true: X}}]\n",
			`2:69: dashboard a: panel t: labels: want a key that is a string, got true`},
		{"panels not a list", "id: a\npanels: 3\n", `2:9: dashboard a: panels: want a list, got 3`},
		{"columns count characters", "{id: a, title: «Ops», panels: [{id: k, kind: kpi, stream: s, field: f, width: 13}]}\n",
			`1:32: dashboard a: panel k width 13 is outside 0–12`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseYAML([]byte(tt.in))
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("got  %v\nwant %s", err, tt.want)
			}
		})
	}
}

// TestParseYAMLBounds: a file too large or nested too deep to be a
// dashboard is refused quickly, before the parser (whose time grows with the
// square of the nesting) sees it, and aliases cannot expand it without end.
func TestParseYAMLBounds(t *testing.T) {
	// 100 dashboards of 100 panels of 100 columns, in 2 kB.
	laughs := "- &d {id: d, panels: [&p {id: k, kind: table, stream: s, columns: [&c {field: f}" + strings.Repeat(", *c", 99) + "]}" +
		strings.Repeat(", *p", 99) + "]}\n" + strings.Repeat("- *d\n", 99)
	for _, tt := range []struct{ name, in, want string }{
		{"flow nesting", "id: a\npanels: " + strings.Repeat("[", 100_000), "2:73: nested more than 64 deep: a dashboard file nests far less"},
		{"block nesting", "id: a\npanels:\n" + strings.Repeat("- ", 100_000) + "x\n", "3:513: a value starts past column 512: a dashboard file nests far less"},
		{"too large", "id: a\ntitle: " + strings.Repeat("x", MaxYAMLBytes) + "\n", fmt.Sprintf("the file is %d bytes, over the %d bytes of a dashboard file", MaxYAMLBytes+14, MaxYAMLBytes)},
		{"aliases expanded past the budget", laughs, fmt.Sprintf("1:79: dashboard d: panel k: column f: field: aliases expand the file past %d values, more than any dashboard needs", maxYAMLValues([]byte(laughs)))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := ParseYAML([]byte(tt.in))
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("got %.300v, want %s", err, tt.want)
			}
			if d := time.Since(start); timing.Over(t, d, 10*time.Second) {
				t.Fatalf("took %v", d)
			}
		})
	}
	// A long line in a flow collection is no nesting: minified JSON is YAML.
	long := `{"id": "a", "title": "` + strings.Repeat("x", 1000) + `", "panels": [{"id": "k", "kind": "kpi", "stream": "s", "field": "f"}]}`
	if _, err := ParseYAML([]byte(long)); err != nil {
		t.Fatalf("a one-line JSON dashboard: %v", err)
	}
}

// FuzzParseYAML: ParseYAML never panics, and what it accepts is valid and
// what Parse reads from the same dashboards written out as JSON.
func FuzzParseYAML(f *testing.F) {
	f.Add([]byte(opsYAML))
	f.Add([]byte(opsFile))
	f.Add([]byte(aggFile))
	f.Add([]byte("id: x\npanels: [&p {id: k, kind: kpi, stream: s, field: f, decimals: ~}]\n---\n- {id: y, panels: [*p]}\n"))
	f.Add([]byte("id: x\ntitle: !!str 8\npanels:\n  - <<: {id: k}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ds, err := ParseYAML(b)
		if err != nil {
			return
		}
		for i := range ds {
			if err := ds[i].Validate(); err != nil {
				t.Fatalf("ParseYAML accepted an invalid dashboard: %v", err)
			}
		}
	})
}

// BenchmarkParse_OrdersExample compares reading examples/orders.yaml with
// reading the same dashboard as JSON.
func BenchmarkParse_OrdersExample(b *testing.B) {
	ym, err := os.ReadFile("../../examples/orders.yaml")
	if err != nil {
		b.Fatal(err)
	}
	js, err := yaml.YAMLToJSON(ym)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("yaml", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(ym)))
		for b.Loop() {
			if _, err := ParseYAML(ym); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(js)))
		for b.Loop() {
			if _, err := Parse(js); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestParseYAMLThresholds: rules (a list of objects, a map of levels) read
// from YAML as from JSON, and a mistake inside one says where it is.
func TestParseYAMLThresholds(t *testing.T) {
	const y = `id: fleet
panels:
  - id: trucks
    kind: status
    stream: trucks
    field: state
    value_map: {delayed: critical, on_time: ok}
  - id: queue
    kind: kpi
    stream: q
    field: depth
    direction: above
    thresholds:
      - {value: 0, level: ok}
      - {value: 60, level: warn}
      - {value: 80, level: critical}
`
	const j = `{"id": "fleet", "panels": [
  {"id": "trucks", "kind": "status", "stream": "trucks", "field": "state", "value_map": {"delayed": "critical", "on_time": "ok"}},
  {"id": "queue", "kind": "kpi", "stream": "q", "field": "depth", "direction": "above",
   "thresholds": [{"value": 0, "level": "ok"}, {"value": 60, "level": "warn"}, {"value": 80, "level": "critical"}]}]}`
	fromYAML, err := ParseYAML([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	fromJSON, err := Parse([]byte(j))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromYAML, fromJSON) {
		t.Fatalf("YAML gives\n%+v\nJSON gives\n%+v", fromYAML, fromJSON)
	}
	_, err = ParseYAML([]byte(strings.Replace(y, "{value: 60, level: warn}", "{value: 60, level: amber}", 1)))
	if err == nil || !strings.Contains(err.Error(), "dashboard fleet: panel queue") || !strings.Contains(err.Error(), "amber") || !strings.HasPrefix(err.Error(), "8:5: ") {
		t.Fatalf("an unknown level: got %v, want the panel's line:col (8:5), the dashboard, panel and level named", err)
	}
}

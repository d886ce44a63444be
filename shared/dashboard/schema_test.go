package dashboard

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/telltale/telltale/shared/agg"
)

const (
	schemaPath  = "../../docs/dashboard.schema.json"
	examplePath = "../../examples/dashboards.json"
)

func readJSON(t *testing.T, path string) any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestSchemaMatchesTheGoTypes holds docs/dashboard.schema.json to the Go
// types: a field added to one and not the other, a new kind or format, or a
// changed bound fails here.
func TestSchemaMatchesTheGoTypes(t *testing.T) {
	t.Parallel()
	schema := readJSON(t, schemaPath).(map[string]any)
	if got := schema["$schema"]; got != "https://json-schema.org/draft/2020-12/schema" {
		t.Fatalf("$schema is %v, want draft 2020-12", got)
	}
	defs := schema["$defs"].(map[string]any)
	for name, typ := range map[string]reflect.Type{"dashboard": dashboardType, "panel": panelType, "column": columnType, "agg": aggType, "threshold": thresholdType, "sla": slaType} {
		props := defs[name].(map[string]any)["properties"].(map[string]any)
		want := jsonKeys(typ)
		slices.Sort(want)
		if got := sortedKeys(props); !slices.Equal(got, want) {
			t.Errorf("schema's %s has keys %v, the Go type %s has %v", name, got, typ.Name(), want)
		}
		if defs[name].(map[string]any)["additionalProperties"] != false {
			t.Errorf("schema's %s allows unknown keys; Parse refuses them", name)
		}
	}
	enum := func(v any) []string {
		var out []string
		for _, e := range v.(map[string]any)["enum"].([]any) {
			out = append(out, e.(string))
		}
		return out
	}
	var kinds []string
	for _, k := range Kinds {
		kinds = append(kinds, string(k))
	}
	panel := defs["panel"].(map[string]any)["properties"].(map[string]any)
	if got := enum(panel["kind"]); !slices.Equal(got, kinds) {
		t.Errorf("schema's kinds are %v, Kinds are %v", got, kinds)
	}
	if got := enum(defs["format"]); !slices.Equal(got, Formats) {
		t.Errorf("schema's formats are %v, Formats are %v", got, Formats)
	}
	var levels []string
	for _, l := range Levels {
		levels = append(levels, string(l))
	}
	if got := enum(defs["level"]); !slices.Equal(got, levels) {
		t.Errorf("schema's levels are %v, Levels are %v", got, levels)
	}
	if got := enum(defs["direction"]); !slices.Equal(got, []string{DirectionAbove, DirectionBelow}) {
		t.Errorf("schema's directions are %v", got)
	}
	aggProps := defs["agg"].(map[string]any)["properties"].(map[string]any)
	if got := enum(aggProps["fn"]); !slices.Equal(got, agg.Fns) {
		t.Errorf("schema's fns are %v, agg.Fns are %v", got, agg.Fns)
	}
	emit := aggProps["emit_ms"].(map[string]any)["oneOf"].([]any)[1].(map[string]any)
	for _, b := range []struct {
		where string
		v     any
		want  float64
	}{
		{"panel rows maximum", panel["rows"].(map[string]any)["maximum"], MaxRows},
		{"panel width maximum", panel["width"].(map[string]any)["maximum"], 12},
		{"panel compare_seconds maximum", panel["compare_seconds"].(map[string]any)["maximum"], MaxCompareSeconds},
		{"decimals maximum", defs["decimals"].(map[string]any)["maximum"], MaxDecimals},
		{"sla p95_ms maximum", defs["sla"].(map[string]any)["properties"].(map[string]any)["p95_ms"].(map[string]any)["maximum"], MaxSLAP95Ms},
		{"agg top maximum", aggProps["top"].(map[string]any)["maximum"], agg.MaxTop},
		{"agg emit_ms minimum", emit["minimum"], agg.MinEmitMs},
		{"agg emit_ms maximum", emit["maximum"], agg.MaxEmitMs},
	} {
		if b.v != b.want {
			t.Errorf("schema's %s is %v, the Go code's %v", b.where, b.v, b.want)
		}
	}
}

// mistakes are edits of the example file that Parse refuses; the schema
// must refuse them too.
var mistakes = []struct{ name, old, new string }{
	{"misspelt key", `"width": 6,`, `"widht": 6,`},
	{"misspelt columns", `"columns": [`, `"colums": [`},
	{"unknown key", `"unit": "/min",`, `"units": "/min",`},
	{"threshold", `"unit": "ms",`, `"unit": "ms", "threshold": 300,`},
	{"unknown format", `"format": "money", "currency": "EUR", "decimals": 0`, `"format": "currency", "decimals": 0`},
	{"unknown kind", `"kind": "kpi"`, `"kind": "gauge"`},
	{"currency without money", `"format": "int", "width": 3`, `"format": "int", "currency": "EUR", "width": 3`},
	{"lower-case currency", `"currency": "EUR"`, `"currency": "eur"`},
	{"width as a string", `"width": 6,`, `"width": "6",`},
	{"too wide", `"width": 6,`, `"width": 13,`},
	{"too many rows", `"rows": 500`, `"rows": 10001`},
	{"fractional decimals", `"decimals": 1,`, `"decimals": 1.5,`},
	{"negative priority", `"priority": 2}`, `"priority": -2}`},
	{"kpi without field", `"field": "orders_today", `, ``},
	{"column without field", `{"field": "region", "title": "Region", "priority": 3}`, `{"title": "Region", "priority": 3}`},
	{"bad stream name", `"stream": "fleet"`, `"stream": "Fleet"`},
	{"misspelt agg key", `"group_by": "region"`, `"groupby": "region"`},
	{"unknown fn", `"fn": "p95"`, `"fn": "p42"`},
	{"bad window", `"window": "last 5m"`, `"window": "5x"`},
	{"agg and stream", `"agg": {"source": "orders", "fn": "count", "group_by"`, `"stream": "orders", "agg": {"source": "orders", "fn": "count", "group_by"`},
	{"agg without window", `, "window": "this hour"}`, `}`},
	{"agg top too large", `"top": 5`, `"top": 51`},
	{"emit too fast", `"emit_ms": 500`, `"emit_ms": 10`},
	{"bad group_by", `"group_by": "status"`, `"group_by": "row status"`},
	{"unknown level", `{"value": 90, "level": "critical"}`, `{"value": 90, "level": "red"}`},
	{"threshold without level", `{"value": 90, "level": "critical"}`, `{"value": 90}`},
	{"threshold value a string", `{"value": 90, "level": "critical"}`, `{"value": "90", "level": "critical"}`},
	{"unknown value_map level", `"delayed": "critical"`, `"delayed": "late"`},
	{"unknown direction", `"direction": "below"`, `"direction": "under"`},
	{"direction without thresholds", `"direction": "below", "thresholds": [{"value": 5, "level": "critical"}, {"value": 20, "level": "warn"}],`, `"direction": "below",`},
	{"thresholds on a chart", `"series": ["p95_ms"],`, `"series": ["p95_ms"], "thresholds": [{"value": 1, "level": "ok"}],`},
	{"value_map on a kpi", `"field": "orders_today", `, `"field": "orders_today", "value_map": {"x": "ok"}, `},
	{"compare on a table", `"rows": 500,`, `"rows": 500, "compare_seconds": 60,`},
	{"status without rules", `"value_map": {"delayed": "critical", "stopped": "warn", "on_time": "ok"},`, ``},
	{"bar without agg", `"agg": {"source": "fleet", "fn": "count", "filter": "status = delayed", "group_by": "region", "window": "current"},`, `"stream": "fleet",`},
	{"compare too long", `"compare_seconds": 3600`, `"compare_seconds": 86401`},
	{"misspelt sla key", `"sla": {"p95_ms": 1000, "for": "5m"}`, `"sla": {"p95": 1000, "for": "5m"}`},
	{"sla p95 a string", `"sla": {"p95_ms": 1000, "for": "5m"}`, `"sla": {"p95_ms": "1s", "for": "5m"}`},
}

func TestExampleIsValid(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(ds) < 2 {
		t.Fatalf("got %d dashboards, want several", len(ds))
	}
	schema := readJSON(t, schemaPath)
	if err := validate(schema, schema, readJSON(t, examplePath), "$"); err != nil {
		t.Fatalf("the schema refuses the example: %v", err)
	}
	// The example shows every key of the spec.
	used := map[string]bool{}
	var collect func(v any)
	collect = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				used[k] = true
				if k != "labels" {
					collect(e)
				}
			}
		case []any:
			for _, e := range v {
				collect(e)
			}
		}
	}
	collect(readJSON(t, examplePath))
	for _, typ := range []reflect.Type{dashboardType, panelType, columnType} {
		for _, k := range jsonKeys(typ) {
			if !used[k] {
				t.Errorf("the example never uses %s's key %q", typ.Name(), k)
			}
		}
	}
	for _, m := range mistakes {
		t.Run(m.name, func(t *testing.T) {
			if !strings.Contains(string(b), m.old) {
				t.Fatalf("the example lacks %q", m.old)
			}
			bad := strings.Replace(string(b), m.old, m.new, 1)
			if _, err := Parse([]byte(bad)); err == nil {
				t.Errorf("Parse accepts it")
			}
			var v any
			if err := json.Unmarshal([]byte(bad), &v); err != nil {
				t.Fatal(err)
			}
			if err := validate(schema, schema, v, "$"); err == nil {
				t.Errorf("the schema accepts it")
			}
		})
	}
}

// validate checks v against the part of JSON Schema 2020-12 that
// docs/dashboard.schema.json uses, and fails on a keyword it does not know,
// so that the schema cannot grow past what this test checks.
func validate(root, schema, v any, at string) error {
	s, ok := schema.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: schema %v is not an object", at, schema)
	}
	for _, k := range sortedKeys(s) {
		arg := s[k]
		var err error
		switch k {
		case "$schema", "$id", "$defs", "title", "description":
		case "$ref":
			ref := strings.TrimPrefix(arg.(string), "#/$defs/")
			err = validate(root, root.(map[string]any)["$defs"].(map[string]any)[ref], v, at)
		case "type":
			types, ok := arg.([]any)
			if !ok {
				types = []any{arg}
			}
			if !slices.ContainsFunc(types, func(t any) bool { return hasType(v, t.(string)) }) {
				err = fmt.Errorf("%s: %v is not of type %v", at, v, arg)
			}
		case "enum":
			if !slices.Contains(arg.([]any), v) {
				err = fmt.Errorf("%s: %v is not one of %v", at, v, arg)
			}
		case "const":
			if v != arg {
				err = fmt.Errorf("%s: %v is not %v", at, v, arg)
			}
		case "properties":
			obj, _ := v.(map[string]any)
			for name, sub := range arg.(map[string]any) {
				if e, ok := obj[name]; ok {
					if err = validate(root, sub, e, at+"."+name); err != nil {
						break
					}
				}
			}
		case "additionalProperties":
			obj, _ := v.(map[string]any)
			props, _ := s["properties"].(map[string]any)
			for _, name := range sortedKeys(obj) {
				if _, known := props[name]; known {
					continue
				}
				if arg == false {
					err = fmt.Errorf("%s: unknown key %q", at, name)
				} else {
					err = validate(root, arg, obj[name], at+"."+name)
				}
				if err != nil {
					break
				}
			}
		case "required":
			if obj, ok := v.(map[string]any); ok {
				for _, name := range arg.([]any) {
					if _, ok := obj[name.(string)]; !ok {
						err = fmt.Errorf("%s: %s is required", at, name)
						break
					}
				}
			}
		case "dependentSchemas":
			if obj, ok := v.(map[string]any); ok {
				for name, sub := range arg.(map[string]any) {
					if _, ok := obj[name]; ok {
						if err = validate(root, sub, v, at); err != nil {
							break
						}
					}
				}
			}
		case "items":
			arr, _ := v.([]any)
			for i, e := range arr {
				if err = validate(root, arg, e, fmt.Sprintf("%s[%d]", at, i)); err != nil {
					break
				}
			}
		case "minItems":
			if arr, ok := v.([]any); ok && float64(len(arr)) < arg.(float64) {
				err = fmt.Errorf("%s: fewer than %v items", at, arg)
			}
		case "minLength":
			if str, ok := v.(string); ok && float64(len([]rune(str))) < arg.(float64) {
				err = fmt.Errorf("%s: shorter than %v", at, arg)
			}
		case "pattern":
			if str, ok := v.(string); ok && !regexp.MustCompile(arg.(string)).MatchString(str) {
				err = fmt.Errorf("%s: %q does not match %s", at, str, arg)
			}
		case "minimum":
			if n, ok := v.(float64); ok && n < arg.(float64) {
				err = fmt.Errorf("%s: %v is below %v", at, n, arg)
			}
		case "maximum":
			if n, ok := v.(float64); ok && n > arg.(float64) {
				err = fmt.Errorf("%s: %v is above %v", at, n, arg)
			}
		case "oneOf":
			n := 0
			for _, sub := range arg.([]any) {
				if validate(root, sub, v, at) == nil {
					n++
				}
			}
			if n != 1 {
				err = fmt.Errorf("%s: matches %d of oneOf, want 1", at, n)
			}
		case "anyOf":
			n := 0
			for _, sub := range arg.([]any) {
				if validate(root, sub, v, at) == nil {
					n++
				}
			}
			if n == 0 {
				err = fmt.Errorf("%s: matches none of anyOf", at)
			}
		case "allOf":
			for _, sub := range arg.([]any) {
				if err = validate(root, sub, v, at); err != nil {
					break
				}
			}
		case "if":
			if validate(root, arg, v, at) == nil {
				if then, ok := s["then"]; ok {
					err = validate(root, then, v, at)
				}
			}
		case "then":
		default:
			return fmt.Errorf("%s: the test's validator does not know the keyword %q", at, k)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func hasType(v any, typ string) bool {
	switch typ {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "integer":
		n, ok := v.(float64)
		return ok && n == math.Trunc(n)
	case "number":
		_, ok := v.(float64)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "null":
		return v == nil
	}
	panic("unknown type " + typ)
}

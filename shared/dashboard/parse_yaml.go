//go:build !js

// YAML is read only by the server and its commands: the browser is served
// specs as JSON, and this file is kept out of app.wasm (TestYAMLNotInWasm).

package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	yaml "github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/telltale/telltale/shared/spell"
)

// ParseYAML reads dashboards from YAML: one dashboard (a mapping), a list of
// them, or several YAML documents separated by --- (each one dashboard or a
// list). It is as strict as Parse, with the same messages: a syntax error,
// a key the spec does not have, a key given twice, a value of the wrong
// type (YAML's own: 8 is a number, "8" a string, an empty value null) are
// *Errors at the line and column in the YAML file, named by the dashboard,
// panel and column they are in; then each dashboard is resolved and
// validated, and those errors, too, say where their panel, column or agg
// is. Anchors and aliases (&name, *name) are read; merge keys (<<) are not.
func ParseYAML(b []byte) ([]Dashboard, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errors.New("no dashboards")
	}
	if len(b) > MaxYAMLBytes {
		return nil, fmt.Errorf("the file is %d bytes, over the %d bytes of a dashboard file", len(b), MaxYAMLBytes)
	}
	tokens := lexer.Tokenize(string(b))
	if err := yamlBounds(tokens); err != nil {
		return nil, err
	}
	// Duplicate keys are the walk's to report: it names where they are.
	f, err := parser.Parse(tokens, 0, parser.AllowDuplicateMapKey())
	if err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) && ye.GetToken() != nil {
			pos := ye.GetToken().Position
			return nil, &Error{Line: pos.Line, Col: pos.Column, Err: errors.New(ye.GetMessage())}
		}
		return nil, err
	}
	y := yamlWalker{anchors: map[string]ast.Node{}, at: map[[3]int]*token.Position{}, budget: maxYAMLValues(b), limit: maxYAMLValues(b)}
	var raw []any
	for _, doc := range f.Docs {
		if _, directive := doc.Body.(*ast.DirectiveNode); directive || doc.Body == nil {
			continue // %YAML 1.2; an empty document, or only comments
		}
		body, err := y.deref(doc.Body)
		if err != nil {
			return nil, err
		}
		items := []ast.Node{body}
		if seq, ok := body.(*ast.SequenceNode); ok {
			items = seq.Values
		} else if _, ok := body.(*ast.MappingNode); !ok {
			return nil, y.mistake(place{dash: len(raw), panel: -1, column: -1}, body, "want a dashboard (a mapping) or a list of them, got %s", y.describe(body))
		}
		for _, n := range items {
			here := place{dash: len(raw), panel: -1, column: -1}
			y.dashName = ""
			v, err := y.walk(dashboardType, here, n)
			if err != nil {
				return nil, err
			}
			raw = append(raw, v)
		}
	}
	if len(raw) == 0 {
		return nil, errors.New("no dashboards")
	}
	// The walk checked every key and type, so this decodes exactly.
	js, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	var list []Dashboard
	if err := json.Unmarshal(js, &list); err != nil {
		return nil, err
	}
	ids := make(map[string]bool, len(list))
	for i := range list {
		if ids[list[i].ID] {
			return nil, y.errorAt(y.at[[3]int{i, -1, -1}], fmt.Errorf("dashboard %s is defined twice: ids name pages (/d/{id}) and must be unique", list[i].ID))
		}
		ids[list[i].ID] = true
		err := list[i].Resolve()
		if err == nil {
			err = list[i].Validate()
		}
		if err != nil {
			pos := y.at[[3]int{i, -1, -1}]
			var inv *invalid
			if errors.As(err, &inv) {
				if p := y.at[[3]int{i, inv.panel, inv.column}]; p != nil {
					pos = p
				} else if p := y.at[[3]int{i, inv.panel, -1}]; p != nil {
					pos = p
				}
			}
			return nil, y.errorAt(pos, err)
		}
	}
	return list, nil
}

// yamlWalker checks a YAML tree against the spec's Go types, as walker does
// JSON tokens, and turns it into the JSON values encoding/json decodes.
type yamlWalker struct {
	anchors map[string]ast.Node
	// at is the position of each dashboard, panel, column and agg mapping,
	// by dashboard, panel and column index (-1: none; aggColumn: the agg).
	at map[[3]int]*token.Position
	// The ids of the dashboard, panel and column being walked, or "": for
	// messages (the JSON walker reads them from a lenient decode).
	dashName, panelName, columnName string
	// budget is how many more values the walk may visit: aliases can
	// expand a small file exponentially (a "billion laughs").
	budget, limit int
}

// deref follows anchors and aliases to the node they stand for.
func (y *yamlWalker) deref(n ast.Node) (ast.Node, error) {
	for {
		switch v := n.(type) {
		case *ast.AnchorNode:
			y.anchors[v.Name.GetToken().Value] = v.Value
			n = v.Value
		case *ast.AliasNode:
			name := v.Value.GetToken().Value
			target, ok := y.anchors[name]
			if !ok {
				return nil, y.errorAt(pos(v), fmt.Errorf("alias *%s names no anchor &%s before it", name, name))
			}
			n = target
		default:
			return n, nil
		}
	}
}

// walk checks n against t and returns it as a JSON value.
func (y *yamlWalker) walk(t reflect.Type, here place, n ast.Node) (any, error) {
	n, err := y.deref(n)
	if err != nil {
		return nil, err
	}
	if y.budget--; y.budget < 0 {
		return nil, y.mistake(here, n, "aliases expand the file past %d values, more than any dashboard needs", y.limit)
	}
	if tag, ok := n.(*ast.TagNode); ok {
		if tag.Start.Value != "!!str" {
			return nil, y.mistake(here, n, "tag %s is not supported (only !!str)", tag.Start.Value)
		}
		if s, ok := scalarText(tag.Value); ok && t.Kind() == reflect.String {
			return s, nil
		}
	}
	switch t.Kind() {
	case reflect.Pointer:
		if _, null := n.(*ast.NullNode); null {
			return nil, nil // an optional number given as null: automatic
		}
		return y.walk(t.Elem(), here, n)
	case reflect.Struct:
		m, ok := n.(*ast.MappingNode)
		if !ok {
			return nil, y.mistake(here, n, "want a mapping, got %s", y.describe(n))
		}
		switch t {
		case dashboardType:
			y.dashName, y.panelName, y.columnName = idIn(m, "id"), "", ""
			y.at[[3]int{here.dash, -1, -1}] = mappingPos(m)
		case panelType:
			y.panelName = idIn(m, "id")
			y.at[[3]int{here.dash, here.panel, -1}] = mappingPos(m)
		case columnType:
			y.columnName = idIn(m, "field")
			y.at[[3]int{here.dash, here.panel, here.column}] = mappingPos(m)
		case aggType:
			y.at[[3]int{here.dash, here.panel, aggColumn}] = mappingPos(m)
		}
		keys := jsonKeys(t)
		out := make(map[string]any, len(m.Values))
		for _, kv := range m.Values {
			key, ok := y.key(kv)
			if !ok {
				if kv.Key.IsMergeKey() {
					return nil, y.mistake(here, kv.Key, "merge keys (<<) are not supported: write the keys out, or repeat the whole mapping with an alias")
				}
				return nil, y.mistake(here, kv.Key, "want a key that is a string, got %s", y.describe(kv.Key))
			}
			i, ok := keyIndex(keys, key)
			if !ok {
				return nil, y.unknownKey(t, keys, here, kv.Key, key)
			}
			if _, seen := out[key]; seen {
				return nil, y.mistake(here, kv.Key, "key %q is given twice", key)
			}
			v, err := y.walk(t.Field(i).Type, here.under(key), kv.Value)
			if err != nil {
				return nil, err
			}
			out[key] = v
		}
		return out, nil
	case reflect.Slice:
		s, ok := n.(*ast.SequenceNode)
		if !ok {
			return nil, y.mistake(here, n, "want a list, got %s", y.describe(n))
		}
		out := make([]any, len(s.Values))
		for i, item := range s.Values {
			inner := here
			switch t.Elem() {
			case dashboardType:
				inner.dash = i
			case panelType:
				inner.panel, inner.path = i, ""
				y.panelName = ""
			case columnType:
				inner.column, inner.path = i, ""
				y.columnName = ""
			default:
				inner.path = fmt.Sprintf("%s[%d]", here.path, i)
			}
			if out[i], err = y.walk(t.Elem(), inner, item); err != nil {
				return nil, err
			}
		}
		return out, nil
	case reflect.Map:
		m, ok := n.(*ast.MappingNode)
		if !ok {
			return nil, y.mistake(here, n, "want a mapping, got %s", y.describe(n))
		}
		out := make(map[string]any, len(m.Values))
		for _, kv := range m.Values {
			key, ok := y.key(kv)
			if i, isInt := kv.Key.(*ast.IntegerNode); isInt {
				// A group named by a number (labels: {3: Line 3}) is named
				// by its text, as the JSON key "3" would be.
				key, ok = i.GetToken().Value, true
			}
			if !ok {
				return nil, y.mistake(here, kv.Key, "want a key that is a string, got %s", y.describe(kv.Key))
			}
			if _, seen := out[key]; seen {
				return nil, y.mistake(here, kv.Key, "key %q is given twice", key)
			}
			v, err := y.walk(t.Elem(), here.under(key), kv.Value)
			if err != nil {
				return nil, err
			}
			out[key] = v
		}
		return out, nil
	case reflect.String:
		if s, ok := scalarText(n); ok {
			return s, nil
		}
		switch n.(type) {
		case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
			// title: 2024 is a number in YAML: say how to make it text.
			return nil, y.mistake(here, n, "want a string, got %s (quoted, %q is one)", y.describe(n), n.GetToken().Value)
		}
		return nil, y.mistake(here, n, "want a string, got %s", y.describe(n))
	case reflect.Int:
		if i, ok := n.(*ast.IntegerNode); ok {
			switch v := i.Value.(type) {
			case int64:
				if v >= math.MinInt && v <= math.MaxInt {
					return v, nil
				}
			case uint64:
				if v <= math.MaxInt {
					return v, nil
				}
			}
		}
		return nil, y.mistake(here, n, "want a whole number, got %s", y.describe(n))
	case reflect.Float64:
		switch v := n.(type) {
		case *ast.IntegerNode:
			return v.Value, nil
		case *ast.FloatNode:
			return v.Value, nil
		}
		return nil, y.mistake(here, n, "want a number, got %s", y.describe(n))
	case reflect.Bool:
		if v, ok := n.(*ast.BoolNode); ok {
			return v.Value, nil
		}
		return nil, y.mistake(here, n, "want true or false, got %s", y.describe(n))
	}
	panic("dashboard: the YAML walk does not know " + t.String()) // as the JSON walk: the spec has no other kinds
}

// key is a mapping entry's key as a string, if it is one.
func (y *yamlWalker) key(kv *ast.MappingValueNode) (string, bool) {
	if kv.Key.IsMergeKey() {
		return "", false
	}
	k, err := y.deref(kv.Key)
	if err != nil {
		return "", false
	}
	return scalarText(k)
}

// scalarText is the text of a string scalar (plain, quoted or a block).
func scalarText(n ast.Node) (string, bool) {
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		return v.Value.Value, true
	case *ast.TagNode: // !!str 8: the text as written
		if s, ok := v.Value.(ast.ScalarNode); ok && v.Start.Value == "!!str" {
			if str, ok := scalarText(s); ok {
				return str, true
			}
			return s.GetToken().Value, true
		}
	}
	return "", false
}

// idIn is the string value of key in m, or "".
func idIn(m *ast.MappingNode, key string) string {
	for _, kv := range m.Values {
		if k, ok := scalarText(kv.Key); ok && k == key {
			s, _ := scalarText(kv.Value)
			return s
		}
	}
	return ""
}

// mappingPos is where a mapping starts: its { or its first key.
func mappingPos(m *ast.MappingNode) *token.Position {
	if !m.IsFlowStyle && len(m.Values) > 0 {
		return pos(m.Values[0].Key)
	}
	return pos(m)
}

func pos(n ast.Node) *token.Position {
	if n == nil || n.GetToken() == nil {
		return nil
	}
	return n.GetToken().Position
}

func (y *yamlWalker) errorAt(p *token.Position, err error) error {
	if p == nil {
		return err
	}
	return &Error{Line: p.Line, Col: p.Column, Err: err}
}

// mistake is an *Error at n, named by where it is.
func (y *yamlWalker) mistake(here place, n ast.Node, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if here.path != "" {
		msg = here.path + ": " + msg
	}
	if where := y.name(here); where != "" {
		msg = where + ": " + msg
	}
	return y.errorAt(pos(n), errors.New(msg))
}

func (y *yamlWalker) unknownKey(t reflect.Type, keys []string, here place, n ast.Node, key string) error {
	what := map[reflect.Type]string{dashboardType: "a dashboard's", panelType: "a panel's", columnType: "a column's", aggType: "an aggregate's", slaType: "an sla's"}[t]
	if s, ok := spell.Closest(key, keys); ok {
		return y.mistake(here, n, "unknown key %q (did you mean %q?)", key, s)
	}
	return y.mistake(here, n, "unknown key %q (%s keys are %s)", key, what, strings.Join(keys, ", "))
}

// name says which dashboard, panel and column here is in, as walker.name
// does.
func (y *yamlWalker) name(here place) string {
	var parts []string
	if y.dashName != "" {
		parts = append(parts, "dashboard "+y.dashName)
	} else if here.dash >= 0 {
		parts = append(parts, fmt.Sprintf("dashboard %d", here.dash+1))
	}
	if here.panel >= 0 && y.panelName != "" {
		parts = append(parts, "panel "+y.panelName)
	} else if here.panel >= 0 {
		parts = append(parts, fmt.Sprintf("panel #%d", here.panel+1))
	}
	if here.column >= 0 && y.columnName != "" {
		parts = append(parts, "column "+y.columnName)
	} else if here.column >= 0 {
		parts = append(parts, fmt.Sprintf("column #%d", here.column+1))
	}
	return strings.Join(parts, ": ")
}

// describe names a YAML value for a message: null, 6.5, the string "8", a
// mapping, a list.
func (y *yamlWalker) describe(n ast.Node) string {
	if d, err := y.deref(n); err == nil {
		n = d
	}
	switch v := n.(type) {
	case *ast.NullNode:
		return "null"
	case *ast.MappingNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return v.GetToken().Value
	}
	if s, ok := scalarText(n); ok {
		return "the string " + strconv.Quote(s)
	}
	return n.Type().YAMLName()
}

// Bounds of a YAML file. The parser's time grows with the square of the
// nesting (10,000 levels: 1 s; 100,000: minutes) and about linearly with
// the size (800 kB of panels: 2–5 s on a loaded 2-core machine), and a body
// may come from the API; a dashboard nests 8 levels deep at most (a list of
// dashboards, its panels, a panel, its columns, a column, a value) and its
// file is a few kB.
const (
	MaxYAMLBytes  = 1 << 20 // ParseYAML refuses a larger file
	maxYAMLDepth  = 64      // nesting of [ and {
	maxYAMLIndent = 512     // the column a value starts at: block nesting
)

// maxYAMLValues is how many values the walk of src may visit, aliases
// expanded: 20 a byte is far more than any file without aliases holds.
func maxYAMLValues(src []byte) int { return 100_000 + 20*len(src) }

// yamlBounds refuses a file nested too deep to be a dashboard, by its
// tokens, before they are parsed.
func yamlBounds(tokens token.Tokens) error {
	depth := 0
	for _, tk := range tokens {
		// Block nesting is indentation (and a line's leading "- - "); a
		// flow collection's line may be long (JSON on one line is YAML).
		if depth == 0 && tk.Type != token.CommentType && tk.Position.Column > maxYAMLIndent {
			return &Error{Line: tk.Position.Line, Col: tk.Position.Column, Err: fmt.Errorf("a value starts past column %d: a dashboard file nests far less", maxYAMLIndent)}
		}
		switch tk.Type {
		case token.SequenceStartType, token.MappingStartType:
			if depth++; depth > maxYAMLDepth {
				return &Error{Line: tk.Position.Line, Col: tk.Position.Column, Err: fmt.Errorf("nested more than %d deep: a dashboard file nests far less", maxYAMLDepth)}
			}
		case token.SequenceEndType, token.MappingEndType:
			depth = max(depth-1, 0)
		}
	}
	return nil
}

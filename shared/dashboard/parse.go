package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/spell"
)

// Error is a mistake in a dashboard file, at the line and column where it is
// (both 1-based, the column in characters; zero when it has no one place).
// Its message names the dashboard, panel and column it is in:
//
//	11:9: dashboard ops: panel orders: unknown key "widht" (did you mean "width"?)
type Error struct {
	Line, Col int
	Err       error
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return e.Err.Error()
	}
	return fmt.Sprintf("%d:%d: %v", e.Line, e.Col, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Parse reads dashboards from JSON: one dashboard object or an array of them.
// It is strict, as a file an operator writes by hand needs: a key the spec
// does not have (a misspelt "widht"), a key given twice, a value of the
// wrong type (including null) and a syntax error are *Errors that say where
// they are; then each dashboard is resolved (its aggregates compiled and
// their panels pointed at their derived streams) and validated, and those
// errors, too, say where their panel, column or agg is. docs/dashboard.schema.json describes the same spec for
// editors.
//
// The browser never parses a file, so none of this is linked into app.wasm.
func Parse(b []byte) ([]Dashboard, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errors.New("no dashboards")
	}
	// Syntax first: encoding/json checks the whole input before it decodes,
	// and leniently decoded dashboards give the walk the ids it names.
	var list []Dashboard
	var lenient any = &list
	var one Dashboard
	if bytes.TrimSpace(b)[0] == '{' {
		lenient = &one
	}
	err := json.Unmarshal(b, lenient)
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		off := int(syn.Offset) - 1 // the offset is just past the offending byte
		if err == io.ErrUnexpectedEOF || strings.Contains(syn.Error(), "unexpected end") {
			off = len(bytes.TrimRight(b, " \t\r\n"))
		}
		return nil, posError(b, off, errors.New(syn.Error()))
	}
	if lenient == &one {
		list = []Dashboard{one}
	}
	w := walker{src: b, dec: json.NewDecoder(bytes.NewReader(b)), list: list, at: map[[3]int]int{}}
	w.dec.UseNumber()
	if err := w.top(); err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, errors.New("no dashboards")
	}
	// The walk checked every key and type, so this decodes exactly.
	if lenient == &one {
		if err := json.Unmarshal(b, &one); err != nil {
			return nil, err
		}
		list = []Dashboard{one}
	} else if err := json.Unmarshal(b, &list); err != nil {
		return nil, err
	}
	ids := make(map[string]bool, len(list))
	for i := range list {
		if ids[list[i].ID] {
			off := w.at[[3]int{i, -1, -1}]
			return nil, posError(b, off, fmt.Errorf("dashboard %s is defined twice: ids name pages (/d/{id}) and must be unique", list[i].ID))
		}
		ids[list[i].ID] = true
		err := list[i].Resolve()
		if err == nil {
			err = list[i].Validate()
		}
		if err != nil {
			off, ok := w.at[[3]int{i, -1, -1}]
			var inv *invalid
			if errors.As(err, &inv) {
				if o, found := w.at[[3]int{i, inv.panel, inv.column}]; found {
					off, ok = o, true
				} else if o, found := w.at[[3]int{i, inv.panel, -1}]; found {
					off, ok = o, true
				}
			}
			if ok {
				return nil, posError(b, off, err)
			}
			return nil, err
		}
	}
	return list, nil
}

// posError is err at byte offset off of src.
func posError(src []byte, off int, err error) *Error {
	off = min(max(off, 0), len(src))
	line := 1 + bytes.Count(src[:off], []byte{'\n'})
	start := bytes.LastIndexByte(src[:off], '\n') + 1
	return &Error{Line: line, Col: 1 + utf8.RuneCount(src[start:off]), Err: err}
}

var (
	dashboardType = reflect.TypeFor[Dashboard]()
	panelType     = reflect.TypeFor[Panel]()
	columnType    = reflect.TypeFor[Column]()
	aggType       = reflect.TypeFor[agg.Def]()
	thresholdType = reflect.TypeFor[Threshold]()
	slaType       = reflect.TypeFor[SLA]()
)

// walker reads a dashboard file token by token against the spec's Go types,
// so that a mistake is reported where it is and under the names of the
// dashboard, panel and column it is in.
type walker struct {
	src  []byte
	dec  *json.Decoder
	list []Dashboard // leniently decoded: for the names of things
	// at is the offset of each dashboard, panel and column object, by
	// dashboard, panel and column index (-1: none).
	at map[[3]int]int
}

// place is where the walk is: indexes of the dashboard, panel and column
// (-1: outside one) and the key path below them ("width", "labels.amount").
type place struct {
	dash, panel, column int
	path                string
}

func (w *walker) top() error {
	off, tok, err := w.next()
	if err != nil {
		return err
	}
	here := place{dash: 0, panel: -1, column: -1}
	if tok == json.Delim('[') {
		for i := 0; w.dec.More(); i++ {
			if err := w.value(dashboardType, place{dash: i, panel: -1, column: -1}); err != nil {
				return err
			}
		}
		_, _, err := w.next()
		return err
	}
	if tok != json.Delim('{') {
		return posError(w.src, off, fmt.Errorf("want a dashboard (an object) or an array of them, got %s", describe(tok)))
	}
	return w.walk(dashboardType, here, off, tok)
}

// next reads a token and returns it with the offset where it starts.
func (w *walker) next() (int, json.Token, error) {
	off := int(w.dec.InputOffset())
	for off < len(w.src) && strings.IndexByte(" \t\r\n,:", w.src[off]) >= 0 {
		off++
	}
	tok, err := w.dec.Token()
	if err != nil {
		return off, nil, posError(w.src, off, err)
	}
	return off, tok, nil
}

func (w *walker) value(t reflect.Type, here place) error {
	off, tok, err := w.next()
	if err != nil {
		return err
	}
	return w.walk(t, here, off, tok)
}

// walk checks the value tok, which starts at off, against t.
func (w *walker) walk(t reflect.Type, here place, off int, tok json.Token) error {
	switch t.Kind() {
	case reflect.Pointer:
		if tok == nil {
			return nil // an optional number given as null: automatic
		}
		return w.walk(t.Elem(), here, off, tok)
	case reflect.Struct:
		if tok != json.Delim('{') {
			return w.mistake(here, off, "want an object, got %s", describe(tok))
		}
		switch t {
		case aggType:
			w.at[[3]int{here.dash, here.panel, aggColumn}] = off
		case dashboardType, panelType, columnType: // not a threshold: its panel's or column's place stays
			w.at[[3]int{here.dash, here.panel, here.column}] = off
		}
		keys := jsonKeys(t)
		seen := make(map[string]bool)
		for w.dec.More() {
			koff, k, err := w.next()
			if err != nil {
				return err
			}
			key := k.(string) // an object's key: the syntax was checked
			i, ok := keyIndex(keys, key)
			if !ok {
				return w.unknownKey(t, keys, here, koff, key)
			}
			if seen[key] {
				return w.mistake(here, koff, "key %q is given twice", key)
			}
			seen[key] = true
			if err := w.value(t.Field(i).Type, here.under(key)); err != nil {
				return err
			}
		}
	case reflect.Slice:
		if tok != json.Delim('[') {
			return w.mistake(here, off, "want an array, got %s", describe(tok))
		}
		for i := 0; w.dec.More(); i++ {
			inner := here
			switch t.Elem() {
			case dashboardType:
				inner.dash = i
			case panelType:
				inner.panel, inner.path = i, ""
			case columnType:
				inner.column, inner.path = i, ""
			default:
				inner.path = fmt.Sprintf("%s[%d]", here.path, i)
			}
			if err := w.value(t.Elem(), inner); err != nil {
				return err
			}
		}
	case reflect.Map:
		if tok != json.Delim('{') {
			return w.mistake(here, off, "want an object, got %s", describe(tok))
		}
		for w.dec.More() {
			_, k, err := w.next()
			if err != nil {
				return err
			}
			if err := w.value(t.Elem(), here.under(k.(string))); err != nil {
				return err
			}
		}
	case reflect.String:
		if _, ok := tok.(string); !ok {
			return w.mistake(here, off, "want a string, got %s", describe(tok))
		}
		return nil
	case reflect.Int:
		n, ok := tok.(json.Number)
		if _, err := strconv.Atoi(string(n)); !ok || err != nil {
			return w.mistake(here, off, "want a whole number, got %s", describe(tok))
		}
		return nil
	case reflect.Float64:
		if _, ok := tok.(json.Number); !ok {
			return w.mistake(here, off, "want a number, got %s", describe(tok))
		}
		return nil
	case reflect.Bool:
		if _, ok := tok.(bool); !ok {
			return w.mistake(here, off, "want true or false, got %s", describe(tok))
		}
		return nil
	default: // TestWalkKnowsEveryField keeps this from happening
		panic("dashboard: the walk does not know " + t.String())
	}
	_, _, err := w.next() // the closing } or ]
	return err
}

func (p place) under(key string) place {
	if p.path != "" {
		key = p.path + "." + key
	}
	p.path = key
	return p
}

// mistake is an *Error at off, named by where it is.
func (w *walker) mistake(here place, off int, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if here.path != "" {
		msg = here.path + ": " + msg
	}
	if where := w.name(here); where != "" {
		msg = where + ": " + msg
	}
	return posError(w.src, off, errors.New(msg))
}

func (w *walker) unknownKey(t reflect.Type, keys []string, here place, off int, key string) error {
	if s, ok := spell.Closest(key, keys); ok {
		return w.mistake(here, off, "unknown key %q (did you mean %q?)", key, s)
	}
	what := map[reflect.Type]string{dashboardType: "a dashboard's", panelType: "a panel's", columnType: "a column's", aggType: "an aggregate's", thresholdType: "a threshold's", slaType: "an sla's"}[t]
	return w.mistake(here, off, "unknown key %q (%s keys are %s)", key, what, strings.Join(keys, ", "))
}

// name says which dashboard, panel and column here is in, by their ids (or
// fields), or by their 1-based position when they have none.
func (w *walker) name(here place) string {
	var parts []string
	var d *Dashboard
	if here.dash >= 0 && here.dash < len(w.list) {
		d = &w.list[here.dash]
	}
	if d != nil && d.ID != "" {
		parts = append(parts, "dashboard "+d.ID)
	} else if here.dash >= 0 {
		parts = append(parts, fmt.Sprintf("dashboard %d", here.dash+1))
	}
	var p *Panel
	if d != nil && here.panel >= 0 && here.panel < len(d.Panels) {
		p = &d.Panels[here.panel]
	}
	if p != nil && p.ID != "" {
		parts = append(parts, "panel "+p.ID)
	} else if here.panel >= 0 {
		parts = append(parts, fmt.Sprintf("panel #%d", here.panel+1))
	}
	if p != nil && here.column >= 0 && here.column < len(p.Columns) && p.Columns[here.column].Field != "" {
		parts = append(parts, "column "+p.Columns[here.column].Field)
	} else if here.column >= 0 {
		parts = append(parts, fmt.Sprintf("column #%d", here.column+1))
	}
	return strings.Join(parts, ": ")
}

// describe names a JSON token for a message: null, 6.5, the string "8".
func describe(tok json.Token) string {
	switch v := tok.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("the string %q", v)
	case json.Delim:
		if v == '{' {
			return "an object"
		}
		return "an array"
	}
	return fmt.Sprint(tok)
}

// jsonKeys lists the JSON keys of a spec struct, in field order.
func jsonKeys(t reflect.Type) []string {
	keys := make([]string, t.NumField())
	for i := range keys {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		keys[i] = name
	}
	return keys
}

func keyIndex(keys []string, key string) (int, bool) {
	for i, k := range keys {
		if k == key {
			return i, true
		}
	}
	return 0, false
}

package wire

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// The msgpack library is the reference the hand-written codec is held to:
// frames are encoded and decoded by the library's reflection over the types'
// msgpack tags, as Encode and Decode did before they were written by hand.

// libEncode encodes f as Encode did with the library: compact ints, structs
// as maps by their tags.
func libEncode(t testing.TB, f Frame, compact bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(compact)
	err := enc.EncodeMapLen(3)
	for _, v := range []any{"v", Version, "t", string(f.FrameType()), "b", f} {
		if err == nil {
			err = enc.Encode(v)
		}
	}
	if err != nil {
		t.Fatalf("library encode %T: %v", f, err)
	}
	return buf.Bytes()
}

// libDecode decodes a frame with the library, its body by reflection into
// the frame type named in it.
func libDecode(b []byte) (Frame, error) {
	var env struct {
		V int                `msgpack:"v"`
		T Type               `msgpack:"t"`
		B msgpack.RawMessage `msgpack:"b"`
	}
	if err := msgpack.Unmarshal(b, &env); err != nil {
		return nil, err
	}
	if env.B == nil {
		env.B = []byte{0xc0} // a nil body, which RawMessage does not keep
	}
	switch env.T {
	case TypeHello:
		return libBody[Hello](env.B)
	case TypeWelcome:
		return libBody[Welcome](env.B)
	case TypeSub:
		return libBody[Sub](env.B)
	case TypeUnsub:
		return libBody[Unsub](env.B)
	case TypeSnapshot:
		return libBody[Snapshot](env.B)
	case TypeBatch:
		return libBody[Batch](env.B)
	case TypeResync:
		return libBody[Resync](env.B)
	case TypeError:
		return libBody[Error](env.B)
	case TypePing:
		return libBody[Ping](env.B)
	case TypePong:
		return libBody[Pong](env.B)
	case TypeExpiring:
		return libBody[Expiring](env.B)
	case TypeRefresh:
		return libBody[Refresh](env.B)
	case TypeSync:
		return libBody[Sync](env.B)
	case TypeClock:
		return libBody[Clock](env.B)
	case TypeReport:
		return libBody[Report](env.B)
	}
	return nil, fmt.Errorf("unknown type %q", env.T)
}

func libBody[T Frame](b []byte) (Frame, error) {
	var v T
	err := msgpack.Unmarshal(b, &v)
	return v, err
}

// libGeneric decodes b into the library's generic values (maps, slices,
// sized integers), to compare two encodings whatever order their maps are in.
func libGeneric(t testing.TB, b []byte) any {
	t.Helper()
	var v any
	if err := msgpack.Unmarshal(b, &v); err != nil {
		t.Fatalf("library decode: %v", err)
	}
	return v
}

// diff is reflect.DeepEqual that says where: it returns "" for equal values,
// else the path of the first difference. Floats compare by their bits, so
// that NaN equals NaN and -0 differs from 0. With loose set, integers held in
// interfaces compare by value whatever their types (compact encoding picks
// the width) and nil equals empty for slices and maps (omitempty drops empty
// ones).
func diff(a, b any, loose bool) string {
	return diffValue(reflect.ValueOf(a), reflect.ValueOf(b), loose)
}

// diffValue returns the path below a and b where they differ; the path is
// built on the way out, so that equal values cost no formatting.
func diffValue(a, b reflect.Value, loose bool) string {
	differ := func() string {
		return fmt.Sprintf(": %.200s against %.200s", show(a), show(b))
	}
	if !a.IsValid() || !b.IsValid() {
		if a.IsValid() != b.IsValid() {
			return differ()
		}
		return ""
	}
	if loose && a.Kind() == reflect.Interface && b.Kind() == reflect.Interface {
		// A typed nil (a nil map or slice in a row field) encodes as nil.
		if nilish(a) && nilish(b) {
			return ""
		}
	}
	if loose && a.Kind() == reflect.Interface && b.Kind() == reflect.Interface && !a.IsNil() && !b.IsNil() {
		if x, ok := integer(a.Elem()); ok {
			if y, ok := integer(b.Elem()); !ok || x != y {
				return differ()
			}
			return ""
		}
	}
	if a.Type() != b.Type() {
		return differ()
	}
	switch a.Kind() {
	case reflect.Float32, reflect.Float64:
		if math.Float64bits(a.Float()) != math.Float64bits(b.Float()) {
			return differ()
		}
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				return differ()
			}
			return ""
		}
		return diffValue(a.Elem(), b.Elem(), loose)
	case reflect.Slice:
		if a.Len() != b.Len() || (!loose || a.Len() > 0) && a.IsNil() != b.IsNil() {
			return differ()
		}
		for i := range a.Len() {
			if d := diffValue(a.Index(i), b.Index(i), loose); d != "" {
				return fmt.Sprintf("[%d]%s", i, d)
			}
		}
	case reflect.Map:
		if a.Len() != b.Len() || (!loose || a.Len() > 0) && a.IsNil() != b.IsNil() {
			return differ()
		}
		for it := a.MapRange(); it.Next(); {
			bv := b.MapIndex(it.Key())
			if !bv.IsValid() {
				return fmt.Sprintf(": key %.40q missing", it.Key())
			}
			if d := diffValue(it.Value(), bv, loose); d != "" {
				return fmt.Sprintf("[%.40q]%s", it.Key(), d)
			}
		}
	case reflect.Struct:
		for i := range a.NumField() {
			if d := diffValue(a.Field(i), b.Field(i), loose); d != "" {
				return "." + a.Type().Field(i).Name + d
			}
		}
	default:
		if !a.Equal(b) {
			return differ()
		}
	}
	return ""
}

func nilish(v reflect.Value) bool {
	if v.IsNil() {
		return true
	}
	switch e := v.Elem(); e.Kind() {
	case reflect.Map, reflect.Slice, reflect.Pointer:
		return e.IsNil()
	}
	return false
}

func show(v reflect.Value) string {
	if !v.IsValid() {
		return "nothing"
	}
	if v.Kind() == reflect.Interface && !v.IsNil() {
		v = v.Elem()
	}
	if v.Kind() == reflect.Interface || !v.CanInterface() {
		return fmt.Sprintf("%v", v)
	}
	return fmt.Sprintf("%T %#v", v.Interface(), v)
}

// integer returns an integer's value as a string that sorts out sign and
// width, or false for anything else.
func integer(v reflect.Value) (string, bool) {
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return fmt.Sprint(v.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return fmt.Sprint(v.Uint()), true
	}
	return "", false
}

// TestEncodeMatchesLibrary encodes every frame type by hand and by the
// library: both must decode, by the library, to the same values, and the
// library must read the hand-written frame back as the frame encoded.
func TestEncodeMatchesLibrary(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(5, 6))}
	var frames []Frame
	for range 100 {
		frames = append(frames, g.frames()...)
	}
	frames = append(frames, edgeFrames()...)
	for i, f := range frames {
		b, err := Encode(f)
		if err != nil {
			t.Fatalf("frame %d (%T): %v", i, f, err)
		}
		if d := diff(libGeneric(t, b), libGeneric(t, libEncode(t, f, true)), false); d != "" {
			t.Fatalf("frame %d (%T): hand-written and library encodings decode differently at %s", i, f, d)
		}
		got, err := libDecode(b)
		if err != nil {
			t.Fatalf("frame %d (%T): library decode: %v", i, f, err)
		}
		if d := diff(got, f, true); d != "" {
			t.Fatalf("frame %d (%T): the library reads it back differently at %s", i, f, d)
		}
	}
}

// TestDecodeMatchesLibrary decodes frames the library encoded, with compact
// and with full-width integers, by hand and by the library: the frames must
// be equal, down to the types of row fields' values.
func TestDecodeMatchesLibrary(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(7, 8))}
	var frames []Frame
	for range 100 {
		frames = append(frames, g.frames()...)
	}
	frames = append(frames, edgeFrames()...)
	for i, f := range frames {
		for _, compact := range []bool{true, false} {
			b := libEncode(t, f, compact)
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("frame %d (%T): %v", i, f, err)
			}
			want, err := libDecode(b)
			if err != nil {
				t.Fatalf("frame %d (%T): library decode: %v", i, f, err)
			}
			if d := diff(got, want, false); d != "" {
				t.Fatalf("frame %d (%T, compact %v): got and want differ at %s", i, f, compact, d)
			}
		}
		// And our own encoding reads back as the frame.
		b, err := Encode(f)
		if err != nil {
			t.Fatalf("frame %d (%T): %v", i, f, err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("frame %d (%T): %v", i, f, err)
		}
		if d := diff(got, f, true); d != "" {
			t.Fatalf("frame %d (%T): round trip differs at %s", i, f, d)
		}
	}
}

// TestDecodeOddEncodingsMatchLibrary gives every field of every body the
// encodings the library's typed decoders accept or refuse (nil, bin for a
// string, an integer for a float, a float for an integer, the wrong kind):
// the hand-written decoder must accept what the library accepts, to the same
// value, and refuse what it refuses with CodeBadFrame.
//
// One difference is left out: the library also reads a struct from an array
// (its as_array form, positionally, or empty as the zero value); no peer
// writes that, and the hand-written decoder refuses it.
func TestDecodeOddEncodingsMatchLibrary(t *testing.T) {
	odd := []any{nil, []byte("bin"), []byte{}, 7, -7, uint64(math.MaxUint64), 2.5, float32(1.5), "str", true, false,
		[]any{}, []any{nil}, []any{map[string]any{}}, map[string]any{}, map[string]any{"x": nil}}
	bodies := map[Type][]string{
		TypeHello:    {"token", "cursors", "client"},
		TypeWelcome:  {"session", "server_time", "limits"},
		TypeSub:      {"stream", "from"},
		TypeUnsub:    {"stream"},
		TypeSnapshot: {"stream", "epoch", "seq", "state", "reason"},
		TypeBatch:    {"stream", "sent", "events", "head"},
		TypeResync:   {"stream", "reason"},
		TypeError:    {"code", "message", "stream"},
		TypePing:     {"time"},
		TypePong:     {"time"},
		TypeExpiring: {"at"},
		TypeRefresh:  {"token"},
		TypeSync:     {"client"},
		TypeClock:    {"client", "server"},
		TypeReport:   {"screen", "dashboard", "from", "to", "clock_err", "transport", "panels"},
	}
	nested := map[string][]string{
		"cursors": {"stream", "epoch", "seq"}, "from": {"stream", "epoch", "seq"},
		"limits": {"max_frame_bytes", "max_subs", "ping_interval_ms"},
		"state":  {"values", "rows", "points", "last_time"},
		"events": {"stream", "epoch", "seq", "time", "created", "stored", "ingested", "values", "row", "points"},
		"panels": {"panel", "painted", "fresh_ms", "stale_ms", "stale", "stages"},
	}
	structs := map[string]bool{"from": true, "limits": true, "state": true, "row": true, "points": true, "cols": true}
	var cases []map[string]any
	add := func(typ Type, body any) {
		cases = append(cases, map[string]any{"v": Version, "t": string(typ), "b": body})
	}
	for typ, keys := range bodies {
		add(typ, nil)
		for _, k := range keys {
			for _, v := range odd {
				if _, array := v.([]any); !array || !structs[k] {
					add(typ, map[string]any{k: v})
				}
			}
			for _, nk := range nested[k] {
				for _, v := range odd {
					if _, array := v.([]any); array && structs[nk] {
						continue
					}
					inner := map[string]any{nk: v}
					add(typ, map[string]any{k: inner})
					add(typ, map[string]any{k: []any{inner}})
				}
			}
		}
	}
	for _, k := range []string{"row", "points"} {
		sub := map[string][]string{"row": {"key", "op", "fields"}, "points": {"ts", "cols", "upsert"}}[k]
		for _, nk := range sub {
			for _, v := range odd {
				if _, array := v.([]any); array && structs[nk] {
					continue
				}
				add(TypeBatch, map[string]any{"events": []any{map[string]any{k: map[string]any{nk: v}}}})
				add(TypeBatch, map[string]any{"events": []any{map[string]any{k: map[string]any{nk: []any{v}}}}})
				add(TypeSnapshot, map[string]any{"state": map[string]any{"rows": []any{map[string]any{nk: v}}, "points": map[string]any{nk: []any{map[string]any{"name": v, "vals": []any{v}}}}}})
			}
		}
	}
	// A report's stale periods and histograms, a level deeper. A histogram's
	// index and counts get the same value, since arrays of different
	// lengths are refused (TestDecodeReportCaps), as the library does not.
	for _, v := range odd {
		for _, nk := range []string{"start", "ms", "cause"} {
			add(TypeReport, map[string]any{"panels": []any{map[string]any{"stale": []any{map[string]any{nk: v}}}}})
		}
		add(TypeReport, map[string]any{"panels": []any{map[string]any{"stages": []any{map[string]any{"stage": v}}}}})
		for _, hist := range []map[string]any{{"index": v, "counts": v}, {"index": []any{v}, "counts": []any{v}}, {"first": v}, {"packed": v}, {"first": v, "packed": v}} {
			add(TypeReport, map[string]any{"panels": []any{map[string]any{"stages": []any{hist}}}})
		}
	}
	for _, c := range cases {
		b, err := msgpack.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		want, wantErr := libDecode(b)
		got, err := Decode(b)
		switch {
		case wantErr != nil && err == nil:
			t.Errorf("%v: got %#v, want an error as the library's %v", c, got, wantErr)
		case wantErr == nil && err != nil:
			t.Errorf("%v: got %v, want %#v as the library decodes", c, err, want)
		case err != nil:
			if e, ok := err.(*Error); !ok || e.Code != CodeBadFrame {
				t.Errorf("%v: got error %v, want CodeBadFrame", c, err)
			}
		default:
			if d := diff(got, want, false); d != "" {
				t.Errorf("%v: got and want differ at %s", c, d)
			}
		}
	}
}

// TestEncodeRefuses: row fields of types msgpack has no plain form for, and
// frames nested deeper than a peer reads, fail to encode.
func TestEncodeRefuses(t *testing.T) {
	type named struct{}
	for _, v := range []any{named{}, []string{"a"}, map[string]string{}, make(chan int), &struct{}{}, map[string]any{"ok": 1, "bad": []int{1}}} {
		ev := Event{Stream: "s", Row: &Row{Key: "k", Fields: map[string]any{"f": v}}}
		if b, err := EncodeEvent(&ev); err == nil {
			t.Errorf("EncodeEvent with a %T field: got %x, want an error", v, b)
		}
		if b, err := Encode(Snapshot{State: State{Rows: []Row{*ev.Row}}}); err == nil {
			t.Errorf("Encode snapshot with a %T field: got %x, want an error", v, b)
		}
	}
	if b, err := Encode(frameOfAnotherPackage{}); err == nil {
		t.Errorf("Encode of a foreign Frame: got %x, want an error", b)
	}
}

type frameOfAnotherPackage struct{}

func (frameOfAnotherPackage) FrameType() Type { return TypePing }

// TestEncodeDepthLimit: the deepest row fields that encode make frames Decode
// accepts, and one level more fails to encode rather than making a frame
// every peer refuses.
func TestEncodeDepthLimit(t *testing.T) {
	nest := func(levels int) map[string]any {
		var v any = 1
		for range levels {
			v = map[string]any{"a": v}
		}
		return map[string]any{"f": v}
	}
	frames := func(fields map[string]any) []Frame {
		row := Row{Key: "k", Fields: fields}
		return []Frame{
			Batch{Stream: "s", Events: []Event{{Stream: "s", Row: &row}}},
			Snapshot{Stream: "s", State: State{Rows: []Row{row}}},
		}
	}
	deepest := -1
	for levels := 0; levels < maxDepth; levels++ {
		if _, err := EncodeEvent(&Event{Row: &Row{Fields: nest(levels)}}); err != nil {
			break
		}
		deepest = levels
	}
	if deepest < 20 {
		t.Fatalf("rows encode only %d levels deep, want 20 or more", deepest)
	}
	for _, f := range frames(nest(deepest)) {
		b, err := Encode(f)
		if err != nil {
			t.Fatalf("%T %d levels deep: %v", f, deepest, err)
		}
		if _, err := Decode(b); err != nil {
			t.Fatalf("%T %d levels deep does not decode: %v", f, deepest, err)
		}
	}
	for _, f := range frames(nest(deepest + 1)) {
		if _, err := Encode(f); err == nil {
			t.Fatalf("%T %d levels deep encodes, want an error", f, deepest+1)
		}
		if _, err := Decode(libEncode(t, f, true)); err == nil {
			t.Fatalf("%T %d levels deep from the library decodes, want the structure check to refuse it", f, deepest+1)
		}
	}
}

// FuzzEncodeDecode encodes random frames of every type (the seed picks them)
// and checks that the library reads what Encode wrote, and Decode reads it
// back as the frame.
func FuzzEncodeDecode(f *testing.F) {
	for _, seed := range []uint64{0, 1, 2, 3, 42} {
		f.Add(seed, seed*7)
	}
	f.Fuzz(func(t *testing.T, s1, s2 uint64) {
		g := gen{rand.New(rand.NewPCG(s1, s2))}
		for _, fr := range g.frames() {
			b, err := Encode(fr)
			if err != nil {
				t.Fatalf("%T: %v", fr, err)
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("%T: %v", fr, err)
			}
			if d := diff(got, fr, true); d != "" {
				t.Fatalf("%T: round trip differs at %s", fr, d)
			}
			lib, err := libDecode(b)
			if err != nil {
				t.Fatalf("%T: library decode: %v", fr, err)
			}
			if d := diff(lib, fr, true); d != "" {
				t.Fatalf("%T: the library reads it back differently at %s", fr, d)
			}
		}
	})
}

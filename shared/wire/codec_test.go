package wire

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

func sampleEvent(seq uint64) Event {
	return Event{
		Stream: "orders", Epoch: 7, Seq: seq, Time: 1_700_000_000_000,
		Created: 11, Ingested: 12,
		Values: map[string]float64{"orders_today": 42},
		Row:    &Row{Key: "o-1", Fields: map[string]any{"status": "packed", "region": "eu"}},
		Points: &Points{TS: []int64{1, 2}, Cols: []Column{{Name: "pick_rate", Vals: []float64{1.5, 2.5}}}},
	}
}

func TestRoundTrip(t *testing.T) {
	cur := &Cursor{Stream: "metrics", Epoch: 3, Seq: 99}
	tests := []struct {
		name string
		f    Frame
	}{
		{"hello", Hello{Token: "tok", Cursors: []Cursor{*cur}, Client: "test"}},
		{"welcome", Welcome{Session: "s1", ServerTime: 123, Limits: Limits{MaxFrameBytes: 65536, MaxSubs: 64, PingIntervalMs: 15000}}},
		{"sub", Sub{Stream: "orders"}},
		{"sub from cursor", Sub{Stream: "metrics", From: cur}},
		{"unsub", Unsub{Stream: "orders"}},
		{"snapshot", Snapshot{Stream: "orders", Epoch: 7, Seq: 10, State: State{
			Values: map[string]float64{"orders_today": 3},
			Rows:   []Row{{Key: "o-1", Fields: map[string]any{"status": "new"}}},
			Points: Points{TS: []int64{5}, Cols: []Column{{Name: "x", Vals: []float64{1}}}},
		}}},
		{"batch", Batch{Stream: "orders", Sent: 5, Events: []Event{sampleEvent(1), sampleEvent(2)}}},
		{"resume ack with head", Batch{Stream: "orders", Events: []Event{}, Head: 1 << 40}},
		{"resync", Resync{Stream: "orders", Reason: "slow consumer"}},
		{"error", Error{Code: CodeBadStream, Message: "no", Stream: "x"}},
		{"ping", Ping{Time: 77}},
		{"pong", Pong{Time: 78}},
		{"expiring", Expiring{At: 1795369130805948644}},
		{"refresh", Refresh{Token: "eyJ.x.y"}},
		{"sync", Sync{Client: 1795369130805948644}},
		{"clock", Clock{Client: 1795369130805948644, Server: 1795369130806948644}},
		{"report", sampleReport(8, 40)},
		{"empty report", Report{Screen: "s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Encode(tt.f)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(normalize(t, got), normalize(t, tt.f)) {
				t.Fatalf("got %#v, want %#v", got, tt.f)
			}
		})
	}
}

// normalize re-encodes through msgpack's generic form, so that integer widths
// chosen by compact encoding inside map[string]any compare equal.
func normalize(t *testing.T, f Frame) any {
	t.Helper()
	b, err := msgpack.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := msgpack.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestEncodeBatchDecodesAsBatch(t *testing.T) {
	evs := []Event{sampleEvent(1), sampleEvent(2), sampleEvent(3)}
	var raw [][]byte
	for i := range evs {
		b, err := EncodeEvent(&evs[i])
		if err != nil {
			t.Fatal(err)
		}
		raw = append(raw, b)
	}
	b := EncodeBatch("orders", 99, raw)
	f, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := f.(Batch)
	if !ok {
		t.Fatalf("got %T, want Batch", f)
	}
	// Compared decoded, not as bytes: map fields encode in random order.
	want := Batch{Stream: "orders", Sent: 99, Events: evs}
	if !reflect.DeepEqual(normalize(t, got), normalize(t, want)) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func frameBytes(t *testing.T, m map[string]any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeRejects(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		code Code
	}{
		{"empty", nil, CodeBadFrame},
		{"not a map", []byte{0x93, 1, 2, 3}, CodeBadFrame},
		{"reserved byte", []byte{0xc1}, CodeBadFrame},
		{"array claims 4G elements", []byte{0x83, 0xa1, 'b', 0xdd, 0xff, 0xff, 0xff, 0xff}, CodeBadFrame},
		{"map claims 4G pairs", []byte{0xdf, 0xff, 0xff, 0xff, 0xff}, CodeBadFrame},
		{"string claims 4 GB", []byte{0xdb, 0xff, 0xff, 0xff, 0xff, 'x'}, CodeBadFrame},
		{"trailing bytes", append(frameBytes(t, map[string]any{"v": 1, "t": "ping", "b": map[string]any{}}), 0), CodeBadFrame},
		{"deep nesting", bytes.Repeat([]byte{0x91}, 100), CodeBadFrame},
		{"wrong version", frameBytes(t, map[string]any{"v": 2, "t": "ping", "b": map[string]any{}}), CodeVersion},
		{"no version", frameBytes(t, map[string]any{"t": "ping", "b": map[string]any{}}), CodeVersion},
		{"no type", frameBytes(t, map[string]any{"v": 1, "b": map[string]any{}}), CodeBadFrame},
		{"no body", frameBytes(t, map[string]any{"v": 1, "t": "ping"}), CodeBadFrame},
		{"unknown type", frameBytes(t, map[string]any{"v": 1, "t": "launch", "b": map[string]any{}}), CodeUnknownType},
		{"body of wrong shape", frameBytes(t, map[string]any{"v": 1, "t": "sub", "b": "orders"}), CodeBadFrame},
		{"field of wrong type", frameBytes(t, map[string]any{"v": 1, "t": "sub", "b": map[string]any{"stream": []int{1}}}), CodeBadFrame},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Decode(tt.in)
			if err == nil {
				t.Fatalf("got frame %#v, want error %v", f, tt.code)
			}
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("got error %T %v, want *Error", err, err)
			}
			if e.Code != tt.code {
				t.Fatalf("got code %v (%s), want %v", e.Code, e.Message, tt.code)
			}
		})
	}
}

func TestDecodeIgnoresUnknownFields(t *testing.T) {
	b := frameBytes(t, map[string]any{
		"b":     map[string]any{"stream": "orders", "future": []int{1, 2}},
		"extra": "x",
		"t":     "sub",
		"v":     1,
	})
	f, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f, (Sub{Stream: "orders"}); !reflect.DeepEqual(got, Frame(want)) {
		t.Fatalf("got %#v, want %#v", got, want)
	}
}

func TestValidStream(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"simple", "orders", true},
		{"dotted", "metrics.eu-1_a", true},
		{"digits first", "9lives", true},
		{"empty", "", false},
		{"upper", "Orders", false},
		{"slash", "acme/orders", false},
		{"colon", "acme:orders", false},
		{"leading dot", ".orders", false},
		{"too long", strings.Repeat("a", 65), false},
		{"max length", strings.Repeat("a", 64), true},
		{"nul", "a\x00", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := ValidStream(tt.in); (err == nil) != tt.ok {
				t.Fatalf("ValidStream(%q) = %v, want ok=%v", tt.in, err, tt.ok)
			}
		})
	}
}

func BenchmarkEncodeEvent(b *testing.B) {
	ev := sampleEvent(1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeEvent(&ev); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAppendBatchIsMsgpack checks the hand-written batch frame against the
// msgpack library's reading of it (field names, int and length encodings),
// across the sizes where msgpack changes headers.
func TestAppendBatchIsMsgpack(t *testing.T) {
	type body struct {
		Stream string  `msgpack:"stream"`
		Sent   int64   `msgpack:"sent"`
		Events []Event `msgpack:"events"`
	}
	type frame struct {
		V int    `msgpack:"v"`
		T string `msgpack:"t"`
		B body   `msgpack:"b"`
	}
	for _, tc := range []struct {
		stream string
		sent   int64
		n      int
	}{
		{"s", 0, 0}, {"orders", -32, 1}, {strings.Repeat("x", 31), 127, 15}, {strings.Repeat("y", 32), 128, 16},
		{strings.Repeat("z", 255), -33, 17}, {strings.Repeat("w", 256), 1 << 62, 300}, {"s", -1 << 62, 1 << 16},
	} {
		evs := make([][]byte, tc.n)
		for i := range evs {
			ev := Event{Stream: tc.stream, Seq: uint64(i + 1)}
			b, err := EncodeEvent(&ev)
			if err != nil {
				t.Fatal(err)
			}
			evs[i] = b
		}
		prefix := []byte("kept")
		b := AppendBatch(prefix, tc.stream, tc.sent, evs)
		if string(b[:4]) != "kept" {
			t.Fatal("AppendBatch did not append")
		}
		var f frame
		if err := msgpack.Unmarshal(b[4:], &f); err != nil {
			t.Fatalf("%d events: %v", tc.n, err)
		}
		if f.V != Version || f.T != string(TypeBatch) || f.B.Stream != tc.stream || f.B.Sent != tc.sent || len(f.B.Events) != tc.n {
			t.Fatalf("got v%d %s %q sent %d with %d events, want %q sent %d with %d", f.V, f.T, f.B.Stream, f.B.Sent, len(f.B.Events), tc.stream, tc.sent, tc.n)
		}
		for i, ev := range f.B.Events {
			if ev.Seq != uint64(i+1) {
				t.Fatalf("event %d has seq %d", i, ev.Seq)
			}
		}
	}
}

func BenchmarkEncodeBatch_64Events(b *testing.B) {
	ev := sampleEvent(1)
	one, _ := EncodeEvent(&ev)
	raw := make([][]byte, 64)
	for i := range raw {
		raw[i] = one
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = EncodeBatch("orders", 1, raw)
	}
}

// TestEncodeBatchHeadDecodes: pre-encoded events with the stream's head read
// back as the Batch they are.
func TestEncodeBatchHeadDecodes(t *testing.T) {
	evs := []Event{sampleEvent(4), sampleEvent(5)}
	raw := make([][]byte, len(evs))
	for i := range evs {
		var err error
		if raw[i], err = EncodeEvent(&evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	for _, head := range []uint64{0, 9, 1 << 40} {
		f, err := Decode(EncodeBatchHead("orders", 42, head, raw))
		if err != nil {
			t.Fatal(err)
		}
		if want := (Batch{Stream: "orders", Sent: 42, Events: evs, Head: head}); !reflect.DeepEqual(f, want) {
			t.Fatalf("head %d: got %#v, want %#v", head, f, want)
		}
	}
}

// TestResumeAckDecodes: the resume acknowledgement is an empty batch that
// says where the replay ends; an ack without a head decodes as before.
func TestResumeAckDecodes(t *testing.T) {
	for _, tc := range []struct {
		name string
		head uint64
	}{{"no head", 0}, {"small head", 7}, {"large head", 1<<53 + 1}} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Decode(EncodeResumeAck("orders", tc.head))
			if err != nil {
				t.Fatal(err)
			}
			b, ok := f.(Batch)
			if !ok || b.Stream != "orders" || len(b.Events) != 0 || b.Head != tc.head {
				t.Fatalf("got %#v, want an empty orders batch with head %d", f, tc.head)
			}
		})
	}
}

// DecodeServer reads what a server sends exactly as Decode does, and
// refuses what only a client sends.
func TestDecodeServer(t *testing.T) {
	server := []Frame{
		Welcome{Session: "s", ServerTime: 1},
		Batch{Stream: "a", Events: []Event{{Stream: "a", Epoch: 1, Seq: 2}}},
		Snapshot{Stream: "a", Epoch: 1, Seq: 2},
		Resync{Stream: "a", Reason: "r"},
		Error{Code: CodeForbidden, Message: "m"},
		Ping{Time: 5},
		Expiring{At: 6},
		Clock{Client: 7, Server: 8},
	}
	for _, f := range server {
		b, err := Encode(f)
		if err != nil {
			t.Fatal(err)
		}
		want, err1 := Decode(b)
		got, err2 := DecodeServer(b)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: DecodeServer %+v (%v), Decode %+v (%v)", f.FrameType(), got, err2, want, err1)
		}
	}
	for _, f := range []Frame{Hello{}, Sub{Stream: "a"}, Unsub{Stream: "a"}, Pong{Time: 1}, Refresh{Token: "t"}, Sync{Client: 1}, sampleReport(1, 1)} {
		b, err := Encode(f)
		if err != nil {
			t.Fatal(err)
		}
		var e *Error
		if _, err := DecodeServer(b); !errors.As(err, &e) || e.Code != CodeUnknownType {
			t.Fatalf("%s: DecodeServer gave %v, want an unknown-type error", f.FrameType(), err)
		}
	}
}

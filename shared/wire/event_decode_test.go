package wire

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

func randomEvent(rng *rand.Rand) Event {
	ev := Event{Stream: "s", Epoch: rng.Uint64(), Seq: rng.Uint64N(1 << 40), Time: rng.Int64N(1 << 42), Created: rng.Int64(), Ingested: int64(rng.IntN(3))}
	if rng.IntN(2) == 0 {
		ev.Values = map[string]float64{"a": rng.NormFloat64(), "b": float64(rng.IntN(1000))}
	}
	if rng.IntN(2) == 0 {
		ev.Row = &Row{Key: "k", Op: RowUpdate, Fields: map[string]any{
			"s": "x", "i": rng.IntN(70000) - 35000, "f": rng.Float64(), "b": true, "n": nil,
			"nested": map[string]any{"l": []any{1, "two", 3.5}},
		}}
	}
	if rng.IntN(2) == 0 {
		n := 1 + rng.IntN(5)
		p := &Points{TS: make([]int64, n), Cols: []Column{{Name: "x", Vals: make([]float64, n)}, {Name: "y", Vals: make([]float64, n)}}}
		for i := range n {
			p.TS[i] = int64(i) * 20
			p.Cols[0].Vals[i], p.Cols[1].Vals[i] = rng.Float64(), float64(i)
		}
		ev.Points = p
	}
	return ev
}

// TestEventDecoderMatchesReflection holds the hand-written event decoder to
// the msgpack library's reflection decode of Event's tags.
func TestEventDecoderMatchesReflection(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	decode := func(b []byte) (Event, error) {
		var ev Event
		r := reader{b: b}
		r.event(&ev)
		return ev, r.err
	}
	for i := 0; i < 500; i++ {
		ev := randomEvent(rng)
		b, err := msgpack.Marshal(&ev)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decode(b)
		if err != nil {
			t.Fatalf("hand-written decode: %v", err)
		}
		var ref Event
		if err := msgpack.Unmarshal(b, &ref); err != nil {
			t.Fatalf("reflection decode: %v", err)
		}
		if !reflect.DeepEqual(got, ref) {
			t.Fatalf("event %d:\n got %#v\nwant %#v", i, got, ref)
		}
	}
	// Unknown fields are skipped, as reflection does.
	b, _ := msgpack.Marshal(map[string]any{"seq": 7, "future": []int{1, 2}, "row": map[string]any{"key": "k", "new": 1}})
	got, err := decode(b)
	if err != nil || got.Seq != 7 || got.Row.Key != "k" {
		t.Fatalf("got %+v %v, want seq 7 and row k with unknown fields skipped", got, err)
	}
}

func BenchmarkDecodeBatch_64Events(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	evs := make([]Event, 64)
	for i := range evs {
		evs[i] = randomEvent(rng)
	}
	benchDecode(b, encodeAll(b, Batch{Stream: "s", Events: evs})...)
}

// TestServerDecoderReusesWithoutLeaks: a ServerDecoder fed random batches of
// random sizes (values, rows and points present or not) returns exactly what
// DecodeServer does for each: nothing of an earlier frame shows through the
// storage it reuses. Rows copied out of an earlier batch are not changed.
func TestServerDecoderReusesWithoutLeaks(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var dec ServerDecoder
	var kept []Row
	var keptWant []Row
	for i := range 300 {
		evs := make([]Event, rng.IntN(6))
		for j := range evs {
			evs[j] = randomEvent(rng)
		}
		b, err := Encode(Batch{Stream: "s", Sent: int64(i), Events: evs})
		if err != nil {
			t.Fatal(err)
		}
		want, err := DecodeServer(b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := dec.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		gb, ok := got.(*Batch)
		if !ok {
			t.Fatalf("frame %d: got %T, want *Batch", i, got)
		}
		wb := want.(Batch)
		if len(gb.Events) != len(wb.Events) || gb.Stream != wb.Stream || gb.Sent != wb.Sent {
			t.Fatalf("frame %d: got %d events of %q at %d, want %d of %q at %d", i, len(gb.Events), gb.Stream, gb.Sent, len(wb.Events), wb.Stream, wb.Sent)
		}
		for j := range wb.Events {
			if !reflect.DeepEqual(gb.Events[j], wb.Events[j]) {
				t.Fatalf("frame %d event %d:\n got %#v\nwant %#v", i, j, gb.Events[j], wb.Events[j])
			}
			if r := gb.Events[j].Row; r != nil {
				kept, keptWant = append(kept, *r), append(keptWant, *wb.Events[j].Row)
			}
		}
	}
	if !reflect.DeepEqual(kept, keptWant) {
		t.Fatal("rows copied out of earlier batches changed under later decodes")
	}
	// Other frames decode as DecodeServer's.
	b, _ := Encode(Ping{Time: 7})
	if f, err := dec.Decode(b); err != nil || f != (Ping{Time: 7}) {
		t.Fatalf("ping: got %#v, %v", f, err)
	}
}

// BenchmarkDecodeBatch_Fanout decodes the batches bench/cmd/fanout's clients
// receive: a few events of one gauge and one 64-byte row field each, with
// DecodeServer and with a ServerDecoder, as the client runtime does.
func BenchmarkDecodeBatch_Fanout(b *testing.B) {
	for _, n := range []int{1, 3, 16} {
		raw := make([][]byte, n)
		for i := range raw {
			ev := Event{Stream: "fan0", Epoch: 1763800000000000000, Seq: uint64(1000 + i), Time: 1763800000000, Ingested: 1763800000000000000,
				Values: map[string]float64{"pub_us": 1763800000000000},
				Row:    &Row{Key: "k", Fields: map[string]any{"pad": strings.Repeat("x", 64)}}}
			var err error
			if raw[i], err = EncodeEvent(&ev); err != nil {
				b.Fatal(err)
			}
		}
		frame := EncodeBatch("fan0", 1, raw)
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			benchDecode(b, frame)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
		})
		b.Run(fmt.Sprintf("events=%d/reusing", n), func(b *testing.B) {
			b.ReportAllocs()
			var dec ServerDecoder
			for b.Loop() {
				if _, err := dec.Decode(frame); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
		})
	}
}

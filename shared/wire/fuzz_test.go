package wire

import (
	"math/rand/v2"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the frame decoder: it must return a frame
// or an *Error, never panic, and anything it accepts must encode again and
// decode to the same frame. The first re-encoding may pick other integer
// widths for row fields and drop empty omitempty fields, so the frame after
// it must equal the first up to those; after that, encoding and decoding
// must change nothing at all.
func FuzzDecode(f *testing.F) {
	seeds := []Frame{
		Hello{Token: "t", Cursors: []Cursor{{Stream: "orders", Epoch: 1, Seq: 2}}},
		Sub{Stream: "orders", From: &Cursor{Stream: "orders", Epoch: 1, Seq: 5}},
		Unsub{Stream: "x"},
		Pong{Time: 1},
		Expiring{At: 2},
		Refresh{Token: "t"},
		Batch{Stream: "orders", Events: []Event{sampleEvent(1)}},
		Snapshot{Stream: "m", State: State{Points: Points{TS: []int64{1}, Cols: []Column{{Name: "a", Vals: []float64{1}}}}}},
	}
	g := gen{rand.New(rand.NewPCG(9, 10))}
	for range 3 {
		seeds = append(seeds, g.frames()...)
	}
	for _, s := range seeds {
		b, err := Encode(s)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) < 4096 { // big seeds only slow the fuzzer's mutations down
			f.Add(b)
		}
	}
	f.Add([]byte{0x83, 0xa1, 'b', 0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0xc1})
	// DecodeReport must agree with Decode on every input, into a report
	// that held another: it reuses its arrays.
	var reused Report
	if b, err := Encode(sampleReport(12, 60)); err != nil || DecodeReport(b, &reused) != nil {
		f.Fatal("a sample report does not decode")
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := Decode(b)
		if TypeOf(b) == TypeReport || err == nil {
			if rerr := DecodeReport(b, &reused); (rerr == nil) != (err == nil && fr.FrameType() == TypeReport) {
				t.Fatalf("Decode: %v; DecodeReport: %v", err, rerr)
			} else if rerr == nil {
				if d := diff(reused, fr.(Report), true); d != "" {
					t.Fatalf("DecodeReport differs from Decode at %s", d)
				}
			}
		}
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("got error %T, want *Error", err)
			}
			return
		}
		again := func(fr Frame) Frame {
			t.Helper()
			b, err := Encode(fr)
			if err != nil {
				t.Fatalf("decoded %T does not encode again: %v", fr, err)
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("decoded %T does not decode again: %v", fr, err)
			}
			return got
		}
		fr2 := again(fr)
		if d := diff(fr2, fr, true); d != "" {
			t.Fatalf("%T changed on re-encoding at %s", fr, d)
		}
		if d := diff(again(fr2), fr2, false); d != "" {
			t.Fatalf("%T changed on a second re-encoding at %s", fr, d)
		}
	})
}

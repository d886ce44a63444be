package wire

import (
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the frame decoder: it must return a frame
// or an *Error, never panic, and anything it accepts must encode again.
func FuzzDecode(f *testing.F) {
	seeds := []Frame{
		Hello{Token: "t", Cursors: []Cursor{{Stream: "orders", Epoch: 1, Seq: 2}}},
		Sub{Stream: "orders", From: &Cursor{Stream: "orders", Epoch: 1, Seq: 5}},
		Unsub{Stream: "x"},
		Pong{Time: 1},
		Batch{Stream: "orders", Events: []Event{sampleEvent(1)}},
		Snapshot{Stream: "m", State: State{Points: Points{TS: []int64{1}, Cols: []Column{{Name: "a", Vals: []float64{1}}}}}},
	}
	for _, s := range seeds {
		b, err := Encode(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x83, 0xa1, 'b', 0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0xc1})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := Decode(b)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("got error %T, want *Error", err)
			}
			return
		}
		if _, err := Encode(fr); err != nil {
			t.Fatalf("decoded %T does not encode again: %v", fr, err)
		}
	})
}

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

// FuzzDecodeReportOnePass holds DecodeReport's one pass to Decode: it takes
// exactly the report frames Decode takes (into a fresh report or one that
// held another), reads them as Decode does, and, where CheckStructure does
// not run before it, allocates no array longer than the frame has bytes,
// whatever the frame claims.
func FuzzDecodeReportOnePass(f *testing.F) {
	packed := sampleReport(2, 3) // the shape a page sends
	for i := range packed.Panels {
		packed.Panels[i].Stages = packAll(packed.Panels[i].Stages)
	}
	for _, r := range []Report{sampleReport(2, 3), sampleReport(1, 1), {}, {Panels: []PanelReport{{}}}, packed} {
		b, err := Encode(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	g := gen{rand.New(rand.NewPCG(18, 18))}
	for range 8 {
		if b, err := Encode(g.report()); err == nil && len(b) < 4096 {
			f.Add(b)
		}
	}
	for _, b := range absurdReports() {
		f.Add(b.frame)
	}
	var reused Report
	if b, err := Encode(sampleReport(12, 60)); err != nil || !decodeReportOnePass(b, &reused) {
		f.Fatal("a sample report does not decode in one pass")
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := Decode(b)
		want := err == nil && fr.FrameType() == TypeReport
		var fresh Report
		if got := decodeReportOnePass(b, &fresh); got != want {
			t.Fatalf("one pass took it: %v; Decode: %v", got, err)
		}
		if ceil := len(b); cap(fresh.Panels) > ceil {
			t.Fatalf("%d panels allocated for a frame of %d bytes", cap(fresh.Panels), ceil)
		} else {
			for _, p := range fresh.Panels[:cap(fresh.Panels)] {
				if cap(p.Stale) > ceil || cap(p.Stages) > ceil {
					t.Fatalf("%d stale periods, %d stages allocated for a frame of %d bytes", cap(p.Stale), cap(p.Stages), ceil)
				}
				for _, h := range p.Stages[:cap(p.Stages)] {
					if cap(h.Index) > ceil || cap(h.Counts) > ceil || cap(h.Packed) > ceil {
						t.Fatalf("%d indexes, %d counts, %d packed bytes allocated for a frame of %d bytes", cap(h.Index), cap(h.Counts), cap(h.Packed), ceil)
					}
				}
			}
		}
		if got := decodeReportOnePass(b, &reused); got != want {
			t.Fatalf("one pass into a reused report took it: %v; Decode: %v", got, err)
		}
		if !want {
			return
		}
		for _, got := range []Report{fresh, reused} {
			if d := diff(got, fr.(Report), true); d != "" {
				t.Fatalf("the one pass differs from Decode at %s", d)
			}
		}
	})
}

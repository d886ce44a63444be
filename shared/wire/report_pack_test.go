package wire

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/telltale/telltale/shared/sla"
)

// A histogram packs and unpacks to its bins with a count, runs of empty
// bins and counts of every uvarint length included.
func TestPackBinsRoundTrip(t *testing.T) {
	for _, c := range []struct {
		index  []int32
		counts []uint32
		bytes  int // the packed size
	}{
		{[]int32{40}, []uint32{1}, 1},
		{[]int32{-3, -2, -1, 0, 1}, []uint32{1, 127, 128, 16383, 16384}, 1 + 1 + 2 + 2 + 3},
		{[]int32{sla.MinBin, sla.MaxBin}, []uint32{math.MaxUint32, 2}, 5 + 3 + 1}, // a run of ~985 empty bins: 0 and a 2-byte length
		{[]int32{10, 11, 13, 14}, []uint32{0, 5, 0, 6}, 1 + 2 + 1},                // zero counts pack as empty bins
	} {
		first, packed := PackBins(nil, c.index, c.counts)
		if len(packed) != c.bytes {
			t.Errorf("%v %v: packed in %d bytes (%x), want %d", c.index, c.counts, len(packed), packed, c.bytes)
		}
		h := StageHist{First: first, Packed: packed}
		if err := h.Unpack(); err != nil {
			t.Fatalf("%v %v: %v", c.index, c.counts, err)
		}
		var index []int32
		var counts []uint32
		for i, n := range c.counts {
			if n > 0 {
				index, counts = append(index, c.index[i]), append(counts, n)
			}
		}
		if !slices.Equal(h.Index, index) || !slices.Equal(h.Counts, counts) || h.First != 0 || len(h.Packed) != 0 {
			t.Errorf("%v %v: unpacked to %+v", c.index, c.counts, h)
		}
	}
}

// Unpack refuses what is not a histogram of sla's bins, and allocates no
// more than sla.MaxBins bins whatever the bytes claim.
func TestUnpackRefuses(t *testing.T) {
	many := make([]byte, sla.MaxBins+1)
	for i := range many {
		many[i] = 1
	}
	for _, c := range []struct {
		h    StageHist
		want string
	}{
		{StageHist{}, "not both nor neither"},
		{StageHist{Index: []int32{1}, Counts: []uint32{1}, First: 1, Packed: []byte{1}}, "not both nor neither"},
		{StageHist{Index: []int32{1}, Counts: []uint32{1}, Packed: []byte{1}}, "not both nor neither"},
		{StageHist{Counts: []uint32{1}, First: 3}, "not both nor neither"},
		{StageHist{First: 3}, ""}, // packed, no bins: empty
		{StageHist{First: sla.MinBin - 1, Packed: []byte{1}}, "outside"},
		{StageHist{First: sla.MaxBin + 1, Packed: []byte{1}}, "outside"},
		{StageHist{First: 1, Packed: []byte{0x81}}, "cut short"},
		{StageHist{First: 1, Packed: []byte{0x81, 0x00}}, "more bytes than it takes"},
		{StageHist{First: 1, Packed: []byte{0xff, 0xff, 0xff, 0xff, 0x10}}, "over a uint32"},
		{StageHist{First: 1, Packed: []byte{0xff, 0xff, 0xff, 0xff, 0x8f, 0x01}}, "over a uint32"},
		{StageHist{First: 1, Packed: []byte{1, 0}}, "cut short"},
		{StageHist{First: 1, Packed: []byte{1, 0, 0, 1}}, "a run of 0 empty bins"},
		{StageHist{First: sla.MaxBin, Packed: []byte{1, 1}}, "past"},
		{StageHist{First: sla.MinBin, Packed: []byte{1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 1}}, "more than"},
		{StageHist{First: sla.MinBin, Packed: many}, "past"}, // sla's bins are fewer than sla.MaxBins
		{StageHist{First: sla.MinBin, Packed: []byte{0, 0xff, 0xff, 0xff, 0xff, 0x0f}}, "more than"},
	} {
		h := c.h
		err := h.Unpack()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: %v", c.h, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: got %v, want an error with %q", c.h, err, c.want)
		case c.want == "not both nor neither" && !errors.Is(err, ErrHistShape):
			t.Errorf("%+v: %v is not ErrHistShape", c.h, err)
		}
		if cap(h.Index) > sla.MaxBins || cap(h.Counts) > sla.MaxBins {
			t.Errorf("%+v: %d bins allocated", c.h, cap(h.Index))
		}
	}
}

// A packed histogram travels in a report frame: the one pass, Decode and
// the library read it alike, and the one pass reuses its bytes' array.
func TestDecodePackedReport(t *testing.T) {
	r := sampleReport(2, 40)
	r.Panels[0].Stages = packAll(r.Panels[0].Stages)
	b, err := Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	fr, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(fr.(Report), r, false); d != "" {
		t.Fatalf("Decode differs at %s", d)
	}
	lib, err := libDecode(b)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(lib.(Report), r, true); d != "" {
		t.Fatalf("the library differs at %s", d)
	}
	var rep Report
	for range 2 {
		if err := DecodeReport(b, &rep); err != nil {
			t.Fatal(err)
		}
		if d := diff(rep, r, true); d != "" {
			t.Fatalf("DecodeReport differs at %s", d)
		}
	}
	if n := testing.AllocsPerRun(10, func() { _ = DecodeReport(b, &rep) }); n != 0 {
		t.Fatalf("%v allocations a packed report into a reused one", n)
	}
	// Past sla.MaxPackedBytes, refused by both before the bytes are copied.
	r.Panels[0].Stages[0].Packed = make([]byte, sla.MaxPackedBytes+1)
	if b, err = Encode(r); err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(b); !errors.Is(err, errReportCap) && (err == nil || !strings.Contains(err.Error(), "packed")) {
		t.Fatalf("Decode: %v, want the cap's error", err)
	}
	if err := DecodeReport(b, &rep); err == nil || !strings.Contains(err.Error(), "packed") {
		t.Fatalf("DecodeReport: %v, want the cap's error", err)
	}
}

// packAll is stages packed (the shape a page sends).
func packAll(stages []StageHist) []StageHist {
	out := make([]StageHist, len(stages))
	for i, h := range stages {
		out[i].Stage = h.Stage
		out[i].First, out[i].Packed = PackBins(nil, h.Index, h.Counts)
	}
	return out
}

// The report of the benchmarks and of the fan-out, in both shapes.
func TestPackedReportSize(t *testing.T) {
	r := sampleReport(8, 40)
	old, err := Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	for i := range r.Panels {
		r.Panels[i].Stages = packAll(r.Panels[i].Stages)
	}
	packed, err := Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("8 panels × 7 stages × 40 bins: %d bytes as index and counts, %d packed", len(old), len(packed))
	if len(packed)*100 > len(old)*55 { // 9,784 → 5,192 bytes (53%): the keys, names and stale periods stay
		t.Fatalf("packed %d bytes, over 55%% of %d", len(packed), len(old))
	}
}

// FuzzUnpack: whatever the bytes, Unpack refuses them or gives at most
// sla.MaxBins ascending bins of sla's with a count each, no more than the
// bytes, which pack and unpack again to themselves.
func FuzzUnpack(f *testing.F) {
	f.Add(int32(40), []byte{1, 2, 0, 3, 4})
	f.Add(sla.MinBin, []byte{0x80, 0x01, 0, 0x81, 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add(int32(0), []byte{})
	f.Fuzz(func(t *testing.T, first int32, packed []byte) {
		h := StageHist{First: first, Packed: packed}
		sum, wasPacked, err := h.UnpackSum()
		if err != nil {
			return
		}
		var want uint64
		for _, c := range h.Counts {
			want += uint64(c)
		}
		if sum != want || wasPacked != (len(packed) > 0 || first != 0) {
			t.Fatalf("sum %d, packed %v: want %d, %v", sum, wasPacked, want, len(packed) > 0 || first != 0)
		}
		if len(h.Index) != len(h.Counts) || len(h.Index) > sla.MaxBins || len(h.Index) > len(packed) || cap(h.Index) > sla.MaxBins {
			t.Fatalf("%d bins, %d counts (cap %d) from %d bytes", len(h.Index), len(h.Counts), cap(h.Index), len(packed))
		}
		for k, b := range h.Index {
			if b < sla.MinBin || b > sla.MaxBin || (k > 0 && b <= h.Index[k-1]) || h.Counts[k] == 0 {
				t.Fatalf("bin %d at %d (count %d): not ascending in [%d, %d] with a count", b, k, h.Counts[k], sla.MinBin, sla.MaxBin)
			}
		}
		again := StageHist{}
		again.First, again.Packed = PackBins(nil, h.Index, h.Counts)
		if len(h.Index) == 0 {
			return
		}
		if err := again.Unpack(); err != nil || !slices.Equal(again.Index, h.Index) || !slices.Equal(again.Counts, h.Counts) {
			t.Fatalf("packed again: %v, %v %v; want %v %v", err, again.Index, again.Counts, h.Index, h.Counts)
		}
	})
}

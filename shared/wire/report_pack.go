package wire

import (
	"errors"
	"fmt"

	"github.com/telltale/telltale/shared/sla"
)

// A histogram travels in one of two shapes (StageHist). The packed one is
// what a page sends: First, its lowest bin with a count, and Packed, the
// counts of the bins from First on, one after the other, each a uvarint
// (LEB128, as encoding/binary writes it), with a run of empty bins written
// as a 0 and the run's length (a uvarint, at least 1). A page's bins are
// contiguous around each stage's median, so most bins cost one byte
// (counts under 128) where Index and Counts cost two to four and a server
// reads one array of bytes instead of two of integers. The older shape,
// Index and Counts, is still taken: a page cached by the service worker
// sends it.

// PackBins appends the packed form of a histogram to dst: index ascending,
// counts[i] the count of bin index[i]. Bins with no count are left out
// (they pack as runs), so first is the lowest bin with a count; a
// histogram with none packs as nothing (first 0, dst unchanged).
func PackBins(dst []byte, index []int32, counts []uint32) (first int32, packed []byte) {
	packed = dst
	next, started := int32(0), false
	for i, b := range index {
		c := counts[i]
		if c == 0 {
			continue
		}
		switch {
		case !started:
			first, started = b, true
		case b > next:
			packed = appendUvarint(append(packed, 0), uint64(b-next))
		}
		packed = appendUvarint(packed, uint64(c))
		next = b + 1
	}
	return first, packed
}

func appendUvarint(dst []byte, v uint64) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// ErrHistShape is the error of a histogram sent in both shapes or neither.
var ErrHistShape = errors.New("a stage's histogram must be sent as first and packed, or as index and counts, not both nor neither")

// Unpack puts a packed histogram's bins in Index and Counts (reusing their
// arrays; bins with no count are left out) and empties First and Packed,
// so that whoever reads a histogram reads Index and Counts whatever shape
// it came in. A histogram already in Index and Counts is left as it is.
//
// Unpack refuses a histogram that holds both shapes or neither (an empty
// one: a page sends no stage without a count), and a packed one whose
// bytes are not a histogram of sla's bins: a uvarint cut short, written in
// more bytes than it takes (its last byte 0, or past 5 bytes) or over a
// uint32, a run of 0 bins, a bin outside [sla.MinBin, sla.MaxBin] or more
// than sla.MaxBins of them. What it appends is at most sla.MaxBins bins.
func (h *StageHist) Unpack() error {
	_, _, err := h.UnpackSum()
	return err
}

// UnpackSum is Unpack, also saying whether the histogram came packed and,
// if so, the sum of its counts: its bins, unpacked, are then known to
// ascend within [sla.MinBin, sla.MaxBin], at most sla.MaxBins of them, so
// that a caller checks only what came as index and counts.
func (h *StageHist) UnpackSum() (sum uint64, packed bool, err error) {
	packed = len(h.Packed) > 0 || h.First != 0
	old := len(h.Index) > 0 || len(h.Counts) > 0
	if packed == old {
		return 0, false, ErrHistShape
	}
	if old {
		return 0, false, nil
	}
	if h.First < sla.MinBin || h.First > sla.MaxBin {
		return 0, true, fmt.Errorf("first bin %d outside [%d, %d]", h.First, sla.MinBin, sla.MaxBin)
	}
	p := h.Packed
	// Each bin with a count takes a byte at least: at most len(p) of them,
	// and at most sla.MaxBins (a longer walk is refused below).
	n := min(len(p), sla.MaxBins)
	index, counts := h.Index[:0], h.Counts[:0]
	if cap(index) < n {
		index = make([]int32, 0, n)
	}
	if cap(counts) < n {
		counts = make([]uint32, 0, n)
	}
	index, counts = index[:n], counts[:n]
	// bin is the next bin's; a count lands in it when bin <= last, and the
	// walk (empty bins included) spans bin - First bins.
	first := int64(h.First)
	last := min(int64(sla.MaxBin), first+sla.MaxBins-1)
	bin, k := first, 0
	for i := 0; i < len(p); {
		c := uint32(p[i])
		if c-1 < 0x7f { // 1 to 127: one byte, nearly every count of a page
			i++
		} else {
			var m int
			if c, m = uvarint32(p[i:]); m <= 0 {
				return 0, true, fmt.Errorf("packed bins: byte %d: %s", i, uvarintErr[-m])
			}
			i += m
			if c == 0 { // a run of empty bins
				run, m := uvarint32(p[i:])
				if m <= 0 {
					return 0, true, fmt.Errorf("packed bins: byte %d: %s", i, uvarintErr[-m])
				}
				if run == 0 {
					return 0, true, fmt.Errorf("packed bins: byte %d: a run of 0 empty bins", i)
				}
				i += m
				if bin += int64(run); bin-first > sla.MaxBins {
					return 0, true, fmt.Errorf("packed bins: more than %d bins", sla.MaxBins)
				}
				continue
			}
		}
		if bin > last {
			if bin > int64(sla.MaxBin) {
				return 0, true, fmt.Errorf("packed bins: bin %d past %d", bin, sla.MaxBin)
			}
			return 0, true, fmt.Errorf("packed bins: more than %d bins", sla.MaxBins)
		}
		index[k], counts[k] = int32(bin), c // k < n: a bin a byte at least, at most sla.MaxBins of them
		sum += uint64(c)
		k++
		bin++
	}
	h.Index, h.Counts, h.First, h.Packed = index[:k], counts[:k], 0, h.Packed[:0]
	return sum, true, nil
}

var uvarintErr = [...]string{0: "", 1: "a uvarint cut short", 2: "a uvarint written in more bytes than it takes", 3: "a uvarint over a uint32"}

// uvarint32 reads a uvarint of at most a uint32's value from the front of
// b, and its length in bytes; the length is -1 when b ends inside it, -2
// when it is written in more bytes than it takes, -3 when it is over a
// uint32.
func uvarint32(b []byte) (uint32, int) {
	var v uint64
	for i := 0; i < len(b); i++ {
		c := b[i]
		if i == 4 && c > 0x0f { // 4 × 7 bits + 4 = 32
			return 0, -3
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			if c == 0 && i > 0 {
				return 0, -2
			}
			return uint32(v), i + 1
		}
	}
	return 0, -1
}

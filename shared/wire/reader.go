package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
)

// reader decodes msgpack straight from a byte slice: the hot path of every
// client (each event of each batch frame) without the msgpack library's
// io.Reader plumbing, per-key string allocations and interface dispatch.
// Reading the 64-event benchmark batch took 116–141 µs through the library
// and hand-written field callbacks; see BenchmarkDecodeBatch_64Events for now.
// Every frame is read this way, so that the browser build does not link the
// library at all.
//
// It accepts the same encodings the library's typed decoders accept (nil as
// a zero, any integer width for an integer, integers for floats, bin for
// strings) so that the two agree; TestDecodeMatchesLibrary holds them equal.
// The first error sticks: after it every read returns zeros, so callers
// check r.err once at the end of a value.
//
// A reader trusts CheckStructure to have passed on the whole frame: array
// lengths it allocates for and nesting it recurses into are bounded by that.
// A guarded reader (DecodeReport's one pass) does not: it checks the claims
// it reads and skips what it does not read as CheckStructure walks it.
type reader struct {
	b   []byte
	i   int
	err error
	// reuse says a report is read into arrays kept from an earlier one
	// (DecodeReport's one pass), which it overwrites: a histogram's index
	// and counts are then read without binsAgree's walk before them.
	reuse bool
	// guard says CheckStructure has not run on the frame (DecodeReport's
	// one pass): skipAt walks what it skips as CheckStructure would, and
	// the report's readers refuse an array that claims more elements than
	// bytes are left before they allocate for it.
	guard bool
}

var errCode = errors.New("unexpected msgpack type")

// interned caches short strings that recur in every event (stream names,
// value and field keys, row ops): a fixed table indexed by hash, lock-free,
// so a name costs a hash and a compare instead of an allocation, and the
// table never grows whatever names arrive.
var interned [4096]atomic.Pointer[string]

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.i = len(r.b)
}

func (r *reader) next(n int) []byte {
	if r.err != nil || n < 0 || len(r.b)-r.i < n {
		r.fail(errTruncated)
		return nil
	}
	s := r.b[r.i : r.i+n]
	r.i += n
	return s
}

func (r *reader) code() byte {
	s := r.next(1)
	if s == nil {
		return 0xc1 // never valid: reads after an error fail again
	}
	return s[0]
}

func (r *reader) peek() byte {
	if r.err != nil || r.i >= len(r.b) {
		return 0xc1
	}
	return r.b[r.i]
}

func (r *reader) u8() uint64  { s := r.next(1); return uint64(at(s, 1)[0]) }
func (r *reader) u16() uint64 { return uint64(binary.BigEndian.Uint16(at(r.next(2), 2))) }
func (r *reader) u32() uint64 { return uint64(binary.BigEndian.Uint32(at(r.next(4), 4))) }
func (r *reader) u64() uint64 { return binary.BigEndian.Uint64(at(r.next(8), 8)) }

// at returns s, or n zero bytes when a read failed (s is nil).
func at(s []byte, n int) []byte {
	if s == nil {
		return make([]byte, n)
	}
	return s
}

// integer reads any msgpack integer (or nil, as 0) as its 64 bits: int64 and
// uint64 callers convert, as the library's DecodeInt64 and DecodeUint64 do.
func (r *reader) integer() uint64 {
	c := r.code()
	switch {
	case c <= 0x7f || c >= 0xe0:
		return uint64(int64(int8(c)))
	case c == 0xc0:
		return 0
	case c == 0xcc:
		return r.u8()
	case c == 0xcd:
		return r.u16()
	case c == 0xce:
		return r.u32()
	case c == 0xcf, c == 0xd3:
		return r.u64()
	case c == 0xd0:
		return uint64(int64(int8(r.u8())))
	case c == 0xd1:
		return uint64(int64(int16(r.u16())))
	case c == 0xd2:
		return uint64(int64(int32(r.u32())))
	}
	r.fail(fmt.Errorf("%w: 0x%02x for an integer", errCode, c))
	return 0
}

func (r *reader) int64() int64   { return int64(r.integer()) }
func (r *reader) uint64() uint64 { return r.integer() }

func (r *reader) float64() float64 {
	switch r.peek() {
	case 0xca:
		r.i++
		return float64(math.Float32frombits(uint32(r.u32())))
	case 0xcb:
		r.i++
		return math.Float64frombits(r.u64())
	}
	return float64(r.int64())
}

// bytesLen reads the header of a str or bin; nil is -1.
func (r *reader) bytesLen() int {
	c := r.code()
	switch {
	case c >= 0xa0 && c <= 0xbf:
		return int(c & 0x1f)
	case c == 0xc0:
		return -1
	case c == 0xd9, c == 0xc4:
		return int(r.u8())
	case c == 0xda, c == 0xc5:
		return int(r.u16())
	case c == 0xdb, c == 0xc6:
		return int(r.u32())
	}
	r.fail(fmt.Errorf("%w: 0x%02x for a string", errCode, c))
	return 0
}

// rawString returns a string's bytes without copying them (nil for nil).
func (r *reader) rawString() []byte {
	n := r.bytesLen()
	if n <= 0 {
		return nil
	}
	return r.next(n)
}

func (r *reader) string() string { return string(r.rawString()) }

// name reads a string that is likely to repeat (a stream name, a key) and
// returns a shared copy of it.
func (r *reader) name() string {
	b := r.rawString()
	if len(b) == 0 || len(b) > 64 {
		return string(b)
	}
	h := uint32(2166136261) // FNV-1a: names are short, and a collision only costs an allocation
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	slot := &interned[h%uint32(len(interned))]
	if p := slot.Load(); p != nil && *p == string(b) {
		return *p
	}
	s := string(b)
	slot.Store(&s)
	return s
}

// mapLen reads a map header; nil is -1.
func (r *reader) mapLen() int {
	c := r.code()
	switch {
	case c >= 0x80 && c <= 0x8f:
		return int(c & 0x0f)
	case c == 0xc0:
		return -1
	case c == 0xde:
		return int(r.u16())
	case c == 0xdf:
		return int(r.u32())
	}
	r.fail(fmt.Errorf("%w: 0x%02x for a map", errCode, c))
	return 0
}

// arrayLen reads an array header; nil is -1. The frame's structure check has
// bounded it by the bytes left, so callers may allocate n elements.
func (r *reader) arrayLen() int {
	c := r.code()
	switch {
	case c >= 0x90 && c <= 0x9f:
		return int(c & 0x0f)
	case c == 0xc0:
		return -1
	case c == 0xdc:
		return int(r.u16())
	case c == 0xdd:
		return int(r.u32())
	}
	r.fail(fmt.Errorf("%w: 0x%02x for an array", errCode, c))
	return 0
}

// bool reads a boolean; nil reads as false, as the library reads it.
func (r *reader) bool() bool {
	switch c := r.code(); c {
	case 0xc0, 0xc2:
		return false
	case 0xc3:
		return true
	default:
		r.fail(fmt.Errorf("%w: 0x%02x for a bool", errCode, c))
		return false
	}
}

// isNil consumes a nil and reports whether there was one.
func (r *reader) isNil() bool {
	if r.peek() == 0xc0 {
		r.i++
		return true
	}
	return false
}

// skip steps over one value of any type.
func (r *reader) skip() {
	end, err := valueEnd(r.b, r.i)
	if err != nil {
		r.fail(err)
		return
	}
	r.i = end
}

// skipAt is skip for a value at nesting level (the frame is at 0, its
// fields at 1; see checkedEnd): a guarded reader checks the value's
// structure as CheckStructure would, where skip trusts that it has.
func (r *reader) skipAt(level int) {
	if !r.guard {
		r.skip()
		return
	}
	end, err := checkedEnd(r.b, r.i, level)
	if err != nil {
		r.fail(err)
		return
	}
	r.i = end
}

// raw returns the bytes of the next value, whatever it is.
func (r *reader) raw() []byte {
	start := r.i
	r.skip()
	if r.err != nil {
		return nil
	}
	return r.b[start:r.i]
}

// any reads a row field's value as the library's DecodeInterface does:
// int8 for a fixint, the sized type of any other integer, float32 or
// float64, string, []byte for bin, []any and map[string]any. Ext values
// (timestamps and the like) are refused: no producer sends them.
func (r *reader) any() any {
	c := r.peek()
	switch {
	case c <= 0x7f || c >= 0xe0:
		r.i++
		return int8(c)
	case c >= 0xa0 && c <= 0xbf, c == 0xd9, c == 0xda, c == 0xdb:
		return r.string()
	case c >= 0x80 && c <= 0x8f, c == 0xde, c == 0xdf:
		return r.anyMap()
	case c >= 0x90 && c <= 0x9f, c == 0xdc, c == 0xdd:
		return r.anyArray()
	}
	switch c {
	case 0xc0:
		r.i++
		return nil
	case 0xc2, 0xc3:
		r.i++
		return c == 0xc3
	case 0xc4, 0xc5, 0xc6:
		// Never nil: the library returns an empty slice for an empty bin.
		return append([]byte{}, r.next(r.bytesLen())...)
	case 0xca:
		r.i++
		return math.Float32frombits(uint32(r.u32()))
	case 0xcb:
		r.i++
		return math.Float64frombits(r.u64())
	case 0xcc:
		r.i++
		return uint8(r.u8())
	case 0xcd:
		r.i++
		return uint16(r.u16())
	case 0xce:
		r.i++
		return uint32(r.u32())
	case 0xcf:
		r.i++
		return r.u64()
	case 0xd0:
		r.i++
		return int8(r.u8())
	case 0xd1:
		r.i++
		return int16(r.u16())
	case 0xd2:
		r.i++
		return int32(r.u32())
	case 0xd3:
		r.i++
		return int64(r.u64())
	}
	r.fail(fmt.Errorf("%w: 0x%02x for a value", errCode, c))
	return nil
}

// anyMap reads a map of string keys, as the library's DecodeMap does.
func (r *reader) anyMap() map[string]any {
	n := r.mapLen()
	if n < 0 || r.err != nil {
		return nil
	}
	m := make(map[string]any, n)
	for range n {
		k := r.name()
		m[k] = r.any()
		if r.err != nil {
			return nil
		}
	}
	return m
}

func (r *reader) anyArray() []any {
	n := r.arrayLen()
	if n < 0 || r.err != nil {
		return nil
	}
	s := make([]any, n)
	for i := range s {
		if s[i] = r.any(); r.err != nil {
			return nil
		}
	}
	return s
}

// fields walks a map, handing each key to field, which must read or skip
// the value. A nil map has no fields. An error names the keys it was found
// under ("state: points: ts: ...").
func (r *reader) fields(field func(key []byte)) {
	n := r.mapLen()
	for range max(n, 0) {
		k := r.rawString()
		if r.err != nil {
			return
		}
		field(k)
		if r.err != nil {
			r.err = fmt.Errorf("%s: %w", k, r.err)
			return
		}
	}
}

// valueEnd returns the index just past the msgpack value starting at b[i].
func valueEnd(b []byte, i int) (int, error) {
	for pending := 1; pending > 0; pending-- {
		if i >= len(b) {
			return 0, errTruncated
		}
		var skip, count int
		var err error
		if i, skip, count, err = valueHeader(b, i); err != nil {
			return 0, err
		}
		// Every child value takes at least one byte.
		if skip > len(b)-i || count > len(b)-i {
			return 0, errClaim
		}
		i += skip
		pending += count
	}
	return i, nil
}

package wire

import "errors"

// maxDepth bounds how deeply arrays and maps may nest in a frame. Real frames
// nest about five levels; the bound keeps a hostile frame from driving deep
// recursion in the decoder.
const maxDepth = 32

var (
	errTruncated = errors.New("truncated msgpack value")
	errClaim     = errors.New("msgpack length claims more than the frame holds")
	errDepth     = errors.New("msgpack nests deeper than 32 levels")
	errTrailing  = errors.New("trailing bytes after msgpack value")
	errReserved  = errors.New("reserved msgpack code 0xc1")
)

// CheckStructure walks one msgpack value without allocating and fails if any
// length it claims exceeds what the buffer holds, if it nests more than 32
// levels deep, or if bytes follow it. Decode runs it first, so that its
// reader may allocate what a header claims and recurse into what it nests;
// anything else that decodes msgpack from outside should run it too.
//
// Why: a decoder that allocates a slice of the claimed length before it reads
// a single element (msgpack/v5.4.1 does, see backend/ingest) would allocate
// gigabytes for five bytes claiming a 2^32-element array. After this check a
// value of n bytes can never make a decoder allocate more than about n
// elements.
func CheckStructure(b []byte) error {
	var stack [maxDepth + 1]int // values still to read at each open level
	depth := 0
	stack[0] = 1
	i := 0
	for {
		for stack[depth] == 0 {
			if depth == 0 {
				if i != len(b) {
					return errTrailing
				}
				return nil
			}
			depth--
		}
		stack[depth]--
		if i >= len(b) {
			return errTruncated
		}
		var skip, count int
		var err error
		if i, skip, count, err = valueHeader(b, i); err != nil {
			return err
		}
		if skip > len(b)-i {
			return errClaim
		}
		i += skip
		if count > 0 {
			// Every value takes at least one byte.
			if count > len(b)-i {
				return errClaim
			}
			if depth == maxDepth {
				return errDepth
			}
			depth++
			stack[depth] = count
		}
	}
}

// checkedEnd is CheckStructure for the one value at b[i], read at nesting
// level (the frame itself is at 0, its fields at 1): it returns the index
// just past the value, or the error CheckStructure would find in it. A
// decoder that reads a frame in one pass without CheckStructure
// (DecodeReport) skips what it does not read with it, so that the frames
// it takes are the ones Decode takes.
//
// Its loop is CheckStructure's, kept apart rather than shared:
// CheckStructure written as a call of it cost app.wasm 6.6 KB of brotli
// (1,695,655 → 1,702,251), where the browser never links this one.
// TestCheckedEndIsCheckStructure holds the two equal.
func checkedEnd(b []byte, i, level int) (int, error) {
	var stack [maxDepth + 1]int // values still to read at each open level
	depth := level
	stack[depth] = 1
	for {
		for stack[depth] == 0 {
			if depth == level {
				return i, nil
			}
			depth--
		}
		stack[depth]--
		if i >= len(b) {
			return 0, errTruncated
		}
		var skip, count int
		var err error
		if i, skip, count, err = valueHeader(b, i); err != nil {
			return 0, err
		}
		if skip > len(b)-i {
			return 0, errClaim
		}
		i += skip
		if count > 0 {
			// Every value takes at least one byte.
			if count > len(b)-i {
				return 0, errClaim
			}
			if depth == maxDepth {
				return 0, errDepth
			}
			depth++
			stack[depth] = count
		}
	}
}

// valueHeader reads the header of the msgpack value at b[i]: it returns the
// index after the header, the payload bytes that follow it, and how many
// child values (array elements, map keys and values) come after those.
func valueHeader(b []byte, i int) (next, skip, count int, err error) {
	c := b[i]
	i++
	switch {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
	case c >= 0x80 && c <= 0x8f:
		count = 2 * int(c&0x0f)
	case c >= 0x90 && c <= 0x9f:
		count = int(c & 0x0f)
	case c >= 0xa0 && c <= 0xbf:
		skip = int(c & 0x1f)
	case c == 0xc1:
		return 0, 0, 0, errReserved
	default:
		var n int
		var ok bool
		switch c {
		case 0xc4, 0xd9: // bin8, str8
			n, i, ok = readLen(b, i, 1)
			skip = n
		case 0xc5, 0xda:
			n, i, ok = readLen(b, i, 2)
			skip = n
		case 0xc6, 0xdb:
			n, i, ok = readLen(b, i, 4)
			skip = n
		case 0xc7: // ext8: len, type, data
			n, i, ok = readLen(b, i, 1)
			skip = n + 1
		case 0xc8:
			n, i, ok = readLen(b, i, 2)
			skip = n + 1
		case 0xc9:
			n, i, ok = readLen(b, i, 4)
			skip = n + 1
		case 0xca, 0xce, 0xd2:
			skip, ok = 4, true
		case 0xcb, 0xcf, 0xd3:
			skip, ok = 8, true
		case 0xcc, 0xd0:
			skip, ok = 1, true
		case 0xcd, 0xd1:
			skip, ok = 2, true
		case 0xd4:
			skip, ok = 2, true
		case 0xd5:
			skip, ok = 3, true
		case 0xd6:
			skip, ok = 5, true
		case 0xd7:
			skip, ok = 9, true
		case 0xd8:
			skip, ok = 17, true
		case 0xdc:
			count, i, ok = readLen(b, i, 2)
		case 0xdd:
			count, i, ok = readLen(b, i, 4)
		case 0xde:
			n, i, ok = readLen(b, i, 2)
			count = 2 * n
		case 0xdf:
			n, i, ok = readLen(b, i, 4)
			count = 2 * n
		}
		if !ok {
			return 0, 0, 0, errTruncated
		}
	}
	return i, skip, count, nil
}

func readLen(b []byte, i, size int) (n, next int, ok bool) {
	if len(b)-i < size {
		return 0, i, false
	}
	for k := 0; k < size; k++ {
		n = n<<8 | int(b[i+k])
	}
	return n, i + size, true
}

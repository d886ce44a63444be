package wire

import (
	"encoding/binary"
	"fmt"
	"math"
)

// The append functions write msgpack by hand, as reader reads it: the msgpack
// library was most of the browser build's growth past its size budget, and
// frames are a handful of fixed shapes. They choose the encodings the library
// chooses with UseCompactInts (the smallest integer form, str8 from 32 bytes,
// float64 always as 8 bytes), so that the bytes are the library's up to map
// order; TestEncodeMatchesLibrary holds them to it.

func appendNil(dst []byte) []byte { return append(dst, 0xc0) }

func appendBool(dst []byte, v bool) []byte {
	if v {
		return append(dst, 0xc3)
	}
	return append(dst, 0xc2)
}

// appendUint writes v in the smallest unsigned form.
func appendUint(dst []byte, v uint64) []byte {
	switch {
	case v <= math.MaxInt8:
		return append(dst, byte(v))
	case v <= math.MaxUint8:
		return append(dst, 0xcc, byte(v))
	case v <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xcd), uint16(v))
	case v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, 0xce), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(dst, 0xcf), v)
}

// appendInt writes v in the smallest form: unsigned when it is not negative,
// as the library does.
func appendInt(dst []byte, v int64) []byte {
	switch {
	case v >= 0:
		return appendUint(dst, uint64(v))
	case v >= -32:
		return append(dst, byte(v))
	case v >= math.MinInt8:
		return append(dst, 0xd0, byte(v))
	case v >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(dst, 0xd1), uint16(v))
	case v >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(dst, 0xd2), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(dst, 0xd3), uint64(v))
}

func appendFloat32(dst []byte, v float32) []byte {
	return binary.BigEndian.AppendUint32(append(dst, 0xca), math.Float32bits(v))
}

func appendFloat64(dst []byte, v float64) []byte {
	return binary.BigEndian.AppendUint64(append(dst, 0xcb), math.Float64bits(v))
}

func appendStr(dst []byte, s string) []byte {
	switch n := len(s); {
	case n < 32:
		dst = append(dst, 0xa0|byte(n))
	case n <= math.MaxUint8:
		dst = append(dst, 0xd9, byte(n))
	case n <= math.MaxUint16:
		dst = binary.BigEndian.AppendUint16(append(dst, 0xda), uint16(n))
	default:
		dst = binary.BigEndian.AppendUint32(append(dst, 0xdb), uint32(n))
	}
	return append(dst, s...)
}

// appendBin writes b as bin, and nil as nil, as the library does.
func appendBin(dst []byte, b []byte) []byte {
	switch n := len(b); {
	case b == nil:
		return appendNil(dst)
	case n <= math.MaxUint8:
		dst = append(dst, 0xc4, byte(n))
	case n <= math.MaxUint16:
		dst = binary.BigEndian.AppendUint16(append(dst, 0xc5), uint16(n))
	default:
		dst = binary.BigEndian.AppendUint32(append(dst, 0xc6), uint32(n))
	}
	return append(dst, b...)
}

func appendArrayLen(dst []byte, n int) []byte {
	switch {
	case n < 16:
		return append(dst, 0x90|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xdc), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, 0xdd), uint32(n))
}

func appendMapLen(dst []byte, n int) []byte {
	switch {
	case n < 16:
		return append(dst, 0x80|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xde), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, 0xdf), uint32(n))
}

// appendMapHeader writes the header of a struct's map: one entry for each
// field that is present (omitempty fields drop out when they are empty).
func appendMapHeader(dst []byte, present ...bool) []byte {
	n := 0
	for _, p := range present {
		if p {
			n++
		}
	}
	return appendMapLen(dst, n)
}

func appendInt64s(dst []byte, s []int64) []byte {
	if s == nil {
		return appendNil(dst)
	}
	dst = appendArrayLen(dst, len(s))
	for _, v := range s {
		dst = appendInt(dst, v)
	}
	return dst
}

func appendFloat64s(dst []byte, s []float64) []byte {
	if s == nil {
		return appendNil(dst)
	}
	dst = appendArrayLen(dst, len(s))
	for _, v := range s {
		dst = appendFloat64(dst, v)
	}
	return dst
}

func appendFloatMap(dst []byte, m map[string]float64) []byte {
	if m == nil {
		return appendNil(dst)
	}
	dst = appendMapLen(dst, len(m))
	for k, v := range m {
		dst = appendFloat64(appendStr(dst, k), v)
	}
	return dst
}

// appendAny writes a row field's value, found depth containers deep in its
// frame (counted as CheckStructure counts them). A container that would nest
// deeper than a peer accepts is an error here rather than a frame every peer
// refuses.
func appendAny(dst []byte, v any, depth int) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return appendNil(dst), nil
	case bool:
		return appendBool(dst, v), nil
	case int:
		return appendInt(dst, int64(v)), nil
	case int8:
		return appendInt(dst, int64(v)), nil
	case int16:
		return appendInt(dst, int64(v)), nil
	case int32:
		return appendInt(dst, int64(v)), nil
	case int64:
		return appendInt(dst, v), nil
	case uint:
		return appendUint(dst, uint64(v)), nil
	case uint8:
		return appendUint(dst, uint64(v)), nil
	case uint16:
		return appendUint(dst, uint64(v)), nil
	case uint32:
		return appendUint(dst, uint64(v)), nil
	case uint64:
		return appendUint(dst, v), nil
	case float32:
		return appendFloat32(dst, v), nil
	case float64:
		return appendFloat64(dst, v), nil
	case string:
		return appendStr(dst, v), nil
	case []byte:
		return appendBin(dst, v), nil
	case []any:
		if v == nil {
			return appendNil(dst), nil
		}
		if len(v) > 0 && depth >= maxDepth {
			return dst, errDepth
		}
		dst = appendArrayLen(dst, len(v))
		for _, e := range v {
			var err error
			if dst, err = appendAny(dst, e, depth+1); err != nil {
				return dst, err
			}
		}
		return dst, nil
	case map[string]any:
		return appendAnyMap(dst, v, depth)
	}
	return dst, fmt.Errorf("cannot encode a %T", v)
}

func appendAnyMap(dst []byte, m map[string]any, depth int) ([]byte, error) {
	if m == nil {
		return appendNil(dst), nil
	}
	if len(m) > 0 && depth >= maxDepth {
		return dst, errDepth
	}
	dst = appendMapLen(dst, len(m))
	for k, e := range m {
		var err error
		if dst, err = appendAny(appendStr(dst, k), e, depth+1); err != nil {
			return dst, fmt.Errorf("%s: %w", k, err)
		}
	}
	return dst, nil
}

package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// cpuIn is what a CPU profile (pprof's profile.proto, gzipped, as
// /debug/pprof/profile writes it) says of where the time went: the total,
// and the part whose stacks hold a function whose name starts with prefix.
// It reads only the fields it needs (samples, locations, functions, the
// string table): a dozen lines of protowire rather than a dependency on
// github.com/google/pprof for one sum.
type cpuIn struct {
	TotalS, InS float64
}

// profileCPU reads the profile at path.
func profileCPU(path, prefix string) (cpuIn, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return cpuIn{}, err
	}
	if zr, err := gzip.NewReader(bytes.NewReader(raw)); err == nil {
		if raw, err = io.ReadAll(zr); err != nil {
			return cpuIn{}, fmt.Errorf("%s: %w", path, err)
		}
	}
	var (
		samples   []sample
		locFns    = map[uint64][]uint64{} // location → its functions (inlined ones too)
		fnName    = map[uint64]int64{}    // function → name's string index
		strs      []string
		valueIdx  = -1       // the sample value in nanoseconds
		sampleTys [][2]int64 // (type, unit) string indexes
	)
	err = fields(raw, func(num protowire.Number, v []byte, x uint64) error {
		switch num {
		case 1: // sample_type
			var ty [2]int64
			err := fields(v, func(n protowire.Number, _ []byte, x uint64) error {
				if n == 1 || n == 2 {
					ty[n-1] = int64(x)
				}
				return nil
			})
			sampleTys = append(sampleTys, ty)
			return err
		case 2: // sample
			var s sample
			err := fields(v, func(n protowire.Number, b []byte, x uint64) error {
				switch n {
				case 1:
					s.locs = appendVarints(s.locs, b, x)
				case 2:
					s.vals = appendVarints(s.vals, b, x)
				}
				return nil
			})
			samples = append(samples, s)
			return err
		case 4: // location
			var id uint64
			var fns []uint64
			err := fields(v, func(n protowire.Number, b []byte, x uint64) error {
				switch n {
				case 1:
					id = x
				case 4: // line
					return fields(b, func(n protowire.Number, _ []byte, x uint64) error {
						if n == 1 {
							fns = append(fns, x)
						}
						return nil
					})
				}
				return nil
			})
			locFns[id] = fns
			return err
		case 5: // function
			var id uint64
			var name int64
			err := fields(v, func(n protowire.Number, _ []byte, x uint64) error {
				switch n {
				case 1:
					id = x
				case 2:
					name = int64(x)
				}
				return nil
			})
			fnName[id] = name
			return err
		case 6: // string_table
			strs = append(strs, string(v))
		}
		return nil
	})
	if err != nil {
		return cpuIn{}, fmt.Errorf("%s: %w", path, err)
	}
	str := func(i int64) string {
		if i < 0 || int(i) >= len(strs) {
			return ""
		}
		return strs[i]
	}
	for i, ty := range sampleTys {
		if str(ty[1]) == "nanoseconds" {
			valueIdx = i
		}
	}
	if valueIdx < 0 {
		return cpuIn{}, fmt.Errorf("%s: not a CPU profile (no sample value in nanoseconds)", path)
	}
	var out cpuIn
	for _, s := range samples {
		if valueIdx >= len(s.vals) {
			continue
		}
		v := float64(s.vals[valueIdx]) / 1e9
		out.TotalS += v
	in:
		for _, l := range s.locs {
			for _, f := range locFns[l] {
				if strings.HasPrefix(str(fnName[f]), prefix) {
					out.InS += v
					break in
				}
			}
		}
	}
	return out, nil
}

type sample struct{ locs, vals []uint64 }

// fields calls f with each field of the message b: its number, and its
// bytes (length-delimited) or its value (varint, fixed).
func fields(b []byte, f func(protowire.Number, []byte, uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var (
			v []byte
			x uint64
		)
		switch typ {
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		case protowire.Fixed64Type:
			x, n = protowire.ConsumeFixed64(b)
		case protowire.Fixed32Type:
			var y uint32
			y, n = protowire.ConsumeFixed32(b)
			x = uint64(y)
		default:
			return errors.New("unexpected wire type in a profile")
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := f(num, v, x); err != nil {
			return err
		}
	}
	return nil
}

// appendVarints appends a repeated integer field's values: packed (b) or
// one (x).
func appendVarints(dst []uint64, b []byte, x uint64) []uint64 {
	if b == nil {
		return append(dst, x)
	}
	for len(b) > 0 {
		y, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return dst
		}
		dst = append(dst, y)
		b = b[n:]
	}
	return dst
}

package wire

import (
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// DecodeMsgpack decodes an event field by field instead of through msgpack's
// reflection, which was 39% of a load generator's CPU at 200k events/s
// (bench/results/2026-11-22-fanout.md); every client decodes every event, so
// browsers gain the same. It accepts what the reflection decoder accepts and
// skips unknown fields; TestEventDecoderMatchesReflection holds them equal.
func (e *Event) DecodeMsgpack(d *msgpack.Decoder) error {
	*e = Event{}
	return decodeFields(d, "event", func(k string) (err error) {
		switch k {
		case "stream":
			e.Stream, err = d.DecodeString()
		case "epoch":
			e.Epoch, err = d.DecodeUint64()
		case "seq":
			e.Seq, err = d.DecodeUint64()
		case "time":
			e.Time, err = d.DecodeInt64()
		case "created":
			e.Created, err = d.DecodeInt64()
		case "ingested":
			e.Ingested, err = d.DecodeInt64()
		case "values":
			e.Values, err = decodeValues(d)
		case "row":
			e.Row, err = decodeRow(d)
		case "points":
			e.Points, err = decodePoints(d)
		default:
			err = d.Skip()
		}
		return err
	})
}

// decodeFields walks a msgpack map, handing each key to field, which decodes
// the value (or skips it). A nil map has no fields.
func decodeFields(d *msgpack.Decoder, what string, field func(key string) error) error {
	n, err := d.DecodeMapLen()
	if err != nil {
		return err
	}
	for range max(n, 0) {
		k, err := d.DecodeString()
		if err != nil {
			return err
		}
		if err := field(k); err != nil {
			return fmt.Errorf("%s.%s: %w", what, k, err)
		}
	}
	return nil
}

// decodeArray walks a msgpack array of n elements, allocating with n first
// (decoding goes through wire.Decode, whose structure check bounds n by the
// frame's size). A nil array is n = -1.
func decodeArray(d *msgpack.Decoder, alloc func(n int), elem func(i int) error) error {
	n, err := d.DecodeArrayLen()
	if err != nil || n < 0 {
		return err
	}
	alloc(n)
	for i := range n {
		if err := elem(i); err != nil {
			return err
		}
	}
	return nil
}

func isNil(d *msgpack.Decoder) (bool, error) {
	c, err := d.PeekCode()
	if err != nil {
		return false, err
	}
	if c == msgpcode.Nil {
		return true, d.DecodeNil()
	}
	return false, nil
}

func decodeValues(d *msgpack.Decoder) (map[string]float64, error) {
	n, err := d.DecodeMapLen()
	if err != nil || n < 0 {
		return nil, err
	}
	m := make(map[string]float64, n)
	for range n {
		k, err := d.DecodeString()
		if err != nil {
			return nil, err
		}
		if m[k], err = d.DecodeFloat64(); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func decodeRow(d *msgpack.Decoder) (*Row, error) {
	if null, err := isNil(d); null || err != nil {
		return nil, err
	}
	r := &Row{}
	err := decodeFields(d, "row", func(k string) (err error) {
		switch k {
		case "key":
			r.Key, err = d.DecodeString()
		case "op":
			var s string
			s, err = d.DecodeString()
			r.Op = RowOp(s)
		case "fields":
			var n int
			if n, err = d.DecodeMapLen(); err != nil || n < 0 {
				return err
			}
			r.Fields = make(map[string]any, n)
			for range n {
				var fk string
				if fk, err = d.DecodeString(); err != nil {
					return err
				}
				if r.Fields[fk], err = d.DecodeInterface(); err != nil {
					return err
				}
			}
		default:
			err = d.Skip()
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

func decodePoints(d *msgpack.Decoder) (*Points, error) {
	if null, err := isNil(d); null || err != nil {
		return nil, err
	}
	p := &Points{}
	err := decodeFields(d, "points", func(k string) (err error) {
		switch k {
		case "ts":
			return decodeArray(d, func(n int) { p.TS = make([]int64, n) },
				func(i int) (err error) { p.TS[i], err = d.DecodeInt64(); return err })
		case "cols":
			return decodeArray(d, func(n int) { p.Cols = make([]Column, n) },
				func(i int) error { return decodeColumn(d, &p.Cols[i]) })
		}
		return d.Skip()
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

func decodeColumn(d *msgpack.Decoder, c *Column) error {
	return decodeFields(d, "column", func(k string) (err error) {
		switch k {
		case "name":
			c.Name, err = d.DecodeString()
			return err
		case "vals":
			return decodeArray(d, func(n int) { c.Vals = make([]float64, n) },
				func(i int) (err error) { c.Vals[i], err = d.DecodeFloat64(); return err })
		}
		return d.Skip()
	})
}

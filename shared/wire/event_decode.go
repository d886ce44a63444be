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
	n, err := d.DecodeMapLen()
	if err != nil {
		return err
	}
	*e = Event{}
	for range max(n, 0) {
		k, err := d.DecodeString()
		if err != nil {
			return err
		}
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
		if err != nil {
			return fmt.Errorf("event.%s: %w", k, err)
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
	n, err := d.DecodeMapLen()
	if err != nil {
		return nil, err
	}
	r := &Row{}
	for range max(n, 0) {
		k, err := d.DecodeString()
		if err != nil {
			return nil, err
		}
		switch k {
		case "key":
			r.Key, err = d.DecodeString()
		case "op":
			var s string
			s, err = d.DecodeString()
			r.Op = RowOp(s)
		case "fields":
			var fn int
			if fn, err = d.DecodeMapLen(); err == nil && fn >= 0 {
				r.Fields = make(map[string]any, fn)
				for range fn {
					var fk string
					if fk, err = d.DecodeString(); err != nil {
						break
					}
					if r.Fields[fk], err = d.DecodeInterface(); err != nil {
						break
					}
				}
			}
		default:
			err = d.Skip()
		}
		if err != nil {
			return nil, fmt.Errorf("row.%s: %w", k, err)
		}
	}
	return r, nil
}

func decodePoints(d *msgpack.Decoder) (*Points, error) {
	if null, err := isNil(d); null || err != nil {
		return nil, err
	}
	n, err := d.DecodeMapLen()
	if err != nil {
		return nil, err
	}
	p := &Points{}
	for range max(n, 0) {
		k, err := d.DecodeString()
		if err != nil {
			return nil, err
		}
		switch k {
		case "ts":
			var tn int
			if tn, err = d.DecodeArrayLen(); err == nil && tn >= 0 {
				p.TS = make([]int64, tn)
				for i := range p.TS {
					if p.TS[i], err = d.DecodeInt64(); err != nil {
						break
					}
				}
			}
		case "cols":
			var cn int
			if cn, err = d.DecodeArrayLen(); err == nil && cn >= 0 {
				p.Cols = make([]Column, cn)
				for i := range p.Cols {
					if err = decodeColumn(d, &p.Cols[i]); err != nil {
						break
					}
				}
			}
		default:
			err = d.Skip()
		}
		if err != nil {
			return nil, fmt.Errorf("points.%s: %w", k, err)
		}
	}
	return p, nil
}

func decodeColumn(d *msgpack.Decoder, c *Column) error {
	n, err := d.DecodeMapLen()
	if err != nil {
		return err
	}
	for range max(n, 0) {
		k, err := d.DecodeString()
		if err != nil {
			return err
		}
		switch k {
		case "name":
			c.Name, err = d.DecodeString()
		case "vals":
			var vn int
			if vn, err = d.DecodeArrayLen(); err == nil && vn >= 0 {
				c.Vals = make([]float64, vn)
				for i := range c.Vals {
					if c.Vals[i], err = d.DecodeFloat64(); err != nil {
						break
					}
				}
			}
		default:
			err = d.Skip()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

package wire

import "fmt"

// rowDepth is how deep a row sits in the frames that carry one, counted as
// CheckStructure counts with the envelope at 0: body, events, event, row in
// a batch and body, state, rows, row in a snapshot. appendAny counts on from
// there, so that a row nested too deeply fails to encode instead of making
// a frame every peer refuses.
const rowDepth = 4

// appendEvent writes one event with Event's msgpack tags: omitempty fields
// are left out when they are zero or empty.
func appendEvent(dst []byte, e *Event) ([]byte, error) {
	dst = appendMapHeader(dst, true, true, true, true, e.Created != 0, e.Stored != 0, e.Ingested != 0, len(e.Values) > 0, e.Row != nil, e.Points != nil)
	dst = appendStr(appendStr(dst, "stream"), e.Stream)
	dst = appendUint(appendStr(dst, "epoch"), e.Epoch)
	dst = appendUint(appendStr(dst, "seq"), e.Seq)
	dst = appendInt(appendStr(dst, "time"), e.Time)
	if e.Created != 0 {
		dst = appendInt(appendStr(dst, "created"), e.Created)
	}
	if e.Stored != 0 {
		dst = appendInt(appendStr(dst, "stored"), e.Stored)
	}
	if e.Ingested != 0 {
		dst = appendInt(appendStr(dst, "ingested"), e.Ingested)
	}
	if len(e.Values) > 0 {
		dst = appendFloatMap(appendStr(dst, "values"), e.Values)
	}
	if e.Row != nil {
		var err error
		if dst, err = appendRow(appendStr(dst, "row"), e.Row); err != nil {
			return dst, err
		}
	}
	if e.Points != nil {
		dst = appendPoints(appendStr(dst, "points"), e.Points)
	}
	return dst, nil
}

func appendRow(dst []byte, r *Row) ([]byte, error) {
	dst = appendMapHeader(dst, true, r.Op != "", len(r.Fields) > 0)
	dst = appendStr(appendStr(dst, "key"), r.Key)
	if r.Op != "" {
		dst = appendStr(appendStr(dst, "op"), string(r.Op))
	}
	if len(r.Fields) > 0 {
		var err error
		if dst, err = appendAnyMap(appendStr(dst, "fields"), r.Fields, rowDepth+1); err != nil {
			return dst, fmt.Errorf("row %.64q fields: %w", r.Key, err)
		}
	}
	return dst, nil
}

func appendPoints(dst []byte, p *Points) []byte {
	dst = appendInt64s(appendStr(appendMapHeader(dst, true, true, p.Upsert), "ts"), p.TS)
	dst = appendStr(dst, "cols")
	if p.Cols == nil {
		dst = appendNil(dst)
	} else {
		dst = appendArrayLen(dst, len(p.Cols))
		for i := range p.Cols {
			c := &p.Cols[i]
			dst = appendStr(appendStr(appendMapLen(dst, 2), "name"), c.Name)
			dst = appendFloat64s(appendStr(dst, "vals"), c.Vals)
		}
	}
	if p.Upsert {
		dst = appendBool(appendStr(dst, "upsert"), true)
	}
	return dst
}

func appendState(dst []byte, s *State) ([]byte, error) {
	dst = appendMapHeader(dst, len(s.Values) > 0, len(s.Rows) > 0, true, s.LastTime != 0)
	if len(s.Values) > 0 {
		dst = appendFloatMap(appendStr(dst, "values"), s.Values)
	}
	if len(s.Rows) > 0 {
		dst = appendArrayLen(appendStr(dst, "rows"), len(s.Rows))
		for i := range s.Rows {
			var err error
			if dst, err = appendRow(dst, &s.Rows[i]); err != nil {
				return dst, err
			}
		}
	}
	dst = appendPoints(appendStr(dst, "points"), &s.Points)
	if s.LastTime != 0 {
		dst = appendInt(appendStr(dst, "last_time"), s.LastTime)
	}
	return dst, nil
}

package wire

// event decodes one event. Every client decodes every event, so this is the
// hottest decoder there is (bench/results/2026-11-22-fanout.md).
// event reads an event into e. It reuses e's Values map and Row, when e has
// them (a ServerDecoder's batch, from frame to frame); a zero e gets new
// ones. A row's Fields map is always new.
func (r *reader) event(e *Event) {
	vals, row := e.Values, e.Row
	*e = Event{}
	r.fields(func(k []byte) {
		switch string(k) {
		case "stream":
			e.Stream = r.name()
		case "epoch":
			e.Epoch = r.uint64()
		case "seq":
			e.Seq = r.uint64()
		case "time":
			e.Time = r.int64()
		case "created":
			e.Created = r.int64()
		case "stored":
			e.Stored = r.int64()
		case "ingested":
			e.Ingested = r.int64()
		case "values":
			e.Values = r.valuesInto(vals)
		case "row":
			e.Row = r.rowReusing(row)
		case "points":
			e.Points = r.points()
		default:
			r.skip()
		}
	})
}

func (r *reader) values() map[string]float64 { return r.valuesInto(nil) }

// valuesInto reads a map of values into m, emptied first, or a new map when m
// is nil.
func (r *reader) valuesInto(m map[string]float64) map[string]float64 {
	n := r.mapLen()
	if n < 0 {
		return nil
	}
	if m == nil {
		m = make(map[string]float64, n)
	} else {
		clear(m)
	}
	for range n {
		k := r.name()
		m[k] = r.float64()
	}
	return m
}

// rowReusing reads a row into row, emptied first, or a new one when row is
// nil.
func (r *reader) rowReusing(row *Row) *Row {
	if r.isNil() {
		return nil
	}
	if row == nil {
		row = &Row{}
	} else {
		*row = Row{}
	}
	r.rowInto(row)
	return row
}

func (r *reader) rowInto(row *Row) {
	r.fields(func(k []byte) {
		switch string(k) {
		case "key":
			row.Key = r.string()
		case "op":
			row.Op = RowOp(r.name())
		case "fields":
			row.Fields = r.anyMap()
		default:
			r.skip()
		}
	})
}

func (r *reader) points() *Points {
	if r.isNil() {
		return nil
	}
	p := &Points{}
	r.pointsInto(p)
	return p
}

func (r *reader) pointsInto(p *Points) {
	r.fields(func(k []byte) {
		switch string(k) {
		case "ts":
			if n := r.arrayLen(); n >= 0 {
				p.TS = make([]int64, n)
				for i := range p.TS {
					p.TS[i] = r.int64()
				}
			}
		case "cols":
			if n := r.arrayLen(); n >= 0 {
				p.Cols = make([]Column, n)
				for i := range p.Cols {
					r.column(&p.Cols[i])
				}
			}
		case "upsert":
			p.Upsert = r.bool()
		default:
			r.skip()
		}
	})
}

func (r *reader) column(c *Column) {
	r.fields(func(k []byte) {
		switch string(k) {
		case "name":
			c.Name = r.name()
		case "vals":
			if n := r.arrayLen(); n >= 0 {
				c.Vals = make([]float64, n)
				for i := range c.Vals {
					c.Vals[i] = r.float64()
				}
			}
		default:
			r.skip()
		}
	})
}

// batch decodes a batch frame's body.
func (r *reader) batch() Batch {
	var b Batch
	r.batchInto(&b)
	return b
}

// batchInto reads a batch into b, reusing its events (and theirs: see event).
func (r *reader) batchInto(b *Batch) {
	evs := b.Events[:cap(b.Events)]
	*b = Batch{}
	r.fields(func(k []byte) {
		switch string(k) {
		case "stream":
			b.Stream = r.name()
		case "sent":
			b.Sent = r.int64()
		case "head":
			b.Head = r.uint64()
		case "events":
			if n := r.arrayLen(); n >= 0 {
				if n <= len(evs) && cap(evs) > 0 { // never nil: an empty array is an empty slice
					b.Events = evs[:n]
				} else {
					b.Events = make([]Event, n)
				}
				for i := range b.Events {
					r.event(&b.Events[i])
				}
			}
		default:
			r.skip()
		}
	})
}

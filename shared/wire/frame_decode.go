package wire

// Each frame's body is read field by field, as events are (event_decode.go):
// unknown fields are skipped, nil reads as the zero value.

func (r *reader) cursor(c *Cursor) {
	r.fields(func(k []byte) {
		switch string(k) {
		case "stream":
			c.Stream = r.name()
		case "epoch":
			c.Epoch = r.uint64()
		case "seq":
			c.Seq = r.uint64()
		default:
			r.skip()
		}
	})
}

func (r *reader) hello() Hello {
	var h Hello
	r.fields(func(k []byte) {
		switch string(k) {
		case "token":
			h.Token = r.string()
		case "cursors":
			if n := r.arrayLen(); n >= 0 {
				h.Cursors = make([]Cursor, n)
				for i := range h.Cursors {
					r.cursor(&h.Cursors[i])
				}
			}
		case "client":
			h.Client = r.string()
		default:
			r.skip()
		}
	})
	return h
}

func (r *reader) welcome() Welcome {
	var w Welcome
	r.fields(func(k []byte) {
		switch string(k) {
		case "session":
			w.Session = r.string()
		case "server_time":
			w.ServerTime = r.int64()
		case "limits":
			r.fields(func(k []byte) {
				switch string(k) {
				case "max_frame_bytes":
					w.Limits.MaxFrameBytes = int(r.int64())
				case "max_subs":
					w.Limits.MaxSubs = int(r.int64())
				case "ping_interval_ms":
					w.Limits.PingIntervalMs = r.int64()
				default:
					r.skip()
				}
			})
		default:
			r.skip()
		}
	})
	return w
}

func (r *reader) sub() Sub {
	var s Sub
	r.fields(func(k []byte) {
		switch string(k) {
		case "stream":
			s.Stream = r.name()
		case "from":
			if r.isNil() {
				s.From = nil
				return
			}
			s.From = &Cursor{}
			r.cursor(s.From)
		default:
			r.skip()
		}
	})
	return s
}

func (r *reader) unsub() Unsub {
	var u Unsub
	r.fields(func(k []byte) {
		if string(k) == "stream" {
			u.Stream = r.name()
		} else {
			r.skip()
		}
	})
	return u
}

func (r *reader) snapshot() Snapshot {
	var s Snapshot
	r.fields(func(k []byte) {
		switch string(k) {
		case "stream":
			s.Stream = r.name()
		case "epoch":
			s.Epoch = r.uint64()
		case "seq":
			s.Seq = r.uint64()
		case "state":
			r.state(&s.State)
		case "reason":
			s.Reason = r.string()
		default:
			r.skip()
		}
	})
	return s
}

func (r *reader) state(st *State) {
	r.fields(func(k []byte) {
		switch string(k) {
		case "values":
			st.Values = r.values()
		case "rows":
			if n := r.arrayLen(); n >= 0 {
				st.Rows = make([]Row, n)
				for i := range st.Rows {
					r.rowInto(&st.Rows[i])
				}
			}
		case "points":
			r.pointsInto(&st.Points)
		case "last_time":
			st.LastTime = r.int64()
		default:
			r.skip()
		}
	})
}

func (r *reader) resync() Resync {
	var s Resync
	r.fields(func(k []byte) {
		switch string(k) {
		case "stream":
			s.Stream = r.name()
		case "reason":
			s.Reason = r.string()
		default:
			r.skip()
		}
	})
	return s
}

func (r *reader) errorFrame() Error {
	var e Error
	r.fields(func(k []byte) {
		switch string(k) {
		case "code":
			e.Code = Code(r.uint64())
		case "message":
			e.Message = r.string()
		case "stream":
			e.Stream = r.name()
		default:
			r.skip()
		}
	})
	return e
}

// int64Field reads a body of one integer field called key (ping, pong,
// expiring), skipping anything else.
func (r *reader) int64Field(key string) int64 {
	var v int64
	r.fields(func(k []byte) {
		if string(k) == key {
			v = r.int64()
		} else {
			r.skip()
		}
	})
	return v
}

func (r *reader) refresh() Refresh {
	var f Refresh
	r.fields(func(k []byte) {
		if string(k) == "token" {
			f.Token = r.string()
		} else {
			r.skip()
		}
	})
	return f
}

func (r *reader) clock() Clock {
	var c Clock
	r.fields(func(k []byte) {
		switch string(k) {
		case "client":
			c.Client = r.int64()
		case "server":
			c.Server = r.int64()
		default:
			r.skip()
		}
	})
	return c
}

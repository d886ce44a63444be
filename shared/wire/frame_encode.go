package wire

// Each frame writes its body with its msgpack tags (frame.go): fields in
// declaration order, omitempty ones left out when zero or empty.

func (c *Cursor) appendTo(dst []byte) []byte {
	dst = appendStr(appendStr(appendMapLen(dst, 3), "stream"), c.Stream)
	dst = appendUint(appendStr(dst, "epoch"), c.Epoch)
	return appendUint(appendStr(dst, "seq"), c.Seq)
}

func (h Hello) appendBody(dst []byte) ([]byte, error) {
	dst = appendMapHeader(dst, h.Token != "", len(h.Cursors) > 0, h.Client != "")
	if h.Token != "" {
		dst = appendStr(appendStr(dst, "token"), h.Token)
	}
	if len(h.Cursors) > 0 {
		dst = appendArrayLen(appendStr(dst, "cursors"), len(h.Cursors))
		for i := range h.Cursors {
			dst = h.Cursors[i].appendTo(dst)
		}
	}
	if h.Client != "" {
		dst = appendStr(appendStr(dst, "client"), h.Client)
	}
	return dst, nil
}

func (w Welcome) appendBody(dst []byte) ([]byte, error) {
	dst = appendStr(appendStr(appendMapLen(dst, 3), "session"), w.Session)
	dst = appendInt(appendStr(dst, "server_time"), w.ServerTime)
	dst = appendStr(dst, "limits")
	dst = appendInt(appendStr(appendMapLen(dst, 3), "max_frame_bytes"), int64(w.Limits.MaxFrameBytes))
	dst = appendInt(appendStr(dst, "max_subs"), int64(w.Limits.MaxSubs))
	return appendInt(appendStr(dst, "ping_interval_ms"), w.Limits.PingIntervalMs), nil
}

func (s Sub) appendBody(dst []byte) ([]byte, error) {
	dst = appendStr(appendStr(appendMapHeader(dst, true, s.From != nil), "stream"), s.Stream)
	if s.From != nil {
		dst = s.From.appendTo(appendStr(dst, "from"))
	}
	return dst, nil
}

func (u Unsub) appendBody(dst []byte) ([]byte, error) {
	return appendStr(appendStr(appendMapLen(dst, 1), "stream"), u.Stream), nil
}

func (s Snapshot) appendBody(dst []byte) ([]byte, error) {
	dst = appendStr(appendStr(appendMapHeader(dst, true, true, true, true, s.Reason != ""), "stream"), s.Stream)
	dst = appendUint(appendStr(dst, "epoch"), s.Epoch)
	dst = appendUint(appendStr(dst, "seq"), s.Seq)
	dst, err := appendState(appendStr(dst, "state"), &s.State)
	if err != nil {
		return dst, err
	}
	if s.Reason != "" {
		dst = appendStr(appendStr(dst, "reason"), s.Reason)
	}
	return dst, nil
}

func (b Batch) appendBody(dst []byte) ([]byte, error) {
	dst = appendStr(appendStr(appendMapHeader(dst, true, true, true, b.Head != 0), "stream"), b.Stream)
	dst = appendInt(appendStr(dst, "sent"), b.Sent)
	dst = appendStr(dst, "events")
	if b.Events == nil {
		dst = appendNil(dst)
	} else {
		dst = appendArrayLen(dst, len(b.Events))
		for i := range b.Events {
			var err error
			if dst, err = appendEvent(dst, &b.Events[i]); err != nil {
				return dst, err
			}
		}
	}
	if b.Head != 0 {
		dst = appendUint(appendStr(dst, "head"), b.Head)
	}
	return dst, nil
}

func (r Resync) appendBody(dst []byte) ([]byte, error) {
	dst = appendStr(appendStr(appendMapLen(dst, 2), "stream"), r.Stream)
	return appendStr(appendStr(dst, "reason"), r.Reason), nil
}

func (e Error) appendBody(dst []byte) ([]byte, error) {
	dst = appendUint(appendStr(appendMapHeader(dst, true, true, e.Stream != ""), "code"), uint64(e.Code))
	dst = appendStr(appendStr(dst, "message"), e.Message)
	if e.Stream != "" {
		dst = appendStr(appendStr(dst, "stream"), e.Stream)
	}
	return dst, nil
}

func (p Ping) appendBody(dst []byte) ([]byte, error) {
	return appendInt(appendStr(appendMapLen(dst, 1), "time"), p.Time), nil
}

func (p Pong) appendBody(dst []byte) ([]byte, error) {
	return appendInt(appendStr(appendMapLen(dst, 1), "time"), p.Time), nil
}

func (e Expiring) appendBody(dst []byte) ([]byte, error) {
	return appendInt(appendStr(appendMapLen(dst, 1), "at"), e.At), nil
}

func (r Refresh) appendBody(dst []byte) ([]byte, error) {
	return appendStr(appendStr(appendMapLen(dst, 1), "token"), r.Token), nil
}

func (s Sync) appendBody(dst []byte) ([]byte, error) {
	return appendInt(appendStr(appendMapLen(dst, 1), "client"), s.Client), nil
}

func (c Clock) appendBody(dst []byte) ([]byte, error) {
	dst = appendInt(appendStr(appendMapLen(dst, 2), "client"), c.Client)
	return appendInt(appendStr(dst, "server"), c.Server), nil
}

func (r Report) appendBody(dst []byte) ([]byte, error) {
	dst = appendStr(appendStr(appendMapLen(dst, 7), "screen"), r.Screen)
	dst = appendStr(appendStr(dst, "dashboard"), r.Dashboard)
	dst = appendInt(appendStr(dst, "from"), r.From)
	dst = appendInt(appendStr(dst, "to"), r.To)
	dst = appendInt(appendStr(dst, "clock_err"), r.ClockErr)
	dst = appendStr(appendStr(dst, "transport"), r.Transport)
	dst = appendStr(dst, "panels")
	if r.Panels == nil {
		return appendNil(dst), nil
	}
	dst = appendArrayLen(dst, len(r.Panels))
	for i := range r.Panels {
		dst = r.Panels[i].appendTo(dst)
	}
	return dst, nil
}

func (p *PanelReport) appendTo(dst []byte) []byte {
	dst = appendMapHeader(dst, true, true, true, true, len(p.Stale) > 0, len(p.Stages) > 0)
	dst = appendStr(appendStr(dst, "panel"), p.Panel)
	dst = appendUint(appendStr(dst, "painted"), p.Painted)
	dst = appendInt(appendStr(dst, "fresh_ms"), p.FreshMs)
	dst = appendInt(appendStr(dst, "stale_ms"), p.StaleMs)
	if len(p.Stale) > 0 {
		dst = appendArrayLen(appendStr(dst, "stale"), len(p.Stale))
		for _, s := range p.Stale {
			dst = appendInt(appendStr(appendMapLen(dst, 3), "start"), s.Start)
			dst = appendInt(appendStr(dst, "ms"), s.Ms)
			dst = appendStr(appendStr(dst, "cause"), s.Cause)
		}
	}
	if len(p.Stages) > 0 {
		dst = appendArrayLen(appendStr(dst, "stages"), len(p.Stages))
		for i := range p.Stages {
			h := &p.Stages[i]
			dst = appendStr(appendStr(appendMapHeader(dst, true, len(h.Index) > 0, len(h.Counts) > 0, h.First != 0, len(h.Packed) > 0), "stage"), h.Stage)
			if len(h.Index) > 0 {
				dst = appendArrayLen(appendStr(dst, "index"), len(h.Index))
				for _, v := range h.Index {
					dst = appendInt(dst, int64(v))
				}
			}
			if len(h.Counts) > 0 {
				dst = appendArrayLen(appendStr(dst, "counts"), len(h.Counts))
				for _, v := range h.Counts {
					dst = appendUint(dst, uint64(v))
				}
			}
			if h.First != 0 {
				dst = appendInt(appendStr(dst, "first"), int64(h.First))
			}
			if len(h.Packed) > 0 {
				dst = appendBin(appendStr(dst, "packed"), h.Packed)
			}
		}
	}
	return dst
}

package client

import "time"

// lagMeter measures how late events arrive, end to end, without trusting the
// browser's clock to agree with the server's.
//
// Every frame stamped by the server (a batch's Sent, a ping, the welcome)
// gives d = local arrival − server stamp = transit + clock offset. The
// smallest d seen recently is taken as the offset plus the fastest transit,
// so d − min is the extra delay of this frame (queues, a stalled radio), and
// the lag of an event is its time in the server (Sent − Created, both server
// clocks; a producer stamp ahead of the server counts as zero) plus that.
// The minimum is kept over two rotating one-minute windows, so a clock that
// is stepped forward spoils the measure for a minute at most. The price: a
// network that is slow for the whole of two minutes looks normal, which the
// stale warnings per panel still catch.
type lagMeter struct {
	cur, prev   int64 // minimum d in this window and the one before; 0 unknown
	haveCur     bool
	havePrev    bool
	windowStart time.Time
	lag         time.Duration // the newest event's lag; 0 until measured
	high        bool          // over the threshold, until it falls under half
}

const lagWindow = time.Minute

func (m *lagMeter) reset() { *m = lagMeter{} }

// observe takes a frame that arrived at now with the server's stamp sent and,
// when it carried an event, that event's creation stamp (else 0).
func (m *lagMeter) observe(now time.Time, sent, created int64, threshold time.Duration) {
	if sent == 0 {
		return
	}
	if m.windowStart.IsZero() || now.Sub(m.windowStart) > lagWindow {
		m.prev, m.havePrev = m.cur, m.haveCur
		m.haveCur, m.windowStart = false, now
	}
	d := now.UnixNano() - sent
	if !m.haveCur || d < m.cur {
		m.cur, m.haveCur = d, true
	}
	if created == 0 {
		return
	}
	base := m.cur
	if m.havePrev && m.prev < base {
		base = m.prev
	}
	m.lag = time.Duration(max(0, sent-created) + (d - base))
	switch {
	case m.lag > threshold:
		m.high = true
	case m.lag < threshold/2:
		m.high = false
	}
}

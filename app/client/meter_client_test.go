//go:build !js

package client

import (
	"fmt"
	"testing"
	"time"

	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/sla"
	"github.com/telltale/telltale/shared/wire"
)

// aheadClock is a page clock an hour ahead of this machine's (the server's).
func aheadClock() func() int64 {
	start := time.Now()
	return func() int64 { return start.UnixNano() + int64(time.Since(start)) + int64(time.Hour) }
}

// waitClock waits for the meter's estimate and checks it finds the hour.
func waitClock(t *testing.T, m *Meter) {
	t.Helper()
	poll.Until(t, 10*time.Second, func() error {
		if _, _, ok := m.Clock(); !ok {
			return fmt.Errorf("no clock estimate")
		}
		return nil
	})
	off, errBound, _ := m.Clock()
	if d := time.Duration(off) + time.Hour; d.Abs() > time.Duration(errBound) {
		t.Fatalf("offset %v for a clock an hour ahead: %v off, over the error bound %v", time.Duration(off), d, time.Duration(errBound))
	}
	if errBound > int64(5*time.Second) {
		t.Fatalf("error bound %v on loopback", time.Duration(errBound))
	}
}

// Over the WebSocket the client's Syncs (answered by the real gateway) put
// a clock an hour ahead on the server's, and the events it applies are
// stamped: a report's network stage is a loopback's, not an hour.
func TestMeterOverTheWebSocket(t *testing.T) {
	rs := startReal(t)
	m := NewMeter(aheadClock())
	m.SetPanels([]PanelStream{{"p", "orders"}})
	c := New(Config{URL: rs.url, Token: rs.token, Streams: []string{"orders"}, Meter: m})
	runClient(t, c)
	waitClock(t, m)
	rs.publish(t, 5)
	var r wire.Report
	poll.Until(t, 10*time.Second, func() error {
		var paints []Paint
		c.Read(func(streams map[string]*livestate.Stream, _ Info) {
			st := streams["orders"]
			paints = append(paints, Paint{"p", st.Epoch, st.Seq})
		})
		m.Painted(paints, m.Now())
		if !m.Report(&r, m.Now()) || r.Panels[0].Painted == 0 {
			return fmt.Errorf("nothing painted yet")
		}
		return nil
	})
	h := stageOf(&r.Panels[0], sla.StageNetwork)
	if h == nil {
		t.Fatalf("no network stage: %+v", r.Panels[0])
	}
	if ms := sla.BinValue(h.Index[len(h.Index)-1]); ms > float64(5*time.Second/time.Millisecond) {
		t.Fatalf("network stage up to %v ms on loopback", ms)
	}
	if err := c.SendReport(t.Context(), &r); err != nil {
		t.Fatalf("SendReport: %v", err)
	}
}

// Over the HTTP fallback there is no Sync: the batches' Sent stamps,
// between a poll's request and its answer, give the estimate.
func TestMeterClockOverTheFallback(t *testing.T) {
	rs := startReal(t)
	rs.refuse.Store(true)
	rs.publish(t, 3)
	m := NewMeter(aheadClock())
	m.SetPanels([]PanelStream{{"p", "orders"}})
	c := New(Config{URL: rs.url, Token: rs.token, Streams: []string{"orders"}, Meter: m,
		Get: NetHTTPGet, MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	runClient(t, c)
	poll.Until(t, 10*time.Second, func() error {
		if i := infoOf(c); i.Transport != TransportPoll {
			return fmt.Errorf("over %q, want %s", i.Transport, TransportPoll)
		}
		return nil
	})
	// Events answer the held poll (published until one did: the snapshot
	// may have taken the first ones).
	poll.Until(t, 10*time.Second, func() error {
		if _, _, ok := m.Clock(); !ok {
			rs.publish(t, 1)
			return fmt.Errorf("no clock estimate")
		}
		return nil
	})
	waitClock(t, m)
	if err := c.SendReport(t.Context(), &wire.Report{}); err != ErrNoSocket {
		t.Fatalf("SendReport over the fallback: %v, want ErrNoSocket", err)
	}
}

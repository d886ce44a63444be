package ui

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/telltale/telltale/app/client"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/sla"
)

// A frame's draws reach the meter at the next animation frame: the charts
// drawn, up to the position they drew, and the other panels at their
// streams' positions; a chart out of view paints nothing.
func TestPaintsReachTheMeterAtTheNextFrame(t *testing.T) {
	r := newChartRig(3)
	frames := &manualFrames{}
	r.shell.bridges.Frames = frames
	r.shell.spec.Panels = append(r.shell.spec.Panels, dashboard.Panel{ID: "k", Kind: dashboard.KindKPI, Stream: "s0", Field: "v"})
	r.shell.sla.meter = client.NewMeter(nil)
	r.shell.slaPanels()
	r.charts.hidden["chart-p2"] = true
	r.frame(time.Unix(1000, 0), 0)
	r.shell.drawnPanels(r.streams)
	want := []client.Paint{
		{Panel: "p0", Epoch: 1, Seq: r.streams["s0"].Seq},
		{Panel: "p1", Epoch: 1, Seq: r.streams["s1"].Seq},
		{Panel: "k", Epoch: 1, Seq: r.streams["s0"].Seq},
	}
	got := slices.Clone(r.shell.sla.paints)
	byPanel := func(a, b client.Paint) int { return strings.Compare(a.Panel, b.Panel) }
	slices.SortFunc(got, byPanel)
	slices.SortFunc(want, byPanel)
	if !slices.Equal(got, want) {
		t.Fatalf("draws %+v, want %+v", r.shell.sla.paints, want)
	}
	r.shell.painted()
	if len(r.shell.sla.paints) != 0 || len(frames.pending) != 1 {
		t.Fatalf("after the frame: %d draws kept, %d frames asked for; want none kept, one frame", len(r.shell.sla.paints), len(frames.pending))
	}
	frames.fire() // the meter is told; nothing to check without its stamps
	r.shell.painted()
	if len(frames.pending) != 0 {
		t.Fatal("a frame asked for with nothing drawn")
	}
}

// A stale panel's cause is what the page can tell of why.
func TestSLACause(t *testing.T) {
	for _, tc := range []struct {
		name   string
		info   client.Info
		behind bool
		want   string
	}{
		{"offline", client.Info{Status: client.Offline}, false, sla.CauseDisconnect},
		{"network down", client.Info{Status: client.Live, NetworkDown: true}, true, sla.CauseDisconnect},
		{"connecting", client.Info{Status: client.Connecting}, false, sla.CauseDisconnect},
		{"polling", client.Info{Status: client.Degraded, Transport: client.TransportPoll}, true, sla.CauseFallback},
		{"behind", client.Info{Status: client.Live, Transport: client.TransportWebSocket}, true, sla.CauseClientLag},
		{"silent", client.Info{Status: client.Live, Transport: client.TransportWebSocket}, false, sla.CauseSilent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := slaCause(tc.info, tc.behind); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

//go:build !js

package ui

import (
	"reflect"
	"testing"

	"github.com/telltale/telltale/backend/sla"
	"github.com/telltale/telltale/shared/wire"
)

// The body the page posts is what POST /api/v1/sla/report reads as
// msgpack, lists empty or not.
func TestReportBodyIsWhatTheServerReads(t *testing.T) {
	for _, r := range []*wire.Report{
		{Screen: "s1", Dashboard: "orders-desk", From: 1, To: 2, ClockErr: 3, Transport: "socket", Panels: []wire.PanelReport{}},
		{Screen: "zq9", Dashboard: "ops", From: 1_700_000_000_000_000_000, To: 1_700_000_010_000_000_000, ClockErr: 12_000_000, Transport: "fallback",
			Panels: []wire.PanelReport{
				{Panel: "latest \"orders\" é", Painted: 42, FreshMs: 9000, StaleMs: 1000,
					Stale:  []wire.StalePeriod{{Start: 1_700_000_001_000_000_000, Ms: 1000, Cause: "silent"}, {Start: 5, Ms: 0, Cause: "disconnect"}},
					Stages: []wire.StageHist{{Stage: "network", Index: []int32{-5, 300, 301}, Counts: []uint32{1, 2, 4294967295}}, {Stage: "total", Index: []int32{}, Counts: []uint32{}}}},
				{Panel: "cpu"},
			}},
	} {
		got, err := sla.DecodeReportMsgpack(reportBody(r))
		if err != nil {
			t.Fatalf("%x: %v", reportBody(r), err)
		}
		norm := func(r *wire.Report) {
			for i := range r.Panels {
				p := &r.Panels[i]
				if len(p.Stale) == 0 {
					p.Stale = nil
				}
				if len(p.Stages) == 0 {
					p.Stages = nil
				}
				for j := range p.Stages {
					if len(p.Stages[j].Index) == 0 {
						p.Stages[j].Index, p.Stages[j].Counts = nil, nil
					}
				}
			}
			if len(r.Panels) == 0 {
				r.Panels = nil
			}
		}
		norm(got)
		norm(r)
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("decoded %+v\nwant    %+v", got, r)
		}
	}
}

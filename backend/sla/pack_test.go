package sla

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/telltale/telltale/shared/sla"
	"github.com/telltale/telltale/shared/wire"
)

// packed is r with every histogram in the packed shape, as a page sends it.
func packed(r *wire.Report) *wire.Report {
	for i := range r.Panels {
		for j := range r.Panels[i].Stages {
			h := &r.Panels[i].Stages[j]
			h.First, h.Packed = wire.PackBins(nil, h.Index, h.Counts)
			h.Index, h.Counts = nil, nil
		}
	}
	return r
}

// A service takes a page's packed reports and a cached page's index and
// counts alike: the same reports in either shape, or mixed, answer the same.
func TestPackedReportsAnswerAsIndexAndCounts(t *testing.T) {
	t.Parallel()
	shapes := map[string]func(screen int) bool{
		"index":  func(int) bool { return false },
		"packed": func(int) bool { return true },
		"mixed":  func(screen int) bool { return screen%2 == 0 },
	}
	answers := map[string]*sla.Answer{}
	for name, pack := range shapes {
		s := New(Config{})
		rng := rand.New(rand.NewPCG(5, 6))
		for screen := range 20 {
			now := t0.Add(time.Duration(screen) * 3 * time.Second)
			var ms, hub []float64
			for range 100 + screen*7 {
				v := math.Exp(rng.NormFloat64()*1.5 + 4) // wide: runs of empty bins between
				ms, hub = append(ms, v), append(hub, v/10)
			}
			r := report(fmt.Sprintf("screen-%d", screen), now, ms...)
			r.Panels[0].Stages = append(r.Panels[0].Stages, hist(sla.StageHub, hub...))
			if pack(screen) {
				r = packed(r)
			}
			take(t, s, "acme", r, now)
		}
		answers[name] = query(t, s, "acme", "d")
	}
	if len(answers["index"].Panels) != 1 || answers["index"].Panels[0].P95Ms == 0 {
		t.Fatalf("no answer: %+v", answers["index"])
	}
	for _, name := range []string{"packed", "mixed"} {
		if !reflect.DeepEqual(answers[name], answers["index"]) {
			t.Errorf("%s: answered %+v\nwant (index and counts) %+v", name, answers[name], answers["index"])
		}
	}
}

// A stage sent in both shapes or in neither is refused with a clear
// error, as is a packed histogram that is not one of sla's bins.
func TestCheckRefusesPackedHistograms(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		change func(h *wire.StageHist)
		want   string
	}{
		{"both", func(h *wire.StageHist) { h.Index, h.Counts = []int32{40}, []uint32{1} }, `stage "total": a stage's histogram must be sent as first and packed, or as index and counts, not both nor neither`},
		{"neither", func(h *wire.StageHist) { h.First, h.Packed = 0, nil }, "not both nor neither"},
		{"truncated", func(h *wire.StageHist) { h.Packed = append(h.Packed, 0x80) }, "cut short"},
		{"overlong", func(h *wire.StageHist) { h.Packed = append(h.Packed, 0x81, 0x00) }, "more bytes than it takes"},
		{"over a uint32", func(h *wire.StageHist) { h.Packed = append(h.Packed, 0x80, 0x80, 0x80, 0x80, 0x10) }, "over a uint32"},
		{"below the bins", func(h *wire.StageHist) { h.First = sla.MinBin - 1 }, "outside"},
		{"past the bins", func(h *wire.StageHist) { h.Packed = append(h.Packed, 0, 0xbc, 0x05, 1) }, "past"}, // a run of 700 empty bins
	} {
		r := packed(report("s", t0, 5, 10, 20))
		c.change(&r.Panels[0].Stages[0])
		if err := Check(r, t0); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want a refusal that says %q", c.name, err, c.want)
		}
	}
	// The old shape with no bins is refused too: no page sends an empty stage.
	r := report("s", t0, 5)
	r.Panels[0].Stages[0].Index, r.Panels[0].Stages[0].Counts = nil, nil
	if err := Check(r, t0); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "not both nor neither") {
		t.Errorf("an empty stage: got %v", err)
	}
}

// Packed counts are clamped as index and counts are.
func TestCheckClampsPackedCounts(t *testing.T) {
	t.Parallel()
	maxEvents := uint64(10 * sla.MaxEventsPerSec)
	r := report("s", t0, 5, 10, 20)
	r.Panels[0].Stages[0].Counts = []uint32{1 << 31, 1 << 31, 1 << 30}
	r = packed(r)
	clamped, err := check(r, t0)
	if err != nil || clamped == 0 {
		t.Fatalf("clamped %d, %v", clamped, err)
	}
	h := r.Panels[0].Stages[0]
	var sum uint64
	for _, c := range h.Counts {
		sum += uint64(c)
	}
	if len(h.Counts) != 3 || sum > maxEvents || h.Counts[0] != 2*h.Counts[2] {
		t.Errorf("counts %v: want at most %d in all, in the reported shape", h.Counts, maxEvents)
	}
}

// POST /api/v1/sla/report (pagehide) reads a packed report too, in msgpack
// and in JSON (packed bytes in base64, as encoding/json writes them).
func TestDecodeReportPackedMsgpackAndJSON(t *testing.T) {
	t.Parallel()
	want := packed(report("s", t0, 5, 10, 20, 400))
	b, err := msgpack.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeReportMsgpack(b)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("msgpack: got %+v, %v; want %+v", got, err, want)
	}
	var generic map[string]any // JSON with the frame's keys, as msgpack has them
	if err := msgpack.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(generic)
	if err != nil {
		t.Fatal(err)
	}
	if got, err = DecodeReportJSON(j); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("JSON %s: got %+v, %v; want %+v", j, got, err, want)
	}
	if err := Check(got, t0); err != nil {
		t.Fatal(err)
	}
	if h := got.Panels[0].Stages[0]; !reflect.DeepEqual(h.Index, hist(sla.StageTotal, 5, 10, 20, 400).Index) {
		t.Fatalf("checked, the histogram is %+v", h)
	}
}

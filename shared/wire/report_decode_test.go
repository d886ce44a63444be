package wire

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/telltale/telltale/shared/sla"
)

// TestDecodeReportCaps: a report at every cap of package sla decodes; one
// past any of them, or with a histogram whose index and counts differ in
// length, is refused with CodeBadFrame, and without allocating what it
// claims.
func TestDecodeReportCaps(t *testing.T) {
	if _, err := Decode(mustEncode(t, maxReport())); err != nil {
		t.Fatalf("a report at every cap: %v", err)
	}
	long := strings.Repeat("n", sla.MaxNameBytes+1)
	bins := func(n int) StageHist {
		return StageHist{Stage: sla.StageTotal, Index: make([]int32, n), Counts: make([]uint32, n)}
	}
	tests := []struct {
		name string
		edit func(r *Report)
	}{
		{"too many panels", func(r *Report) { r.Panels = make([]PanelReport, sla.MaxPanels+1) }},
		{"too many stale periods", func(r *Report) { r.Panels[3].Stale = make([]StalePeriod, sla.MaxStalePeriods+1) }},
		{"too many stages", func(r *Report) { r.Panels[5].Stages = append(r.Panels[5].Stages, StageHist{}) }},
		{"too many bins", func(r *Report) { r.Panels[6].Stages[2] = bins(sla.MaxBins + 1) }},
		{"index longer than counts", func(r *Report) { r.Panels[1].Stages[0].Index = make([]int32, 10) }},
		{"counts longer than index", func(r *Report) {
			h := &r.Panels[1].Stages[0]
			h.Index, h.Counts = nil, []uint32{1}
		}},
		{"long screen", func(r *Report) { r.Screen = long }},
		{"long dashboard", func(r *Report) { r.Dashboard = long }},
		{"long transport", func(r *Report) { r.Transport = long }},
		{"long panel", func(r *Report) { r.Panels[7].Panel = long }},
		{"long cause", func(r *Report) { r.Panels[0].Stale[0].Cause = long }},
		{"long stage", func(r *Report) { r.Panels[0].Stages[6].Stage = long }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := sampleReport(8, 40)
			tt.edit(&r)
			b := mustEncode(t, r)
			f, err := Decode(b)
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeBadFrame || !strings.Contains(e.Message, errReportCap.Error()) {
				t.Fatalf("got %T, %v; want a CodeBadFrame error that says the report is over its caps", f, err)
			}
		})
	}
}

// TestDecodeReportRefusesBeforeAllocating: what a refused report claims is
// never allocated. A histogram of 1,000 indexes and 999 counts would cost
// 8 KB if the decoder read either before comparing their lengths; 64
// stages past the cap of 7, with bins in each, 4 KB of StageHist and more.
func TestDecodeReportRefusesBeforeAllocating(t *testing.T) {
	mismatch := Report{Panels: []PanelReport{{Stages: []StageHist{{Index: make([]int32, 1000), Counts: make([]uint32, 999)}}}}}
	stages := Report{Panels: []PanelReport{{Stages: make([]StageHist, 64)}}}
	for i := range stages.Panels[0].Stages {
		stages.Panels[0].Stages[i] = StageHist{Index: make([]int32, 16), Counts: make([]uint32, 16)}
	}
	for _, r := range []Report{mismatch, stages} {
		b := mustEncode(t, r)
		if perRun := allocatedBytes(100, func() {
			if _, err := Decode(b); err == nil {
				t.Fatal("decoded a report over its caps")
			}
		}); perRun > 1024 {
			t.Errorf("refusing a report of %d bytes allocated %d bytes", len(b), perRun)
		}
	}
}

// allocatedBytes is the average heap bytes one call of f allocates.
func allocatedBytes(runs int, f func()) uint64 {
	f() // warm up: pools, interned names
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(runs)
}

func mustEncode(t *testing.T, f Frame) []byte {
	t.Helper()
	b, err := Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TypeOf names the type of a frame Decode refuses, so that a refused report
// can be counted as one; anything else is "".
func TestTypeOf(t *testing.T) {
	over := sampleReport(1, 1)
	over.Screen = strings.Repeat("x", sla.MaxNameBytes+1)
	b := mustEncode(t, over)
	if _, err := Decode(b); err == nil {
		t.Fatal("decoded a report over its caps")
	}
	for _, tt := range []struct {
		name string
		b    []byte
		want Type
	}{
		{"report over its caps", b, TypeReport},
		{"sync", mustEncode(t, Sync{Client: 1}), TypeSync},
		{"truncated", b[:len(b)/2], TypeReport},
		{"not a map", []byte{0x93, 1, 2, 3}, ""},
		{"garbage", []byte{0xc1}, ""},
		{"empty", nil, ""},
	} {
		if got := TypeOf(tt.b); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestDecodeReportReuses: DecodeReport into a report that held another,
// larger one (more panels, stale periods, stages and bins, every field
// set) reads what Decode reads, leaving nothing of the first behind; once
// warm it allocates nothing for the fan-out benchmark's report.
func TestDecodeReportReuses(t *testing.T) {
	var rep Report
	big := sampleReport(12, 60)
	big.Panels[0].Stale = append(big.Panels[0].Stale, StalePeriod{Start: 9, Ms: 9, Cause: sla.CauseFallback})
	small := sampleReport(5, 20)
	small.Transport, small.ClockErr = "", 0 // left out, so the decoder must reset them
	small.Panels[1].Stale, small.Panels[2].Stages = nil, nil
	small.Panels[3].Stages[4].Index, small.Panels[3].Stages[4].Counts = nil, nil
	small.Panels[4].Painted = 0
	// A frame of other encoders, which leave out fields: none may keep
	// what the report before held.
	sparse, err := msgpack.Marshal(map[string]any{"v": Version, "t": "report", "b": map[string]any{
		"panels": []any{map[string]any{"panel": "p"}, map[string]any{"stages": []any{map[string]any{"stage": "total"}}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var frames [][]byte
	for _, r := range []Report{big, small, maxReport(), small, {Panels: []PanelReport{}}, big} {
		frames = append(frames, mustEncode(t, r), sparse)
	}
	for _, b := range frames {
		want, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if err := DecodeReport(b, &rep); err != nil {
			t.Fatal(err)
		}
		if d := diff(rep, want.(Report), true); d != "" {
			t.Fatalf("a reused report differs from Decode's at %s", d)
		}
	}
	b := mustEncode(t, sampleReport(8, 40))
	if err := DecodeReport(b, &rep); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() {
		if err := DecodeReport(b, &rep); err != nil {
			t.Fatal(err)
		}
	}); n > 1 {
		t.Errorf("a warm DecodeReport allocated %v times a report, want at most 1", n)
	}
	if err := DecodeReport(mustEncode(t, Sync{Client: 1}), &rep); err == nil {
		t.Error("DecodeReport took a sync frame")
	} else if e, ok := err.(*Error); !ok || e.Code != CodeUnknownType {
		t.Errorf("DecodeReport of a sync: %v, want CodeUnknownType", err)
	}
}

// TestDecodeReportReusedCaps: DecodeReport refuses every report Decode
// refuses over its caps (TestDecodeReportCaps's), into a fresh report or
// one that held a report at every cap; and a refused histogram costs it at
// most its two capped arrays.
func TestDecodeReportReusedCaps(t *testing.T) {
	long := strings.Repeat("n", sla.MaxNameBytes+1)
	edits := []func(r *Report){
		func(r *Report) { r.Panels = make([]PanelReport, sla.MaxPanels+1) },
		func(r *Report) { r.Panels[3].Stale = make([]StalePeriod, sla.MaxStalePeriods+1) },
		func(r *Report) { r.Panels[5].Stages = append(r.Panels[5].Stages, StageHist{}) },
		func(r *Report) {
			r.Panels[6].Stages[2] = StageHist{Stage: sla.StageTotal, Index: make([]int32, sla.MaxBins+1), Counts: make([]uint32, sla.MaxBins+1)}
		},
		func(r *Report) { r.Panels[1].Stages[0].Index = make([]int32, 10) },
		func(r *Report) { h := &r.Panels[1].Stages[0]; h.Index, h.Counts = nil, []uint32{1} },
		func(r *Report) { r.Screen = long },
		func(r *Report) { r.Panels[7].Panel = long },
		func(r *Report) { r.Panels[0].Stale[0].Cause = long },
		func(r *Report) { r.Panels[0].Stages[6].Stage = long },
	}
	warm := mustEncode(t, maxReport())
	for i, edit := range edits {
		r := sampleReport(8, 40)
		edit(&r)
		b := mustEncode(t, r)
		for _, fresh := range []bool{true, false} {
			var rep Report
			if !fresh {
				if err := DecodeReport(warm, &rep); err != nil {
					t.Fatal(err)
				}
			}
			err := DecodeReport(b, &rep)
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeBadFrame || !strings.Contains(e.Message, errReportCap.Error()) {
				t.Fatalf("edit %d (fresh %v): got %v; want a CodeBadFrame error that says the report is over its caps", i, fresh, err)
			}
		}
	}
	mismatch := mustEncode(t, Report{Panels: []PanelReport{{Stages: []StageHist{{Index: make([]int32, 1000), Counts: make([]uint32, 999)}}}}})
	if perRun := allocatedBytes(100, func() {
		var rep Report
		if DecodeReport(mismatch, &rep) == nil {
			t.Fatal("decoded a report over its caps")
		}
	}); perRun > 2*4*sla.MaxBins+1024 {
		t.Errorf("refusing a mismatched histogram allocated %d bytes, want at most its two capped arrays", perRun)
	}
}

// reportFrame is a report frame around body, a report's msgpack, with the
// envelope's fields in the order given ("v", "t", "b"; others are unknown
// fields holding nil).
func reportFrame(body []byte, keys ...string) []byte {
	if len(keys) == 0 {
		keys = []string{"v", "t", "b"}
	}
	b := appendMapLen(nil, len(keys))
	for _, k := range keys {
		b = appendStr(b, k)
		switch k {
		case "v":
			b = appendInt(b, Version)
		case "t":
			b = appendStr(b, string(TypeReport))
		case "b":
			b = append(b, body...)
		default:
			b = appendNil(b)
		}
	}
	return b
}

// stageBody is a report's body of one panel with one stage, whose fields
// are the stage's name and fields (each a key and its value, msgpack).
func stageBody(fields ...[]byte) []byte {
	b := appendArrayLen(appendStr(appendMapLen(nil, 1), "panels"), 1)
	b = appendArrayLen(appendStr(appendMapLen(b, 1), "stages"), 1)
	b = appendStr(appendStr(appendMapLen(b, 1+len(fields)), "stage"), sla.StageTotal)
	for _, f := range fields {
		b = append(b, f...)
	}
	return b
}

// absurdReports are report frames whose headers claim far more than they
// hold, or nest deeper than a frame may: each must be refused at the cost
// of a few small allocations.
func absurdReports() []struct {
	name  string
	frame []byte
} {
	huge32 := []byte{0xff, 0xff, 0xff, 0xff}
	key := func(k string, v ...byte) []byte { return append(appendStr(nil, k), v...) }
	body := func(k string, v ...byte) []byte { return append(appendMapLen(nil, 1), key(k, v...)...) }
	deep := appendStr(appendMapLen(nil, 1), "x")
	for range 40 {
		deep = append(deep, 0x91) // an array of one
	}
	deep = append(deep, 0xc0)
	return []struct {
		name  string
		frame []byte
	}{
		{"envelope of 2^32 fields", append([]byte{0xdf}, huge32...)},
		{"body of 2^32 fields", reportFrame(append([]byte{0xdf}, huge32...))},
		{"2^32 panels", reportFrame(body("panels", append([]byte{0xdd}, huge32...)...))},
		{"64 panels in 3 bytes", reportFrame(body("panels", 0xdc, 0, sla.MaxPanels))},
		{"16 stale periods in none", reportFrame(append(appendArrayLen(appendStr(appendMapLen(nil, 1), "panels"), 1),
			body("stale", 0xdc, 0, sla.MaxStalePeriods)...))},
		{"2^32 indexes", reportFrame(stageBody(key("index", append([]byte{0xdd}, huge32...)...)))},
		{"1,024 indexes in none", reportFrame(stageBody(key("index", 0xdc, sla.MaxBins>>8, sla.MaxBins&0xff)))},
		{"1,024 counts in none", reportFrame(stageBody(key("counts", 0xdc, sla.MaxBins>>8, sla.MaxBins&0xff)))},
		{"a screen id of 4 GB", reportFrame(body("screen", append([]byte{0xdb}, huge32...)...))},
		{"an unknown field of 4 GB", reportFrame(body("x", append([]byte{0xc6}, huge32...)...))},
		{"an unknown stage field of 2^32 elements", reportFrame(stageBody(key("x", append([]byte{0xdd}, huge32...)...)))},
		{"an unknown field nested 40 deep", reportFrame(deep)},
	}
}

// TestDecodeReportAbsurdClaims: DecodeReport reads a report in one pass,
// without CheckStructure before it, yet refuses every frame whose lengths
// or counts claim more than it holds, or that nests too deep, as Decode
// does, and without allocating what they claim (1,024 bins claimed at the
// cap would be 8 KB; 64 panels 5.6 KB).
func TestDecodeReportAbsurdClaims(t *testing.T) {
	var warm Report
	if err := DecodeReport(mustEncode(t, sampleReport(8, 40)), &warm); err != nil {
		t.Fatal(err)
	}
	for _, tt := range absurdReports() {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Decode(tt.frame); err == nil {
				t.Fatal("Decode took it")
			}
			var rep Report
			if decodeReportOnePass(tt.frame, &rep) {
				t.Fatal("the one pass took it")
			}
			if DecodeReport(tt.frame, &warm) == nil {
				t.Fatal("DecodeReport took it into a reused report")
			}
			if perRun := allocatedBytes(20, func() {
				var rep Report
				if DecodeReport(tt.frame, &rep) == nil {
					t.Fatal("DecodeReport took it")
				}
			}); perRun > 1024 {
				t.Errorf("refusing a frame of %d bytes allocated %d bytes, want at most 1,024", len(tt.frame), perRun)
			}
		})
	}
}

// TestDecodeReportBadBinsStopEarly: a histogram of 1,000 bins that are
// not integers is refused at the first; the reads after it build no error
// each (about 80 bytes apiece).
func TestDecodeReportBadBinsStopEarly(t *testing.T) {
	bins := append(appendStr(nil, "index"), 0xdc, 1000>>8, 1000&0xff)
	b := reportFrame(stageBody(append(bins, bytes.Repeat([]byte{0x80}, 1000)...)))
	if perRun := allocatedBytes(20, func() {
		var rep Report
		if DecodeReport(b, &rep) == nil {
			t.Fatal("DecodeReport took maps for bins")
		}
	}); perRun > 4*1000+2048 { // 2 KB: the panel, the stage, an error; more under -race
		t.Errorf("refusing 1,000 bad bins allocated %d bytes, want at most their array and 2 KB (80 KB if each bad bin builds an error)", perRun)
	}
}

// TestDecodeReportOnePassAgrees: the one pass takes the frames Decode takes
// and refuses the others where its walk differs from Decode's: fields in
// any order, repeated fields (the last counts), unknown fields nested up
// to the depth Decode allows and past it, trailing bytes.
func TestDecodeReportOnePassAgrees(t *testing.T) {
	body := mustEncode(t, sampleReport(2, 3))
	body = body[bytes.Index(body, []byte("\xa1b"))+2:]
	other := mustEncode(t, sampleReport(1, 1))
	other = other[bytes.Index(other, []byte("\xa1b"))+2:]
	nested := func(depth int) []byte { // an unknown stage field of arrays depth deep
		v := []byte{}
		for range depth {
			v = append(v, 0x91)
		}
		return reportFrame(stageBody(append(appendStr(nil, "x"), append(v, 0xc0)...)))
	}
	frames := map[string][]byte{
		"v t b":            reportFrame(body),
		"b t v":            reportFrame(body, "b", "t", "v"),
		"t b v x":          reportFrame(body, "t", "b", "v", "x"),
		"no version":       reportFrame(body, "t", "b"),
		"no body":          reportFrame(body, "v", "t"),
		"trailing byte":    append(reportFrame(body), 0xc0),
		"truncated":        reportFrame(body)[:len(reportFrame(body))-1],
		"not a map":        append([]byte{0x91}, reportFrame(body)...),
		"body not a map":   reportFrame([]byte{0x91, 0xc0}),
		"body nil":         reportFrame([]byte{0xc0}),
		"reserved in skip": reportFrame(append(appendMapLen(nil, 1), append(appendStr(nil, "x"), 0xc1)...)),
	}
	// Two bodies, the last counts; the first may be anything Decode walks.
	twoBodies := func(first []byte) []byte {
		b := append(appendStr(appendMapLen(nil, 4), "b"), first...)
		b = appendStr(appendStr(b, "t"), string(TypeReport))
		b = appendInt(appendStr(b, "v"), Version)
		return append(appendStr(b, "b"), body...)
	}
	frames["two bodies"] = twoBodies(other)
	frames["two bodies, the first no report"] = twoBodies([]byte{0x92, 0x01, 0x02})
	frames["two bodies, the first truncated"] = twoBodies([]byte{0x93, 0x01, 0x02})
	twoTypes := append(appendStr(appendStr(appendMapLen(nil, 4), "t"), "sync"), reportFrame(body)[1:]...)
	frames["sync, then report"] = twoTypes
	for d := 20; d <= 30; d++ {
		frames[fmt.Sprint("unknown field ", d, " deep")] = nested(d)
	}
	took, refused := 0, 0
	for name, b := range frames {
		fr, err := Decode(b)
		want := err == nil && fr.FrameType() == TypeReport
		var rep Report
		if got := decodeReportOnePass(b, &rep); got != want {
			t.Errorf("%s: the one pass took it: %v; Decode: %v", name, got, err)
			continue
		}
		if !want {
			refused++
			continue
		}
		took++
		if d := diff(rep, fr.(Report), true); d != "" {
			t.Errorf("%s: the one pass differs from Decode at %s", name, d)
		}
	}
	// Each kind is met: the test is not vacuous.
	if took < 5 || refused < 5 {
		t.Errorf("%d frames taken, %d refused; want both kinds", took, refused)
	}
}

// TestCheckedEndIsCheckStructure: checkedEnd, CheckStructure's walk kept
// apart for the one-pass report decoder, finds what CheckStructure finds in
// a whole frame: the same error, or the frame's end. Frames of every type,
// cut short and with bytes changed at random.
func TestCheckedEndIsCheckStructure(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(18, 1))}
	var inputs [][]byte
	for range 20 {
		for _, f := range append(g.frames(), g.report()) {
			if b, err := Encode(f); err == nil {
				inputs = append(inputs, b)
			}
		}
	}
	for _, a := range absurdReports() {
		inputs = append(inputs, a.frame)
	}
	rng := rand.New(rand.NewPCG(18, 2))
	for _, b := range inputs[:len(inputs):len(inputs)] {
		inputs = append(inputs, b[:rng.IntN(len(b))], append(b, 0xc0))
		for range 5 {
			m := bytes.Clone(b)
			m[rng.IntN(len(m))] = byte(rng.Uint32())
			inputs = append(inputs, m)
		}
	}
	for d := range 40 { // nesting up to the limit and past it
		inputs = append(inputs, append(bytes.Repeat([]byte{0x91}, d), 0xc0))
	}
	errs := 0
	for _, b := range inputs {
		want := CheckStructure(b)
		end, err := checkedEnd(b, 0, 0)
		if err == nil && end != len(b) {
			err = errTrailing
		}
		if err != want {
			t.Fatalf("% x: checkedEnd %v, CheckStructure %v", b[:min(len(b), 32)], err, want)
		}
		if err != nil {
			errs++
		}
	}
	if errs == 0 || errs == len(inputs) {
		t.Fatalf("%d of %d inputs refused: want both kinds", errs, len(inputs))
	}
}

// TestDecodeClient: a report comes back as the report given, whatever the
// order of its envelope; any other frame as Decode returns it.
func TestDecodeClient(t *testing.T) {
	b := mustEncode(t, sampleReport(2, 3))
	if !bytes.HasPrefix(b, reportHead) {
		t.Fatalf("the encoder's report begins % x, want reportHead % x", b[:len(reportHead)], reportHead)
	}
	body := b[bytes.Index(b, []byte("\xa1b"))+2:]
	want, _ := Decode(b)
	for _, frame := range [][]byte{b, reportFrame(body, "b", "t", "v")} {
		var rep Report
		f, err := DecodeClient(frame, &rep)
		if err != nil || f != Frame(&rep) {
			t.Fatalf("got %T, %v; want the report given", f, err)
		}
		if d := diff(rep, want.(Report), true); d != "" {
			t.Fatalf("differs from Decode at %s", d)
		}
	}
	var rep Report
	if f, err := DecodeClient(mustEncode(t, Sync{Client: 7}), &rep); err != nil || f != (Sync{Client: 7}) {
		t.Fatalf("a sync: got %#v, %v", f, err)
	}
	if _, err := DecodeClient([]byte{0xc1}, &rep); err == nil {
		t.Fatal("took garbage")
	}
}

// TestDecodeReportBinWidthsMatchLibrary gives a histogram's index and
// counts every msgpack integer encoding (binInts reads the narrow ones in
// place, the rest through int64), at the edges of each width and past
// int32 and uint32: Decode and DecodeReport read what the library reads,
// and every frame cut short inside the bins is refused by both.
func TestDecodeReportBinWidthsMatchLibrary(t *testing.T) {
	values := []int64{0, 1, -1, -32, -33, 127, 128, 255, 256, -128, -129, 65535, 65536, -32768, -32769,
		1<<31 - 1, 1 << 31, -1 << 31, -1<<31 - 1, 1<<32 - 1, 1 << 32, 1 << 40, -1 << 40}
	// Each value in each width that holds it, as the library writes the
	// width of a typed value when it does not compact.
	typed := func(v int64) []any {
		out := []any{v, uint64(v)}
		if v == int64(int8(v)) {
			out = append(out, int8(v))
		}
		if v == int64(uint8(v)) {
			out = append(out, uint8(v))
		}
		if v == int64(int16(v)) {
			out = append(out, int16(v))
		}
		if v == int64(uint16(v)) {
			out = append(out, uint16(v))
		}
		if v == int64(int32(v)) {
			out = append(out, int32(v))
		}
		if v == int64(uint32(v)) {
			out = append(out, uint32(v))
		}
		return out
	}
	var ints []any
	for _, v := range values {
		ints = append(ints, typed(v)...)
	}
	frame := func(compact bool, index, counts []any) []byte {
		t.Helper()
		var buf bytes.Buffer
		enc := msgpack.NewEncoder(&buf)
		enc.UseCompactInts(compact)
		body := map[string]any{"panels": []any{map[string]any{"stages": []any{map[string]any{"stage": "total", "index": index, "counts": counts}}}}}
		if err := enc.Encode(map[string]any{"v": Version, "t": string(TypeReport), "b": body}); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	reversed := slices.Clone(ints)
	slices.Reverse(reversed)
	frames := [][]byte{frame(false, ints, reversed), frame(true, ints, reversed)}
	for _, v := range ints {
		frames = append(frames, frame(false, []any{v}, []any{v}))
	}
	var rep Report
	for i, b := range frames {
		want, err := libDecode(b)
		if err != nil {
			t.Fatalf("frame %d: library: %v", i, err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("frame %d: Decode: %v", i, err)
		}
		if d := diff(got, want, false); d != "" {
			t.Fatalf("frame %d: Decode and the library differ at %s", i, d)
		}
		if err := DecodeReport(b, &rep); err != nil {
			t.Fatalf("frame %d: DecodeReport: %v", i, err)
		}
		if d := diff(rep, want, false); d != "" {
			t.Fatalf("frame %d: DecodeReport and the library differ at %s", i, d)
		}
	}
	// Cut inside the bins of the first frame (the body's map is the
	// frame's last field, the bins its last bytes): every prefix is refused.
	b := frames[0]
	for n := len(b) - 3*len(ints); n < len(b); n++ {
		if _, err := Decode(b[:n]); err == nil {
			t.Fatalf("Decode took the frame cut at %d of %d bytes", n, len(b))
		}
		if err := DecodeReport(b[:n], &rep); err == nil {
			t.Fatalf("DecodeReport took the frame cut at %d of %d bytes", n, len(b))
		}
	}
}

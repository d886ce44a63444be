// Package sla holds what the page and the server must agree on to measure
// freshness end to end (issue 18): the stages of an event's path, the causes
// of a stale period, how a latency is binned into a histogram, and the caps
// on a report. The page fills wire.Report with these; the server checks it
// (Check) and merges its histograms into DDSketch sketches
// (github.com/DataDog/sketches-go) with the same logarithmic mapping.
//
// The page does not import sketches-go: the library brings protobuf, which
// adds 5.4 MB to app.wasm (measured: a wasm build of ddsketch.Add and Encode
// against one that prints a number). Bin is the library's logarithmic
// mapping, its formula only, and a test checks it index for index against
// the library, so a sketch built from bins is the library's sketch.
//
// It must never import server code: it is compiled into app.wasm.
package sla

import (
	"math"
	"time"
)

// Stages of an event's path, in order. Each is the time between two stamps:
// created → stored (the database), stored → ingested (the store's follower
// and the hub), ingested → sent (the hub and the connection's queue),
// sent → received (the network), received → applied (decoding and folding),
// applied → painted (the frame that drew the panel, after uPlot's draw).
// StageTotal is created → painted. A stage whose stamps are missing (an
// event without a producer stamp, a page without a clock estimate for the
// stages that cross the network) is not recorded.
const (
	StageDatabase = "database"
	StageHub      = "hub"
	StageSocket   = "socket"
	StageNetwork  = "network"
	StageApply    = "apply"
	StagePaint    = "paint"
	StageTotal    = "total"
)

// Stages lists the stages in path order, StageTotal last.
var Stages = []string{StageDatabase, StageHub, StageSocket, StageNetwork, StageApply, StagePaint, StageTotal}

// Causes of a stale period, as a page can tell them apart.
const (
	CauseSilent     = "silent"     // the stream sent nothing within the panel's bound
	CauseDisconnect = "disconnect" // the connection was lost
	CauseFallback   = "fallback"   // data came over the HTTP fallback, late
	CauseClientLag  = "client_lag" // events arrived but the page fell behind drawing them
)

// Transports a report names.
const (
	TransportSocket   = "socket"
	TransportFallback = "fallback"
)

// ReportEvery is how often a page sends its report (and once more on
// pagehide).
const ReportEvery = 10 * time.Second

// Caps on one report. The server refuses a report past a structural cap
// (too many panels, stages or bins, a name too long) and clamps values
// (counts, times) to what one screen can have done in the period.
const (
	MaxPanels        = 64
	MaxStalePeriods  = 16
	MaxBins          = 1024        // per stage; Bin spans MinMs..MaxMs in about 1,000 bins
	MaxPackedBytes   = 5 * MaxBins // a packed histogram's bytes (wire.StageHist): a uint32 count takes at most 5
	MaxNameBytes     = 128         // screen, dashboard, panel ids
	MaxReportPeriod  = 5 * time.Minute
	MaxEventsPerSec  = 100_000 // per panel: Painted and bin counts are capped at this times the period
	MaxReportBytes   = 64 << 10
	MaxClockErr      = 30 * time.Second
	MaxClockSkewBack = time.Minute // a report's To may be this far behind the server's clock, or ahead by ClockErr
)

// RelativeAccuracy is the stated error of every latency quantile: a
// quantile read from a histogram of Bin bins is within 1% of the true value
// (DDSketch's guarantee for its logarithmic mapping).
const RelativeAccuracy = 0.01

// MinMs and MaxMs bound what a histogram holds: a latency below MinMs is
// counted as MinMs (a stage can take no measurable time), one above MaxMs
// as MaxMs.
const (
	MinMs = 0.01
	MaxMs = float64(time.Hour / time.Millisecond)
)

var (
	gamma      = (1 + RelativeAccuracy) / (1 - RelativeAccuracy)
	multiplier = 1 / math.Log(gamma)
)

// Bin is the index of the bin a latency of ms milliseconds falls in: the
// index DDSketch's mapping.NewLogarithmicMapping(RelativeAccuracy) gives, on
// the value clamped to [MinMs, MaxMs].
func Bin(ms float64) int32 {
	ms = min(max(ms, MinMs), MaxMs)
	if math.IsNaN(ms) {
		ms = MinMs
	}
	index := math.Log(ms) * multiplier
	if index >= 0 {
		return int32(index)
	}
	return int32(index) - 1
}

// BinValue is the value a bin stands for (the library's mapping.Value):
// every latency in bin i is within RelativeAccuracy of BinValue(i).
func BinValue(i int32) float64 {
	return math.Exp(float64(i)/multiplier) * (1 + RelativeAccuracy)
}

// MinBin and MaxBin are the bins of MinMs and MaxMs: a report's bins lie
// between them.
var (
	MinBin = Bin(MinMs)
	MaxBin = Bin(MaxMs)
)

//go:build slabench

package main

import (
	"time"

	"github.com/telltale/telltale/backend/sla"
	"github.com/telltale/telltale/shared/wire"
)

// reportSink, in the binary the fan-out benchmark's -reports runs use
// (go build -tags slabench), takes every report and keeps nothing: the
// gateway's decode of each report, its caps and the accounting are
// measured; a merge is not (bench/results/2026-12-06-reports.md).
func reportSink() sla.Sink { return discard{} }

type discard struct{}

func (discard) Take(string, *wire.Report, time.Time) error { return nil }

package dashboard

import (
	"strings"
	"time"

	"github.com/telltale/telltale/shared/agg"
)

// QueryM4Px, on a spec's request (GET /api/v1/dashboards/{id}?m4px=375), is
// the width in CSS px of the lite page asking: the server starts computing
// the m4 streams that page will follow (LiteStream), so that their history
// is read while the page starts, not only once it subscribes.
const QueryM4Px = "m4px"

// LiteStream returns the m4 stream a lite page px CSS pixels wide follows
// for panel p instead of p.Stream, and its bucket: one bucket a pixel of
// the panel's window, rounded up agg.Ladder. ok is false for a panel that
// keeps its stream: not a time series, an aggregate, a stream that is
// derived already, or an m4 name that would be too long.
//
// The page (app/ui's lite spec) and the server (which starts computing
// these streams when a lite page asks for its spec, ahead of its
// subscription) both name the streams here, so they cannot differ.
func LiteStream(p Panel, px int) (stream string, bucket time.Duration, ok bool) {
	if p.Kind != KindTimeSeries || p.Agg != nil ||
		strings.HasPrefix(p.Stream, agg.Prefix) || strings.HasPrefix(p.Stream, agg.M4Prefix) {
		return "", 0, false
	}
	secs := p.WindowSeconds
	if secs <= 0 {
		secs = 60
	}
	bucket = agg.M4Bucket(time.Duration(secs)*time.Second, max(px, 1))
	stream = agg.M4Name(p.Stream, bucket)
	if _, err := agg.ParseM4(stream); err != nil {
		return "", 0, false
	}
	return stream, bucket, true
}

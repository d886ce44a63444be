package agg

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/telltale/telltale/shared/wire"
)

// M4 streams are the downsampled series a constrained page subscribes to
// instead of a raw points stream: "m4.<bucket ms>.<source>" holds, per bucket
// of that width, each series' first, min, max and last sample (4 rows a
// bucket, see backend/aggregate.M4). No dashboard declares them: a page names
// one and the server computes it on demand, once per tenant, source and
// bucket however many pages watch. So that pages share, buckets come from a
// fixed ladder (Ladder): a page rounds its resolution up to a rung.

// M4Prefix starts every m4 stream's name; ingest refuses it, as Prefix.
const M4Prefix = "m4."

// MaxM4Buckets is the most buckets a page asks for across its chart's
// window (M4Bucket): 4 rows a bucket stay within a stream's default points
// cap (3,000 rows, livestate.Limits), so the hub's table holds the whole
// window. A phone's chart is at most ~430 CSS px wide, one bucket a pixel.
const MaxM4Buckets = 720

// Ladder is the bucket widths of m4 streams, ascending: 1-2-5 steps up to a
// second, then the steps a clock has. A page rounds up to the next rung.
var Ladder = []time.Duration{
	10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

// M4Bucket returns the bucket of a chart px pixels wide showing window: one
// bucket a pixel (at most MaxM4Buckets across the window), rounded up the
// Ladder so pages of about the same width share a stream; the top rung for
// windows past it.
func M4Bucket(window time.Duration, px int) time.Duration {
	px = min(max(px, 1), MaxM4Buckets)
	want := time.Duration(math.Ceil(float64(window) / float64(px)))
	for _, b := range Ladder {
		if b >= want {
			return b
		}
	}
	return Ladder[len(Ladder)-1]
}

// M4Name returns the m4 stream of source at bucket (a rung of Ladder; others
// are refused by ParseM4). It may be longer than wire.MaxStreamName for a
// long source: check with ParseM4 before subscribing.
func M4Name(source string, bucket time.Duration) string {
	return M4Prefix + strconv.FormatInt(bucket.Milliseconds(), 10) + "." + source
}

// ParseM4 reads an m4 stream's name into the Spec of its computation: fn
// "m4", tumbling buckets of the name's width over every series of its
// source. The Spec's Stream is the name itself. It refuses a bucket off the
// Ladder, a source that is not a valid stream name or is itself derived, and
// a name past wire.MaxStreamName.
func ParseM4(name string) (*Spec, error) {
	rest, ok := strings.CutPrefix(name, M4Prefix)
	if !ok {
		return nil, fmt.Errorf("stream %.80q is not an m4 stream (%s<bucket ms>.<source>)", name, M4Prefix)
	}
	if err := wire.ValidStream(name); err != nil {
		return nil, fmt.Errorf("m4 stream %.80q: %w", name, err)
	}
	ms, source, ok := strings.Cut(rest, ".")
	if !ok || source == "" {
		return nil, fmt.Errorf("m4 stream %q names no source", name)
	}
	bucket, err := ladderRung(ms)
	if err != nil {
		return nil, fmt.Errorf("m4 stream %q: %w", name, err)
	}
	if strings.HasPrefix(source, Prefix) || strings.HasPrefix(source, M4Prefix) {
		return nil, fmt.Errorf("m4 stream %q: source %q is itself derived", name, source)
	}
	s := &Spec{
		Def:   Def{Source: source, Fn: "m4", Window: bucket.String(), Top: DefaultTop, EmitMs: m4EmitMs(bucket)},
		Kind:  Tumbling,
		Width: bucket,
		Loc:   time.UTC,
		name:  name,
	}
	return s, nil
}

// m4EmitMs is how often an m4 stream emits: once a bucket (the chart's
// newest pixel column moves no faster), at least DefaultEmitMs and at most
// every second, so the newest bucket of a long window still updates live.
// A lite page on a phone applied 30 m4 events a second at DefaultEmitMs for
// 8 panels of 500 ms buckets; half of them changed nothing it drew.
func m4EmitMs(bucket time.Duration) int {
	return int(min(max(bucket, DefaultEmitMs*time.Millisecond), time.Second) / time.Millisecond)
}

var errRung = errors.New("bucket is not one of the ladder's widths in ms (10, 20, 50, …, 86400000)")

func ladderRung(ms string) (time.Duration, error) {
	if ms == "" || ms[0] == '0' || len(ms) > 9 {
		return 0, errRung
	}
	n, err := strconv.Atoi(ms)
	if err != nil {
		return 0, errRung
	}
	d := time.Duration(n) * time.Millisecond
	for _, b := range Ladder {
		if b == d {
			return d, nil
		}
	}
	return 0, errRung
}

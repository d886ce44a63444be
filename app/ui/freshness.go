package ui

import (
	"strconv"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/livestate"
)

// Freshness: every panel shows how old its data is, and warns when its
// stream has been silent longer than it should be even though the socket
// looks healthy (a stuck producer, a broken trigger). Ages are measured on
// the page's own clock, from when a stream's position last moved, so a
// skewed server or producer clock cannot make data look fresh. Only the
// first sight of a stream (its snapshot) is dated by its newest event's
// time, which is all the page knows then.
//
// A stream's expected cadence is the panel's expected_cadence_ms, or else
// learnt: a moving average of the gaps between the frames in which it moved.
// It is stale after staleFactor cadences, and never sooner than minStale.
const (
	staleFactor = 4
	minStale    = 3 * time.Second
	// cadenceWeight is the weight of the newest gap in the moving average.
	cadenceWeight = 0.2
)

// arrival is what the page knows of one stream's rhythm.
type arrival struct {
	seq     uint64
	epoch   uint64
	at      time.Time     // when its position last moved (page clock)
	cadence time.Duration // learnt gap between moves; zero until two moves
}

// trackArrivals notes, once per frame, which streams moved.
func (s *Shell) trackArrivals(streams map[string]*livestate.Stream, now time.Time) {
	if s.arrivals == nil {
		s.arrivals = map[string]*arrival{}
	}
	for name, st := range streams {
		a := s.arrivals[name]
		if a == nil {
			a = &arrival{}
			s.arrivals[name] = a
		}
		if st.Seq == a.seq && st.Epoch == a.epoch {
			continue
		}
		if a.epoch == 0 || st.Epoch != a.epoch {
			// First sight of the stream (a snapshot) or a new epoch: its data
			// is as old as its newest event, by the event's own clock but
			// never newer than now; a stream with no event has no age.
			a.seq, a.epoch, a.at = st.Seq, st.Epoch, time.Time{}
			if st.Seq > 0 {
				a.at = now
				if t := st.State.LastTime; t > 0 && time.UnixMilli(t).Before(now) {
					a.at = time.UnixMilli(t)
				}
			}
			continue
		}
		if !a.at.IsZero() {
			gap := now.Sub(a.at)
			if a.cadence == 0 {
				a.cadence = gap
			} else {
				a.cadence = time.Duration(cadenceWeight*float64(gap) + (1-cadenceWeight)*float64(a.cadence))
			}
		}
		a.seq, a.epoch, a.at = st.Seq, st.Epoch, now
	}
}

// freshness is a panel's data age and whether it is stale.
type freshness struct {
	known  bool // the stream has moved since the page opened
	age    time.Duration
	stale  bool
	expect time.Duration // the cadence it is held to; zero if not known yet
}

func (s *Shell) freshness(p dashboard.Panel, now time.Time) freshness {
	a := s.arrivals[p.Stream]
	if a == nil || a.at.IsZero() {
		return freshness{}
	}
	f := freshness{known: true, age: now.Sub(a.at), expect: a.cadence}
	if p.ExpectedCadenceMs > 0 {
		f.expect = time.Duration(p.ExpectedCadenceMs) * time.Millisecond
	}
	if f.expect > 0 {
		f.stale = f.age > max(minStale, staleFactor*f.expect)
	}
	return f
}

// freshnessLabel is the panel head's age: "0.4 s ago", or a stale warning.
func (s *Shell) freshnessLabel(p dashboard.Panel) app.UI {
	f := s.freshness(p, s.now)
	if !f.known {
		return app.Span().Class("tt-age").Text("no data yet")
	}
	if f.stale {
		return app.Span().Class("tt-age", "tt-stale").
			Title("This stream usually updates every " + age(f.expect) + "; the connection may be fine but its source has gone quiet.").
			Text("stale · no data for " + age(f.age))
	}
	return app.Span().Class("tt-age").Text(coarseAge(f.age))
}

// coarseAge is an age to the second: the label changes at most once a
// second, not every frame (each change is a style and layout pass over the
// grid; eight panels' tenths of a second cost frames in the render benchmark).
func coarseAge(d time.Duration) string {
	if d < time.Second {
		return "now"
	}
	if d < time.Minute {
		return strconv.Itoa(int(d.Seconds())) + " s ago"
	}
	return age(d) + " ago"
}

package sla

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"

	"github.com/telltale/telltale/shared/sla"
)

// Bounds on one query's answer.
const (
	// MaxRange is the longest period a query covers: the default Keep and a
	// day more.
	MaxRange = 31 * 24 * time.Hour
	// MaxPoints is how many points a panel's series (PanelSLA.Minutes) has
	// at most: a minute each up to 12 h; a longer period has a point per
	// hour (whole hours, from the hour: minutes older than CompactAfter are
	// kept by the hour), or per 2 h past 30 days. A point's Minute is its
	// first.
	MaxPoints = 720
	// MaxAnswerStale is how many stale periods a panel's answer lists at
	// most, the latest.
	MaxAnswerStale = 500
	// maxScreensCounted bounds the set Answer.Screens is counted in.
	maxScreensCounted = 100_000
)

// ErrRange says a query's period is empty, reversed or longer than MaxRange.
var ErrRange = errors.New("bad period")

// Step is the length of one point of a panel's series over [from, to):
// a minute up to MaxPoints minutes, else whole hours, at most MaxPoints
// of them.
func Step(from, to time.Time) time.Duration {
	if to.Sub(from) <= MaxPoints*time.Minute {
		return time.Minute
	}
	hours := int64(to.Sub(from)+time.Hour-1) / int64(time.Hour)
	return time.Duration(max(1, (hours+MaxPoints-1)/MaxPoints)) * time.Hour
}

// Query answers tenant's freshness over [from, to) (minutes that start in
// it) for one dashboard, or every dashboard of the tenant when dashboard is
// "": what its screens reported, from the store and from memory.
func (s *Service) Query(ctx context.Context, tenant, dashboard string, from, to time.Time) (*sla.Answer, error) {
	if tenant == "" {
		return nil, errors.New("sla: query without a tenant")
	}
	from, to = from.UTC().Truncate(time.Minute), to.UTC()
	if !from.Before(to) || to.Sub(from) > MaxRange {
		return nil, fmt.Errorf("%w: from %v to %v: want from before to, at most %v apart", ErrRange, from, to, MaxRange)
	}
	step := Step(from, to)
	if step >= time.Hour {
		from = from.Truncate(time.Hour)
	}
	type panelAgg struct {
		stale   map[staleKey]*Stale
		buckets map[int64]*Rollup // counts and stages only
	}
	panels := map[[2]string]*panelAgg{}
	screens := map[uint64]struct{}{}
	var mergeErr error
	add := func(ru *Rollup) {
		pk := [2]string{ru.Dashboard, ru.Panel}
		a := panels[pk]
		if a == nil {
			a = &panelAgg{stale: map[staleKey]*Stale{}, buckets: map[int64]*Rollup{}}
			panels[pk] = a
		}
		for _, st := range ru.Stale { // with a larger cap than a minute's
			k := staleKey{st.Start, st.Cause}
			if o := a.stale[k]; o != nil {
				o.Ms = max(o.Ms, st.Ms)
				for _, h := range st.Screens {
					o.Screens = addHash(o.Screens, h, MaxStaleScreens)
				}
			} else {
				a.stale[k] = &Stale{Start: st.Start, Ms: st.Ms, Cause: st.Cause, Screens: slices.Clone(st.Screens)}
			}
		}
		b := max(0, int64(ru.Minute.Sub(from)/step))
		if a.buckets[b] == nil {
			a.buckets[b] = newRollup(ru.Tenant, ru.Dashboard, ru.Panel, from.Add(time.Duration(b)*step))
		}
		if err := a.buckets[b].mergeCounts(ru); err != nil && mergeErr == nil {
			mergeErr = fmt.Errorf("rollup %s/%s at %v: %w", ru.Dashboard, ru.Panel, ru.Minute, err)
		}
		for _, h := range ru.Screens {
			if len(screens) < maxScreensCounted {
				screens[h] = struct{}{}
			}
		}
	}
	s.flushing.RLock()
	s.inMemory(tenant, dashboard, from, to, add)
	// An hour's rollup (minutes older than CompactAfter) counts in the
	// period when from falls in it.
	err := s.store.Load(ctx, tenant, dashboard, from, to, add)
	s.flushing.RUnlock()
	if err == nil {
		err = mergeErr
	}
	if err != nil {
		return nil, fmt.Errorf("sla: read rollups: %w", err)
	}

	ans := &sla.Answer{Dashboard: dashboard, From: from, To: to, Screens: len(screens), RelativeAccuracy: sla.RelativeAccuracy, Panels: []sla.PanelSLA{}}
	for pk, a := range panels {
		// The period's whole: its points merged (dense stores: an add a bin).
		w := newRollup(tenant, pk[0], pk[1], from)
		for _, ru := range a.buckets {
			w.mergeCounts(ru) // decoded sketches only: cannot fail
		}
		p := sla.PanelSLA{Dashboard: w.Dashboard, Panel: w.Panel, Painted: w.Painted, FreshPct: freshPct(w),
			Stages: []sla.StageSLA{}, Stale: []sla.StaleSLA{}, Minutes: []sla.MinuteSLA{}}
		if t := w.Stages[sla.StageTotal]; t != nil {
			p.P50Ms, p.P95Ms, p.P99Ms = quantile(t, 0.50), quantile(t, 0.95), quantile(t, 0.99)
		}
		p.Stages = stages(w.Stages)
		for _, st := range a.stale {
			p.Stale = append(p.Stale, sla.StaleSLA{Start: time.UnixMilli(st.Start).UTC(), Ms: st.Ms, Cause: st.Cause, Screens: len(st.Screens)})
		}
		slices.SortFunc(p.Stale, func(x, y sla.StaleSLA) int {
			return cmp.Or(y.Start.Compare(x.Start), cmp.Compare(x.Cause, y.Cause))
		})
		if len(p.Stale) > MaxAnswerStale {
			p.Stale = p.Stale[:MaxAnswerStale]
		}
		slices.Reverse(p.Stale) // oldest first, as the series
		for _, ru := range a.buckets {
			m := sla.MinuteSLA{Minute: ru.Minute, Painted: ru.Painted, FreshPct: freshPct(ru)}
			if t := ru.Stages[sla.StageTotal]; t != nil {
				m.P95Ms, m.P99Ms = quantile(t, 0.95), quantile(t, 0.99)
			}
			p.Minutes = append(p.Minutes, m)
		}
		slices.SortFunc(p.Minutes, func(x, y sla.MinuteSLA) int { return x.Minute.Compare(y.Minute) })
		ans.Panels = append(ans.Panels, p)
	}
	slices.SortFunc(ans.Panels, func(x, y sla.PanelSLA) int {
		return cmp.Or(cmp.Compare(x.Dashboard, y.Dashboard), cmp.Compare(x.Panel, y.Panel))
	})
	return ans, nil
}

type staleKey struct {
	start int64
	cause string
}

// stages is the per-stage part of an answer, in path order; the shares of
// the stages other than the total add up to 100 (the total's is 100).
func stages(sks map[string]*ddsketch.DDSketch) []sla.StageSLA {
	out := []sla.StageSLA{}
	var sumOfMeans float64
	for _, name := range sla.Stages {
		sk := sks[name]
		if sk == nil || sk.IsEmpty() {
			continue
		}
		n := sk.GetCount()
		st := sla.StageSLA{Stage: name, Count: uint64(n),
			P50Ms: quantile(sk, 0.50), P95Ms: quantile(sk, 0.95), P99Ms: quantile(sk, 0.99), MeanMs: sk.GetSum() / n}
		if name != sla.StageTotal {
			sumOfMeans += st.MeanMs
		}
		out = append(out, st)
	}
	for i := range out {
		switch {
		case out[i].Stage == sla.StageTotal:
			out[i].ShareOfTotalPct = 100
		case sumOfMeans > 0:
			out[i].ShareOfTotalPct = 100 * out[i].MeanMs / sumOfMeans
		}
	}
	return out
}

func quantile(sk *ddsketch.DDSketch, q float64) float64 {
	v, err := sk.GetValueAtQuantile(q)
	if err != nil {
		return 0 // empty
	}
	return v
}

// freshPct is the share of reported time the panel was fresh; 0 when no
// time was reported.
func freshPct(r *Rollup) float64 {
	total := r.FreshMs + r.StaleMs
	if total <= 0 {
		return 0
	}
	return 100 * float64(r.FreshMs) / float64(total)
}

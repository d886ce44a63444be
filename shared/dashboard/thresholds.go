package dashboard

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Level is how much a value needs action: the colour (and icon) a panel,
// tile or cell shows it in.
type Level string

// Levels, from calm to urgent. LevelNone is a value no rule speaks of.
const (
	LevelNone     Level = ""
	LevelOK       Level = "ok"
	LevelWarn     Level = "warn"
	LevelCritical Level = "critical"
)

// Levels lists the levels a spec may name.
var Levels = []Level{LevelOK, LevelWarn, LevelCritical}

// Threshold is one step of a numeric rule: Level applies from Value on, in
// the rule's Direction.
type Threshold struct {
	Value float64 `json:"value"`
	Level Level   `json:"level"`
}

// Directions of a numeric rule.
const (
	// DirectionAbove (the default, ""): high is bad. A value takes the
	// level of the highest threshold at or below it; below the first, it
	// has no level.
	DirectionAbove = "above"
	// DirectionBelow: low is bad. A value takes the level of the lowest
	// threshold at or above it; above the last, it has no level.
	DirectionBelow = "below"
)

// Rules say which level a value has: Thresholds (in Direction) for a
// number, ValueMap for a string. A number written as a string ("12") is a
// number. It is what a panel or a column states; Panel.Rules and
// Column.Rules gather them.
type Rules struct {
	Thresholds []Threshold
	Direction  string
	ValueMap   map[string]Level
}

// Rules are p's threshold and value-map rules.
func (p Panel) Rules() Rules { return Rules{p.Thresholds, p.Direction, p.ValueMap} }

// Rules are c's threshold and value-map rules.
func (c Column) Rules() Rules { return Rules{c.Thresholds, c.Direction, c.ValueMap} }

// Empty reports whether r says nothing about any value.
func (r Rules) Empty() bool { return len(r.Thresholds) == 0 && len(r.ValueMap) == 0 }

// Number is the level of v under r's thresholds: LevelNone when there are
// none or v is past their start.
func (r Rules) Number(v float64) Level {
	if v != v { // NaN
		return LevelNone
	}
	level := LevelNone
	if r.Direction == DirectionBelow {
		for i := len(r.Thresholds) - 1; i >= 0; i-- {
			if v <= r.Thresholds[i].Value {
				level = r.Thresholds[i].Level
			}
		}
		return level
	}
	for _, t := range r.Thresholds {
		if v >= t.Value {
			level = t.Level
		}
	}
	return level
}

// Text is the level of the string s under r's value map, LevelNone when it
// does not name s.
func (r Rules) Text(s string) Level { return r.ValueMap[s] }

// Describe is r in words, for a tooltip: "critical ≥ 90 · warn ≥ 70",
// "critical ≤ 10", "delayed: critical · on_time: ok". num writes a
// threshold's value as the panel writes its values.
func (r Rules) Describe(num func(float64) string) string {
	var parts []string
	if r.Direction == DirectionBelow {
		for _, t := range r.Thresholds {
			parts = append(parts, string(t.Level)+" ≤ "+num(t.Value))
		}
	} else {
		for i := len(r.Thresholds) - 1; i >= 0; i-- {
			parts = append(parts, string(r.Thresholds[i].Level)+" ≥ "+num(r.Thresholds[i].Value))
		}
	}
	keys := make([]string, 0, len(r.ValueMap))
	for k := range r.ValueMap {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		parts = append(parts, k+": "+string(r.ValueMap[k]))
	}
	return strings.Join(parts, " · ")
}

// validRules checks a panel's or column's rules.
func validRules(r Rules) error {
	for i, t := range r.Thresholds {
		if !slices.Contains(Levels, t.Level) {
			return fmt.Errorf("thresholds #%d: unknown level %q, want ok, warn or critical", i+1, t.Level)
		}
		if i > 0 && t.Value <= r.Thresholds[i-1].Value {
			return fmt.Errorf("thresholds #%d: value %v is not above the one before it (%v): list thresholds by ascending value", i+1, t.Value, r.Thresholds[i-1].Value)
		}
	}
	switch r.Direction {
	case "", DirectionAbove, DirectionBelow:
	default:
		return fmt.Errorf("unknown direction %q, want above (high is bad, the default) or below (low is bad)", r.Direction)
	}
	if r.Direction != "" && len(r.Thresholds) == 0 {
		return fmt.Errorf("direction %s without thresholds", r.Direction)
	}
	keys := make([]string, 0, len(r.ValueMap))
	for k := range r.ValueMap {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(Levels, r.ValueMap[k]) {
			return fmt.Errorf("value_map %q: unknown level %q, want ok, warn or critical", k, r.ValueMap[k])
		}
	}
	return nil
}

// errNoRules: a status panel has nothing to colour its tiles by.
var errNoRules = errors.New("a status panel colours its tiles: give it thresholds or a value_map")

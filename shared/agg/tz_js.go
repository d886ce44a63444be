//go:build js

package agg

import "time"

// loadLocation in the browser knows no zone but UTC: app.wasm does not link
// the zone database (450 KB) because a page only names the derived stream,
// and the server, which computes it, has already checked the zone. A
// calendar window's Loc is then UTC, never used for computing.
func loadLocation(name string) (*time.Location, error) {
	if loc, err := time.LoadLocation(name); err == nil {
		return loc, nil
	}
	return time.UTC, nil
}

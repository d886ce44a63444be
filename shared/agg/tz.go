//go:build !js

package agg

import "time"

// loadLocation is time.LoadLocation: the server links time/tzdata (package
// backend/aggregate), so a zone is known wherever it runs.
func loadLocation(name string) (*time.Location, error) { return time.LoadLocation(name) }

package server

import (
	"net/http"
	"slices"
	"testing"
)

// TestSpecRequestWarmsLiteStreams: a spec's request that names a lite page's
// width (?m4px=) starts the m4 streams that page will follow, one per
// time-series panel, named as the page names them; without the width, or
// for a stream the token may not read, nothing starts.
func TestSpecRequestWarmsLiteStreams(t *testing.T) {
	t.Parallel()
	f := newTokenFixture(t)
	admin := f.client(t, "acme", "admin")
	spec := `{"id": "cpu", "title": "CPU", "panels": [
  {"id": "n", "kind": "kpi", "title": "Orders", "stream": "orders", "field": "n"},
  {"id": "c", "kind": "timeseries", "title": "CPU", "stream": "cpu", "series": ["user"]},
  {"id": "m", "kind": "timeseries", "title": "Memory", "stream": "mem", "series": ["rss"], "window_seconds": 3600}
]}`
	if res, body := admin.put("/api/v1/dashboards/cpu", spec); res.StatusCode != http.StatusCreated {
		t.Fatalf("create: got %d %s, want 201", res.StatusCode, body)
	}
	warmed := func() []string {
		f.mu.Lock()
		defer f.mu.Unlock()
		w := slices.Clone(f.warmed)
		f.warmed = nil
		return w
	}

	tests := []struct {
		name string
		c    client
		path string
		want []string
	}{
		{"no width", admin, "/api/v1/dashboards/cpu", nil},
		{"a phone", admin, "/api/v1/dashboards/cpu?m4px=375",
			// 60 s over 375 px: 160 ms, rounded up to 200; 3600 s: 9.6 s, to 10 s.
			[]string{"acme/m4.200.cpu", "acme/m4.10000.mem"}},
		{"not a width", admin, "/api/v1/dashboards/cpu?m4px=wide", nil},
		{"a token of cpu only", f.client(t, "acme", "viewer", "cpu"), "/api/v1/dashboards/cpu?m4px=375",
			[]string{"acme/m4.200.cpu"}},
		{"a built-in without time series", admin, "/api/v1/dashboards/launch?m4px=375", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, _ := tt.c.spec(tt.path); code != 200 {
				t.Fatalf("GET %s: got %d, want 200", tt.path, code)
			}
			if got := warmed(); !slices.Equal(got, tt.want) {
				t.Fatalf("GET %s started %q, want %q", tt.path, got, tt.want)
			}
		})
	}
}

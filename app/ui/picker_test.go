package ui

import (
	"testing"

	"github.com/telltale/telltale/shared/dashboard"
)

func TestDashboardID(t *testing.T) {
	tests := []struct{ name, path, want string }{
		{"root is the default", "/", ""},
		{"default by name", "/d/default", ""},
		{"an id", "/d/fleet", "fleet"},
		{"escaped", "/d/caf%C3%A9%20ops", "café ops"},
		{"escaped slash stays in the id", "/d/a%2Fb", "a/b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := dashboardID(tt.path); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			if tt.want != "" {
				if got := dashboardID(dashboardPath(tt.want)); got != tt.want {
					t.Fatalf("round trip through dashboardPath: got %q, want %q", got, tt.want)
				}
			}
		})
	}
}

// TestRestorableOnlyForTheSameDashboard: the one stored record is drawn
// only at its own dashboard's URL, or at "/" when it was the default's:
// /d/b never shows a's picture.
func TestRestorableOnlyForTheSameDashboard(t *testing.T) {
	a := &dashboard.Dashboard{ID: "a"}
	tests := []struct {
		name        string
		savedAtRoot bool
		want        string
		ok          bool
	}{
		{"same id", false, "a", true},
		{"same id, saved at /", true, "a", true},
		{"another id", false, "b", false},
		{"another id, a saved as the default", true, "b", false},
		{"/ with the default's record", true, "", true},
		{"/ with a record of /d/a", false, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := restorable(lkgHeader{Default: tt.savedAtRoot}, a, tt.want); got != tt.ok {
				t.Fatalf("got %v, want %v", got, tt.ok)
			}
		})
	}
}

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
		name    string
		savedAt string // the id the saving page asked for
		want    string
		ok      bool
	}{
		{"same id", "a", "a", true},
		{"same id, saved at /", "", "a", true},
		{"another id", "a", "b", false},
		{"another id, a saved at /", "", "b", false},
		{"/ with the record of / (and of an older version)", "", "", true},
		{"/ with a record of /d/a", "a", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := restorable(lkgHeader{Want: tt.savedAt}, a, tt.want); got != tt.ok {
				t.Fatalf("got %v, want %v", got, tt.ok)
			}
		})
	}
}

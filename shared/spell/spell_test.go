package spell

import "testing"

func TestClosest(t *testing.T) {
	keys := []string{"id", "kind", "title", "stream", "field", "series", "columns", "rows", "unit", "format", "currency", "decimals", "labels", "width", "window_seconds", "expected_cadence_ms"}
	commands := []string{"token", "ingest-key", "migrate", "revoke", "version", "help"}
	tests := []struct {
		name       string
		word       string
		candidates []string
		want       string
		wantOK     bool
	}{
		{"swapped letters", "widht", keys, "width", true},
		{"dropped letter", "colums", keys, "columns", true},
		{"plural", "units", keys, "unit", true},
		{"case", "Width", keys, "width", true},
		{"nothing close", "threshold", keys, "", false},
		{"short words need an exact neighbour", "xy", keys, "", false},
		{"command typo", "tokne", commands, "token", true},
		{"command far off", "serve", commands, "", false},
		{"hyphen dropped", "ingestkey", commands, "ingest-key", true},
		{"tie is no suggestion", "ab", []string{"ac", "ad"}, "", false},
		{"exact", "migrate", commands, "migrate", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Closest(tt.word, tt.candidates)
			if got != tt.want || ok != tt.wantOK {
				t.Fatalf("Closest(%q) = %q, %v; want %q, %v", tt.word, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "", 1}, {"", "abc", 3}, {"width", "widht", 1}, {"kitten", "sitting", 3}, {"ca", "abc", 3},
	}
	for _, tt := range tests {
		if got := distance(tt.a, tt.b); got != tt.want {
			t.Errorf("distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

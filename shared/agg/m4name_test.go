package agg

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseM4(t *testing.T) {
	tests := []struct {
		name    string
		stream  string
		source  string
		bucket  time.Duration
		wantErr string
	}{
		{name: "a rung", stream: "m4.500.r0", source: "r0", bucket: 500 * time.Millisecond},
		{name: "a small rung", stream: "m4.20.r0", source: "r0", bucket: 20 * time.Millisecond},
		{name: "a source with dots", stream: "m4.60000.plant.line-1", source: "plant.line-1", bucket: time.Minute},
		{name: "the top rung", stream: "m4.86400000.x", source: "x", bucket: 24 * time.Hour},
		{name: "not m4", stream: "agg.0123456789abcdef", wantErr: "not an m4 stream"},
		{name: "off the ladder", stream: "m4.300.r0", wantErr: "ladder"},
		{name: "a leading zero", stream: "m4.0500.r0", wantErr: "ladder"},
		{name: "zero", stream: "m4.0.r0", wantErr: "ladder"},
		{name: "not a number", stream: "m4.1s.r0", wantErr: "ladder"},
		{name: "no source", stream: "m4.500", wantErr: "no source"},
		{name: "an empty source", stream: "m4.500.", wantErr: "no source"},
		{name: "a derived source", stream: "m4.500.agg.0123456789abcdef", wantErr: "itself derived"},
		{name: "an m4 source", stream: "m4.500.m4.500.r0", wantErr: "itself derived"},
		{name: "a bad name", stream: "m4.500.R0", wantErr: "may hold only"},
		{name: "too long", stream: "m4.500." + strings.Repeat("x", 60), wantErr: "longer than 64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseM4(tt.stream)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Fn != "m4" || s.Kind != Tumbling || s.Width != tt.bucket || s.Source != tt.source || s.Field != "" {
				t.Fatalf("got fn %q kind %v width %v source %q field %q, want m4 tumbling %v over all of %q", s.Fn, s.Kind, s.Width, s.Source, s.Field, tt.bucket, tt.source)
			}
			if s.Stream() != tt.stream {
				t.Fatalf("got stream %q, want the name itself %q", s.Stream(), tt.stream)
			}
			if want := int(min(max(tt.bucket, 250*time.Millisecond), time.Second).Milliseconds()); s.EmitMs != want || s.Loc == nil {
				t.Fatalf("got emit %d loc %v, want emit %d (a bucket, 250 ms to 1 s) and a zone", s.EmitMs, s.Loc, want)
			}
			if back := M4Name(s.Source, s.Width); back != tt.stream {
				t.Fatalf("M4Name gives %q, want %q", back, tt.stream)
			}
		})
	}
}

func TestEveryRungRoundTrips(t *testing.T) {
	if !slices.IsSorted(Ladder) {
		t.Fatalf("the ladder is not ascending: %v", Ladder)
	}
	for _, b := range Ladder {
		if b%time.Millisecond != 0 || b < 10*time.Millisecond {
			t.Fatalf("rung %v: want whole ms of at least 10 (4 distinct rows a bucket)", b)
		}
		s, err := ParseM4(M4Name("src", b))
		if err != nil || s.Width != b {
			t.Fatalf("rung %v: got %v, %v", b, s, err)
		}
	}
}

func TestM4Bucket(t *testing.T) {
	tests := []struct {
		name   string
		window time.Duration
		px     int
		want   time.Duration
	}{
		{"the render bench's phone chart", 160 * time.Second, 343, 500 * time.Millisecond},
		{"on a rung", 60 * time.Second, 60, time.Second},
		{"just past a rung rounds up", 60*time.Second + time.Millisecond, 60, 2 * time.Second},
		{"a wide chart is held to MaxM4Buckets", time.Hour, 4000, 5 * time.Second},
		{"below the ladder", time.Second, 400, 10 * time.Millisecond},
		{"above the ladder", 365 * 24 * time.Hour, 300, 24 * time.Hour},
		{"no width", time.Minute, 0, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := M4Bucket(tt.window, tt.px); got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
	// Rounding up keeps a chart at or under one bucket a pixel, and under
	// MaxM4Buckets across its window.
	for px := 1; px < 2000; px += 37 {
		for w := time.Second; w < 48*time.Hour; w = w * 3 / 2 {
			b := M4Bucket(w, px)
			if b < Ladder[len(Ladder)-1] && (w/b > time.Duration(min(px, MaxM4Buckets))) {
				t.Fatalf("window %v px %d: bucket %v gives %d buckets", w, px, b, w/b)
			}
		}
	}
}

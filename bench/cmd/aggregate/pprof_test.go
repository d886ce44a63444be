package main

import (
	"os"
	"path/filepath"
	"runtime/pprof"
	"testing"
	"time"
)

//go:noinline
func spinForProfile(d time.Duration) int {
	n := 0
	for start := time.Now(); time.Since(start) < d; {
		n++
	}
	return n
}

// TestProfileCPUFindsTheFunction profiles this process spinning in one
// function and then idling: the profile's CPU under that function is most
// of its total.
func TestProfileCPUFindsTheFunction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		t.Fatal(err)
	}
	spinForProfile(500 * time.Millisecond)
	pprof.StopCPUProfile()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := profileCPU(path, "github.com/telltale/telltale/bench/cmd/aggregate.spinForProfile")
	if err != nil {
		t.Fatal(err)
	}
	if got.TotalS <= 0 || got.InS <= 0 {
		t.Fatalf("got %+v, want CPU in the profile and under spinForProfile", got)
	}
	if got.InS > got.TotalS || got.InS < got.TotalS/2 {
		t.Fatalf("got %.3f s of %.3f s under spinForProfile, want most of it and no more than all", got.InS, got.TotalS)
	}
	none, err := profileCPU(path, "github.com/telltale/telltale/backend/aggregate.")
	if err != nil {
		t.Fatal(err)
	}
	if none.InS != 0 || none.TotalS != got.TotalS {
		t.Fatalf("got %+v for a package not in the profile, want 0 of %.3f s", none, got.TotalS)
	}
}

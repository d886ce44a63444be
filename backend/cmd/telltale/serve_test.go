package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// TestServeStopsWhatItStartedOnAnEarlyError: a mistake found once some
// components run (the key file, read after the engine and the sla store
// start) ends serve with that mistake, and nothing it started outlives it.
// Not parallel: it counts goroutines.
func TestServeStopsWhatItStartedOnAnEarlyError(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	missing := filepath.Join(t.TempDir(), "no-such-key.pem")
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-demo=false", "-log-level", "error", "-web", t.TempDir(), "-jwt-public-key", missing},
		func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.HasPrefix(err.Error(), "-jwt-public-key: ") {
		t.Fatalf("got %v, want the key file's error", err)
	}
}

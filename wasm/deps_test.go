//go:build !js

package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestWasmDependencies fails when the browser build links server-side code.
// app.wasm has a 1.75 MB brotli budget and a client-only go-app main is about
// 1.5 MB: one server package (pgx, the backend, pprof) would break it, and
// would ship server internals to every browser.
func TestWasmDependencies(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 {
		t.Fatalf("got %d dependencies, want the wasm build's full list", len(deps))
	}
	forbidden := []string{
		"github.com/jackc/pgx",
		"github.com/telltale/telltale/backend",
		"github.com/go-rod/",
		"net/http/pprof",
		"database/sql", // database/sql/driver comes with go-app's uuid; the pool does not
		// shared/wire reads and writes frames by hand: the msgpack library
		// (reflection-based codecs for every type) cost 56 kB of
		// brotli'd app.wasm and pushed it past its budget.
		"github.com/vmihailenco/msgpack",
		// Dashboards in YAML are read only by the server and its commands
		// (shared/dashboard/parse_yaml.go is built for !js).
		"github.com/goccy/go-yaml",
	}
	for _, d := range deps {
		for _, f := range forbidden {
			if d == f || strings.HasPrefix(d, f+"/") || (strings.HasSuffix(f, "/") && strings.HasPrefix(d, f)) {
				if d == "database/sql/driver" {
					continue
				}
				t.Errorf("the wasm build depends on %s (matches %s)", d, f)
			}
		}
	}
}

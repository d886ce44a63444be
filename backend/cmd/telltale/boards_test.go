package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/backend/memstore"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/wire"
)

func aggBoard(t *testing.T, id string, def agg.Def) dashboard.Dashboard {
	t.Helper()
	d := dashboard.Dashboard{ID: id, Title: id, Panels: []dashboard.Panel{{ID: "p", Kind: dashboard.KindKPI, Title: "p", Agg: &def}}}
	if err := d.Resolve(); err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	return d
}

func streams(specs []*agg.Spec) []string {
	var out []string
	for _, s := range specs {
		out = append(out, s.Stream())
	}
	return out
}

// TestBoardsSpecs: a tenant's aggregates are the built-ins' plus its stored
// dashboards', a stored dashboard shadowing the built-in of its id; another
// tenant keeps the built-ins'; a change made straight in the store (as
// provisioning or another server makes it) reaches the engine through the
// changes stream (Tap, Run), with a reload each time.
func TestBoardsSpecs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	builtin := aggBoard(t, "main", agg.Def{Source: "orders", Fn: "count", Window: "last 5m"})
	shadow := aggBoard(t, "main", agg.Def{Source: "orders", Fn: "sum", Field: "total", Window: "last 5m"})
	extra := aggBoard(t, "extra", agg.Def{Source: "trades", Fn: "count", Window: "last 1m"})
	var b *boards
	mem := memstore.New(memstore.Config{Sink: func(tenant string, evs []wire.Event) { b.Tap(tenant, evs) }})
	var reloads atomic.Int32
	b = newBoards(mem, []dashboard.Dashboard{builtin}, func() { reloads.Add(1) }, slog.New(slog.DiscardHandler))
	want := func(tenant string, ds ...dashboard.Dashboard) []string {
		return streams(aggregates(ds))
	}
	if got := streams(b.Specs("acme")); fmt.Sprint(got) != fmt.Sprint(want("acme", builtin)) {
		t.Fatalf("before any is stored: got %v, want the built-ins'", got)
	}
	if _, err := mem.Put(ctx, "acme", extra, "test"); err != nil {
		t.Fatal(err)
	}
	if err := b.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if got, w := fmt.Sprint(streams(b.Specs("acme"))), fmt.Sprint(want("acme", extra, builtin)); got != w {
		t.Fatalf("after Load: got %v, want %v", got, w)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- b.Run(runCtx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	before := reloads.Load()
	if _, err := mem.Put(ctx, "acme", shadow, "provisioning:main.yaml"); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 5*time.Second, func() error {
		if got, w := fmt.Sprint(streams(b.Specs("acme"))), fmt.Sprint(want("acme", extra, shadow)); got != w {
			return fmt.Errorf("after a stored main: got %v, want %v (the stored main shadows the built-in)", got, w)
		}
		if reloads.Load() == before {
			return errors.New("the engine was not reloaded")
		}
		return nil
	})
	if got, w := fmt.Sprint(streams(b.Specs("globex"))), fmt.Sprint(want("globex", builtin)); got != w {
		t.Fatalf("another tenant: got %v, want only the built-ins' %v", got, w)
	}
	for _, id := range []string{"main", "extra"} {
		if err := mem.Delete(ctx, "acme", id); err != nil {
			t.Fatal(err)
		}
	}
	poll.Until(t, 5*time.Second, func() error {
		if got, w := fmt.Sprint(streams(b.Specs("acme"))), fmt.Sprint(want("acme", builtin)); got != w {
			return fmt.Errorf("after deleting them: got %v, want the built-ins' %v", got, w)
		}
		return nil
	})
}

// TestServerComputesStoredDashboardsAggregates: the binary's wiring. An
// admin's PUT of a dashboard with an aggregate makes its derived stream one
// the tenant may read as soon as the PUT has answered; another tenant does
// not have it; once deleted, the tenant does not either.
func TestServerComputesStoredDashboardsAggregates(t *testing.T) {
	t.Parallel()
	const secret = "0123456789abcdef0123456789abcdef"
	web := t.TempDir()
	if err := os.WriteFile(filepath.Join(web, "app.wasm"), []byte("\x00asm"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"XDG_CACHE_HOME": t.TempDir(), "TELLTALE_JWT_SECRET": secret}
	cfg, err := parse([]string{"-addr", "127.0.0.1:0", "-web", web, "-demo=false", "-log-level", "error"},
		func(k string) string { return env[k] }, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	base := serveUntilDone(t, cfg, func(k string) string { return env[k] }, "not serving yet")
	keys, _ := auth.HS256([]byte(secret))
	mint := func(tenant, role string) string {
		tok, err := keys.Mint(tenant, "alice", time.Hour, nil, role)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	d := aggBoard(t, "sales", agg.Def{Source: "orders", Fn: "sum", Field: "total", Window: "last 7m"})
	stream := d.Panels[0].Stream
	acme, globex := mint("acme", "admin"), mint("globex", "admin")
	if code, body := apiCall(t, base, "GET", "api/v1/streams/"+stream+"/snapshot", acme, ""); code != http.StatusNotFound {
		t.Fatalf("before the PUT: got %d %s, want 404 (no dashboard declares it)", code, body)
	}
	if code, body := apiCall(t, base, "PUT", "api/v1/dashboards/sales", acme, `{"title": "Sales", "panels": [{"id": "p", "kind": "kpi", "title": "p",
		"agg": {"source": "orders", "fn": "sum", "field": "total", "window": "last 7m"}}]}`); code != http.StatusCreated {
		t.Fatalf("PUT: got %d %s, want 201", code, body)
	}
	if code, body := apiCall(t, base, "GET", "api/v1/streams/"+stream+"/snapshot", acme, ""); code != http.StatusOK {
		t.Fatalf("right after the PUT: got %d %s, want the derived stream", code, body)
	}
	if code, body := apiCall(t, base, "GET", "api/v1/streams/"+stream+"/snapshot", globex, ""); code != http.StatusNotFound {
		t.Fatalf("another tenant: got %d %s, want 404", code, body)
	}
	if code, body := apiCall(t, base, "DELETE", "api/v1/dashboards/sales", acme, ""); code != http.StatusNoContent {
		t.Fatalf("DELETE: got %d %s, want 204", code, body)
	}
	if code, body := apiCall(t, base, "GET", "api/v1/streams/"+stream+"/snapshot", acme, ""); code != http.StatusNotFound {
		t.Fatalf("after the DELETE: got %d %s, want 404", code, body)
	}
}

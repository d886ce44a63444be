//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/telltale/telltale/internal/pgtest"
	"github.com/telltale/telltale/internal/poll"
)

const shopDashboard = `{"id": "shop", "title": "Shop floor", "panels": [
	{"id": "last-total", "kind": "kpi", "title": "Last order total", "stream": "shop-orders", "field": "row.total", "width": 4},
	{"id": "shop-feed", "kind": "table", "title": "Shop orders", "stream": "shop-orders", "width": 8, "columns": [
		{"field": "id", "title": "Order"}, {"field": "status", "title": "Status"}, {"field": "total", "title": "Total", "format": "money"}]}]}`

// TestWatchedTableReachesTheBrowser: a row inserted into the operator's own
// table, watched by telltale.watch, shows up in the browser's feed table and
// KPI, and later changes to it follow.
func TestWatchedTableReachesTheBrowser(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	dash := filepath.Join(t.TempDir(), "shop.json")
	if err := os.WriteFile(dash, []byte(shopDashboard), 0o644); err != nil {
		t.Fatal(err)
	}
	// The binary migrates the database at start; healthz answers after.
	srv := startServerEnv(t, []string{"DATABASE_URL=" + db.DSN}, "-demo=false", "-dashboards", dash)
	ctx := context.Background()
	for _, sql := range []string{
		`CREATE TABLE shop_orders (id int PRIMARY KEY, tenant text NOT NULL, status text, total numeric)`,
		`SELECT telltale.watch('shop_orders', 'shop-orders', 'tenant')`,
	} {
		if _, err := db.Pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}

	p := newBrowser(t).MustPage("")
	openLive(t, p, srv.URL)

	cell := `(key, col) => { const r = document.querySelector('#table-shop-feed tr[data-key="' + key + '"]'); return r ? r.children[col].textContent : "" }`
	kpi := `() => { const e = document.getElementById("kpi-last-total"); return e ? e.textContent : "" }`

	inserted := time.Now()
	if _, err := db.Pool.Exec(ctx, `INSERT INTO shop_orders VALUES (7, 'demo', 'new', 42.5), (8, 'other-tenant', 'new', 99)`); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, func() error {
		if got := eval(t, p, cell, "7", 1).Str(); got != "new" {
			return fmt.Errorf("order 7 status cell %q, want new", got)
		}
		if got := eval(t, p, kpi).Str(); got != "42.5" {
			return fmt.Errorf("KPI shows %q, want 42.5", got)
		}
		return nil
	})
	t.Logf("insert to browser: %v (includes polling at up to 50 ms)", time.Since(inserted).Round(time.Millisecond))
	if got := eval(t, p, cell, "8", 1).Str(); got != "" {
		t.Fatalf("another tenant's row is on the demo tenant's screen: %q", got)
	}

	if _, err := db.Pool.Exec(ctx, `UPDATE shop_orders SET status = 'packed' WHERE id = 7`); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, func() error {
		if got := eval(t, p, cell, "7", 1).Str(); got != "packed" {
			return fmt.Errorf("order 7 status cell %q, want packed", got)
		}
		return nil
	})
	p.MustScreenshot(filepath.Join(outDir(t), "shop.png"))
}

package examples_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/demo"
	"github.com/telltale/telltale/backend/pgstore"
	"github.com/telltale/telltale/examples"
	"github.com/telltale/telltale/internal/pgtest"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/wire"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// Every dashboard file under examples/ parses and validates, as
// `telltale dashboards apply` would read it.
func TestEveryExampleValidates(t *testing.T) {
	n := 0
	err := filepath.WalkDir(".", func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			if path == "deploy" { // deployment configs (compose.yaml…), not dashboards
				return fs.SkipDir
			}
			return nil
		}
		parse := map[string]func([]byte) ([]dashboard.Dashboard, error){
			".json": dashboard.Parse, ".yaml": dashboard.ParseYAML, ".yml": dashboard.ParseYAML,
		}[filepath.Ext(path)]
		if parse == nil {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		ds, err := parse(b)
		if err != nil {
			return errors.New(path + ":" + err.Error())
		}
		for i := range ds {
			if err := ds[i].Validate(); err != nil {
				return errors.New(path + ": " + err.Error())
			}
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := examples.Dashboards()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	if got := strings.Join(ids, " "); got != "warehouse-floor trading-desk delivery-fleet" {
		t.Fatalf("got dashboards %s, want warehouse-floor trading-desk delivery-fleet", got)
	}
	if n < 3+len(ds) {
		t.Fatalf("validated %d dashboards, want at least %d", n, 3+len(ds))
	}
}

// The SQL of the warehouse and the fleet runs against PostgreSQL as their
// READMEs say (schema.sql once, feed.sql each tick), and what it writes
// reaches the streams so that every panel of the example draws.
func TestSQLFeedsFillTheDashboards(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	if _, err := pgstore.Migrate(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	ds, err := examples.Dashboards()
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]dashboard.Dashboard{}
	for _, d := range ds {
		byID[d.ID] = d
	}
	store := pgstore.New(pgstore.Config{Pool: db.Pool})
	for _, tc := range []struct{ dir, dashboard string }{
		{"warehouse", "warehouse-floor"},
		{"fleet", "delivery-fleet"},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			run := func(file string) {
				t.Helper()
				b, err := os.ReadFile(filepath.Join(tc.dir, file))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := db.Pool.Exec(ctx, string(b)); err != nil {
					t.Fatalf("%s/%s: %v", tc.dir, file, err)
				}
			}
			run("schema.sql")
			d := byID[tc.dashboard]
			// The feed is random: a tick may delay no truck. A few ticks do.
			var drawErr error
			for tick := 1; tick <= 30; tick++ {
				run("feed.sql")
				streams := map[string][]wire.Event{}
				for _, s := range d.Streams() {
					evs, err := store.Read(ctx, "acme", s, 0, 10000)
					if err != nil {
						t.Fatal(err)
					}
					streams[s] = evs
				}
				for _, p := range d.Panels {
					if p.Agg != nil && streams[p.Agg.Source] == nil {
						if streams[p.Agg.Source], err = store.Read(ctx, "acme", p.Agg.Source, 0, 10000); err != nil {
							t.Fatal(err)
						}
					}
				}
				if drawErr = demo.Draws(d, streams, time.Now()); drawErr == nil {
					t.Logf("every panel drawn after %d ticks", tick)
					return
				}
			}
			t.Fatalf("after 30 ticks of feed.sql: %v", drawErr)
		})
	}
}

// The tutorial at the top of docs/DASHBOARDS.md holds: its dashboard
// validates, and its SQL, on the table schema.sql creates, feeds every panel.
func TestTutorial(t *testing.T) {
	b, err := os.ReadFile("../docs/DASHBOARDS.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	doc = doc[:strings.Index(doc, "\n# Dashboards: aggregates")] // the tutorial: up to the next chapter
	var yamlBlocks, sqlBlocks []string
	for _, part := range strings.Split(doc, "```")[1:] {
		lang, body, _ := strings.Cut(part, "\n")
		switch lang {
		case "yaml":
			yamlBlocks = append(yamlBlocks, body)
		case "sql":
			if !strings.Contains(body, "CREATE TABLE") { // the abridged schema is shown, not run
				sqlBlocks = append(sqlBlocks, body)
			}
		}
	}
	if len(yamlBlocks) != 1 || len(sqlBlocks) != 1 {
		t.Fatalf("got %d YAML and %d SQL blocks to run in the tutorial, want 1 and 1", len(yamlBlocks), len(sqlBlocks))
	}
	ds, err := dashboard.ParseYAML([]byte(yamlBlocks[0]))
	if err != nil {
		t.Fatalf("the tutorial's YAML: %v", err)
	}
	if err := ds[0].Validate(); err != nil {
		t.Fatal(err)
	}

	db := pgtest.New(t)
	ctx := context.Background()
	if _, err := pgstore.Migrate(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	schema, err := os.ReadFile("warehouse/schema.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{string(schema), sqlBlocks[0]} {
		if _, err := db.Pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%v\n%s", err, sql)
		}
	}
	// Step 6 gives one order: the table wants 3 rows to be worth drawing, so
	// two more come as the feed would give them.
	if _, err := db.Pool.Exec(ctx, `INSERT INTO orders (tenant_id, region, total) VALUES ('acme', 'south', 10), ('acme', 'east', 20)`); err != nil {
		t.Fatal(err)
	}
	evs, err := pgstore.New(pgstore.Config{Pool: db.Pool}).Read(ctx, "acme", "orders", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if err := demo.Draws(ds[0], map[string][]wire.Event{"orders": evs}, time.Now()); err != nil {
		t.Fatal(err)
	}
}

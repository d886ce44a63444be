package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/telltale/telltale/backend/pgstore"
	"github.com/telltale/telltale/internal/child"
	"github.com/telltale/telltale/internal/pgtest"
	"github.com/telltale/telltale/internal/poll"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// serveUntilDone runs the server of cfg until the test ends (then it must
// stop cleanly) and returns the URL it serves on; notYet is the failure
// while it does not listen yet.
func serveUntilDone(t *testing.T, cfg config, getenv func(string) string, notYet string) string {
	t.Helper()
	base, _ := serveWithOutput(t, cfg, getenv, notYet)
	return base
}

// serveWithOutput is serveUntilDone that also gives what the server prints.
func serveWithOutput(t *testing.T, cfg config, getenv func(string) string, notYet string) (string, *child.Buffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &child.Buffer{}
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, getenv, out, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Error(err)
		}
	})
	serving := regexp.MustCompile(`serving (http://\S+/)`)
	var base string
	poll.Until(t, 10*time.Second, func() error {
		m := serving.FindStringSubmatch(out.String())
		if m == nil {
			return errors.New(notYet)
		}
		base = m[1]
		return nil
	})
	return base, out
}

// TestServerListensWhileWarming: a server started on a database with a
// wide stream answers /healthz at once, 503 "warming" while streams are
// still warming (the events table is locked, so the warm-up cannot read),
// and 200 once they are warm. Before, it listened only after the whole
// warm-up, so nothing answered at all meanwhile.
func TestServerListensWhileWarming(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	if _, err := pgstore.Migrate(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `SELECT telltale.publish_batch('big', 'wide',
		array(SELECT jsonb_build_object('row', jsonb_build_object('key', 'k' || i, 'fields', jsonb_build_object('blob', repeat('x', 24000))))
		FROM generate_series(1, 300) i))`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `SELECT telltale.publish('small', 'orders', '{"values":{"n":1}}')`); err != nil {
		t.Fatal(err)
	}
	// Hold the warm-up back: reading events waits for this transaction.
	lock, err := pgx.Connect(ctx, db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close(ctx)
	tx, err := lock.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `LOCK TABLE telltale.events IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}

	web := t.TempDir()
	if err := os.WriteFile(filepath.Join(web, "app.wasm"), []byte("\x00asm"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATABASE_URL": db.DSN, "XDG_CACHE_HOME": t.TempDir()}
	cfg, err := parse([]string{"-addr", "127.0.0.1:0", "-web", web, "-demo=false", "-log-level", "error"},
		func(k string) string { return env[k] }, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	// The deferred rollback runs before the server is stopped (a cleanup),
	// so its shutdown never waits on the lock.
	base := serveUntilDone(t, cfg, func(k string) string { return env[k] }, "the server does not listen while its streams warm")
	health := func() (int, map[string]any, error) {
		res, err := http.Get(base + "healthz")
		if err != nil {
			return 0, nil, err
		}
		defer res.Body.Close()
		var body map[string]any
		err = json.NewDecoder(res.Body).Decode(&body)
		return res.StatusCode, body, err
	}
	poll.Until(t, 10*time.Second, func() error {
		code, body, err := health()
		if err != nil {
			return err
		}
		if code != http.StatusServiceUnavailable || body["status"] != "warming" || body["warming"] != float64(2) {
			return fmt.Errorf("got %d %v, want 503 warming with 2 streams left", code, body)
		}
		return nil
	})

	tx.Rollback(ctx)
	poll.Until(t, 20*time.Second, func() error {
		code, body, err := health()
		if err != nil {
			return err
		}
		if code != http.StatusOK || body["status"] != "ok" || body["warming"] != nil {
			return fmt.Errorf("got %d %v, want 200 ok once every stream is warm", code, body)
		}
		return nil
	})
}

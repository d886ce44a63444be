package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/dashstore"
	"github.com/telltale/telltale/backend/pgstore"
	"github.com/telltale/telltale/internal/pgtest"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/dashboard"
)

// fakeDashboards is a dashstore.Store in a map, for the provisioning tests;
// the real stores (memstore, pgstore) have their own tests of the contract.
type fakeDashboards struct {
	mu     sync.Mutex
	byKey  map[[2]string][]dashstore.Stored // tenant, id → versions, oldest first
	puts   int
	failOn string // Put of this id fails
}

func newFakeDashboards() *fakeDashboards {
	return &fakeDashboards{byKey: map[[2]string][]dashstore.Stored{}}
}

func (f *fakeDashboards) List(_ context.Context, tenant string) ([]dashstore.Meta, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []dashstore.Meta
	for k, vs := range f.byKey {
		if k[0] == tenant {
			out = append(out, vs[len(vs)-1].Meta)
		}
	}
	slices.SortFunc(out, func(a, b dashstore.Meta) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (f *fakeDashboards) Get(_ context.Context, tenant, id string) (dashstore.Stored, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	vs := f.byKey[[2]string{tenant, id}]
	if len(vs) == 0 {
		return dashstore.Stored{}, dashstore.ErrNotFound
	}
	return vs[len(vs)-1], nil
}

func (f *fakeDashboards) Version(_ context.Context, tenant, id string, version int) (dashstore.Stored, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, v := range f.byKey[[2]string{tenant, id}] {
		if v.Version == version {
			return v, nil
		}
	}
	return dashstore.Stored{}, dashstore.ErrNotFound
}

func (f *fakeDashboards) Versions(_ context.Context, tenant, id string) ([]dashstore.Meta, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []dashstore.Meta
	for _, v := range f.byKey[[2]string{tenant, id}] {
		out = append([]dashstore.Meta{v.Meta}, out...)
	}
	return out, nil
}

func (f *fakeDashboards) Put(_ context.Context, tenant string, d dashboard.Dashboard, by string) (dashstore.Meta, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d.ID == f.failOn {
		return dashstore.Meta{}, errors.New("the store is down")
	}
	k := [2]string{tenant, d.ID}
	vs := f.byKey[k]
	if len(vs) > 0 && sameSpec(vs[len(vs)-1].Spec, d) {
		return vs[len(vs)-1].Meta, nil
	}
	f.puts++
	m := dashstore.Meta{ID: d.ID, Title: d.Title, Version: len(vs) + 1, Saved: time.Now(), By: by}
	f.byKey[k] = append(vs, dashstore.Stored{Meta: m, Spec: d})
	return m, nil
}

func (f *fakeDashboards) Delete(_ context.Context, tenant, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.byKey, [2]string{tenant, id})
	return nil
}

func (f *fakeDashboards) Tenants(context.Context) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for k := range f.byKey {
		if !slices.Contains(out, k[0]) {
			out = append(out, k[0])
		}
	}
	slices.Sort(out)
	return out, nil
}

// state is what the fake holds: "tenant/id vN by" lines, sorted.
func (f *fakeDashboards) state() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for k, vs := range f.byKey {
		v := vs[len(vs)-1]
		out = append(out, fmt.Sprintf("%s/%s v%d %s", k[0], k[1], v.Version, v.By))
	}
	slices.Sort(out)
	return out
}

func kpiYAML(id, title string) string {
	return fmt.Sprintf("id: %s\ntitle: %s\npanels:\n  - {id: k, kind: kpi, stream: orders, field: total}\n", id, title)
}

func kpiJSON(id string) string {
	return fmt.Sprintf(`[{"id": %q, "panels": [{"id": "k", "kind": "kpi", "stream": "orders", "field": "total"}]}]`, id)
}

// writeFiles writes name → content under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// apply runs `telltale dashboards ARGS` against store.
func apply(store dashstore.Store, args ...string) (string, error) {
	var out bytes.Buffer
	open := func(context.Context, string) (dashstore.Store, func(), error) { return store, func() {}, nil }
	env := func(k string) string { return map[string]string{"DATABASE_URL": "postgres://fake"}[k] }
	err := dashboardsCmd(context.Background(), args, env, &out, io.Discard, open)
	return out.String(), err
}

func TestApplyDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"b-orders.yaml":     kpiYAML("orders", "Orders"),
		"a-fleet.json":      kpiJSON("fleet"),
		"c-more.yml":        kpiYAML("queue", "Queue") + "---\n" + kpiYAML("pick", "Pick"),
		"README.md":         "not a dashboard",
		".hidden.yaml":      "not: [valid",
		"sub/deeper.yaml":   kpiYAML("deeper", "Not read: not recursive"),
		"notes.yaml.orig":   "id: x",
		"sub/another.json":  "{",
		"old/orders.yaml":   "{",
		"e-also-json.JSON":  kpiJSON("upper"),
		"d-empty-line.yaml": "\n" + kpiYAML("last", "Last"),
	})
	store := newFakeDashboards()
	out, err := apply(store, "apply", "-tenant", "acme", "-f", dir)
	if err != nil {
		t.Fatal(err)
	}
	want := `a-fleet.json: fleet: created v1
b-orders.yaml: orders: created v1
c-more.yml: queue: created v1
c-more.yml: pick: created v1
d-empty-line.yaml: last: created v1
e-also-json.JSON: upper: created v1
`
	if out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
	if got := store.state(); !slices.Contains(got, "acme/orders v1 provisioning:b-orders.yaml") || len(got) != 6 {
		t.Fatalf("got %q, want 6 dashboards in acme, orders by provisioning:b-orders.yaml", got)
	}

	// Again: nothing changes. Then one file changes: one update.
	if out, err = apply(store, "apply", "-tenant", "acme", "-f", dir); err != nil || !strings.Contains(out, "b-orders.yaml: orders: unchanged v1\n") {
		t.Fatalf("got %v\n%s, want orders unchanged v1", err, out)
	}
	writeFiles(t, dir, map[string]string{"b-orders.yaml": kpiYAML("orders", "Orders, renamed")})
	if out, err = apply(store, "apply", "-tenant", "acme", "-f", filepath.Join(dir, "b-orders.yaml"), "-dry-run"); err != nil || out != "b-orders.yaml: orders: would update v2\n" {
		t.Fatalf("dry run: got %v %q, want would update v2", err, out)
	}
	if out, err = apply(store, "apply", "-tenant", "acme", "-f", dir); err != nil || !strings.Contains(out, "b-orders.yaml: orders: updated v2\n") || strings.Count(out, "unchanged") != 5 {
		t.Fatalf("got %v\n%s, want orders updated v2 and the 5 others unchanged", err, out)
	}
	if store.puts != 7 {
		t.Fatalf("got %d saves, want 7", store.puts)
	}
}

// TestApplyOneBadFileChangesNothing: the unit test, provisioning
// from a directory with one bad file applies nothing, and the error names
// the file, line:col, dashboard, panel and field.
func TestApplyOneBadFileChangesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"a.yaml": kpiYAML("orders", "Orders"),
		"b.yaml": "id: fleet\npanels:\n  - id: trucks\n    kind: kpi\n    stream: fleet\n    field: moving\n    widht: 4\n",
		"c.json": kpiJSON("queue"),
	})
	store := newFakeDashboards()
	out, err := apply(store, "apply", "-tenant", "acme", "-f", dir)
	want := "dashboards apply: nothing applied: " + filepath.Join(dir, "b.yaml") + `:7:5: dashboard fleet: panel trucks: unknown key "widht" (did you mean "width"?)`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	if out != "" || store.puts != 0 {
		t.Fatalf("got output %q and %d saves, want none", out, store.puts)
	}
}

func TestApplyMistakes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"twice/a.yaml": kpiYAML("orders", "Orders"),
		"twice/b.json": kpiJSON("orders"),
		"empty/x.txt":  "nothing",
		"bad.json":     `{"id": "x", "panels": []}`,
		"good.yaml":    kpiYAML("orders", "Orders"),
	})
	for _, tt := range []struct {
		name      string
		args      []string
		want      string
		wantUsage bool
	}{
		{"no subcommand", nil, "dashboards: want a subcommand: apply", true},
		{"misspelt subcommand", []string{"aply"}, `dashboards: unknown subcommand "aply" (did you mean "apply"?); telltale dashboards -h lists them`, true},
		{"no tenant", []string{"apply", "-f", dir}, "dashboards apply: -tenant: ", true},
		{"bad tenant", []string{"apply", "-tenant", "Acme Corp", "-f", dir}, "dashboards apply: -tenant: ", true},
		{"no file", []string{"apply", "-tenant", "acme"}, "dashboards apply: -f: want a dashboard file or a directory of them", true},
		{"unknown flag", []string{"apply", "-tenat", "acme", "-f", "x"}, "flag provided but not defined: -tenat (did you mean -tenant?)", true},
		{"missing file", []string{"apply", "-tenant", "acme", "-f", filepath.Join(dir, "nope.yaml")}, "dashboards apply: nothing applied: stat " + filepath.Join(dir, "nope.yaml") + ": no such file or directory", false},
		{"one id in two files", []string{"apply", "-tenant", "acme", "-f", filepath.Join(dir, "twice")},
			"dashboards apply: nothing applied: " + filepath.Join(dir, "twice", "b.json") + ": dashboard orders is defined in " + filepath.Join(dir, "twice", "a.yaml") + " too: ids name pages (/d/{id}) and must be unique in a tenant", false},
		{"no files", []string{"apply", "-tenant", "acme", "-f", filepath.Join(dir, "empty")}, "dashboards apply: " + filepath.Join(dir, "empty") + " has no *.yaml, *.yml or *.json files (its subfolders are not read)", false},
		{"invalid without a place", []string{"apply", "-tenant", "acme", "-f", filepath.Join(dir, "bad.json")}, "dashboards apply: nothing applied: " + filepath.Join(dir, "bad.json") + ":1:1: dashboard x has no panels", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store := newFakeDashboards()
			_, err := apply(store, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %s", err, tt.want)
			}
			var u usageError
			if errors.As(err, &u) != tt.wantUsage {
				t.Fatalf("got usage error %v, want %v", errors.As(err, &u), tt.wantUsage)
			}
			if store.puts != 0 {
				t.Fatalf("got %d saves, want none", store.puts)
			}
		})
	}
}

func TestApplyStoreFailure(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a.yaml": kpiYAML("a", "A"), "b.yaml": kpiYAML("b", "B"), "c.yaml": kpiYAML("c", "C")})
	store := newFakeDashboards()
	store.failOn = "b"
	out, err := apply(store, "apply", "-tenant", "acme", "-f", dir)
	if want := "dashboards apply: " + filepath.Join(dir, "b.yaml") + ": dashboard b: the store is down"; err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	// What was saved before it is said, and is whole.
	if out != "a.yaml: a: created v1\n" {
		t.Fatalf("got %q, want a's line", out)
	}
}

func TestApplyDryRunWithoutADatabaseOnlyValidates(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a.yaml": kpiYAML("a", "A") + "---\n" + kpiYAML("b", "B")})
	var out bytes.Buffer
	open := func(context.Context, string) (dashstore.Store, func(), error) {
		t.Fatal("opened a store for a dry run without a database")
		return nil, nil, nil
	}
	if err := dashboardsCmd(context.Background(), []string{"apply", "-tenant", "acme", "-f", dir, "-dry-run"}, func(string) string { return "" }, &out, io.Discard, open); err != nil {
		t.Fatal(err)
	}
	if want := "a.yaml: a: valid\na.yaml: b: valid\n"; out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
}

// TestApplyNeedsADatabase: without DATABASE_URL the real command says what
// to set, before opening anything.
func TestApplyNeedsADatabase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a.yaml": kpiYAML("a", "A")})
	err := run(context.Background(), []string{"dashboards", "apply", "-tenant", "acme", "-f", dir}, func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "dashboards apply: set DATABASE_URL") {
		t.Fatalf("got %v, want an error asking for DATABASE_URL", err)
	}
}

func TestProvisionPerTenantAllOrNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"acme/orders.yaml": kpiYAML("orders", "Orders"),
		"acme/fleet.json":  kpiJSON("fleet"),
		"beta/queue.yaml":  kpiYAML("queue", "Queue"),
		"beta/bad.yaml":    "id: bad\npanels:\n  - {id: k, kind: gauge, stream: s, field: f}\n",
		"loose.yaml":       kpiYAML("loose", "In no tenant's folder"),
		".git/HEAD.json":   "{",
		"empty/README.md":  "no dashboards here",
	})
	store := newFakeDashboards()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	err := provision(context.Background(), store, dir, log)
	want := "tenant beta: " + filepath.Join(dir, "beta", "bad.yaml") + `:3:5: dashboard bad: panel k has unknown kind "gauge", want one of kpi, timeseries, table, stat, status, bar`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	if got, want := store.state(), []string{"acme/fleet v1 provisioning:fleet.json", "acme/orders v1 provisioning:orders.yaml"}; !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q (beta: nothing, its queue.yaml is good but bad.yaml is not)", got, want)
	}
	for _, line := range []string{`level=WARN msg="dashboard file outside a tenant's folder`, `level=ERROR msg="tenant's dashboards not applied: it keeps what it had" tenant=beta`, `level=INFO msg="dashboard created" tenant=acme dashboard=orders version=1`} {
		if !strings.Contains(logs.String(), line) {
			t.Errorf("the log lacks %s:\n%s", line, logs.String())
		}
	}
}

func TestProvisionRefusesAFolderThatIsNoTenant(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Acme Corp/a.yaml": kpiYAML("a", "A")})
	err := provision(context.Background(), newFakeDashboards(), dir, slog.New(slog.DiscardHandler))
	if err == nil || !strings.HasPrefix(err.Error(), "folder Acme Corp: not a tenant name: ") {
		t.Fatalf("got %v, want an error naming the folder", err)
	}
}

// TestStartProvisioningAndSIGHUP: a bad file at start stops the server;
// once started, each SIGHUP (a real one, to this process) re-reads the
// directory, and a bad file then is logged and changes nothing.
func TestStartProvisioningAndSIGHUP(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"acme/orders.yaml": "id: orders\npanels: 3\n"})
	store := newFakeDashboards()
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	_, err := startProvisioning(ctx, store, dir, log)
	if want := "-dashboards-dir " + dir + ": tenant acme: " + filepath.Join(dir, "acme", "orders.yaml") + ":2:9: dashboard orders: panels: want a list, got 3"; err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}

	writeFiles(t, dir, map[string]string{"acme/orders.yaml": kpiYAML("orders", "Orders")})
	reload, err := startProvisioning(ctx, store, dir, log)
	if err != nil {
		t.Fatal(err)
	}
	if got := store.state(); !slices.Equal(got, []string{"acme/orders v1 provisioning:orders.yaml"}) {
		t.Fatalf("at start: got %q, want orders v1", got)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = reload(ctx) }()

	writeFiles(t, dir, map[string]string{"acme/orders.yaml": kpiYAML("orders", "Orders, v2"), "beta/q.yaml": kpiYAML("q", "Q")})
	hup := func() {
		t.Helper()
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	hup()
	poll.Until(t, 5*time.Second, func() error {
		if got, want := store.state(), []string{"acme/orders v2 provisioning:orders.yaml", "beta/q v1 provisioning:q.yaml"}; !slices.Equal(got, want) {
			return fmt.Errorf("after SIGHUP: got %q, want %q", got, want)
		}
		return nil
	})

	writeFiles(t, dir, map[string]string{"acme/orders.yaml": kpiYAML("orders", "Orders, v3") + "    widht: 3\n"})
	hup()
	poll.Until(t, 5*time.Second, func() error {
		if !strings.Contains(logs.String(), `msg="some dashboards were not applied: fix the files and send SIGHUP again"`) {
			return fmt.Errorf("no error logged after a bad SIGHUP:\n%s", logs.String())
		}
		return nil
	})
	if got := store.state(); !slices.Contains(got, "acme/orders v2 provisioning:orders.yaml") {
		t.Fatalf("after a bad file: got %q, want orders still v2", got)
	}
	cancel()
	<-done
}

// syncBuffer is a bytes.Buffer that a logger and a test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestDashboardsDirFlag(t *testing.T) {
	t.Parallel()
	c, err := parse(nil, func(k string) string {
		return map[string]string{"TELLTALE_DASHBOARDS_DIR": "/etc/telltale/dashboards"}[k]
	}, io.Discard, io.Discard)
	if err != nil || c.dashDir != "/etc/telltale/dashboards" {
		t.Fatalf("got %q, %v, want the env's directory", c.dashDir, err)
	}
	if c, err = parse([]string{"-dashboards-dir", "d"}, func(k string) string { return map[string]string{"TELLTALE_DASHBOARDS_DIR": "/x"}[k] }, io.Discard, io.Discard); err != nil || c.dashDir != "d" {
		t.Fatalf("got %q, %v, want the flag's directory", c.dashDir, err)
	}
}

// TestServerWithABadDashboardsDirDoesNotStart: a mistake at start ends the
// server before it listens.
func TestServerWithABadDashboardsDirDoesNotStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"acme/orders.yaml": "id: orders\npanels: 3\n"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, []string{"-dashboards-dir", dir, "-addr", "127.0.0.1:0", "-demo=false"}, func(string) string { return "" }, &out, io.Discard)
	want := "-dashboards-dir " + dir + ": tenant acme: " + filepath.Join(dir, "acme", "orders.yaml") + ":2:9: "
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("got %v, want the server to stop on the file's mistake: %s…", err, want)
	}
	if strings.Contains(out.String(), "serving") {
		t.Fatalf("the server said it served:\n%s", out.String())
	}
}

// TestApplyToPostgreSQL: the command as an operator runs it, against a real
// database: it migrates nothing itself, saves the files as versions of the
// tenant's dashboards (and only that tenant's), and announces each on the
// tenant's changes stream.
func TestApplyToPostgreSQL(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	if _, err := pgstore.Migrate(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"orders.yaml": kpiYAML("orders", "Orders"), "fleet.json": kpiJSON("fleet")})
	var out bytes.Buffer
	env := func(k string) string { return map[string]string{"DATABASE_URL": db.DSN}[k] }
	if err := dashboardsCmd(ctx, []string{"apply", "-tenant", "acme", "-f", dir}, env, &out, io.Discard, openDashboards); err != nil {
		t.Fatalf("apply: %v\n%s", err, out.String())
	}
	if want := "fleet.json: fleet: created v1\norders.yaml: orders: created v1\n"; out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}
	st := pgstore.New(pgstore.Config{Pool: db.Pool})
	got, err := st.Get(ctx, "acme", "orders")
	if err != nil || got.Version != 1 || got.Spec.Title != "Orders" || got.By != "provisioning:orders.yaml" {
		t.Fatalf("got %+v, %v, want orders v1 by provisioning:orders.yaml", got.Meta, err)
	}
	if other, err := st.List(ctx, "umbrella"); err != nil || len(other) != 0 {
		t.Fatalf("another tenant lists %v, %v, want nothing", other, err)
	}
	evs, err := st.Read(ctx, "acme", dashboard.ChangesStream, 0, 10)
	if err != nil || len(evs) != 2 {
		t.Fatalf("changes stream: got %d events, %v, want 2", len(evs), err)
	}
}

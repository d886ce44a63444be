package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/telltale/telltale/backend/dashstore"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/spell"
	"github.com/telltale/telltale/shared/wire"
)

// Provisioning: dashboards kept as files (in git, as Grafana users keep
// theirs) and put into a tenant's store, by `telltale dashboards apply` and
// by the server's -dashboards-dir at start and on SIGHUP. A set of files is
// applied all or nothing: every file is read and validated before the first
// dashboard is saved, so one bad file changes nothing.

// dashboardExts are the files a directory's dashboards are read from.
var dashboardExts = []string{".yaml", ".yml", ".json"}

// dashboardFile is one file's dashboards, parsed, resolved and valid.
type dashboardFile struct {
	path       string
	dashboards []dashboard.Dashboard
}

// readDashboardFiles reads path: one file, or the *.yaml, *.yml and *.json
// files of a directory (not its subdirectories; hidden files are skipped),
// in name order. It returns the first mistake, prefixed by the file's path
// (path:line:col: dashboard …: panel …: field …), and refuses two
// dashboards with one id. A directory without such files gives none.
func readDashboardFiles(path string) ([]dashboardFile, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	paths := []string{path}
	if info.IsDir() {
		entries, err := os.ReadDir(path) // sorted by name
		if err != nil {
			return nil, err
		}
		paths = nil
		for _, e := range entries {
			if !e.IsDir() && isDashboardFile(e.Name()) {
				paths = append(paths, filepath.Join(path, e.Name()))
			}
		}
	}
	var files []dashboardFile
	where := map[string]string{} // dashboard id → the file it is in
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		ds, err := parseDashboards(p, b)
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			if first, ok := where[d.ID]; ok {
				return nil, fmt.Errorf("%s: dashboard %s is defined in %s too: ids name pages (/d/{id}) and must be unique in a tenant", p, d.ID, first)
			}
			where[d.ID] = p
		}
		files = append(files, dashboardFile{path: p, dashboards: ds})
	}
	return files, nil
}

func isDashboardFile(name string) bool {
	return !strings.HasPrefix(name, ".") && slices.Contains(dashboardExts, strings.ToLower(filepath.Ext(name)))
}

// parseDashboards reads a file's dashboards, as YAML or JSON by its
// extension; its errors start with the path (path:line:col: … when they
// have a place, as compilers say it).
func parseDashboards(path string, b []byte) ([]dashboard.Dashboard, error) {
	var (
		ds  []dashboard.Dashboard
		err error
	)
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		ds, err = dashboard.ParseYAML(b)
	case ".json":
		ds, err = dashboard.Parse(b)
	default:
		return nil, fmt.Errorf("%s: want a .yaml, .yml or .json file", path)
	}
	var at *dashboard.Error
	if errors.As(err, &at) && at.Line > 0 {
		return nil, fmt.Errorf("%s:%w", path, err)
	} else if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ds, nil
}

// applied is what applying one dashboard did.
type applied struct {
	file, id string
	outcome  string // created, updated, unchanged; with dry run: would create, would update
	version  int    // the version now current (or that would be)
}

func (a applied) String() string {
	return fmt.Sprintf("%s: %s: %s v%d", filepath.Base(a.file), a.id, a.outcome, a.version)
}

// applyDashboards saves every dashboard of files into tenant, by
// "provisioning:FILE" (the file's name). The files were all read and
// validated first (readDashboardFiles): a store failure half way leaves the
// dashboards before it saved, each whole, and applying again finishes the
// job, as an unchanged dashboard saves nothing. With dryRun it saves
// nothing and says what it would do.
func applyDashboards(ctx context.Context, store dashstore.Store, tenant string, files []dashboardFile, dryRun bool) ([]applied, error) {
	var out []applied
	for _, f := range files {
		for _, d := range f.dashboards {
			cur, err := store.Get(ctx, tenant, d.ID)
			switch {
			case errors.Is(err, dashstore.ErrNotFound):
				cur = dashstore.Stored{}
			case err != nil:
				return out, fmt.Errorf("%s: dashboard %s: %w", f.path, d.ID, err)
			}
			a := applied{file: f.path, id: d.ID}
			if dryRun {
				switch {
				case cur.Version == 0:
					a.outcome, a.version = "would create", 1
				case sameSpec(cur.Spec, d):
					a.outcome, a.version = "unchanged", cur.Version
				default:
					a.outcome, a.version = "would update", cur.Version+1
				}
				out = append(out, a)
				continue
			}
			m, err := store.Put(ctx, tenant, d, "provisioning:"+filepath.Base(f.path))
			if err != nil {
				return out, fmt.Errorf("%s: dashboard %s: %w", f.path, d.ID, err)
			}
			a.version = m.Version
			switch {
			case cur.Version == 0:
				a.outcome = "created"
			case m.Version == cur.Version:
				a.outcome = "unchanged"
			default:
				a.outcome = "updated"
			}
			out = append(out, a)
		}
	}
	return out, nil
}

// sameSpec reports whether two specs are the same once served (as JSON: an
// empty list and none are the same).
func sameSpec(a, b dashboard.Dashboard) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

// dashboardsOpener opens the dashboard store of a database URL; the
// returned func closes it.
type dashboardsOpener func(ctx context.Context, dbURL string) (dashstore.Store, func(), error)

// openDashboards opens DATABASE_URL's dashboard store, migrated.
func openDashboards(ctx context.Context, dbURL string) (dashstore.Store, func(), error) {
	st, done, err := adminStore(ctx, dbURL, "dashboards apply", "keep the files in -dashboards-dir DIR/TENANT/; -dry-run alone only validates")
	if err != nil {
		return nil, nil, err
	}
	return st, done, nil
}

// dashboardsCmd is `telltale dashboards SUBCOMMAND`: only apply, today.
func dashboardsCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, open dashboardsOpener) error {
	const about = `Subcommands:
  apply    validate dashboard files (YAML or JSON), then save them into a tenant

"telltale dashboards apply -h" lists its flags.`
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		fmt.Fprintf(stdout, "Usage: telltale dashboards SUBCOMMAND [flags]\n\n%s\n", about)
		if len(args) == 0 {
			return usageError("dashboards: want a subcommand: apply")
		}
		return nil
	}
	if args[0] != "apply" {
		msg := fmt.Sprintf("dashboards: unknown subcommand %q", args[0])
		if s, ok := spell.Closest(args[0], []string{"apply"}); ok {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		return usageError(msg + "; telltale dashboards -h lists them")
	}
	return applyCmd(ctx, args[1:], getenv, stdout, stderr, open)
}

// applyCmd is `telltale dashboards apply`.
func applyCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, open dashboardsOpener) error {
	fs := newFlagSet("dashboards apply", "-tenant T -f FILE|DIR [-dry-run]",
		`Reads dashboards from a YAML or JSON file, or from every *.yaml, *.yml and *.json
file of a directory (not its subdirectories), validates them all, then saves each
into tenant T in DATABASE_URL, by "provisioning:FILE", and prints what it did:
created vN, updated vN or unchanged vN. One bad file changes nothing: the error
names the file, line:column, dashboard, panel and field. With -dry-run it saves
nothing (and with no database, only validates).`)
	tenant := fs.String("tenant", "", "tenant the dashboards are for (required)")
	path := fs.String("f", "", "a dashboard `file`, or a directory of them (required)")
	dryRun := fs.Bool("dry-run", false, "validate and say what would change, saving nothing")
	dbURL := fs.String("database-url", getenv("DATABASE_URL"), "PostgreSQL `URL` (default: env DATABASE_URL)")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if err := wire.ValidStream(*tenant); err != nil {
		return usageError(fmt.Sprintf("dashboards apply: -tenant: %v", err))
	}
	if *path == "" {
		return usageError("dashboards apply: -f: want a dashboard file or a directory of them")
	}
	files, err := readDashboardFiles(*path)
	if err != nil {
		return fmt.Errorf("dashboards apply: nothing applied: %w", err)
	}
	if len(files) == 0 {
		return fmt.Errorf("dashboards apply: %s has no *.yaml, *.yml or *.json files (its subfolders are not read)", *path)
	}
	if *dryRun && *dbURL == "" {
		for _, f := range files {
			for _, d := range f.dashboards {
				fmt.Fprintf(stdout, "%s: %s: valid\n", filepath.Base(f.path), d.ID)
			}
		}
		return nil
	}
	store, done, err := open(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer done()
	did, err := applyDashboards(ctx, store, *tenant, files, *dryRun)
	for _, a := range did {
		fmt.Fprintln(stdout, a)
	}
	if err != nil {
		return fmt.Errorf("dashboards apply: %w", err)
	}
	return nil
}

// provision applies each tenant's dashboard files under dir: the files of
// DIR/{tenant}/ (readDashboardFiles) go into that tenant, all or nothing per
// tenant. A tenant with a bad file keeps what it had; the others are
// applied. It logs what changed and each tenant's mistake, and returns
// every tenant's mistake.
func provision(ctx context.Context, store dashstore.Store, dir string, log *slog.Logger) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") { // .git of a checkout
			continue
		}
		if !e.IsDir() {
			if isDashboardFile(name) {
				log.Warn("dashboard file outside a tenant's folder: ignored (put it in DIR/TENANT/)", "file", filepath.Join(dir, name))
			}
			continue
		}
		if err := wire.ValidStream(name); err != nil {
			errs = append(errs, fmt.Errorf("folder %s: not a tenant name: %w", name, err))
			continue
		}
		if err := provisionTenant(ctx, store, name, filepath.Join(dir, name), log); err != nil {
			log.Error("tenant's dashboards not applied: it keeps what it had", "tenant", name, "err", err)
			errs = append(errs, fmt.Errorf("tenant %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

func provisionTenant(ctx context.Context, store dashstore.Store, tenant, dir string, log *slog.Logger) error {
	files, err := readDashboardFiles(dir)
	if err != nil {
		return err
	}
	did, err := applyDashboards(ctx, store, tenant, files, false)
	for _, a := range did {
		level := slog.LevelInfo
		if a.outcome == "unchanged" {
			level = slog.LevelDebug
		}
		log.Log(ctx, level, "dashboard "+a.outcome, "tenant", tenant, "dashboard", a.id, "version", a.version, "file", a.file)
	}
	return err
}

// startProvisioning applies dir (provision) into st's dashboards, and
// returns what re-applies it on each SIGHUP until its ctx ends. A mistake at
// start is returned, and the server does not start; one at SIGHUP is logged,
// and the server goes on with what it had.
func startProvisioning(ctx context.Context, store dashstore.Store, dir string, log *slog.Logger) (func(context.Context) error, error) {
	// Caught from now on: SIGHUP's default is to end the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	if err := provision(ctx, store, dir, log); err != nil {
		signal.Stop(hup)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("-dashboards-dir: %w", err)
		}
		return nil, fmt.Errorf("-dashboards-dir %s: %w", dir, err)
	}
	return func(ctx context.Context) error {
		defer signal.Stop(hup)
		reprovision(ctx, store, dir, log, hup)
		return nil
	}, nil
}

// reprovision applies dir again each time reload fires, until ctx ends.
func reprovision(ctx context.Context, store dashstore.Store, dir string, log *slog.Logger, reload <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-reload:
			log.Info("re-reading dashboards", "dir", dir)
			if err := provision(ctx, store, dir, log); err != nil {
				log.Error("some dashboards were not applied: fix the files and send SIGHUP again", "dir", dir, "err", err)
			}
		}
	}
}

package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/backend/pgstore"
	"github.com/telltale/telltale/shared/spell"
	"github.com/telltale/telltale/shared/wire"
)

// command is one subcommand of the binary: telltale NAME [flags].
type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error
}

// commands are the binary's subcommands, in the order help lists them;
// "help" (run answers it: its text lists these) prints the usage. Without a
// command, the binary serves.
//
// A function, not a variable: the commands' own flag parsing looks them up.
func commands() []command {
	return []command{
		{"token", "mint an operator's sign-in token (or a URL that signs in)", func(_ context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
			return tokenCmd(args, getenv, stdout, stderr)
		}},
		{"ingest-key", "mint an ingest key for a tenant in DATABASE_URL", func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
			return ingestKey(ctx, args, getenv("DATABASE_URL"), stdout, stderr)
		}},
		{"dashboards", "apply dashboard files (YAML or JSON) to a tenant in DATABASE_URL", func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
			return dashboardsCmd(ctx, args, getenv, stdout, stderr, openDashboards)
		}},
		{"migrate", "create or upgrade the telltale schema in DATABASE_URL, then exit", func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
			return migrate(ctx, args, getenv("DATABASE_URL"), stdout, stderr)
		}},
		{"revoke", "revoke an operator's tokens or one token in DATABASE_URL", func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
			return revokeCmd(ctx, args, getenv("DATABASE_URL"), stdout, stderr)
		}},
		{"healthcheck", "ask this node's /healthz and exit 0 if it serves (a container's HEALTHCHECK)", healthcheck},
		{"version", "print the build's version", func(_ context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) error {
			fs := newFlagSet("version", "", "Prints the build's version.")
			if err := parseFlags(fs, args, stdout, stderr); err != nil {
				return err
			}
			printVersion(stdout)
			return nil
		}},
	}
}

func printVersion(w io.Writer) { fmt.Fprintf(w, "telltale %s\n", version) }

func commandNames() []string {
	names := make([]string, 0, len(commands())+1)
	for _, c := range commands() {
		names = append(names, c.name)
	}
	return append(names, "help")
}

// findCommand returns the subcommand named name, or a usage error that lists
// them all and suggests the closest.
func findCommand(name string) (command, error) {
	for _, c := range commands() {
		if c.name == name {
			return c, nil
		}
	}
	msg := fmt.Sprintf("unknown command %q", name)
	if s, ok := spell.Closest(name, commandNames()); ok {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return command{}, usageError(msg + "; commands: " + strings.Join(commandNames(), ", ") + "; without one, telltale serves (telltale -h)")
}

// usageError is a mistake on the command line. The binary exits 2 for it, as
// flag does, and 1 for every other failure.
type usageError string

func (e usageError) Error() string { return string(e) }

// exitCode is the binary's exit status for run's error.
func exitCode(err error) int {
	var u usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &u):
		return 2
	}
	return 1
}

// newFlagSet is a subcommand's flag set; its usage starts with a synopsis.
func newFlagSet(name, synopsis, about string) *flag.FlagSet {
	full := "telltale " + name
	fs := flag.NewFlagSet(full, flag.ContinueOnError)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: %s\n\n%s\n", strings.TrimSpace(full+" "+synopsis), about)
		has := false
		fs.VisitAll(func(*flag.Flag) { has = true })
		if has {
			fmt.Fprintf(w, "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args into fs. Asked for help (-h, -help), it prints the
// usage on stdout and returns flag.ErrHelp, which run turns into success; a
// mistake (an unknown flag, a bad value, a stray argument) is a usageError
// that names it, suggests the closest flag and points to -h, rather than
// the whole usage.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	var out bytes.Buffer
	fs.SetOutput(&out)
	err := fs.Parse(args)
	fs.SetOutput(stderr)
	name := fs.Name()
	switch {
	case errors.Is(err, flag.ErrHelp):
		_, _ = stdout.Write(out.Bytes())
		return flag.ErrHelp
	case err != nil:
		msg := err.Error()
		if bad, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
			var names []string
			fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
			if s, ok := spell.Closest(bad, names); ok {
				msg += fmt.Sprintf(" (did you mean -%s?)", s)
			}
		}
		return usageError(fmt.Sprintf("%s; %s -h lists the flags", msg, name))
	case fs.NArg() > 0:
		arg := fs.Arg(0)
		msg := fmt.Sprintf("unexpected argument %q", arg)
		if name == "telltale" {
			if _, err := findCommand(arg); err == nil {
				msg += fmt.Sprintf(": a command comes before the flags (telltale %s -h)", arg)
			}
		}
		return usageError(fmt.Sprintf("%s; %s -h lists the flags", msg, name))
	}
	return nil
}

// serverUsage prints the binary's help: its commands, then the server's flags.
func serverUsage(fs *flag.FlagSet) func() {
	return func() {
		w := fs.Output()
		fmt.Fprint(w, `Telltale serves live operations dashboards.

Usage:
  telltale [flags]              serve the dashboards
  telltale <command> [flags]

Commands:
`)
		for _, c := range commands() {
			fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
		}
		fmt.Fprintf(w, "  %-12s %s\n", "help", "print this help")
		fmt.Fprint(w, `
"telltale <command> -h" (or "telltale help <command>") lists a command's flags. Every server flag but -version
can also be set by the environment variable its help names; a flag wins over it, and it over the default.

Server flags:
`)
		fs.PrintDefaults()
	}
}

// ingestKey mints an ingest key for a tenant in PostgreSQL and prints it once.
func ingestKey(ctx context.Context, args []string, dbURL string, stdout, stderr io.Writer) error {
	fs := newFlagSet("ingest-key", "-tenant T [-label L]", "Mints an ingest key for a tenant in DATABASE_URL and prints it once; clients send it\nas Authorization: Bearer <key> to /api/v1/ingest.")
	tenant := fs.String("tenant", "", "tenant the key publishes for (required)")
	label := fs.String("label", "", "a note on who uses the key")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if err := wire.ValidStream(*tenant); err != nil {
		return fmt.Errorf("ingest-key: -tenant: %w", err)
	}
	st, done, err := adminStore(ctx, dbURL, "ingest-key", "pass keys with -ingest-keys")
	if err != nil {
		return err
	}
	defer done()
	key, err := st.NewIngestKey(ctx, *tenant, *label)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, key)
	fmt.Fprintf(stderr, "ingest key for tenant %s: shown once, keep it secret; send it as Authorization: Bearer <key>\n", *tenant)
	return nil
}

// adminStore opens DATABASE_URL, migrated, for a subcommand that writes to
// it; embedded says what to do instead with the embedded store.
func adminStore(ctx context.Context, dbURL, cmd, embedded string) (*pgstore.Store, func(), error) {
	if dbURL == "" {
		return nil, nil, fmt.Errorf("%s: set DATABASE_URL (with the embedded store, %s)", cmd, embedded)
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return nil, nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	if _, err := pgstore.Migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, nil, err
	}
	return pgstore.New(pgstore.Config{Pool: pool}), pool.Close, nil
}

// revokeCmd revokes an operator's tokens or one token in PostgreSQL; every
// server closes the connections it covers within seconds.
func revokeCmd(ctx context.Context, args []string, dbURL string, stdout, stderr io.Writer) error {
	fs := newFlagSet("revoke", "-tenant T [-sub S] [-token-id J]", "Revokes an operator's tokens, or one token, in DATABASE_URL; every server closes\nthe connections they cover within seconds.")
	tenant := fs.String("tenant", "", "tenant (required)")
	sub := fs.String("sub", "", "revoke every token of this operator issued until now")
	jti := fs.String("token-id", "", "revoke the token with this jti")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if err := wire.ValidStream(*tenant); err != nil {
		return fmt.Errorf("revoke: -tenant: %w", err)
	}
	if *sub == "" && *jti == "" {
		return errors.New("revoke: give -sub, -token-id or both")
	}
	st, done, err := adminStore(ctx, dbURL, "revoke", "POST /api/v1/revoke with an admin token")
	if err != nil {
		return err
	}
	defer done()
	now := time.Now()
	r := auth.Revocation{Tenant: *tenant, Subject: *sub, TokenID: *jti, At: now, Until: now.Add(auth.MaxTTL)}
	if err := st.Revoke(ctx, r); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "revoked in tenant %s: sub %q token %q; open connections close within seconds\n", *tenant, *sub, *jti)
	return nil
}

// migrate applies the schema migrations and says what it did.
func migrate(ctx context.Context, args []string, dbURL string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", "", "Creates or upgrades the telltale schema in the database DATABASE_URL names, then\nexits. The server does the same at start.")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if dbURL == "" {
		return errors.New("migrate: set DATABASE_URL to the database to migrate")
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	defer pool.Close()
	applied, err := pgstore.Migrate(ctx, pool)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "telltale migrate: schema is up to date")
		return nil
	}
	fmt.Fprintf(stdout, "telltale migrate: applied %v\n", applied)
	return nil
}

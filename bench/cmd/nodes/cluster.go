package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/telltale/telltale/internal/pgtest"
)

// cluster is the PostgreSQL server the run uses: one of its own (initdb and
// pg_ctl from the installed postgresql, with pg_stat_statements preloaded and
// PostgreSQL's default durability: fsync and synchronous_commit on), or an
// existing one (-pg-admin).
type cluster struct {
	admin  string // DSN of the postgres database as a superuser
	dir    string // own cluster's directory; empty for an existing server
	pgCtl  string
	asUser []string
	// statements says pg_stat_statements is loaded (shared_preload_libraries):
	// per-node query counts and rows come from it.
	statements bool
	// postmaster is the own cluster's postmaster pid: every process of the
	// cluster is it or its child, so PostgreSQL's whole CPU is theirs.
	postmaster int
}

// startCluster starts a PostgreSQL cluster of the run's own on a free
// loopback port.
func startCluster(maxConns int) (*cluster, error) {
	bin, err := pgtest.FindBin()
	if err != nil {
		return nil, fmt.Errorf("%w, or give -pg-admin", err)
	}
	c := &cluster{pgCtl: filepath.Join(bin, "pg_ctl")}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root.
		if _, err := user.Lookup("postgres"); err != nil {
			return nil, errors.New("running as root and there is no postgres user to run PostgreSQL as")
		}
		c.asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	if c.dir, err = os.MkdirTemp("", "telltale-nodes-pg-"); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chown", "postgres:", c.dir).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("chown %s: %v: %s", c.dir, err, out)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	data := filepath.Join(c.dir, "data")
	if err := c.run(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "--no-sync"); err != nil {
		return nil, err
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=%d -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.max=1000", port, c.dir, maxConns)
	if err := c.run(c.pgCtl, "-D", data, "-o", opts, "-l", filepath.Join(c.dir, "log"), "-w", "start"); err != nil {
		c.stop()
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(data, "postmaster.pid"))
	if err == nil {
		first, _, _ := strings.Cut(string(b), "\n")
		c.postmaster, _ = strconv.Atoi(strings.TrimSpace(first))
	}
	c.admin = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	c.statements = true
	return c, nil
}

// useCluster is an existing server; pg_stat_statements is used when it is
// in shared_preload_libraries.
func useCluster(ctx context.Context, admin string) (*cluster, error) {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	var libs string
	if err := conn.QueryRow(ctx, "SHOW shared_preload_libraries").Scan(&libs); err != nil {
		return nil, err
	}
	return &cluster{admin: admin, statements: strings.Contains(libs, "pg_stat_statements")}, nil
}

func (c *cluster) run(name string, args ...string) error {
	full := append(append([]string{}, c.asUser...), append([]string{name}, args...)...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, full[0], full[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", filepath.Base(name), err, out)
	}
	return nil
}

// stop stops and removes the own cluster (nothing for an existing server).
func (c *cluster) stop() {
	if c.dir == "" {
		return
	}
	_ = c.run(c.pgCtl, "-D", filepath.Join(c.dir, "data"), "-m", "immediate", "stop")
	_ = os.RemoveAll(c.dir)
}

// database is one run's database on the cluster and a login role per node,
// so that pg_stat_statements (keyed by user) and pg_stat_activity tell the
// nodes' queries and backends apart.
type database struct {
	name  string
	dsn   string   // as postgres
	roles []string // roles[i] is node i's
	c     *cluster
}

func (c *cluster) createDatabase(ctx context.Context, nodes int) (*database, error) {
	conn, err := pgx.Connect(ctx, c.admin)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	stamp := time.Now().UnixNano() % 1e9
	d := &database{name: fmt.Sprintf("telltale_nodes_%d", stamp), c: c}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+d.name); err != nil {
		return nil, err
	}
	for i := range nodes {
		role := fmt.Sprintf("telltale_nodes_%d_n%d", stamp, i+1)
		// Superuser: the node migrates, LISTENs and reads like the
		// database's owner would; dropped with the database.
		if _, err := conn.Exec(ctx, "CREATE ROLE "+role+" LOGIN SUPERUSER"); err != nil {
			d.drop()
			return nil, err
		}
		d.roles = append(d.roles, role)
	}
	d.dsn = withDatabase(c.admin, d.name, "")
	if c.statements {
		dc, err := pgx.Connect(ctx, d.dsn)
		if err != nil {
			d.drop()
			return nil, err
		}
		_, err = dc.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
		dc.Close(ctx)
		if err != nil {
			d.drop()
			return nil, err
		}
	}
	return d, nil
}

// nodeDSN is node i's connection string.
func (d *database) nodeDSN(i int) string { return withDatabase(d.c.admin, d.name, d.roles[i]) }

func (d *database) drop() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, d.c.admin)
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+d.name+" WITH (FORCE)")
	for _, r := range d.roles {
		_, _ = conn.Exec(ctx, "DROP ROLE IF EXISTS "+r)
	}
}

// withDatabase is dsn naming database name and, when not empty, user.
func withDatabase(dsn, name, user string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	u.Path = "/" + name
	if user != "" {
		u.User = url.User(user)
	}
	return u.String()
}

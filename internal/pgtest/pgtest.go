// Package pgtest gives tests a real PostgreSQL: a fresh database of their own
// on the server in DATABASE_URL, else on 127.0.0.1:5432 as postgres, else on a
// throwaway cluster it starts from the installed postgresql binaries. It never
// skips: without any of the three, the test fails and says how to provide one.
//
// It must never be imported by non-test code.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

var (
	once     sync.Once
	adminDSN string
	setupErr error
	cluster  *throwaway
)

// Main runs the package's tests and then stops a throwaway cluster if one was
// started. Use it from TestMain.
func Main(m *testing.M) int {
	code := m.Run()
	if cluster != nil {
		cluster.stop()
	}
	return code
}

// DB is one test's database.
type DB struct {
	DSN  string
	Pool *pgxpool.Pool
	Name string
}

// New creates a database for this test and drops it at cleanup.
func New(t testing.TB) *DB {
	t.Helper()
	once.Do(func() { adminDSN, setupErr = findServer() })
	if setupErr != nil {
		t.Fatalf("PostgreSQL tests need a server: %v", setupErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		t.Fatalf("connect to %s: %v", redact(adminDSN), err)
	}
	defer admin.Close(ctx)
	name := "tt_" + randHex(6)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	dsn := withDatabase(adminDSN, name)
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatalf("pool: %v", err)
	}
	t.Cleanup(func() {
		pool.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin, err := pgx.Connect(ctx, adminDSN)
		if err != nil {
			t.Errorf("drop %s: %v", name, err)
			return
		}
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	return &DB{DSN: dsn, Pool: pool, Name: name}
}

// AdminDSN is the server-level DSN tests may use for faults such as
// pg_terminate_backend.
func AdminDSN(t testing.TB) string {
	t.Helper()
	once.Do(func() { adminDSN, setupErr = findServer() })
	if setupErr != nil {
		t.Fatalf("PostgreSQL tests need a server: %v", setupErr)
	}
	return adminDSN
}

func findServer() (string, error) {
	var tried []string
	if dsn := os.Getenv("DATABASE_URL"); dsn != "" {
		if err := ping(dsn); err != nil {
			return "", fmt.Errorf("DATABASE_URL is set but unusable (%s): %w", redact(dsn), err)
		}
		return dsn, nil
	}
	// TELLTALE_PGTEST_THROWAWAY=1 skips the local server, to exercise the
	// throwaway cluster on a machine that has one.
	if os.Getenv("TELLTALE_PGTEST_THROWAWAY") == "" {
		local := "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
		if err := ping(local); err == nil {
			return local, nil
		} else {
			tried = append(tried, fmt.Sprintf("127.0.0.1:5432 as postgres: %v", err))
		}
	}
	c, err := startThrowaway()
	if err == nil {
		cluster = c
		return c.dsn, nil
	}
	tried = append(tried, "a throwaway cluster: "+err.Error())
	return "", fmt.Errorf("%s.\nProvide one: set DATABASE_URL, run PostgreSQL on 127.0.0.1:5432 with trust auth for postgres, or install postgresql (apt-get install postgresql) so the tests start their own", strings.Join(tried, "; "))
}

func ping(dsn string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	return c.Close(ctx)
}

type throwaway struct {
	dir, dsn string
	asUser   []string // command prefix to run as the postgres user
	pgCtl    string
}

// startThrowaway runs initdb and pg_ctl (as the postgres user when root, as
// PostgreSQL refuses to run as root) on a free loopback port.
func startThrowaway() (*throwaway, error) {
	bin, err := FindBin()
	if err != nil {
		return nil, err
	}
	var prefix []string
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("postgres"); err != nil {
			return nil, errors.New("running as root and there is no postgres user to run the server as")
		}
		prefix = []string{"runuser", "-u", "postgres", "--"}
	}
	dir, err := os.MkdirTemp("", "telltale-pg-")
	if err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chown", "postgres:", dir).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("chown %s: %v: %s", dir, err, out)
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	run := func(name string, args ...string) error {
		full := append(append([]string{}, prefix...), append([]string{filepath.Join(bin, name)}, args...)...)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		c := exec.CommandContext(ctx, full[0], full[1:]...)
		out, err := c.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %v: %s", name, err, out)
		}
		return nil
	}
	data := filepath.Join(dir, "data")
	if err := run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "--no-sync"); err != nil {
		return nil, err
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", port, dir)
	if err := run("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "start"); err != nil {
		return nil, err
	}
	return &throwaway{
		dir:    dir,
		dsn:    fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port),
		asUser: prefix,
		pgCtl:  filepath.Join(bin, "pg_ctl"),
	}, nil
}

func (c *throwaway) stop() {
	args := append(append([]string{}, c.asUser...), c.pgCtl, "-D", filepath.Join(c.dir, "data"), "-m", "immediate", "stop")
	_ = exec.Command(args[0], args[1:]...).Run()
	_ = os.RemoveAll(c.dir)
}

// FindBin is the folder of the installed PostgreSQL's initdb and pg_ctl:
// from PATH, else the newest /usr/lib/postgresql/*/bin (Debian's packages).
func FindBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) > 0 {
		return filepath.Dir(matches[len(matches)-1]), nil
	}
	return "", errors.New("no initdb/pg_ctl found (install postgresql)")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func withDatabase(dsn, name string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return dsn + " dbname=" + name
	}
	u.Path = "/" + name
	return u.String()
}

func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxx")
	}
	return u.String()
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Cluster is a PostgreSQL server of the test's own, for faults that would
// disturb other tests: restarts, shutdowns.
type Cluster struct {
	DSN string
	c   *throwaway
}

// NewCluster starts a throwaway cluster for this test (initdb and pg_ctl from
// the installed postgresql) and removes it at cleanup. Without the binaries
// the test fails and says what to install.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	c, err := startThrowaway()
	if err != nil {
		t.Fatalf("this test needs its own PostgreSQL cluster: %v (install postgresql)", err)
	}
	t.Cleanup(c.stop)
	return &Cluster{DSN: c.dsn, c: c}
}

// Restart stops the server (fast: connections are cut) and starts it again.
func (cl *Cluster) Restart(t testing.TB) {
	t.Helper()
	// -l: without a log file the new postmaster inherits our output pipe and
	// CombinedOutput would wait for it forever.
	args := append(append([]string{}, cl.c.asUser...), cl.c.pgCtl, "-D", filepath.Join(cl.c.dir, "data"),
		"-l", filepath.Join(cl.c.dir, "log"), "-m", "fast", "-w", "restart")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("pg_ctl restart: %v: %s", err, out)
	}
}

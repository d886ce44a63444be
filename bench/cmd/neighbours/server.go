package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/bench/benchserver"
)

// server is the telltale binary serving tenants A and B, as users run it.
type server struct {
	cmd        *exec.Cmd
	addr       string // host:port
	debugAddr  string // pprof
	dsn        string // PostgreSQL database, empty on the embedded store
	keyA, keyB string // ingest keys
	token      string // operator token of tenant B
	drop       func()
}

// startServer runs bin on store (embedded or postgres, then on a database of
// its own), pinned to cpus with taskset when cpus is not empty, with extra
// flags after the defaults. With webDir (the built app, for -browser) it
// serves that and B's dashboard; otherwise a stand-in app.wasm.
func startServer(ctx context.Context, bin, store, admin, cpus, webDir string, extra []string) (*server, error) {
	s := &server{drop: func() {}}
	secret := benchserver.RandomHex() + benchserver.RandomHex()
	keys, err := auth.HS256([]byte(secret))
	if err != nil {
		return nil, err
	}
	if s.token, err = keys.Mint("tenant-b", "neighbours", 24*time.Hour, nil, ""); err != nil {
		return nil, err
	}
	web, err := os.MkdirTemp("", "neighbours-web")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(web, "app.wasm"), []byte("\x00asm"), 0o644); err != nil {
		return nil, err
	}
	env := append(os.Environ(), "TELLTALE_JWT_SECRET="+secret, "XDG_CACHE_HOME="+web)
	args := []string{"-addr", "127.0.0.1:0", "-web", web, "-demo=false", "-log-level", "warn", "-debug-addr", "127.0.0.1:0", "-drain-delay", "0"}
	if webDir != "" {
		dash, err := writeDashboards(web)
		if err != nil {
			return nil, err
		}
		args = []string{"-addr", "127.0.0.1:0", "-web", webDir, "-dashboards", dash, "-demo=false", "-log-level", "warn", "-debug-addr", "127.0.0.1:0", "-drain-delay", "0"}
	}
	switch store {
	case "embedded":
		s.keyA, s.keyB = benchserver.RandomHex(), benchserver.RandomHex()
		args = append(args, "-ingest-keys", "tenant-a:"+s.keyA+",tenant-b:"+s.keyB)
		env = append(env, "DATABASE_URL=")
	case "postgres":
		if s.dsn, s.drop, err = createDatabase(ctx, admin); err != nil {
			return nil, err
		}
		env = append(env, "DATABASE_URL="+s.dsn)
		if _, err := runBin(env, bin, "migrate"); err != nil {
			s.drop()
			return nil, err
		}
		for _, k := range []struct {
			tenant string
			dst    *string
		}{{"tenant-a", &s.keyA}, {"tenant-b", &s.keyB}} {
			out, err := runBin(env, bin, "ingest-key", "-tenant", k.tenant)
			if err != nil {
				s.drop()
				return nil, err
			}
			*k.dst = strings.TrimSpace(out)
		}
	default:
		return nil, fmt.Errorf("-store %q: want embedded, postgres or both", store)
	}
	args = append(args, extra...)
	if cpus != "" {
		s.cmd = exec.Command("taskset", append([]string{"-c", cpus, bin}, args...)...)
	} else {
		s.cmd = exec.Command(bin, args...)
	}
	s.cmd.Env = env
	// Its log (a warning per refused batch of A's) goes to a file, not
	// to the benchmark's output.
	logf, err := os.Create(filepath.Join(web, "server.log"))
	if err != nil {
		s.drop()
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "server log: %s\n", logf.Name())
	s.cmd.Stderr = logf
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		s.drop()
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		s.drop()
		return nil, fmt.Errorf("start %s (go build -o bin/telltale ./backend/cmd/telltale first): %w", bin, err)
	}
	if s.addr, s.debugAddr, _, err = benchserver.Listening(out); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// stop ends the server (SIGTERM, then waits) and drops its database.
func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	_ = s.cmd.Wait()
	s.drop()
}

func runBin(env []string, bin string, args ...string) (string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", bin, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// createDatabase makes a database of its own on admin's server and returns
// its DSN and how to drop it.
func createDatabase(ctx context.Context, admin string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", nil, err
	}
	name := fmt.Sprintf("telltale_neighbours_%d", time.Now().UnixNano()%1e9)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close(ctx)
		return "", nil, err
	}
	cfg := conn.Config()
	dsn := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name)
	drop := func() {
		c := context.Background()
		_, _ = conn.Exec(c, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		conn.Close(c)
	}
	return dsn, drop, nil
}

//go:build e2e

package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/launcher"
	"github.com/ysmood/gson"

	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/internal/poll"
)

// e2eSecret signs every test server's tokens, so tests mint their own (and a
// restarted server accepts the ones it issued before).
const e2eSecret = "e2e-secret-e2e-secret-e2e-secret"

// token mints an operator token for tenant, valid for an hour.
func token(t *testing.T, tenant string, streams ...string) string {
	t.Helper()
	keys, err := auth.HS256([]byte(e2eSecret))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := keys.Mint(tenant, "e2e-operator", time.Hour, streams, "viewer")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// signIn is the URL that opens the dashboard at base signed in to tenant.
func signIn(t *testing.T, base, tenant string) string {
	t.Helper()
	return strings.TrimSuffix(base, "/") + "/#token=" + token(t, tenant)
}

// env returns a required environment variable set by `make e2e`.
func env(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: run the end-to-end tests with `make e2e`, which builds the binary and sets it", name)
	}
	return v
}

type server struct {
	URL        string
	MetricsURL string // its /metrics, on the metrics listener (-metrics-addr)
	cmd        *exec.Cmd
	stderr     *strings.Builder
	once       sync.Once
}

// stop sends SIGTERM and fails the test unless the server exits 0 in time:
// a graceful shutdown is part of what is tested. Later calls do nothing.
func (s *server) stop(t *testing.T) {
	t.Helper()
	s.once.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- s.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server exited with %v after SIGTERM; stderr:\n%s", err, s.stderr)
			}
		case <-time.After(15 * time.Second):
			_ = s.cmd.Process.Kill()
			t.Errorf("server still running 15s after SIGTERM")
		}
	})
}

var (
	servingLine = regexp.MustCompile(`serving (http://\S+?)/? `)
	metricsLine = regexp.MustCompile(`metrics at (http://\S+/metrics)`)
)

// startServer runs the real binary on a free loopback port, its /metrics on
// another (server.MetricsURL). At cleanup it
// sends SIGTERM and fails the test unless the server exits 0 in time: a
// graceful shutdown is part of what is tested.
func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	return startServerEnv(t, []string{"DATABASE_URL="}, args...)
}

// startServerEnv is startServer with extra environment (DATABASE_URL=…).
func startServerEnv(t *testing.T, extraEnv []string, args ...string) *server {
	t.Helper()
	return startServerEnvAt(t, extraEnv, "127.0.0.1:0", args...)
}

// startServerEnvAt starts the binary on a given address (to restart a server
// where its clients expect it).
func startServerEnvAt(t *testing.T, extraEnv []string, addr string, args ...string) *server {
	t.Helper()
	bin, web := env(t, "TELLTALE_BIN"), env(t, "TELLTALE_WEB_DIR")
	// No drain by default (each stop would wait its delay): the cluster
	// tests, which test draining, set -drain-delay in args, which win.
	cmd := exec.Command(bin, append([]string{"-addr", addr, "-web", web, "-log-level", "warn", "-metrics-addr", "127.0.0.1:0", "-drain-delay", "0"}, args...)...)
	cmd.Env = append(append(os.Environ(), "TELLTALE_JWT_SECRET="+e2eSecret), extraEnv...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, stderr: &strings.Builder{}}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	urls := make(chan [2]string, 1) // the server's, its metrics'
	go func() {
		sc := bufio.NewScanner(stdout)
		metrics := ""
		for sc.Scan() {
			if m := metricsLine.FindStringSubmatch(sc.Text()); m != nil {
				metrics = m[1]
			}
			if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
				urls <- [2]string{m[1], metrics}
			}
		}
	}()
	select {
	case u := <-urls:
		s.URL, s.MetricsURL = u[0], u[1]
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("server did not print its URL within 20s; stderr:\n%s", s.stderr)
	}
	t.Cleanup(func() { s.stop(t) })
	poll.Until(t, 10*time.Second, func() error {
		res, err := http.Get(s.URL + "/healthz")
		if err != nil {
			return err
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("healthz: %s", res.Status)
		}
		return nil
	})
	return s
}

// newBrowser starts the system Chromium with a fresh profile and the flags
// this machine needs (no sandbox as root, no background networking: the
// network beyond loopback is closed and Chromium would keep retrying).
func newBrowser(t *testing.T, opts ...func(*launcher.Launcher)) *rod.Browser {
	t.Helper()
	bin := env(t, "CHROMIUM")
	l := launcher.New().
		Bin(bin).
		Headless(true).
		NoSandbox(true).
		Leakless(false).
		UserDataDir(t.TempDir()).
		Set("disable-background-networking").
		Set("disable-component-update").
		Set("disable-sync").
		Set("no-first-run").
		Set("disable-quic").
		Set("disable-gpu")
	for _, o := range opts {
		o(l)
	}
	u, err := l.Launch()
	if err != nil {
		t.Fatalf("launch %s: %v", bin, err)
	}
	b := rod.New().ControlURL(u)
	if err := b.Connect(); err != nil {
		l.Kill()
		t.Fatalf("connect to chromium: %v", err)
	}
	t.Cleanup(func() {
		_ = b.Close()
		l.Kill()
	})
	return b.Timeout(2 * time.Minute)
}

// outDir is where the tests leave screenshots for a person to look at.
func outDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("out", t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// eval runs a JS function in the page and returns its JSON result.
func eval(t *testing.T, p *rod.Page, js string, args ...any) gson.JSON {
	t.Helper()
	res, err := p.Eval(js, args...)
	if err != nil {
		t.Fatalf("eval %s: %v", js, err)
	}
	return res.Value
}

// ingest POSTs a JSON ingest body with a tenant's key and fails the test
// unless it is accepted.
func ingest(t *testing.T, base, key, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/ingest", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("ingest: %s: %s", res.Status, b)
	}
}

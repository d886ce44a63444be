//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/internal/pgtest"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/wire"
)

// The README's commands run as they are written, with these substitutions
// and no others:
const (
	readmeURL = "http://localhost:8080"                    // the test server's URL
	readmeDSN = "postgres://user:pass@db.example:5432/ops" // the test's own database
)

// and its shell blocks run with bash -euo pipefail in a folder whose
// bin/telltale is the built binary, with no DATABASE_URL or TELLTALE_*
// variable but what the block sets, and a fresh ~/.cache (XDG_CACHE_HOME)
// that the server shares, so tokens are signed with the development secret,
// as a newcomer's are.

// readmeBlock is one fenced code block of README.md.
type readmeBlock struct {
	lang, text string
	line       int
}

var fence = regexp.MustCompile("(?ms)^```(\\w*)\\n(.*?)^```")

func readmeBlocks(t *testing.T) []readmeBlock {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []readmeBlock
	for _, m := range fence.FindAllSubmatchIndex(b, -1) {
		lang := string(b[m[2]:m[3]])
		if lang == "sh" || lang == "bash" || lang == "sql" {
			out = append(out, readmeBlock{lang: lang, text: string(b[m[4]:m[5]]), line: 1 + bytes.Count(b[:m[0]], []byte("\n"))})
		}
	}
	return out
}

// TestReadmeCommands runs every shell and SQL block of README.md against the
// built binary on PostgreSQL and checks each does what the README says: it
// exits 0, prints what its "# →" lines show (… stands for anything), and has
// the effect the text promises (the row appears in the stream, the token
// signs in, the revoked token stops working). Blocks of make targets and
// benchmarks are checked by name only: the targets exist, the benchmark
// commands and their flags exist. A block no check recognises fails the
// test, so a new command in the README needs one here.
func TestReadmeCommands(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	cache := t.TempDir()
	srv := startServerEnv(t, []string{"DATABASE_URL=" + db.DSN, "TELLTALE_JWT_SECRET=", "XDG_CACHE_HOME=" + cache}, "-demo=false")
	secret, err := os.ReadFile(filepath.Join(cache, "telltale", "dev-jwt-secret"))
	if err != nil {
		t.Fatalf("the server kept no development secret: %v", err)
	}
	keys, err := auth.HS256(bytes.TrimSpace(secret))
	if err != nil {
		t.Fatal(err)
	}
	acme, err := keys.Mint("acme", "readme-test", time.Hour, nil, "viewer")
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(env(t, "TELLTALE_BIN"), filepath.Join(dir, "bin", "telltale")); err != nil {
		t.Fatal(err)
	}
	var blockEnv []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DATABASE_URL=") && !strings.HasPrefix(kv, "TELLTALE_") && !strings.HasPrefix(kv, "XDG_CACHE_HOME=") {
			blockEnv = append(blockEnv, kv)
		}
	}
	blockEnv = append(blockEnv, "XDG_CACHE_HOME="+cache)
	subst := strings.NewReplacer(readmeURL, srv.URL, readmeDSN, db.DSN)

	sh := func(t *testing.T, b readmeBlock) string {
		t.Helper()
		script := subst.Replace(b.text)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
		cmd.Dir, cmd.Env = dir, blockEnv
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("README.md:%d: %v\n%s\nstdout:\n%s\nstderr:\n%s", b.line, err, script, &stdout, &stderr)
		}
		lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
		for _, want := range arrows(script) {
			re := regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(want), "…", ".*") + "$")
			found := false
			for _, l := range lines {
				found = found || re.MatchString(strings.TrimSpace(l))
			}
			if !found {
				t.Errorf("README.md:%d says the output is\n  %s\nbut it is:\n%s", b.line, want, &stdout)
			}
		}
		return stdout.String()
	}
	// orders is acme's orders stream as a signed-in operator gets it.
	orders := func(tok string) (wire.State, int, error) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/streams/orders/snapshot", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return wire.State{}, 0, err
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK {
			return wire.State{}, res.StatusCode, fmt.Errorf("snapshot: %s %s", res.Status, body)
		}
		f, err := wire.Decode(body)
		if err != nil {
			return wire.State{}, res.StatusCode, err
		}
		return f.(wire.Snapshot).State, res.StatusCode, nil
	}
	// shows waits until acme's orders hold the gauge value and the row.
	shows := func(t *testing.T, tok string, ordersToday float64, key, status string) {
		t.Helper()
		poll.Until(t, 10*time.Second, func() error {
			st, _, err := orders(tok)
			if err != nil {
				return err
			}
			if st.Values["orders_today"] != ordersToday {
				return fmt.Errorf("orders_today %v, want %v", st.Values["orders_today"], ordersToday)
			}
			for _, r := range st.Rows {
				if r.Key == key && r.Fields["status"] == status {
					return nil
				}
			}
			return fmt.Errorf("no row %s with status %s in %+v", key, status, st.Rows)
		})
	}
	var alice string // the token the README mints for alice

	checks := []struct {
		name  string
		match string // what identifies the block
		run   func(t *testing.T, b readmeBlock)
	}{
		{"make targets", "make run    #", func(t *testing.T, b readmeBlock) { makeTargets(t, b) }},
		{"make run on PostgreSQL", "make run\n", func(t *testing.T, b readmeBlock) { makeTargets(t, b) }},
		{"migrate", "bin/telltale migrate", func(t *testing.T, b readmeBlock) { sh(t, b) }},
		{"publish from SQL", "telltale.publish(", func(t *testing.T, b readmeBlock) {
			if _, err := db.Pool.Exec(context.Background(), b.text); err != nil {
				t.Fatalf("README.md:%d: %v", b.line, err)
			}
			shows(t, acme, 1204, "SO-2", "picked")
		}},
		{"ingest over HTTP", "ingest-key -tenant acme", func(t *testing.T, b readmeBlock) {
			sh(t, b)
			shows(t, acme, 1205, "SO-1", "packed")
		}},
		{"mint a sign-in URL", "token -tenant acme -sub alice@acme.example", func(t *testing.T, b readmeBlock) {
			out := strings.TrimSpace(sh(t, b))
			tok, ok := strings.CutPrefix(out, srv.URL+"/#token=")
			if !ok {
				t.Fatalf("got %q, want %s/#token=…", out, srv.URL)
			}
			p, err := keys.Verify(tok)
			if err != nil || p.Tenant != "acme" || p.Subject != "alice@acme.example" || time.Until(p.Expires) < 7*time.Hour {
				t.Fatalf("got %+v %v, want alice of acme for 8h", p, err)
			}
			if _, code, err := orders(tok); err != nil {
				t.Fatalf("the token does not sign in: %d %v", code, err)
			}
			alice = tok
		}},
		{"revoke", "-role admin)", func(t *testing.T, b readmeBlock) {
			if alice == "" {
				t.Fatal("the README revokes alice before it mints her token")
			}
			sh(t, b)
			poll.Until(t, 10*time.Second, func() error {
				if _, code, _ := orders(alice); code != http.StatusUnauthorized {
					return fmt.Errorf("alice's revoked token gets %d, want 401", code)
				}
				return nil
			})
		}},
		{"benchmarks", "go run ./bench/cmd/", func(t *testing.T, b readmeBlock) { benchCommands(t, b) }},
	}
	blocks := readmeBlocks(t)
	used := make([]bool, len(checks))
	for _, b := range blocks {
		n := -1
		for i, c := range checks {
			if strings.Contains(b.text, c.match) {
				if n >= 0 {
					t.Fatalf("README.md:%d matches the checks %q and %q", b.line, checks[n].name, c.name)
				}
				n = i
			}
		}
		if n < 0 {
			t.Fatalf("README.md:%d: no check in readme_test.go runs this block:\n%s", b.line, b.text)
		}
		used[n] = true
		if !t.Run(checks[n].name, func(t *testing.T) { checks[n].run(t, b) }) {
			t.FailNow() // later blocks build on earlier ones
		}
	}
	for i, u := range used {
		if !u {
			t.Errorf("the README no longer has the block %q that readme_test.go checks", checks[i].name)
		}
	}
}

// arrows are a block's "# → output" lines.
func arrows(script string) []string {
	var out []string
	for _, l := range strings.Split(script, "\n") {
		if want, ok := strings.CutPrefix(strings.TrimSpace(l), "# → "); ok {
			out = append(out, strings.TrimSpace(want))
		}
	}
	return out
}

// makeTargets checks the make targets a block runs exist: make test runs
// this very test, and make run serves until stopped.
func makeTargets(t *testing.T, b readmeBlock) {
	t.Helper()
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range regexp.MustCompile(`(?m)\bmake (\w+)`).FindAllStringSubmatch(b.text, -1) {
		n++
		if !regexp.MustCompile(`(?m)^` + m[1] + `:`).Match(mk) {
			t.Errorf("README.md:%d runs make %s, which the Makefile lacks", b.line, m[1])
		}
	}
	if n == 0 {
		t.Errorf("README.md:%d: no make target found", b.line)
	}
}

// benchCommands checks that each go run ./bench/cmd/NAME of a block names a
// command that defines every flag the README gives it: running them takes
// minutes (bench/results has what they measured).
func benchCommands(t *testing.T, b readmeBlock) {
	t.Helper()
	for _, l := range strings.Split(b.text, "\n") {
		f := strings.Fields(strings.SplitN(l, "#", 2)[0])
		if len(f) < 3 || f[0] != "go" || f[1] != "run" {
			continue
		}
		files, _ := filepath.Glob(filepath.Join("..", f[2], "*.go"))
		var src []byte
		for _, name := range files {
			data, _ := os.ReadFile(name)
			src = append(src, data...)
		}
		if len(src) == 0 {
			t.Errorf("README.md:%d runs %s, which has no Go files", b.line, f[2])
			continue
		}
		for _, a := range f[3:] {
			if name, ok := strings.CutPrefix(a, "-"); ok && !bytes.Contains(src, []byte(`"`+name+`"`)) {
				t.Errorf("README.md:%d gives %s the flag -%s, which it does not define", b.line, f[2], name)
			}
		}
	}
}

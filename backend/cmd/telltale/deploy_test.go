package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/telltale/telltale/backend/realip"
)

// The repository's root, from this package's folder.
const repoRoot = "../../.."

// instruction is one line of a Dockerfile, continuations joined.
type instruction struct {
	op   string // upper-case: FROM, COPY, RUN…
	args string
}

func readDockerfile(t *testing.T) []instruction {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var out []instruction
	var cur strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if more, ok := strings.CutSuffix(trimmed, "\\"); ok {
			cur.WriteString(more + " ")
			continue
		}
		cur.WriteString(trimmed)
		op, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{strings.ToUpper(op), strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

// serverEnv is every environment variable a server flag reads.
func serverEnv(t *testing.T) map[string]bool {
	t.Helper()
	var help bytes.Buffer
	if _, err := parse([]string{"-h"}, func(string) string { return "" }, &help, io.Discard); err != flag.ErrHelp {
		t.Fatal(err)
	}
	vars := map[string]bool{"DATABASE_URL": true}
	for _, line := range strings.Split(help.String(), "\n") {
		if name, ok := strings.CutPrefix(line, "  -"); ok {
			name, _, _ = strings.Cut(name, " ")
			vars[envName(name)] = true
		}
	}
	return vars
}

// TestDockerfileBuildsThisRepository: no image can be built in the tests
// (no Docker engine; docs/DEPLOY.md says how the image was built), so this
// checks what would break the Dockerfile unseen: every path it copies from
// the context exists and .dockerignore keeps it; the make targets it takes as
// built (-o) and the uPlot files it copies are the Makefile's; its ENV
// variables are real flags' variables; its ENTRYPOINT is the binary it
// installs and its HEALTHCHECK one of the binary's commands.
func TestDockerfileBuildsThisRepository(t *testing.T) {
	t.Parallel()
	ins := readDockerfile(t)
	makefile, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	ignore, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	ignored := map[string]bool{}
	for _, l := range strings.Split(string(ignore), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			ignored[strings.Trim(l, "/")] = true
		}
	}
	vars := serverEnv(t)
	var entry []string
	var runs, health string
	for _, in := range ins {
		fields := strings.Fields(in.args)
		switch in.op {
		case "COPY":
			var srcs []string
			from := false
			for _, f := range fields[:len(fields)-1] {
				if strings.HasPrefix(f, "--from=") {
					from = true
				} else if !strings.HasPrefix(f, "--") {
					srcs = append(srcs, f)
				}
			}
			if from {
				if strings.Contains(in.args, "node_modules/uplot/dist/") {
					for _, s := range srcs {
						file := filepath.Base(s)
						if !regexp.MustCompile(`cp .*\$\(UPLOT_DIST\)/` + regexp.QuoteMeta(file)).Match(makefile) {
							t.Errorf("the Dockerfile copies uPlot's %s, which the Makefile does not copy", file)
						}
					}
				}
				continue
			}
			for _, s := range srcs {
				if s == "." {
					continue
				}
				if _, err := os.Stat(filepath.Join(repoRoot, s)); err != nil {
					t.Errorf("COPY %s: %v", s, err)
				}
				if ignored[strings.Trim(s, "/")] {
					t.Errorf("COPY %s: .dockerignore leaves it out of the context", s)
				}
			}
		case "RUN":
			runs += in.args + "\n"
		case "ENV":
			for _, kv := range fields {
				k, _, _ := strings.Cut(kv, "=")
				if strings.HasPrefix(k, "TELLTALE_") && !vars[k] {
					t.Errorf("ENV %s: no server flag reads it", k)
				}
			}
			if dir := regexp.MustCompile(`TELLTALE_WEB_DIR=(\S+)`).FindStringSubmatch(in.args); dir != nil && !strings.Contains(runs, "/rootfs"+dir[1]) {
				t.Errorf("TELLTALE_WEB_DIR=%s: the build puts no web folder there", dir[1])
			}
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(in.args), &entry); err != nil || len(entry) == 0 {
				t.Fatalf("ENTRYPOINT %s: want a JSON list", in.args)
			}
		case "HEALTHCHECK":
			_, health, _ = strings.Cut(in.args, "CMD ")
		}
	}
	for _, m := range regexp.MustCompile(`make (\w+)`).FindAllStringSubmatch(runs, -1) {
		if !regexp.MustCompile(`(?m)^` + m[1] + `:`).Match(makefile) {
			t.Errorf("the Dockerfile runs make %s, which the Makefile lacks", m[1])
		}
	}
	for _, m := range regexp.MustCompile(`-o (\S+)`).FindAllStringSubmatch(runs, -1) {
		target := strings.Replace(m[1], "static/", "$(WEB)/", 1)
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(target) + `:`).Match(makefile) {
			t.Errorf("make -o %s: the Makefile has no such target (%s), so the build would not skip it", m[1], target)
		}
	}
	if strings.Contains(runs, "GIT_DESCRIBE") && !bytes.Contains(makefile, []byte("GIT_DESCRIBE ?=")) {
		t.Error("the Dockerfile gives make GIT_DESCRIBE, which the Makefile does not read")
	}
	if len(entry) == 0 || !strings.Contains(runs, "cp bin/telltale /rootfs"+filepath.Dir(entry[0])+"/") {
		t.Errorf("ENTRYPOINT %v: the build installs no binary there", entry)
	}
	var hc []string
	if err := json.Unmarshal([]byte(health), &hc); err != nil || len(hc) < 2 || len(entry) == 0 || hc[0] != entry[0] {
		t.Fatalf("HEALTHCHECK CMD %s: want [%q, command]", health, entry)
	}
	if _, err := findCommand(hc[1]); err != nil {
		t.Errorf("HEALTHCHECK: %v", err)
	}
	// The command it runs, with no flags, asks the port the image listens on.
	addr := ""
	for _, in := range ins {
		if m := regexp.MustCompile(`TELLTALE_ADDR=(\S+)`).FindStringSubmatch(in.args); in.op == "ENV" && m != nil {
			addr = m[1]
		}
	}
	_, port, _ := strings.Cut(addr, ":")
	want := "http://127.0.0.1:" + port + "/healthz"
	// A cancelled context: the request is not sent, and its error names it.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = run(ctx, hc[1:], func(k string) string { return map[string]string{"TELLTALE_ADDR": addr}[k] }, io.Discard, io.Discard)
	if port == "" || err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("HEALTHCHECK %v with TELLTALE_ADDR=%q: %v, want a request for %s", hc[1:], addr, err, want)
	}
}

// TestComposeFile: examples/deploy/compose.yaml runs this repository's
// Dockerfile twice on one PostgreSQL behind the load balancer whose config it
// mounts; the nodes' variables are real flags' variables, they trust the
// load balancer's fixed address (and only a range it is in), and the
// balancer's servers are the nodes.
func TestComposeFile(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(repoRoot, "examples", "deploy")
	b, err := os.ReadFile(filepath.Join(dir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Services map[string]struct {
			Image string `yaml:"image"`
			Build struct {
				Context string `yaml:"context"`
			} `yaml:"build"`
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
			Networks    any               `yaml:"networks"`
		} `yaml:"services"`
		Networks map[string]struct {
			IPAM struct {
				Config []struct {
					Subnet string `yaml:"subnet"`
				} `yaml:"config"`
			} `yaml:"ipam"`
		} `yaml:"networks"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"postgres", "node1", "node2", "lb"} {
		if _, ok := c.Services[s]; !ok {
			t.Fatalf("no service %s", s)
		}
	}
	lb := c.Services["lb"]
	lbAddr := regexp.MustCompile(`ipv4_address:\s*(\S+)`).FindStringSubmatch(string(b))
	if lbAddr == nil {
		t.Fatal("the load balancer has no fixed address for the nodes to trust")
	}
	addr, err := netip.ParseAddr(lbAddr[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Networks {
		for _, cfg := range n.IPAM.Config {
			if p, err := netip.ParsePrefix(cfg.Subnet); err != nil || !p.Contains(addr) {
				t.Errorf("the load balancer's %s is not in the network's %s", addr, cfg.Subnet)
			}
		}
	}
	vars := serverEnv(t)
	for _, name := range []string{"node1", "node2"} {
		n := c.Services[name]
		if _, err := os.Stat(filepath.Join(dir, n.Build.Context, "Dockerfile")); err != nil {
			t.Errorf("%s builds %s: %v", name, n.Build.Context, err)
		}
		for k := range n.Environment {
			if !vars[k] {
				t.Errorf("%s: %s is no server flag's variable", name, k)
			}
		}
		for _, k := range []string{"DATABASE_URL", "TELLTALE_JWT_SECRET", "TELLTALE_TRUSTED_PROXIES"} {
			if n.Environment[k] == "" {
				t.Errorf("%s sets no %s", name, k)
			}
		}
		p, err := realip.Parse(n.Environment["TELLTALE_TRUSTED_PROXIES"])
		if err != nil {
			t.Fatal(err)
		}
		if !p.Trusts(addr) || p.Trusts(addr.Next()) {
			t.Errorf("%s trusts %s, want the load balancer's %s only", name, p, addr)
		}
	}
	if c.Services["node1"].Image != c.Services["node2"].Image {
		t.Error("the two nodes run different images")
	}
	if len(lb.Volumes) == 0 {
		t.Fatal("the load balancer mounts no config")
	}
	src, _, _ := strings.Cut(lb.Volumes[0], ":")
	cfg, err := os.ReadFile(filepath.Join(dir, src))
	if err != nil {
		t.Fatal(err)
	}
	servers := regexp.MustCompile(`(?m)^\s*server (\S+) (\S+):8080 `).FindAllStringSubmatch(string(cfg), -1)
	if len(servers) != 2 {
		t.Fatalf("%s: %d servers on port 8080 (the image's), want the 2 nodes", src, len(servers))
	}
	for _, s := range servers {
		if _, ok := c.Services[s[2]]; !ok {
			t.Errorf("%s: server %s is no service of compose.yaml", src, s[2])
		}
	}
	// option redispatch: after a node is killed, a new connection is retried
	// on the other node instead of waiting on the dead one until the checks
	// fail (compose-check.sh: 16.7-18.3 s to resume without it, 2.0-4.3 s
	// with it).
	for _, want := range []string{"option forwardfor", "http-check expect status 200", "option redispatch"} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("%s lacks %q", src, want)
		}
	}
}

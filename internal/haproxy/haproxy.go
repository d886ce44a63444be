// Package haproxy runs HAProxy (Debian's /usr/sbin/haproxy) in front of
// Telltale nodes on loopback, for the multi-node tests and benchmarks: a
// generated configuration (HTTP mode, WebSocket upgrades tunnelled, health
// checks on /healthz, retries redispatched to another node) and its admin
// socket, read to see which nodes HAProxy has marked down.
//
// It starts a real load balancer, as deployments use, instead of a Go
// proxy that would prove nothing about one. It is for tests and benchmarks
// only: the server never imports it.
package haproxy

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/telltale/telltale/internal/child"
)

// DefaultBin is Debian's HAProxy (apt-get install haproxy).
const DefaultBin = "/usr/sbin/haproxy"

// Server is one node behind the proxy.
type Server struct {
	Name string // HAProxy's server name, as Stats reports it
	Addr string // host:port
}

// Config configures a Proxy. Zero values are the documented defaults.
type Config struct {
	Bin     string   // zero means $HAPROXY, else DefaultBin
	Servers []Server // required
	// Inter is the health check interval; Fall failed checks in a row mark
	// a server down, Rise good ones up again. Zero means 200ms, 2 and 2:
	// tests want a draining node out within half a second.
	Inter      time.Duration
	Fall, Rise int
	// Addr is where the proxy listens; zero means a free loopback port.
	Addr string
}

// Proxy is a running HAProxy.
type Proxy struct {
	Addr string // host:port it listens on
	URL  string // http://Addr

	dir  string
	sock string
	proc *child.Proc
	once sync.Once
}

// Conf is the configuration Start writes for cfg (defaults applied),
// listening on addr with its admin socket at sock. docs/DEPLOY.md shows it.
func Conf(cfg Config, addr, sock string) string {
	cfg = cfg.defaults()
	var b strings.Builder
	if err := confTemplate.Execute(&b, map[string]any{"Cfg": cfg, "Addr": addr, "Sock": sock,
		"Inter": strconv.FormatInt(cfg.Inter.Milliseconds(), 10) + "ms"}); err != nil {
		panic(err) // the template is fixed
	}
	return b.String()
}

// The configuration as docs/DEPLOY.md explains it: HTTP mode (HAProxy
// tunnels a WebSocket once upgraded, under timeout tunnel), every node
// checked with GET /healthz (200 in rotation; 503 warming, catching up or
// draining out), a connection to a node that refuses it retried on another
// (redispatch), a GET answered 503 too (a draining node refuses new
// WebSockets so, in the checks' time before it is marked down; a POST is
// never sent twice), and new connections spread by leastconn: long-lived
// WebSockets make round-robin uneven after a restart.
var confTemplate = template.Must(template.New("haproxy.cfg").Parse(`global
    maxconn 4096
    stats socket {{.Sock}} mode 600 level admin

defaults
    mode http
    option redispatch 1
    retries 3
    retry-on conn-failure empty-response response-timeout 503
    timeout connect 1s
    timeout client 75s
    timeout server 75s
    timeout http-request 10s
    timeout tunnel 75s

frontend telltale
    bind {{.Addr}}
    http-request disable-l7-retry unless METH_GET
    default_backend nodes

backend nodes
    balance leastconn
    option httpchk GET /healthz
    http-check expect status 200
    default-server inter {{.Inter}} fall {{.Cfg.Fall}} rise {{.Cfg.Rise}}
{{- range .Cfg.Servers}}
    server {{.Name}} {{.Addr}} check
{{- end}}
`))

func (cfg Config) defaults() Config {
	if cfg.Bin == "" {
		cfg.Bin = os.Getenv("HAPROXY")
	}
	if cfg.Bin == "" {
		cfg.Bin = DefaultBin
	}
	if cfg.Inter <= 0 {
		cfg.Inter = 200 * time.Millisecond
	}
	if cfg.Fall <= 0 {
		cfg.Fall = 2
	}
	if cfg.Rise <= 0 {
		cfg.Rise = 2
	}
	return cfg
}

// Start writes the configuration and runs HAProxy in the foreground until
// Close; it returns once the proxy accepts connections.
func Start(ctx context.Context, cfg Config) (*Proxy, error) {
	cfg = cfg.defaults()
	addr, dir, err := child.Setup("haproxy", cfg.Bin, "haproxy", cfg.Addr, len(cfg.Servers))
	if err != nil {
		return nil, err
	}
	p := &Proxy{Addr: addr, URL: "http://" + addr, dir: dir, sock: filepath.Join(dir, "admin.sock")}
	conf := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(conf, []byte(Conf(cfg, addr, p.sock)), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// -db: foreground, no daemon; -q: quiet unless something is wrong.
	if p.proc, err = child.Start("haproxy", exec.Command(cfg.Bin, "-db", "-q", "-f", conf)); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := p.proc.WaitAccepting(ctx, addr, func() error { _, err := p.Stats(); return err }); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// Stat is one server's line of HAProxy's statistics.
type Stat struct {
	Name   string
	Status string // "UP", "DOWN", "UP 1/2" (going down), "DOWN 1/2" (coming up), "MAINT", "no check"
	Conns  int    // current sessions (scur)
	Total  int    // sessions so far (stot)
	Check  string // last check's status and code, e.g. "L7STS/503"
}

// Down says whether HAProxy sends the server no new connections.
func (s Stat) Down() bool { return strings.HasPrefix(s.Status, "DOWN") || s.Status == "MAINT" }

// Stats reads the servers' statistics from the admin socket (show stat).
func (p *Proxy) Stats() (map[string]Stat, error) {
	out, err := p.Command("show stat")
	if err != nil {
		return nil, err
	}
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(out, "# ")))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil || len(rows) < 1 {
		return nil, fmt.Errorf("haproxy: show stat: %v: %q", err, out)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	field := func(row []string, name string) string {
		if i, ok := col[name]; ok && i < len(row) {
			return row[i]
		}
		return ""
	}
	stats := map[string]Stat{}
	for _, row := range rows[1:] {
		if field(row, "pxname") != "nodes" {
			continue
		}
		name := field(row, "svname")
		if name == "BACKEND" || name == "FRONTEND" {
			continue
		}
		scur, _ := strconv.Atoi(field(row, "scur"))
		stot, _ := strconv.Atoi(field(row, "stot"))
		check := field(row, "check_status")
		if c := field(row, "check_code"); c != "" {
			check += "/" + c
		}
		stats[name] = Stat{Name: name, Status: field(row, "status"), Conns: scur, Total: stot, Check: check}
	}
	return stats, nil
}

// Command runs one admin socket command and returns its answer.
func (p *Proxy) Command(cmd string) (string, error) {
	c, err := net.DialTimeout("unix", p.sock, time.Second)
	if err != nil {
		return "", fmt.Errorf("haproxy admin socket: %w", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, cmd+"\n"); err != nil {
		return "", err
	}
	b, err := io.ReadAll(bufio.NewReader(c))
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// Stderr is what HAProxy has written so far (alerts, warnings).
func (p *Proxy) Stderr() string { return p.proc.Output() }

// Close stops HAProxy (SIGINT, then SIGKILL after 5 s) and removes its
// files. Later calls do nothing.
func (p *Proxy) Close() error {
	p.once.Do(func() {
		p.proc.Close()
		os.RemoveAll(p.dir)
	})
	return nil
}

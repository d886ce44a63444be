// Package nginx runs nginx (Debian's /usr/sbin/nginx, apt-get install
// nginx-light) in front of Telltale nodes on loopback, for the multi-node
// tests: a generated configuration (an upstream of the nodes, WebSocket
// upgrade headers, timeouts longer than an idle socket's pings, and
// proxy_next_upstream so that a refused connect or a draining node's 503 is
// retried on another node) and its access log, read to see which node
// answered each request and what.
//
// Open-source nginx has no active health checks: it never asks /healthz.
// A draining Telltale node therefore refuses new WebSocket upgrades with
// 503 (wsgate.Gateway.Drain), which nginx retries on another node: that is
// the drain nginx can see. Its passive health (max_fails) is off by
// default here, because it starves WebSocket nodes: a node marked failed
// gets one new request per fail_timeout, and is marked live again only when
// such a request ends, which for a WebSocket is when it closes; meanwhile
// each probe renews the mark. With max_fails=1 the rolling restart of
// TestClusterBehindNginx left all three nodes marked failed at once and
// nginx answered 186 requests "no live upstreams" (502).
//
// It is for tests only: the server never imports it.
package nginx

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
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

// DefaultBin is Debian's nginx (apt-get install nginx-light).
const DefaultBin = "/usr/sbin/nginx"

// Config configures a Proxy. Zero values are the documented defaults.
type Config struct {
	Bin     string   // zero means $NGINX, else DefaultBin
	Servers []string // the nodes' host:port; required
	// MaxFails failed requests within FailTimeout take a node out for
	// FailTimeout (whole seconds, rounded up: nginx takes no less). Zero
	// MaxFails means 0, no accounting (see the package doc): every request
	// goes to the node least_conn picks and is retried on another when
	// refused. Zero FailTimeout means 1s.
	FailTimeout time.Duration
	MaxFails    int
	// Addr is where the proxy listens; zero means a free loopback port.
	Addr string
}

// Proxy is a running nginx.
type Proxy struct {
	Addr string // host:port it listens on
	URL  string // http://Addr

	dir  string
	log  string // the access log's path
	proc *child.Proc
	once sync.Once
}

// Conf is the configuration Start writes for cfg (defaults applied),
// listening on addr, with its pid file, temporary files and access log in
// dir. docs/DEPLOY.md shows its upstream and proxy settings.
func Conf(cfg Config, addr, dir string) string {
	cfg = cfg.defaults()
	var b strings.Builder
	if err := confTemplate.Execute(&b, map[string]any{"Cfg": cfg, "Addr": addr, "Dir": dir,
		// fail_timeout is in whole seconds (nginx refuses "ms" there).
		"FailTimeout": strconv.FormatInt(int64((cfg.FailTimeout+time.Second-1)/time.Second), 10) + "s"}); err != nil {
		panic(err) // the template is fixed
	}
	return b.String()
}

// The configuration as docs/DEPLOY.md explains it. least_conn: long-lived
// WebSockets make round-robin uneven after a restart. proxy_next_upstream:
// a refused connect (error), a timeout, a 502 and a 503 are retried on the
// next node, at most 3 tries within 5 s (with max_fails set, listing
// http_503 also makes a 503 count toward it). A POST (ingest) is
// retried only when it never reached a node (nginx's default for
// non-idempotent requests). The access log's line for each request names
// every node tried and what each answered ($upstream_addr,
// $upstream_status: "127.0.0.1:1 127.0.0.1:2" and "503 101").
var confTemplate = template.Must(template.New("nginx.conf").Parse(`daemon off;
worker_processes 1;
pid {{.Dir}}/nginx.pid;
error_log stderr warn;

events {
    worker_connections 4096;
}

http {
    log_format upstreams '$msec $request_time $request_method $uri $status "$upstream_addr" "$upstream_status"';
    access_log {{.Dir}}/access.log upstreams;
    client_body_temp_path {{.Dir}}/body;
    proxy_temp_path {{.Dir}}/proxy;
    fastcgi_temp_path {{.Dir}}/fastcgi;
    uwsgi_temp_path {{.Dir}}/uwsgi;
    scgi_temp_path {{.Dir}}/scgi;

    map $http_upgrade $connection_upgrade {
        default upgrade;
        ''      '';
    }

    upstream telltale {
        least_conn;
{{- range .Cfg.Servers}}
        server {{.}} max_fails={{$.Cfg.MaxFails}} fail_timeout={{$.FailTimeout}};
{{- end}}
        keepalive 16;
    }

    server {
        listen {{.Addr}};
        client_max_body_size 5m;

        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_connect_timeout 1s;
        proxy_read_timeout 75s;
        proxy_send_timeout 75s;
        proxy_buffering off;
        proxy_next_upstream error timeout http_502 http_503;
        proxy_next_upstream_tries 3;
        proxy_next_upstream_timeout 5s;

        location / {
            proxy_pass http://telltale;
        }
    }
}
`))

func (cfg Config) defaults() Config {
	if cfg.Bin == "" {
		cfg.Bin = os.Getenv("NGINX")
	}
	if cfg.Bin == "" {
		cfg.Bin = DefaultBin
	}
	if cfg.FailTimeout <= 0 {
		cfg.FailTimeout = time.Second
	}
	return cfg
}

// Start writes the configuration and runs nginx in the foreground (daemon
// off) until Close; it returns once the proxy accepts connections.
func Start(ctx context.Context, cfg Config) (*Proxy, error) {
	cfg = cfg.defaults()
	addr, dir, err := child.Setup("nginx", cfg.Bin, "nginx-light", cfg.Addr, len(cfg.Servers))
	if err != nil {
		return nil, err
	}
	// nginx started by root runs its worker as nobody, which must reach
	// the temporary folders nginx makes (and chowns) in here.
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	p := &Proxy{Addr: addr, URL: "http://" + addr, dir: dir, log: filepath.Join(dir, "access.log")}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(Conf(cfg, addr, dir)), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// -p: its prefix (no /var/log/nginx needed at start); -e: the error
	// log before the configuration is read.
	if p.proc, err = child.Start("nginx", exec.Command(cfg.Bin, "-p", dir, "-e", "stderr", "-c", conf)); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := p.proc.WaitAccepting(ctx, addr, nil); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// Entry is one line of the access log: a request that ended (a WebSocket
// when it closed), the status nginx answered, and every node tried in
// order with what each answered ("502" for a refused connect, as nginx
// logs it).
type Entry struct {
	Start, At   time.Time // when it came and when it ended ($msec less $request_time, $msec)
	Method, URI string
	Status      int
	Upstreams   []string // host:port of each node tried
	Statuses    []string // each node's status, as $upstream_status logs it
}

// Retried says whether nginx tried more than one node for the request.
func (e Entry) Retried() bool { return len(e.Upstreams) > 1 }

// Log reads the access log so far. nginx writes a line when a request
// ends: a WebSocket still open has none yet.
func (p *Proxy) Log() ([]Entry, error) {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return nil, err
	}
	var out []Entry
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		e, err := parseEntry(sc.Text())
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// parseEntry reads a line of the "upstreams" log_format:
// 1765080000.123 0.100 GET /api/v1/ws 101 "127.0.0.1:1, 127.0.0.1:2" "503, 101".
// nginx separates nodes tried within one upstream with ", " (and groups
// of upstreams with " : ", which one upstream never logs).
func parseEntry(line string) (Entry, error) {
	var e Entry
	f := strings.SplitN(line, " ", 6)
	if len(f) != 6 {
		return e, fmt.Errorf("nginx access log: %q", line)
	}
	at, err1 := millis(f[0])
	took, err2 := millis(f[1])
	if err1 != nil || err2 != nil {
		return e, fmt.Errorf("nginx access log: times in %q", line)
	}
	e.At, e.Start = time.UnixMilli(at), time.UnixMilli(at-took)
	f = f[2:]
	e.Method, e.URI = f[0], f[1]
	status, err := strconv.Atoi(f[2])
	if err != nil {
		return e, fmt.Errorf("nginx access log: status in %q", line)
	}
	e.Status = status
	addrs, statuses, ok := strings.Cut(f[3], `" "`)
	if !ok {
		return e, fmt.Errorf("nginx access log: upstreams in %q", line)
	}
	split := func(s string) []string {
		s = strings.Trim(s, `"`)
		if s == "" || s == "-" {
			return nil
		}
		return strings.Split(s, ", ")
	}
	e.Upstreams, e.Statuses = split(addrs), split(statuses)
	return e, nil
}

// millis reads nginx's seconds with 3 decimals ("1765080000.123") as
// milliseconds.
func millis(s string) (int64, error) {
	sec, ms, ok := strings.Cut(s, ".")
	if !ok || len(ms) != 3 {
		return 0, fmt.Errorf("not seconds.milliseconds: %q", s)
	}
	a, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return 0, err
	}
	b, err := strconv.ParseInt(ms, 10, 64)
	return a*1000 + b, err
}

// Stderr is what nginx has written to its error log so far.
func (p *Proxy) Stderr() string { return p.proc.Output() }

// Close stops nginx (SIGINT: its fast shutdown, which does not wait for
// open WebSockets as SIGQUIT would; SIGKILL after 5 s) and removes its
// files. Later calls do nothing.
func (p *Proxy) Close() error {
	p.once.Do(func() {
		p.proc.Close()
		os.RemoveAll(p.dir)
	})
	return nil
}

// Command shots takes the screenshots of docs/DASHBOARDS.md: it runs the
// real binary with its demo feed (the demo's and the examples' dashboards),
// opens each dashboard in Chromium and writes one PNG per panel kind into
// docs/img, failing if one is over 80 KB.
//
//	make build
//	go run ./bench/cmd/shots -bin bin/telltale -web static -chromium /usr/bin/chromium -out docs/img
//
// It must never be part of the server: it only drives it from outside.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/launcher"
	"github.com/go-rod/rod/lib/proto"

	"github.com/telltale/telltale/backend/auth"
)

// maxBytes keeps the docs light: every image is at most this big.
const maxBytes = 80 << 10

// shot is one panel to capture: its dashboard, its id, the file, and what
// its element must hold before it is worth a picture.
type shot struct {
	dashboard, panel, file string
	ready                  string // a CSS selector inside the panel
}

var shots = []shot{
	{"warehouse", "queue-now", "kpi.png", ".tt-kpi-value"},
	{"trading-desk", "pnl", "stat.png", `.tt-spark polyline[points*=" "]`}, // the page samples it: a few seconds in front,
	{"trading-desk", "latency-p99", "timeseries.png", "canvas"},
	{"delivery-fleet", "etas", "table.png", "tbody tr"},
	{"delivery-fleet", "vehicles", "status.png", ".tt-tile"},
	{"warehouse-floor", "by-status", "bar.png", ".tt-bar-row"},
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "shots:", err)
		os.Exit(1)
	}
}

func run() error {
	bin := flag.String("bin", "bin/telltale", "the telltale binary")
	web := flag.String("web", "static", "the web folder (make build)")
	chromium := flag.String("chromium", "/usr/bin/chromium", "Chromium's binary")
	out := flag.String("out", "docs/img", "where the PNGs go")
	warm := flag.Duration("warm", 40*time.Second, "how long the feed runs before the pictures, so charts and sparklines have history")
	flag.Parse()

	const secret = "shots-secret-shots-secret-shots-secret"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, *bin, "-addr", "127.0.0.1:0", "-web", *web, "-log-level", "warn", "-drain-delay", "0")
	cmd.Env = append(os.Environ(), "TELLTALE_JWT_SECRET="+secret, "DATABASE_URL=")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", *bin, err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	base, err := serving(stdout)
	if err != nil {
		return err
	}
	keys, err := auth.HS256([]byte(secret))
	if err != nil {
		return err
	}
	tok, err := keys.Mint("demo", "shots", time.Hour, nil, "viewer")
	if err != nil {
		return err
	}

	dir, err := os.MkdirTemp("", "shots-chromium-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	l := launcher.New().Bin(*chromium).Headless(true).UserDataDir(dir).Set("no-sandbox")
	defer l.Cleanup()
	u, err := l.Launch()
	if err != nil {
		return fmt.Errorf("launch %s: %w", *chromium, err)
	}
	browser := rod.New().ControlURL(u).Context(ctx)
	if err := browser.Connect(); err != nil {
		return err
	}
	defer browser.Close()

	fmt.Printf("shots: feeding for %s first\n", *warm)
	pages := map[string]*rod.Page{}
	for _, s := range shots {
		if pages[s.dashboard] != nil {
			continue
		}
		p, err := browser.Page(proto.TargetCreateTarget{})
		if err != nil {
			return err
		}
		if err := p.SetViewport(&proto.EmulationSetDeviceMetricsOverride{Width: 1280, Height: 1000, DeviceScaleFactor: 1}); err != nil {
			return err
		}
		if err := p.Navigate(base + "/d/" + s.dashboard + "#token=" + tok); err != nil {
			return err
		}
		pages[s.dashboard] = p
	}
	// The pictures want history, which is time, not a condition: the feed
	// runs for -warm, each page in front in turn, since a background tab
	// runs no frames (a stat samples its sparkline in frames).
	for _, p := range pages {
		if _, err := p.Activate(); err != nil {
			return err
		}
		time.Sleep(*warm / time.Duration(len(pages)))
	}

	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	for _, s := range shots {
		p := pages[s.dashboard]
		// A page in a background tab draws nothing and cannot be captured.
		if _, err := p.Activate(); err != nil {
			return err
		}
		fmt.Printf("shots: %s/%s\n", s.dashboard, s.panel)
		el, err := p.Timeout(20 * time.Second).Element(fmt.Sprintf("[data-panel=%q]", s.panel))
		if err != nil {
			return fmt.Errorf("%s: panel %s: %w", s.dashboard, s.panel, err)
		}
		if _, err := el.Timeout(60 * time.Second).Element(s.ready); err != nil {
			return fmt.Errorf("%s: panel %s has no %s: %w", s.dashboard, s.panel, s.ready, err)
		}
		if err := el.ScrollIntoView(); err != nil {
			return err
		}
		png, err := el.Screenshot(proto.PageCaptureScreenshotFormatPng, 0)
		if err != nil {
			return fmt.Errorf("%s: panel %s: %w", s.dashboard, s.panel, err)
		}
		if len(png) > maxBytes {
			return fmt.Errorf("%s: panel %s: %d bytes, over %d", s.dashboard, s.panel, len(png), maxBytes)
		}
		path := filepath.Join(*out, s.file)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			return err
		}
		fmt.Printf("shots: %s (%s/%s): %d KB\n", path, s.dashboard, s.panel, len(png)>>10)
	}
	return nil
}

var servingLine = regexp.MustCompile(`serving (http://\S+?)/? `)

// serving reads the binary's stdout until it says where it serves.
func serving(stdout interface{ Read([]byte) (int, error) }) (string, error) {
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
			go func() { // keep draining, so the binary never blocks on a full pipe
				for sc.Scan() {
				}
			}()
			return strings.TrimSuffix(m[1], "/"), nil
		}
	}
	return "", errors.New("the binary exited before saying where it serves")
}

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/launcher"
	"github.com/go-rod/rod/lib/proto"

	"github.com/telltale/telltale/bench/proc"
	"github.com/telltale/telltale/shared/sla"
)

// In -browser mode tenant B's stream is drawn by a real page: the built app
// (-web-dir) in headless Chromium, showing dashboard browserDashboard, a
// chart of B's x. The page's own meter stamps each event it paints and
// reports every sla.ReportEvery; the server keeps the reports as minute
// rollups (by each report's end), and GET /api/v1/sla answers a minute's
// event→paint quantiles and stages. So in this mode each phase is one
// whole clock minute: a quiet phase starts at a minute boundary at least a
// report's length after the last phase; an A phase starts A at least a
// report's length before the boundary, so that every report of the
// measured minute is of events beside A.

// browserDashboard is served to every tenant from a -dashboards file.
const browserDashboard = "neighbours-b"

func writeDashboards(dir string) (string, error) {
	spec := fmt.Sprintf(`[{"id": %q, "title": "Tenant B", "panels": [
		{"id": "x", "kind": "timeseries", "title": "B's x", "stream": "b", "series": ["x"], "width": 12, "window_seconds": 60}
	]}]`, browserDashboard)
	path := filepath.Join(dir, "dashboards.json")
	return path, os.WriteFile(path, []byte(spec), 0o644)
}

type page struct {
	l *launcher.Launcher
	b *rod.Browser
	p *rod.Page
}

// openPage starts chromium (flags as the e2e tests' newBrowser) on B's
// dashboard and waits until its connection is live.
func openPage(chromium, base, token string) (*page, error) {
	dir, err := os.MkdirTemp("", "neighbours-chromium")
	if err != nil {
		return nil, err
	}
	l := launcher.New().
		Bin(chromium).
		Headless(true).
		NoSandbox(true).
		Leakless(false).
		UserDataDir(dir).
		Set("disable-background-networking").
		Set("disable-component-update").
		Set("disable-sync").
		Set("no-first-run").
		Set("disable-quic").
		Set("disable-gpu")
	u, err := l.Launch()
	if err != nil {
		return nil, fmt.Errorf("launch %s: %w", chromium, err)
	}
	pg := &page{l: l, b: rod.New().ControlURL(u)}
	if err := pg.b.Connect(); err != nil {
		l.Kill()
		return nil, fmt.Errorf("connect to chromium: %w", err)
	}
	if pg.p, err = pg.b.Page(proto.TargetCreateTarget{}); err != nil {
		pg.close()
		return nil, err
	}
	if err := pg.p.SetViewport(&proto.EmulationSetDeviceMetricsOverride{Width: 1280, Height: 800, DeviceScaleFactor: 1}); err != nil {
		pg.close()
		return nil, err
	}
	if err := pg.p.Navigate(base + "/d/" + browserDashboard + "#token=" + token); err != nil {
		pg.close()
		return nil, err
	}
	if err := waitUntil(60*time.Second, func() bool {
		res, err := pg.p.Eval(`() => window.telltaleStats ? JSON.parse(window.telltaleStats()).status : ""`)
		return err == nil && res.Value.Str() == "live"
	}); err != nil {
		pg.close()
		return nil, fmt.Errorf("B's page never went live: %w", err)
	}
	return pg, nil
}

func (pg *page) close() {
	_ = pg.b.Close()
	pg.l.Kill()
}

// pageSLA is what B's page measured over one minute, from the server's
// rollups of its reports.
type pageSLA struct {
	Painted uint64  `json:"painted"`
	P50ms   float64 `json:"p50_ms"`
	P99ms   float64 `json:"p99_ms"`
	// Stages is each stage's p99, in path order: where the time went.
	Stages string `json:"stages_p99"`
}

// querySLA asks the server for B's page's figures over [from, to).
func querySLA(base, token string, from, to time.Time) (pageSLA, error) {
	var out pageSLA
	q := url.Values{"dashboard": {browserDashboard}, "from": {from.UTC().Format(time.RFC3339)}, "to": {to.UTC().Format(time.RFC3339)}}
	req, err := http.NewRequest(http.MethodGet, base+"/api/v1/sla?"+q.Encode(), nil)
	if err != nil {
		return out, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return out, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	if res.StatusCode != http.StatusOK {
		return out, fmt.Errorf("GET /api/v1/sla: %s: %s", res.Status, b)
	}
	var a sla.Answer
	if err := json.Unmarshal(b, &a); err != nil {
		return out, err
	}
	for _, p := range a.Panels {
		if p.Panel != "x" {
			continue
		}
		out.Painted, out.P50ms, out.P99ms = p.Painted, p.P50Ms, p.P99Ms
		var parts []string
		for _, st := range sla.Stages {
			for _, s := range p.Stages {
				if s.Stage == st && st != sla.StageTotal {
					parts = append(parts, fmt.Sprintf("%s %.1f", st, s.P99Ms))
				}
			}
		}
		out.Stages = strings.Join(parts, ", ")
	}
	if out.Painted == 0 {
		return out, fmt.Errorf("B's page reported no painted event for %s–%s: %s", from.Format(time.TimeOnly), to.Format(time.TimeOnly), b)
	}
	return out, nil
}

// nextMinute is the first minute boundary at or after t.
func nextMinute(t time.Time) time.Time {
	m := t.Truncate(time.Minute)
	if m.Before(t) {
		m = m.Add(time.Minute)
	}
	return m
}

// cpuTicks is the CPU time, in clock ticks, of the page's Chromium: the
// browser process and every live descendant (renderer, GPU, utility).
func (pg *page) cpuTicks() int64 { return treeTicks(pg.l.PID()) }

// treeTicks is the CPU time, in clock ticks, of root and its live
// descendants.
func treeTicks(root int) int64 {
	dirs, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		// After the command name (in parentheses): state, then ppid.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		parent[pid], _ = strconv.Atoi(f[1])
	}
	var sum int64
	for pid := range parent {
		for p, n := pid, 0; p > 1 && n < 64; p, n = parent[p], n+1 {
			if p == root {
				sum += proc.CPUTicks(pid)
				break
			}
		}
	}
	return sum
}

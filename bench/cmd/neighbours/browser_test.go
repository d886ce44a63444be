package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/telltale/telltale/bench/proc"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/sla"
)

func TestNextMinute(t *testing.T) {
	m := time.Date(2026, 12, 7, 10, 4, 0, 0, time.UTC)
	for _, c := range []struct {
		at, want time.Time
	}{
		{m, m},
		{m.Add(time.Nanosecond), m.Add(time.Minute)},
		{m.Add(59 * time.Second), m.Add(time.Minute)},
	} {
		if got := nextMinute(c.at); !got.Equal(c.want) {
			t.Errorf("nextMinute(%v) = %v, want %v", c.at, got, c.want)
		}
	}
}

// TestQuerySLA: the minute asked for goes as from/to with B's dashboard
// and token; the chart's total and its stages in path order come back, and
// a minute with nothing painted is an error, not a zero.
func TestQuerySLA(t *testing.T) {
	from := time.Date(2026, 12, 7, 10, 4, 0, 0, time.UTC)
	painted := uint64(2950)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path != "/api/v1/sla" || q.Get("dashboard") != browserDashboard || q.Get("from") != "2026-12-07T10:04:00Z" ||
			q.Get("to") != "2026-12-07T10:05:00Z" || r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "bad request "+r.URL.String(), http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(sla.Answer{Panels: []sla.PanelSLA{{Panel: "x", Painted: painted, P50Ms: 40, P99Ms: 90,
			Stages: []sla.StageSLA{{Stage: sla.StagePaint, P99Ms: 60}, {Stage: sla.StageTotal, P99Ms: 90}, {Stage: sla.StageHub, P99Ms: 2.5}}}}})
	}))
	defer srv.Close()
	got, err := querySLA(srv.URL, "tok", from, from.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	want := pageSLA{Painted: 2950, P50ms: 40, P99ms: 90, Stages: "hub 2.5, paint 60.0"}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	painted = 0
	if _, err := querySLA(srv.URL, "tok", from, from.Add(time.Minute)); err == nil {
		t.Errorf("a minute with nothing painted: want an error")
	}
}

// TestTreeTicks: a busy child's CPU counts for its parent's tree.
func TestTreeTicks(t *testing.T) {
	cmd := exec.Command("sh", "-c", "while :; do :; done")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	poll.Until(t, 30*time.Second, func() error {
		if child := proc.CPUTicks(cmd.Process.Pid); child < 5 {
			return fmt.Errorf("the child has %d ticks", child)
		}
		return nil
	})
	// Ticks only grow: both read before the tree are at most what it has.
	self, child := proc.CPUTicks(os.Getpid()), proc.CPUTicks(cmd.Process.Pid)
	if tree := treeTicks(os.Getpid()); tree < self+child {
		t.Errorf("tree %d ticks, want at least this process's %d and its child's %d", tree, self, child)
	}
}

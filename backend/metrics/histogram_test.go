package metrics

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

// TestHistogramExport: a histogram is written in the text format with
// cumulative le buckets under one HELP and TYPE; a negative span counts as
// zero and a span with a missing stamp is not counted.
func TestHistogramExport(t *testing.T) {
	r := New()
	h := r.Histogram(LabeledN("telltale_x_seconds", "stage", "a", "tenant", "acme"), "x latency")
	h.Observe(3 * time.Millisecond)
	h.Observe(2 * time.Second)
	h.ObserveSpan(10, 5) // clocks apart: zero
	h.ObserveSpan(0, 5)  // no stamp: not counted
	var nilH *Histogram
	nilH.Observe(time.Second)
	body := scrape(t, r)
	for _, want := range []string{
		"# HELP telltale_x_seconds x latency\n# TYPE telltale_x_seconds histogram\n",
		`telltale_x_seconds_bucket{stage="a",tenant="acme",le="0.0005"} 1` + "\n",
		`telltale_x_seconds_bucket{stage="a",tenant="acme",le="0.005"} 2` + "\n",
		`telltale_x_seconds_bucket{stage="a",tenant="acme",le="2.5"} 3` + "\n",
		`telltale_x_seconds_bucket{stage="a",tenant="acme",le="+Inf"} 3` + "\n",
		`telltale_x_seconds_count{stage="a",tenant="acme"} 3` + "\n",
	} {
		if !strings.Contains(body, want) {
			t.Fatalf("got\n%s\nwant it to contain %q", body, want)
		}
	}
	r.DropHistogram(LabeledN("telltale_x_seconds", "stage", "a", "tenant", "acme"))
	if body := scrape(t, r); strings.Contains(body, "acme") {
		t.Fatalf("got\n%s\nwant the dropped histogram gone", body)
	}
}

// TestHandlerHasProcessMetrics: the handler main serves adds the Go runtime
// and process metrics an SRE's dashboards expect.
func TestHandlerHasProcessMetrics(t *testing.T) {
	r := New()
	r.Counter("telltale_frames_total", "frames").Inc()
	body := scrape(t, Handler(r))
	for _, want := range []string{"telltale_frames_total 1\n", "\ngo_goroutines ", "\ngo_memstats_heap_inuse_bytes ", "\nprocess_cpu_seconds_total ", "\nprocess_resident_memory_bytes ", "\nprocess_open_fds "} {
		if !strings.Contains(body, want) {
			t.Fatalf("got\n%s\nwant it to contain %q", body, want)
		}
	}
}

// TestLookupRefusesUnknownNames: a misspelt name looked up fails instead of
// creating a value that reads zero (issue 19).
func TestLookupRefusesUnknownNames(t *testing.T) {
	r := New()
	r.Counter("telltale_frames_total", "frames").Add(2)
	if got := r.Lookup("telltale_frames_total").Load(); got != 2 {
		t.Fatalf("got %d, want 2", got)
	}
	defer func() {
		if p := recover(); p == nil || !strings.Contains(fmt.Sprint(p), "telltale_frame_total") {
			t.Fatalf("got panic %v, want one naming the unknown metric", p)
		}
	}()
	r.Lookup("telltale_frame_total")
}

// TestTopTenantsBounded: with 50 tenants, the N busiest carry their name and
// the rest "other"; after a ranking in which others are busier, the ones
// that left are dropped, and at no time are more than N+1 labels in use.
func TestTopTenantsBounded(t *testing.T) {
	now := time.Unix(0, 0)
	var dropped []string
	top := &TopTenants{N: 3, Now: func() time.Time { return now }, OnDrop: func(tenant string) { dropped = append(dropped, tenant) }}
	labels := map[string]bool{}
	send := func(tenant string, times int) {
		for range times {
			labels[top.Label(tenant, 1)] = true
		}
	}
	for i := range 50 {
		send(fmt.Sprintf("t%02d", i), 2)
	}
	if len(labels) != 4 || !labels["t00"] || !labels["t02"] || !labels[OtherTenant] {
		t.Fatalf("got labels %v, want t00..t02 (the first, while there was room) and other", labels)
	}
	send("t40", 100)
	send("t41", 90)
	send("t42", 80)
	now = now.Add(11 * time.Second)
	send("t43", 64) // one of these calls reads the clock and ranks
	clear(labels)
	send("t40", 1)
	send("t41", 1)
	send("t42", 1)
	send("t00", 1)
	if want := "map[other:true t40:true t41:true t42:true]"; fmt.Sprint(labels) != want {
		t.Fatalf("after ranking got labels %v, want %s", labels, want)
	}
	slices.Sort(dropped)
	if fmt.Sprint(dropped) != "[t00 t01 t02]" {
		t.Fatalf("dropped %v, want t00, t01 and t02", dropped)
	}
}

// TestStagesDropTenantSeries: a tenant that leaves the top N loses its
// series; the stage family is exported from the start.
func TestStagesDropTenantSeries(t *testing.T) {
	r := New()
	s := NewStages(r, 1)
	if body := scrape(t, r); !strings.Contains(body, `telltale_stage_seconds_count{stage="hub_sent",tenant="other"} 0`) {
		t.Fatalf("got\n%s\nwant the stage family with tenant other", body)
	}
	s.For("acme", 1).HubSent.Observe(time.Millisecond)
	s.For("globex", 1).HubSent.Observe(time.Millisecond)
	body := scrape(t, r)
	for _, want := range []string{`telltale_stage_seconds_count{stage="hub_sent",tenant="acme"} 1`, `telltale_stage_seconds_count{stage="hub_sent",tenant="other"} 1`} {
		if !strings.Contains(body, want) {
			t.Fatalf("got\n%s\nwant it to contain %q", body, want)
		}
	}
	s.drop("acme")
	if body := scrape(t, r); strings.Contains(body, "acme") {
		t.Fatalf("got\n%s\nwant acme's series gone", body)
	}
	var nilStages *Stages
	nilStages.For("acme", 1).CommitHub.Observe(time.Second) // records nothing, does not panic
}

package metrics

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestServeHTTP(t *testing.T) {
	r := New()
	r.Counter("telltale_frames_total", "frames").Add(3)
	r.Counter("telltale_frames_total", "frames").Inc()
	r.Gauge("telltale_connections", "open").Add(2)
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{"telltale_frames_total 4\n", "# TYPE telltale_connections gauge\ntelltale_connections 2\n"} {
		if !strings.Contains(body, want) {
			t.Fatalf("got %q, want it to contain %q", body, want)
		}
	}
}

// TestLabeledFamily: the values of a family follow one HELP and TYPE, as
// the text format wants.
func TestLabeledFamily(t *testing.T) {
	r := New()
	r.Gauge(Labeled("telltale_http_connections", "state", "idle"), "open").Add(2)
	r.Gauge(Labeled("telltale_http_connections", "state", "active"), "open").Inc()
	r.Counter("telltale_http_connections_total", "accepted").Add(5)
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	want := "# HELP telltale_http_connections_total accepted\n# TYPE telltale_http_connections_total counter\ntelltale_http_connections_total 5\n" +
		"# HELP telltale_http_connections open\n# TYPE telltale_http_connections gauge\n" +
		"telltale_http_connections{state=\"active\"} 1\ntelltale_http_connections{state=\"idle\"} 2\n"
	if got := rec.Body.String(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

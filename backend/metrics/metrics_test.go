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

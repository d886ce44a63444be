package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/telltale/telltale/app/ui"
	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/backend/wsgate"
)

// TestMetricsNeedItsToken: /metrics is not public on the main port (issue
// 18): without a metrics token it is not served (404, not the app shell),
// with one it answers only that bearer token, and then holds the registry
// and the Go runtime and process metrics.
func TestMetricsNeedItsToken(t *testing.T) {
	t.Parallel()
	registerOnce.Do(func() { ui.Register(ui.Bridges{}) })
	reg := metrics.New()
	reg.Counter("telltale_test_total", "a test counter").Inc()
	for _, tc := range []struct {
		name, token, header string
		want                int
	}{
		{"no metrics token: not served", "", "", http.StatusNotFound},
		{"no metrics token, a bearer anyway", "", "Bearer x", http.StatusNotFound},
		{"token, none sent", "s3cret-metrics", "", http.StatusUnauthorized},
		{"token, a wrong one", "s3cret-metrics", "Bearer s3cret-metric", http.StatusUnauthorized},
		{"token, not as a bearer", "s3cret-metrics", "s3cret-metrics", http.StatusUnauthorized},
		{"token, the right one", "s3cret-metrics", "Bearer s3cret-metrics", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(Config{WebDir: webDir(t), Version: "v1", Store: "memory", Metrics: reg, MetricsToken: tc.token,
				Gateway: wsgate.New(wsgate.Config{Hub: hub.New(hub.Config{})})})
			if err != nil {
				t.Fatal(err)
			}
			var header []string
			if tc.header != "" {
				header = []string{"Authorization", tc.header}
			}
			res, body := get(t, s.Handler(), "/metrics", header...)
			if res.StatusCode != tc.want {
				t.Fatalf("got %d, want %d: %.200s", res.StatusCode, tc.want, body)
			}
			has := strings.Contains(body, "telltale_test_total 1\n") && strings.Contains(body, "\nprocess_cpu_seconds_total ")
			if has != (tc.want == http.StatusOK) {
				t.Fatalf("status %d with the metrics in the body: %v, want %v", res.StatusCode, has, !has)
			}
		})
	}
}

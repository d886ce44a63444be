//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/backend/demo"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/dashboard"
)

// adminToken is an e2e token of role admin, which may write its tenant's
// dashboards.
func adminToken(t *testing.T, tenant string) string {
	t.Helper()
	keys, err := auth.HS256([]byte(e2eSecret))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := keys.Mint(tenant, "e2e-admin", time.Hour, nil, "admin")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestStoredDashboardOpensByURL: a dashboard an admin of tenant demo PUTs
// through the API opens at /d/{id} for demo, first in the picker before the
// built-ins, while a page of tenant demo2 at the same URL says there is no
// such dashboard.
func TestStoredDashboardOpensByURL(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	d := demo.Dashboard()
	mine := dashboard.Dashboard{ID: "mine", Title: "Demo's own board", Panels: d.Panels[:2]}
	body, err := json.Marshal(mine)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/api/v1/dashboards/mine", strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Bearer "+adminToken(t, "demo"))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: got %d %s, want 201", res.StatusCode, b)
	}
	browser := newBrowser(t)
	p := browser.MustPage("")
	if err := p.Navigate(srv.URL + "/d/mine#token=" + token(t, "demo")); err != nil {
		t.Fatal(err)
	}
	waitLive(t, p)
	poll.Until(t, 30*time.Second, func() error {
		v := viewOf(t, p)
		if v.Title != mine.Title || strings.Join(v.Panels, ",") != mine.Panels[0].ID+","+mine.Panels[1].ID {
			return fmt.Errorf("title %q, panels %v: want the stored board's", v.Title, v.Panels)
		}
		// The stored board, then the built-ins: the demo's and the examples'.
		if len(v.Links) != 1+len(demo.Dashboards()) || v.Links[0] != "/d/mine "+mine.Title || v.Current != "/d/mine" {
			return fmt.Errorf("picker links %q (current %q), want the stored board first and current, then the %d built-ins", v.Links, v.Current, len(demo.Dashboards()))
		}
		return nil
	})
	other := browser.MustIncognito().MustPage("")
	if err := other.Navigate(srv.URL + "/d/mine#token=" + token(t, "demo2")); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 30*time.Second, func() error {
		v := viewOf(t, other)
		if !strings.Contains(v.Missing, "no dashboard mine") || strings.Contains(v.Body, mine.Title) {
			return fmt.Errorf("demo2's page says %q: want no dashboard mine, and nothing of demo's", v.Missing)
		}
		return nil
	})
}

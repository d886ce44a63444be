package httpapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/telltale/telltale/shared/wire"
)

// TestLargeAnswersAreGzipped: a snapshot over the threshold is gzipped for
// a client that accepts gzip and inflates to the same frame; a client that
// does not, or refuses it with q=0, and a small answer get it as it is.
func TestLargeAnswersAreGzipped(t *testing.T) {
	t.Parallel()
	f := start(t)
	pts := &wire.Points{TS: make([]int64, 2000), Cols: []wire.Column{{Name: "depth", Vals: make([]float64, 2000)}}}
	for i := range pts.TS {
		pts.TS[i] = 1_790_000_000_000 + int64(i)*20
		pts.Cols[0].Vals[i] = 40 + float64(i%50)/10
	}
	if err := f.store.Append(context.Background(), "acme", "metrics", []wire.Event{{Points: pts}}); err != nil {
		t.Fatal(err)
	}
	tok, _ := f.keys.Mint("acme", "alice", time.Hour, nil, "")
	for _, tc := range []struct {
		name, path, accept string
		gzipped            bool
	}{
		{"gzip accepted", "metrics/snapshot", "gzip", true},
		{"among others with a weight", "metrics/snapshot", "br;q=1.0, gzip;q=0.5", true},
		{"any coding", "metrics/snapshot", "*", true},
		{"not asked", "metrics/snapshot", "", false},
		{"refused with q=0", "metrics/snapshot", "gzip;q=0", false},
		{"refused with q=0.000", "metrics/snapshot", "deflate, gzip; q=0.000", false},
		{"refused after other parameters", "metrics/snapshot", "gzip;level=1;q=0", false},
		{"refused by name, any other accepted", "metrics/snapshot", "*, gzip;q=0", false},
		{"any other refused, gzip accepted", "metrics/snapshot", "*;q=0, gzip", true},
		{"unreadable weight", "metrics/snapshot", "gzip;q=high", false},
		{"small answer", "orders/snapshot", "gzip", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, f.url+"/api/v1/streams/"+tc.path, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			if tc.accept != "" {
				req.Header.Set("Accept-Encoding", tc.accept)
			} else {
				req.Header.Set("Accept-Encoding", "identity") // net/http would ask for gzip itself
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("%d %s", res.StatusCode, body)
			}
			if got := res.Header.Get("Content-Encoding") == "gzip"; got != tc.gzipped {
				t.Fatalf("Content-Encoding %q, want gzip %v", res.Header.Get("Content-Encoding"), tc.gzipped)
			}
			raw := body
			if tc.gzipped {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if raw, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
				if len(body)*3 > len(raw) {
					t.Fatalf("gzipped %d → %d bytes: want at least 3x smaller", len(raw), len(body))
				}
			}
			fr, err := wire.Decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			snap, ok := fr.(wire.Snapshot)
			if !ok || snap.Seq == 0 {
				t.Fatalf("got %T %+v, want a snapshot", fr, fr)
			}
			if tc.path == "metrics/snapshot" && len(snap.State.Points.TS) != len(pts.TS) {
				t.Fatalf("snapshot with %d points, want %d", len(snap.State.Points.TS), len(pts.TS))
			}
		})
	}
}

package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/ingest"
	"github.com/telltale/telltale/shared/livestate"
)

func TestCapFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		args        []string
		env         map[string]string
		wantLimits  livestate.Limits
		wantTenants map[string]livestate.Limits
		wantRates   map[string]ingest.Rate
		wantErr     string
	}{
		{"defaults", nil, nil, livestate.Limits{Series: 1000, Keys: 10000, RowFields: 256, RowBytes: 65536}, map[string]livestate.Limits{}, map[string]ingest.Rate{}, ""},
		{"flags and tenants", []string{"-max-series", "50", "-tenant-limits", "acme:series=5000,row_bytes=131072; globex:keys=20000,points=100"}, nil,
			livestate.Limits{Series: 50, Keys: 10000, RowFields: 256, RowBytes: 65536},
			map[string]livestate.Limits{"acme": {Series: 5000, RowBytes: 131072}, "globex": {Keys: 20000, Points: 100}}, map[string]ingest.Rate{}, ""},
		{"env", nil, map[string]string{"TELLTALE_MAX_ROW_BYTES": "1024", "TELLTALE_TENANT_LIMITS": "acme:row_fields=9"}, livestate.Limits{Series: 1000, Keys: 10000, RowFields: 256, RowBytes: 1024},
			map[string]livestate.Limits{"acme": {RowFields: 9}}, map[string]ingest.Rate{}, ""},
		{"ingest rates", []string{"-tenant-limits", "acme:series=10,ingest_rate=1048576;bulk:ingest_burst=9000000;slow:ingest_rate=1000,ingest_burst=5000000"}, nil,
			livestate.Limits{Series: 1000, Keys: 10000, RowFields: 256, RowBytes: 65536},
			map[string]livestate.Limits{"acme": {Series: 10}},
			map[string]ingest.Rate{"acme": {Rate: 1 << 20}, "bulk": {Burst: 9000000}, "slow": {Rate: 1000, Burst: 5000000}}, ""},
		{"unknown cap", []string{"-tenant-limits", "acme:rows=5"}, nil, livestate.Limits{}, nil, nil, `unknown cap "rows"`},
		{"bad number", []string{"-tenant-limits", "acme:series=-1"}, nil, livestate.Limits{}, nil, nil, "positive whole number"},
		{"bad rate", []string{"-tenant-limits", "acme:ingest_rate=0"}, nil, livestate.Limits{}, nil, nil, "positive whole number"},
		{"no tenant", []string{"-tenant-limits", "series=5"}, nil, livestate.Limits{}, nil, nil, "want tenant:cap=n"},
		{"twice", []string{"-tenant-limits", "a:series=1;a:keys=2"}, nil, livestate.Limits{}, nil, nil, "given twice"},
		{"twice with a rate", []string{"-tenant-limits", "a:ingest_rate=1;a:ingest_burst=2"}, nil, livestate.Limits{}, nil, nil, "given twice"},
		{"zero cap", []string{"-max-keys", "0"}, nil, livestate.Limits{}, nil, nil, "-max-keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse(tt.args, func(k string) string { return tt.env[k] }, io.Discard, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error about %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.limits != tt.wantLimits {
				t.Fatalf("got %+v, want %+v", c.limits, tt.wantLimits)
			}
			if len(c.tenantCaps) != len(tt.wantTenants) {
				t.Fatalf("got %+v, want %+v", c.tenantCaps, tt.wantTenants)
			}
			for k, v := range tt.wantTenants {
				if c.tenantCaps[k] != v {
					t.Fatalf("tenant %s: got %+v, want %+v", k, c.tenantCaps[k], v)
				}
			}
			if len(c.tenantRates) != len(tt.wantRates) {
				t.Fatalf("rates: got %+v, want %+v", c.tenantRates, tt.wantRates)
			}
			for k, v := range tt.wantRates {
				if c.tenantRates[k] != v {
					t.Fatalf("tenant %s's rate: got %+v, want %+v", k, c.tenantRates[k], v)
				}
			}
		})
	}
}

// TestTenantIngestRateFlag: the server started with a lower ingest rate for
// one tenant in -tenant-limits refuses that tenant with 429 once its own
// burst is spent, while another tenant, on the server's rate, sends the
// same batches on.
func TestTenantIngestRateFlag(t *testing.T) {
	t.Parallel()
	web := t.TempDir()
	if err := os.WriteFile(filepath.Join(web, "app.wasm"), []byte("\x00asm"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"XDG_CACHE_HOME": t.TempDir()}
	getenv := func(k string) string { return env[k] }
	// A's burst is the 4 MiB a request may hold, at 1 KiB/s; B has the
	// server's 8 MiB burst.
	cfg, err := parse([]string{"-addr", "127.0.0.1:0", "-web", web, "-demo=false", "-log-level", "error",
		"-ingest-keys", "acme:key-a-0123456789abcdef,globex:key-b-0123456789abcdef", "-tenant-limits", "acme:ingest_rate=1024,ingest_burst=4194304"}, getenv, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	base := serveUntilDone(t, cfg, getenv, "the server does not listen yet")
	// ~1 MiB: 16 rows of 60 KiB, each under the 64 KiB row cap.
	var b bytes.Buffer
	b.WriteString(`{"events":[`)
	for i := range 16 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"stream":"s","row":{"key":"k%d","fields":{"pad":%q}}}`, i, strings.Repeat("x", 60<<10))
	}
	b.WriteString(`]}`)
	post := func(key string) int {
		req, err := http.NewRequest(http.MethodPost, base+"api/v1/ingest", bytes.NewReader(b.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		_, _ = io.Copy(io.Discard, res.Body)
		return res.StatusCode
	}
	for i := range 4 {
		if got := post("key-a-0123456789abcdef"); got != http.StatusOK {
			t.Fatalf("A's batch %d of ~1 MiB, within its 4 MiB burst: got %d, want 200", i, got)
		}
	}
	if got := post("key-a-0123456789abcdef"); got != http.StatusTooManyRequests {
		t.Fatalf("A's 5th ~1 MiB batch, past its own burst: got %d, want 429", got)
	}
	for i := range 6 {
		if got := post("key-b-0123456789abcdef"); got != http.StatusOK {
			t.Fatalf("B's batch %d of ~1 MiB, within the server's 8 MiB burst: got %d, want 200", i, got)
		}
	}
}

func TestIngestHoldFlag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    time.Duration
		wantErr bool
	}{
		{"default", nil, nil, time.Second, false},
		{"flag", []string{"-ingest-hold", "250ms"}, nil, 250 * time.Millisecond, false},
		{"env, off", nil, map[string]string{"TELLTALE_INGEST_HOLD": "-1s"}, -time.Second, false},
		{"zero", []string{"-ingest-hold", "0"}, nil, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse(tt.args, func(k string) string { return tt.env[k] }, io.Discard, io.Discard)
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want one: %v", err, tt.wantErr)
			}
			if err == nil && c.ingestHold != tt.want {
				t.Fatalf("got %v, want %v", c.ingestHold, tt.want)
			}
		})
	}
}

func TestIngestDecodersFlag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    int
		wantErr bool
	}{
		{"default", nil, nil, 1, false},
		{"flag", []string{"-ingest-decoders", "2"}, nil, 2, false},
		{"env, no bound", nil, map[string]string{"TELLTALE_INGEST_DECODERS": "-1"}, -1, false},
		{"flag wins", []string{"-ingest-decoders", "3"}, map[string]string{"TELLTALE_INGEST_DECODERS": "-1"}, 3, false},
		{"zero", []string{"-ingest-decoders", "0"}, nil, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse(tt.args, func(k string) string { return tt.env[k] }, io.Discard, io.Discard)
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want one: %v", err, tt.wantErr)
			}
			if err == nil && c.decoders != tt.want {
				t.Fatalf("got %v, want %v", c.decoders, tt.want)
			}
		})
	}
}

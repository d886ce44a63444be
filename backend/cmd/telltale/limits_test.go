package main

import (
	"io"
	"strings"
	"testing"

	"github.com/telltale/telltale/shared/livestate"
)

func TestCapFlags(t *testing.T) {
	tests := []struct {
		name        string
		args        []string
		env         map[string]string
		wantLimits  livestate.Limits
		wantTenants map[string]livestate.Limits
		wantErr     string
	}{
		{"defaults", nil, nil, livestate.Limits{Series: 1000, Keys: 10000, RowFields: 256, RowBytes: 65536}, map[string]livestate.Limits{}, ""},
		{"flags and tenants", []string{"-max-series", "50", "-tenant-limits", "acme:series=5000,row_bytes=131072; globex:keys=20000,points=100"}, nil,
			livestate.Limits{Series: 50, Keys: 10000, RowFields: 256, RowBytes: 65536},
			map[string]livestate.Limits{"acme": {Series: 5000, RowBytes: 131072}, "globex": {Keys: 20000, Points: 100}}, ""},
		{"env", nil, map[string]string{"TELLTALE_MAX_ROW_BYTES": "1024", "TELLTALE_TENANT_LIMITS": "acme:row_fields=9"}, livestate.Limits{Series: 1000, Keys: 10000, RowFields: 256, RowBytes: 1024},
			map[string]livestate.Limits{"acme": {RowFields: 9}}, ""},
		{"unknown cap", []string{"-tenant-limits", "acme:rows=5"}, nil, livestate.Limits{}, nil, `unknown cap "rows"`},
		{"bad number", []string{"-tenant-limits", "acme:series=-1"}, nil, livestate.Limits{}, nil, "positive whole number"},
		{"no tenant", []string{"-tenant-limits", "series=5"}, nil, livestate.Limits{}, nil, "want tenant:cap=n"},
		{"twice", []string{"-tenant-limits", "a:series=1;a:keys=2"}, nil, livestate.Limits{}, nil, "given twice"},
		{"zero cap", []string{"-max-keys", "0"}, nil, livestate.Limits{}, nil, "-max-keys"},
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
		})
	}
}

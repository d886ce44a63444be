package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/telltale/telltale/backend/ingest"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

// capFlags are the per-stream caps on hot state, server-wide and per tenant,
// and the tenants' own ingest rates (docs/SECURITY.md, "Limits per tenant").
type capFlags struct {
	series, keys, rowFields, rowBytes int
	tenants                           string
}

func (f *capFlags) flags(fs *flag.FlagSet) {
	fs.IntVar(&f.series, "max-series", livestate.DefaultSeries, "most series (point columns) one stream holds; ingest past it answers 422")
	fs.IntVar(&f.keys, "max-keys", livestate.DefaultKeys, "most gauge names (values keys) one stream holds; ingest past it answers 422")
	fs.IntVar(&f.rowFields, "max-row-fields", livestate.DefaultRowFields, "most top-level fields of one row; ingest past it answers 422")
	fs.IntVar(&f.rowBytes, "max-row-bytes", livestate.DefaultRowBytes, "largest row in bytes (key, field names and values); ingest past it answers 422")
	fs.StringVar(&f.tenants, "tenant-limits", "", "per-tenant overrides as `tenant:cap=n,…;tenant:…` with caps series, keys, row_fields, row_bytes, points, ingest_rate (body bytes/s), ingest_burst (bytes), e.g. acme:series=5000,row_bytes=131072;bulk:ingest_rate=1048576")
}

// tenantLimits are -tenant-limits: the tenants' own state caps (for the
// hub) and ingest rates (for ingest). A tenant is in a map only when it
// overrides something of it.
type tenantLimits struct {
	caps  map[string]livestate.Limits
	rates map[string]ingest.Rate
}

// resolve checks the flags and returns the server's caps and the tenants'
// overrides; name says where a flag's value came from (envFlags.name).
func (f *capFlags) resolve(name func(flag string) string) (livestate.Limits, tenantLimits, error) {
	for _, c := range []struct {
		flag string
		n    int
	}{{"max-series", f.series}, {"max-keys", f.keys}, {"max-row-fields", f.rowFields}, {"max-row-bytes", f.rowBytes}} {
		if c.n <= 0 {
			return livestate.Limits{}, tenantLimits{}, fmt.Errorf("%s: want a positive number", name(c.flag))
		}
	}
	base := livestate.Limits{Series: f.series, Keys: f.keys, RowFields: f.rowFields, RowBytes: f.rowBytes}
	tenants, err := parseTenantLimits(f.tenants)
	if err != nil {
		return livestate.Limits{}, tenantLimits{}, fmt.Errorf("%s: %w", name("tenant-limits"), err)
	}
	return base, tenants, nil
}

// parseTenantLimits reads
// "acme:series=5000,row_bytes=131072;globex:keys=20000,ingest_rate=1048576".
func parseTenantLimits(s string) (tenantLimits, error) {
	out := tenantLimits{caps: map[string]livestate.Limits{}, rates: map[string]ingest.Rate{}}
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ";") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		tenant, caps, ok := strings.Cut(part, ":")
		tenant = strings.TrimSpace(tenant)
		if !ok || wire.ValidStream(tenant) != nil {
			return tenantLimits{}, fmt.Errorf("%q: want tenant:cap=n,… with a tenant named like a stream", part)
		}
		if seen[tenant] {
			return tenantLimits{}, fmt.Errorf("tenant %s is given twice", tenant)
		}
		seen[tenant] = true
		var (
			lim  livestate.Limits
			rate ingest.Rate
		)
		for _, kv := range strings.Split(caps, ",") {
			name, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
			n, err := strconv.Atoi(strings.TrimSpace(val))
			if !ok || err != nil || n <= 0 {
				return tenantLimits{}, fmt.Errorf("%s: %q: want cap=n with n a positive whole number", tenant, kv)
			}
			switch strings.TrimSpace(name) {
			case livestate.CapSeries:
				lim.Series = n
			case livestate.CapKeys:
				lim.Keys = n
			case livestate.CapRowFields:
				lim.RowFields = n
			case livestate.CapRowBytes:
				lim.RowBytes = n
			case "points":
				if n > 1_000_000 {
					return tenantLimits{}, fmt.Errorf("%s: points: want 1 to 1,000,000", tenant)
				}
				lim.Points = n
			case "ingest_rate":
				rate.Rate = float64(n)
			case "ingest_burst":
				rate.Burst = int64(n)
			default:
				return tenantLimits{}, fmt.Errorf("%s: unknown cap %q: want series, keys, row_fields, row_bytes, points, ingest_rate or ingest_burst", tenant, name)
			}
		}
		if lim != (livestate.Limits{}) {
			out.caps[tenant] = lim
		}
		if rate != (ingest.Rate{}) {
			out.rates[tenant] = rate
		}
	}
	return out, nil
}

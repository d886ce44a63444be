package main

import (
	"errors"
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

func (f *capFlags) flags(fs *flag.FlagSet, env func(name, def string) string) {
	fs.IntVar(&f.series, "max-series", envInt(env("TELLTALE_MAX_SERIES", strconv.Itoa(livestate.DefaultSeries))), "most series (point columns) one stream holds; ingest past it answers 422 (env TELLTALE_MAX_SERIES)")
	fs.IntVar(&f.keys, "max-keys", envInt(env("TELLTALE_MAX_KEYS", strconv.Itoa(livestate.DefaultKeys))), "most gauge names (values keys) one stream holds; ingest past it answers 422 (env TELLTALE_MAX_KEYS)")
	fs.IntVar(&f.rowFields, "max-row-fields", envInt(env("TELLTALE_MAX_ROW_FIELDS", strconv.Itoa(livestate.DefaultRowFields))), "most top-level fields of one row; ingest past it answers 422 (env TELLTALE_MAX_ROW_FIELDS)")
	fs.IntVar(&f.rowBytes, "max-row-bytes", envInt(env("TELLTALE_MAX_ROW_BYTES", strconv.Itoa(livestate.DefaultRowBytes))), "largest row in bytes (key, field names and values); ingest past it answers 422 (env TELLTALE_MAX_ROW_BYTES)")
	fs.StringVar(&f.tenants, "tenant-limits", env("TELLTALE_TENANT_LIMITS", ""), "per-tenant overrides as `tenant:cap=n,…;tenant:…` with caps series, keys, row_fields, row_bytes, points, ingest_rate (body bytes/s), ingest_burst (bytes), e.g. acme:series=5000,row_bytes=131072;bulk:ingest_rate=1048576 (env TELLTALE_TENANT_LIMITS)")
}

// tenantLimits are -tenant-limits: the tenants' own state caps (for the
// hub) and ingest rates (for ingest). A tenant is in a map only when it
// overrides something of it.
type tenantLimits struct {
	caps  map[string]livestate.Limits
	rates map[string]ingest.Rate
}

// resolve checks the flags and returns the server's caps and the tenants'
// overrides.
func (f *capFlags) resolve() (livestate.Limits, tenantLimits, error) {
	if f.series <= 0 || f.keys <= 0 || f.rowFields <= 0 || f.rowBytes <= 0 {
		return livestate.Limits{}, tenantLimits{}, errors.New("-max-series, -max-keys, -max-row-fields and -max-row-bytes must be positive")
	}
	base := livestate.Limits{Series: f.series, Keys: f.keys, RowFields: f.rowFields, RowBytes: f.rowBytes}
	tenants, err := parseTenantLimits(f.tenants)
	if err != nil {
		return livestate.Limits{}, tenantLimits{}, fmt.Errorf("-tenant-limits: %w", err)
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

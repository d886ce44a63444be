package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

// TestParseEdgeLimits: the door's timeouts and unauthenticated budget have
// their documented defaults, follow TELLTALE_* and flags, and refuse
// nonsense naming the flag, or the variable that set it.
func TestParseEdgeLimits(t *testing.T) {
	t.Parallel()
	parseWith := func(args []string, env map[string]string) (config, error) {
		return parse(args, func(k string) string { return env[k] }, io.Discard, io.Discard)
	}
	c, err := parseWith(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := edgeLimits{headerTimeout: 10 * time.Second, readTimeout: time.Minute, writeTimeout: time.Minute, idleTimeout: 75 * time.Second,
		helloTimeout: 5 * time.Second, maxUnauth: 1024, maxUnauthPerAddr: 64}
	if c.edge != want {
		t.Fatalf("defaults %+v, want %+v", c.edge, want)
	}
	c, err = parseWith([]string{"-max-unauth-per-addr", "8"}, map[string]string{"TELLTALE_HTTP_IDLE_TIMEOUT": "30s", "TELLTALE_HELLO_TIMEOUT": "2s", "TELLTALE_MAX_UNAUTH_PER_ADDR": "99"})
	if err != nil {
		t.Fatal(err)
	}
	if c.edge.idleTimeout != 30*time.Second || c.edge.helloTimeout != 2*time.Second || c.edge.maxUnauthPerAddr != 8 {
		t.Fatalf("env and flags: %+v", c.edge)
	}
	c, err = parseWith(nil, map[string]string{"TELLTALE_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.edge.proxies.String(), "10.0.0.0/8,127.0.0.1/32"; got != want {
		t.Fatalf("TELLTALE_TRUSTED_PROXIES: got %q, want %q", got, want)
	}
	for _, bad := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, map[string]string{"TELLTALE_HTTP_HEADER_TIMEOUT": "soon"}, "TELLTALE_HTTP_HEADER_TIMEOUT"}, // the variable, not the flag (config.go)
		{[]string{"-http-write-timeout", "0s"}, nil, "-http-write-timeout"},
		{[]string{"-max-unauth-conns", "0"}, nil, "-max-unauth-conns"},
		{nil, map[string]string{"TELLTALE_TRUSTED_PROXIES": "10.0.0.0/8,proxy.internal"}, "TELLTALE_TRUSTED_PROXIES"},
		{[]string{"-trusted-proxies", "10.0.0.0/33"}, nil, "-trusted-proxies"},
	} {
		if _, err := parseWith(bad.args, bad.env); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%v %v: got %v, want an error naming %s", bad.args, bad.env, err, bad.want)
		}
	}
}

package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/telltale/telltale/backend/realip"
)

// edgeLimits are the limits at the server's door that no credential is
// needed to reach: the HTTP server's timeouts and the WebSocket budget of
// sockets that have not authenticated yet (docs/SECURITY.md, "Limits at
// the door").
type edgeLimits struct {
	headerTimeout, readTimeout, writeTimeout, idleTimeout time.Duration
	helloTimeout                                          time.Duration
	maxUnauth, maxUnauthPerAddr                           int
	// trustedList is -trusted-proxies as given; check parses it into proxies.
	trustedList string
	proxies     *realip.Proxies
}

func (l *edgeLimits) flags(fs *flag.FlagSet) {
	fs.DurationVar(&l.headerTimeout, "http-header-timeout", 10*time.Second, "time a client has to send a request's headers, and a TLS handshake")
	fs.DurationVar(&l.readTimeout, "http-read-timeout", 60*time.Second, "time a client has to send a whole request, body included")
	fs.DurationVar(&l.writeTimeout, "http-write-timeout", 60*time.Second, "time to handle and answer a request after its headers; long-polls get their 30 s on top, WebSockets are not cut")
	fs.DurationVar(&l.idleTimeout, "http-idle-timeout", 75*time.Second, "close a keep-alive HTTP connection idle this long")
	fs.DurationVar(&l.helloTimeout, "hello-timeout", 5*time.Second, "time a new WebSocket has to send a valid hello")
	fs.IntVar(&l.maxUnauth, "max-unauth-conns", 1024, "most WebSockets open without a verified hello yet, apart from -max-conns")
	fs.IntVar(&l.maxUnauthPerAddr, "max-unauth-per-addr", 64, "most WebSockets one client address holds open without a verified hello")
	fs.StringVar(&l.trustedList, "trusted-proxies", "", "`addresses` or CIDR ranges of the reverse proxies in front, comma-separated: from their requests only, the client's address (for the per-address limits and logs) is read from X-Forwarded-For, its rightmost address that is not one of them; empty trusts none, and the TCP peer is the client")
}

// check refuses nonsense; name says where a flag's value came from
// (envFlags.name).
func (l *edgeLimits) check(name func(flag string) string) error {
	for _, d := range []struct {
		flag string
		d    time.Duration
	}{{"http-header-timeout", l.headerTimeout}, {"http-read-timeout", l.readTimeout}, {"http-write-timeout", l.writeTimeout}, {"http-idle-timeout", l.idleTimeout}, {"hello-timeout", l.helloTimeout}} {
		if d.d <= 0 {
			return fmt.Errorf("%s: want a positive duration like 10s", name(d.flag))
		}
	}
	if l.maxUnauth <= 0 {
		return fmt.Errorf("%s: want a positive number", name("max-unauth-conns"))
	}
	if l.maxUnauthPerAddr <= 0 {
		return fmt.Errorf("%s: want a positive number", name("max-unauth-per-addr"))
	}
	p, err := realip.Parse(l.trustedList)
	if err != nil {
		return fmt.Errorf("%s: %w", name("trusted-proxies"), err)
	}
	l.proxies = p
	return nil
}

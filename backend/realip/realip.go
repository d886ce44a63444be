// Package realip finds a request's client address behind the reverse
// proxies the operator trusts (-trusted-proxies), so that what the server
// keys on a client's address (the per-address WebSocket rate and the
// budget of sockets without a hello, in package wsgate, and the logs) sees
// each client, not the proxy in front of all of them.
//
// It reads X-Forwarded-For, which nginx ($proxy_add_x_forwarded_for),
// HAProxy (option forwardfor), Caddy and the clouds' load balancers send,
// from the right, as nginx's real_ip_recursive does: each address a trusted
// hop appended is believed, and the first one that is not a trusted proxy
// is the client. It must never read the header of a peer it does not trust
// (anyone can send one), nor let what a client writes itself, always left
// of its real address, decide anything.
package realip

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies are the addresses of trusted reverse proxies. A nil *Proxies
// trusts none: every request's client is its TCP peer.
type Proxies struct {
	nets []netip.Prefix
}

// Parse reads a list of trusted proxies: CIDR ranges (10.0.0.0/8,
// fd00::/8) or single addresses (127.0.0.1), separated by commas or
// spaces. An empty list is nil: no proxy is trusted.
func Parse(list string) (*Proxies, error) {
	var p Proxies
	for _, f := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		var pre netip.Prefix
		var err error
		if strings.Contains(f, "/") {
			pre, err = netip.ParsePrefix(f)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(f); err == nil {
				if a.Zone() != "" {
					return nil, fmt.Errorf("%q: want an address without a zone", f)
				}
				pre = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%q: want an address or a CIDR range like 10.0.0.0/8", f)
		}
		if pre.Addr().Is4In6() {
			return nil, fmt.Errorf("%q: write IPv4 addresses and ranges as a.b.c.d[/n]", f)
		}
		p.nets = append(p.nets, pre.Masked())
	}
	if len(p.nets) == 0 {
		return nil, nil
	}
	return &p, nil
}

// String lists the ranges, as Parse reads them.
func (p *Proxies) String() string {
	if p == nil {
		return ""
	}
	s := make([]string, len(p.nets))
	for i, n := range p.nets {
		s[i] = n.String()
	}
	return strings.Join(s, ",")
}

// Trusts says whether a is one of the trusted proxies.
func (p *Proxies) Trusts(a netip.Addr) bool {
	if p == nil {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, n := range p.nets {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// Client is the client's address of a request that came from peer (the
// TCP peer, as http.Request.RemoteAddr has it: host:port) with the
// X-Forwarded-For header lines xff (http.Header.Values, in order). When
// peer is not a trusted proxy, or says nothing, it is the client. Else the
// header is read from its right end: each address appended by a trusted
// hop is taken, until one that is not a trusted proxy, the client; when
// every address is a trusted one, the leftmost is the client. An entry
// that is no address (garbage, "unknown") stops the walk at the trusted
// hop that passed it on.
func (p *Proxies) Client(peer string, xff []string) netip.Addr {
	ap, err := netip.ParseAddrPort(peer)
	if err != nil {
		a, err := netip.ParseAddr(peer)
		if err != nil {
			return netip.Addr{}
		}
		ap = netip.AddrPortFrom(a, 0)
	}
	client := ap.Addr().Unmap().WithZone("")
	for i := len(xff) - 1; i >= 0; i-- {
		v := xff[i]
		for v != "" {
			if !p.Trusts(client) {
				return client
			}
			hop := v
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				hop, v = v[j+1:], v[:j]
			} else {
				v = ""
			}
			hop = strings.TrimSpace(hop)
			if hop == "" {
				continue
			}
			a, ok := parseHop(hop)
			if !ok {
				return client
			}
			client = a
		}
	}
	return client
}

// parseHop reads one X-Forwarded-For entry: an address, possibly with a
// port ("192.0.2.1:4711", "[2001:db8::1]:443") or in brackets, as some
// proxies write them.
func parseHop(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		if perr != nil {
			if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
				return netip.Addr{}, false
			}
			if a, err = netip.ParseAddr(s[1 : len(s)-1]); err != nil {
				return netip.Addr{}, false
			}
		} else {
			a = ap.Addr()
		}
	}
	return a.Unmap().WithZone(""), true
}

// Handler serves next with each request's RemoteAddr set to its client's
// address (Client; the address alone, without a port) when the request
// came through a trusted proxy, so that every handler behind it keys on
// and logs the client. A nil *Proxies returns next as it is.
func (p *Proxies) Handler(next http.Handler) http.Handler {
	if p == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		xff := r.Header.Values("X-Forwarded-For")
		if len(xff) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		c := p.Client(r.RemoteAddr, xff)
		if !c.IsValid() {
			next.ServeHTTP(w, r)
			return
		}
		if s := c.String(); s != hostOf(r.RemoteAddr) {
			r = r.WithContext(r.Context()) // a copy: a handler does not change its request
			r.RemoteAddr = s
		}
		next.ServeHTTP(w, r)
	})
}

// hostOf is the host part of a host:port.
func hostOf(addr string) string {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return ap.Addr().Unmap().WithZone("").String()
	}
	return addr
}

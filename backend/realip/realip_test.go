package realip

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func mustParse(t *testing.T, list string) *Proxies {
	t.Helper()
	p, err := Parse(list)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParse(t *testing.T) {
	tests := []struct {
		name, list, want string
		bad              bool
	}{
		{name: "empty", list: "", want: ""},
		{name: "spaces only", list: " , ", want: ""},
		{name: "address", list: "127.0.0.1", want: "127.0.0.1/32"},
		{name: "ranges, commas and spaces", list: "10.0.0.0/8, 192.168.1.7/24 fd00::/8", want: "10.0.0.0/8,192.168.1.0/24,fd00::/8"},
		{name: "IPv6 address", list: "::1", want: "::1/128"},
		{name: "not an address", list: "proxy.internal", bad: true},
		{name: "bad range", list: "10.0.0.0/33", bad: true},
		{name: "one bad among good", list: "10.0.0.0/8,nonsense", bad: true},
		{name: "zone", list: "fe80::1%eth0", bad: true},
		{name: "IPv4 mapped", list: "::ffff:10.0.0.1", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.list)
			if tt.bad {
				if err == nil {
					t.Fatalf("got %v, want an error", p)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := p.String(); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestClient: the client is the rightmost address that is not a trusted
// proxy, read only through trusted peers, so that what a client writes in
// its own X-Forwarded-For never decides anything.
func TestClient(t *testing.T) {
	trusted := mustParse(t, "127.0.0.1,10.0.0.0/8,fd00::/8")
	tests := []struct {
		name  string
		proxy *Proxies
		peer  string
		xff   []string
		want  string
	}{
		{name: "no proxies trusted: the header is ignored", proxy: nil, peer: "127.0.0.1:4000", xff: []string{"203.0.113.9"}, want: "127.0.0.1"},
		{name: "untrusted peer spoofing a header", proxy: trusted, peer: "198.51.100.7:4000", xff: []string{"203.0.113.9"}, want: "198.51.100.7"},
		{name: "untrusted peer spoofing a trusted one", proxy: trusted, peer: "198.51.100.7:4000", xff: []string{"10.0.0.1"}, want: "198.51.100.7"},
		{name: "trusted peer without a header", proxy: trusted, peer: "127.0.0.1:4000", xff: nil, want: "127.0.0.1"},
		{name: "one proxy", proxy: trusted, peer: "127.0.0.1:4000", xff: []string{"203.0.113.9"}, want: "203.0.113.9"},
		{name: "client's own forgery left of its address", proxy: trusted, peer: "127.0.0.1:4000", xff: []string{"1.2.3.4, 203.0.113.9"}, want: "203.0.113.9"},
		{name: "client forges a trusted address", proxy: trusted, peer: "127.0.0.1:4000", xff: []string{"10.1.1.1, 203.0.113.9"}, want: "203.0.113.9"},
		{name: "two trusted hops", proxy: trusted, peer: "127.0.0.1:4000", xff: []string{"203.0.113.9, 10.0.0.5"}, want: "203.0.113.9"},
		{name: "hops in separate header lines (HAProxy adds one)", proxy: trusted, peer: "127.0.0.1:4000", xff: []string{"1.2.3.4", "203.0.113.9, 10.0.0.5", "10.0.0.6"}, want: "203.0.113.9"},
		{name: "every hop trusted: the leftmost", proxy: trusted, peer: "127.0.0.1:4000", xff: []string{"10.0.0.9, 10.0.0.5"}, want: "10.0.0.9"},
		{name: "empty entries skipped", proxy: trusted, peer: "127.0.0.1:4000", xff: []string{"203.0.113.9,, 10.0.0.5 ,"}, want: "203.0.113.9"},
		{name: "garbage stops at the trusted hop that passed it", proxy: trusted, peer: "127.0.0.1:4000", xff: []string{"203.0.113.9, unknown, 10.0.0.5"}, want: "10.0.0.5"},
		{name: "garbage from the peer itself", proxy: trusted, peer: "127.0.0.1:4000", xff: []string{"not-an-address"}, want: "127.0.0.1"},
		{name: "entries with ports", proxy: trusted, peer: "127.0.0.1:4000", xff: []string{"203.0.113.9:5555"}, want: "203.0.113.9"},
		{name: "IPv6 client", proxy: trusted, peer: "127.0.0.1:4000", xff: []string{"2001:db8::7"}, want: "2001:db8::7"},
		{name: "IPv6 client in brackets with a port", proxy: trusted, peer: "127.0.0.1:4000", xff: []string{"[2001:db8::7]:443"}, want: "2001:db8::7"},
		{name: "IPv6 client in brackets", proxy: trusted, peer: "127.0.0.1:4000", xff: []string{"[2001:db8::7]"}, want: "2001:db8::7"},
		{name: "IPv6 proxy", proxy: trusted, peer: "[fd00::2]:4000", xff: []string{"203.0.113.9"}, want: "203.0.113.9"},
		{name: "IPv4-mapped peer", proxy: trusted, peer: "[::ffff:127.0.0.1]:4000", xff: []string{"203.0.113.9"}, want: "203.0.113.9"},
		{name: "IPv4-mapped client", proxy: trusted, peer: "127.0.0.1:4000", xff: []string{"::ffff:203.0.113.9"}, want: "203.0.113.9"},
		{name: "peer without a port", proxy: trusted, peer: "127.0.0.1", xff: []string{"203.0.113.9"}, want: "203.0.113.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.proxy.Client(tt.peer, tt.xff).String(); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
	if got := trusted.Client("@", []string{"203.0.113.9"}); got.IsValid() {
		t.Fatalf("a peer that is no address: got %s, want none", got)
	}
}

// TestHandler: handlers behind it see the client's address as RemoteAddr
// through a trusted proxy, and the TCP peer otherwise.
func TestHandler(t *testing.T) {
	var seen string
	h := mustParse(t, "127.0.0.1").Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = r.RemoteAddr }))
	tests := []struct {
		name, peer, xff, want string
	}{
		{name: "through the proxy", peer: "127.0.0.1:4000", xff: "203.0.113.9", want: "203.0.113.9"},
		{name: "the proxy itself", peer: "127.0.0.1:4000", want: "127.0.0.1:4000"},
		{name: "straight from a client, spoofing", peer: "198.51.100.7:4000", xff: "203.0.113.9", want: "198.51.100.7:4000"},
		{name: "a header naming the peer itself", peer: "127.0.0.1:4000", xff: "127.0.0.1", want: "127.0.0.1:4000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.peer
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			if seen != tt.want {
				t.Fatalf("got %s, want %s", seen, tt.want)
			}
			if r.RemoteAddr != tt.peer {
				t.Fatalf("the caller's request was changed: RemoteAddr %s", r.RemoteAddr)
			}
		})
	}
	var none *Proxies
	inner := &recorder{}
	if got := none.Handler(inner); got != http.Handler(inner) {
		t.Fatalf("no proxies: got %v, want the handler itself", got)
	}
}

type recorder struct{ remote string }

func (h *recorder) ServeHTTP(_ http.ResponseWriter, r *http.Request) { h.remote = r.RemoteAddr }

func FuzzClient(f *testing.F) {
	p, _ := Parse("127.0.0.1,10.0.0.0/8")
	f.Add("127.0.0.1:1", "203.0.113.9, 10.0.0.1")
	f.Add("127.0.0.1:1", "[2001:db8::1]:80,,unknown")
	f.Fuzz(func(t *testing.T, peer, xff string) {
		c := p.Client(peer, []string{xff})
		if !c.IsValid() {
			return
		}
		// The client is the peer or an address of the header, and it is an
		// untrusted one unless every hop was trusted.
		if c.Zone() != "" || c.Is4In6() {
			t.Fatalf("client %s keeps a zone or a mapping", c)
		}
	})
}

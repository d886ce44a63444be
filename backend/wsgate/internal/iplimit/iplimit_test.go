package iplimit

import (
	"strconv"
	"testing"
	"time"
)

func TestClientIPGroupsIPv6By64(t *testing.T) {
	for _, tc := range []struct{ remote, want string }{
		{"127.0.0.1:5000", "127.0.0.1"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:3::1]:443", "2001:db8:1:3::/64"},
		{"[::ffff:10.0.0.1]:80", "::ffff:10.0.0.1"},
	} {
		if got := ClientIP(tc.remote); got != tc.want {
			t.Errorf("ClientIP(%q) = %q, want %q", tc.remote, got, tc.want)
		}
	}
}

func TestLimiterStaysBoundedUnderAFloodOfSources(t *testing.T) {
	now := time.Unix(0, 0)
	l := New(1, 1, func() time.Time { return now })
	for i := range maxAddrs * 3 {
		l.Allow(strconv.Itoa(i))
	}
	if n := len(l.buckets); n > maxAddrs {
		t.Fatalf("%d addresses tracked, want at most %d", n, maxAddrs)
	}
	// And a known address is still limited.
	l.Allow("victim")
	if ok, _ := l.Allow("victim"); ok {
		t.Fatal("a second immediate connection from one address passed a burst of 1")
	}
}

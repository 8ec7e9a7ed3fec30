package gateway

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

// X-Forwarded-For is believed only from a trusted proxy, and only up to the
// first hop that is not itself a trusted proxy.
func TestClientIP(t *testing.T) {
	s := &Server{cfg: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}
	for _, c := range []struct{ peer, xff, want string }{
		{"203.0.113.9:5000", "", "203.0.113.9"},
		{"203.0.113.9:5000", "198.51.100.1", "203.0.113.9"},                  // untrusted peer: header ignored
		{"10.1.2.3:5000", "", "10.1.2.3"},                                    // trusted peer, no header
		{"10.1.2.3:5000", "198.51.100.1", "198.51.100.1"},                    // one proxy
		{"10.1.2.3:5000", "6.6.6.6, 198.51.100.1, 10.9.9.9", "198.51.100.1"}, // spoofed left part skipped
		{"10.1.2.3:5000", "garbage, 198.51.100.1", "198.51.100.1"},
		{"10.1.2.3:5000", "garbage", "10.1.2.3"},
		{"[::ffff:203.0.113.9]:5000", "", "203.0.113.9"}, // v4-mapped is v4
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := s.clientIP(r).String(); got != c.want {
			t.Errorf("peer %s, XFF %q: %s, want %s", c.peer, c.xff, got, c.want)
		}
	}
}

func TestSessionToken(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", "session=from-cookie")
	if tok, fromCookie := sessionToken(r); tok != "from-cookie" || !fromCookie {
		t.Fatalf("cookie: %q %v", tok, fromCookie)
	}
	r.Header.Set("Authorization", "bearer  from-header ")
	if tok, fromCookie := sessionToken(r); tok != "from-header" || fromCookie {
		t.Fatalf("bearer wins over the cookie: %q %v", tok, fromCookie)
	}
	r.Header.Set("Authorization", "Basic dXNlcjpwdw==")
	if tok, _ := sessionToken(r); tok != "" {
		t.Fatalf("another scheme is no token: %q", tok)
	}
}

package gateway

import (
	"net/http"
	"net/netip"
	"regexp"
	"strings"
)

// usernamePattern is an account's username (auth.account_problems): a
// proxy's user header that does not match is ignored, never sent to SQL.
var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{3,32}$`)

// proxyUser is the user a trusted proxy asserts for this request, or "" when
// there is none to believe: PROXY_USER_HEADER is off; the peer itself (not
// an X-Forwarded-For entry) is not in TRUSTED_PROXIES; the header is absent,
// sent more than once, empty, or not a valid username (too long, not ASCII
// letters, digits, "_", "." or "-", so never invalid UTF-8 either). An
// ignored header is as if not sent: the request needs a token as any other.
func (s *Server) proxyUser(r *http.Request) string {
	if s.cfg.ProxyUserHeader == "" {
		return ""
	}
	vals := r.Header.Values(s.cfg.ProxyUserHeader)
	if len(vals) != 1 || !usernamePattern.MatchString(vals[0]) {
		return ""
	}
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !s.trusted(peer.Addr().Unmap()) {
		return ""
	}
	return vals[0]
}

// clientIP is the peer's address, or, when the peer is a trusted proxy, the
// right-most X-Forwarded-For entry that is not itself a trusted proxy.
func (s *Server) clientIP(r *http.Request) netip.Addr {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.IPv4Unspecified()
	}
	addr := peer.Addr().Unmap()
	xff := r.Header.Values("X-Forwarded-For")
	if len(xff) == 0 {
		return addr
	}
	if !s.trusted(addr) {
		s.warnUntrustedForwarding(addr)
		return addr
	}
	hops := strings.Split(strings.Join(xff, ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		a = a.Unmap()
		if !s.trusted(a) {
			return a
		}
		addr = a
	}
	return addr
}

// warnUntrustedForwarding logs, once per Server (one per process), that a
// peer outside TRUSTED_PROXIES sent X-Forwarded-For. Behind a proxy that
// TRUSTED_PROXIES does not name, every client has the proxy's address: one
// client's failed logins throttle everyone's (the per-IP key), and the
// audit log and the sessions list show the proxy. A client sending the
// header itself also logs it, which is why once: never a line per request.
func (s *Server) warnUntrustedForwarding(peer netip.Addr) {
	if s.xffWarned.Swap(true) {
		return
	}
	s.log.Warn().Str("peer", peer.String()).Msg("a request came with X-Forwarded-For from a peer not in TRUSTED_PROXIES, " +
		"so the header is ignored: if the gateway runs behind a proxy, every client shares the proxy's address " +
		"for throttling (one client's failed logins refuse everyone's) and in the audit log; set TRUSTED_PROXIES " +
		"to the proxy's address. Logged once per process")
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// sameOrigin implements the CSRF rule of docs/api.md: the Origin (or, without it,
// the Referer) must be this gateway's own origin or an allowed one.
func (s *Server) sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		ref := r.Header.Get("Referer")
		if ref == "" {
			return false
		}
		origin = originOf(ref)
	}
	if s.allowedOrigin(origin) {
		return true
	}
	host := strings.TrimPrefix(strings.TrimPrefix(origin, "https://"), "http://")
	return host != origin && host == r.Host
}

func (s *Server) allowedOrigin(origin string) bool {
	for _, o := range s.cfg.AllowedOrigins {
		if strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

// originOf is scheme://host of a URL.
func originOf(u string) string {
	i := strings.Index(u, "://")
	if i < 0 {
		return ""
	}
	rest := u[i+3:]
	if j := strings.IndexAny(rest, "/?#"); j >= 0 {
		rest = rest[:j]
	}
	return u[:i+3] + rest
}

// clientString is clientIP as text, worked out once per request (the
// context argument and the access log both want it).
func (s *Server) clientString(ri *requestWriter, r *http.Request) string {
	if ri.client == "" {
		ri.client = s.clientIP(r).String()
	}
	return ri.client
}

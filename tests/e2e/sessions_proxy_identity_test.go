package e2e

import (
	"context"
	"io"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"

	"homebase/gateway"
)

// proxyGatewayURL is the database URL of the proxy-trusting login
// (gateway_proxy, a member of gateway_proxy; scripts/lib/roles.sh bootstrap_roles),
// TEST_GATEWAY_PROXY_DATABASE_URL.
func proxyGatewayURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("TEST_GATEWAY_PROXY_DATABASE_URL")
	if u == "" {
		t.Skip("TEST_GATEWAY_PROXY_DATABASE_URL is not set (scripts/test sets it)")
	}
	return u
}

// startProxyGateway is a gateway that believes X-Remote-User from loopback,
// connected as gateway_proxy.
func startProxyGateway(t *testing.T, edit func(*gateway.Config)) *testGateway {
	t.Helper()
	url := proxyGatewayURL(t)
	return startGateway(t, func(c *gateway.Config) {
		c.DatabaseURL = url
		c.ProxyUserHeader = "X-Remote-User"
		if edit != nil {
			edit(c)
		}
	})
}

func remoteUser(name string, more ...string) map[string]string {
	h := map[string]string{"X-Remote-User": name}
	for i := 0; i+1 < len(more); i += 2 {
		h[more[i]] = more[i+1]
	}
	return h
}

// A trusted peer's X-Remote-User is the account, with no token; what it
// changes is audit-logged as the proxy's.
func TestProxyUserActsAsTheAccount(t *testing.T) {
	g := startProxyGateway(t, nil)
	u := g.signup(t)

	r := g.do(req{Method: "GET", Path: "/session", Headers: remoteUser(u.Username)})
	expect(t, r, 200, "")
	body := r.JSON(t)
	expectAccount(t, obj(t, body, "account"), u)
	if body["session"] != nil || body["identity"] != "proxy" {
		t.Fatalf("session %v, identity %v; want null and proxy", body["session"], body["identity"])
	}

	// The name ignores case, as logins do.
	r = g.do(req{Method: "GET", Path: "/session", Headers: remoteUser(strings.ToUpper(u.Username))})
	expect(t, r, 200, "")

	// A write: the CSRF rule of cookies holds (a browser sends Basic auth by itself).
	create := req{Method: "POST", Path: "/trackers", Body: map[string]any{"name": "Sleep", "type": "note"},
		Headers: remoteUser(u.Username, "X-Request-Id", unique("proxy-write-"))}
	expect(t, g.do(create), 403, "CSRF")
	create.Headers["Origin"] = "https://app.example"
	expect(t, g.do(create), 201, "")
	var n int
	var changes string
	if err := owner.QueryRow(context.Background(),
		`SELECT count(*), string_agg(details->>'changes', ',') FROM audit.logs
		  WHERE request_id = $1 AND source = 'proxy' AND account_id = $2 AND details->>'identity' = 'proxy'`,
		create.Headers["X-Request-Id"], int64(u.ID)).Scan(&n, &changes); err != nil {
		t.Fatal(err)
	}
	if n != 1 || changes != `["INSERT tracking.trackers"]` {
		t.Fatalf("audit rows of the write: %d, changes %s; want one, INSERT tracking.trackers", n, changes)
	}

	// The access log says the identity came from the proxy, never whose.
	line := g.accessLine(t, create.Headers["X-Request-Id"])
	if line["identity"] != "proxy" {
		t.Fatalf("access log line %v: want identity proxy", line)
	}
	if strings.Contains(g.Log.String(), u.Username) {
		t.Fatal("the gateway's log holds the proxy's user name")
	}
}

// The proxy's identity wins over a token sent beside it, and routes about
// sessions say what an identity without one means.
func TestProxyUserSessionRoutes(t *testing.T) {
	g := startProxyGateway(t, nil)
	u, other := g.signup(t), g.signup(t)
	tok := g.login(t, other, "UA-proxy")
	mine := g.login(t, u, "UA-mine")

	r := g.do(req{Method: "GET", Path: "/session", Token: tok, UA: "UA-proxy", Headers: remoteUser(u.Username)})
	expect(t, r, 200, "")
	expectAccount(t, obj(t, r.JSON(t), "account"), u)

	r = g.do(req{Method: "GET", Path: "/sessions", Headers: remoteUser(u.Username)})
	expect(t, r, 200, "")
	list := r.JSON(t)["sessions"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["current"] != false {
		t.Fatalf("sessions %v: want the one token session, not current", list)
	}
	origin := "https://app.example"
	expect(t, g.do(req{Method: "DELETE", Path: "/session", Headers: remoteUser(u.Username, "Origin", origin)}), 409, "CONFLICT")
	expect(t, g.do(req{Method: "DELETE", Path: "/sessions", Headers: remoteUser(u.Username, "Origin", origin)}), 204, "")
	if n := sessionRows(t, u.ID); n != 0 {
		t.Fatalf("%d sessions left after DELETE /sessions; want none", n)
	}
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: mine, UA: "UA-mine"}), 401, "INVALID")
	if n := sessionRows(t, other.ID); n != 1 {
		t.Fatalf("the other account has %d sessions; want its own one kept", n)
	}
}

// What is not believed: an unknown or disabled name reaches SQL and is a
// 401 INVALID; a malformed header, or any header from a peer outside
// TRUSTED_PROXIES, never reaches SQL (401 UNAUTHENTICATED, as with no
// credentials at all).
func TestProxyUserRefused(t *testing.T) {
	g := startProxyGateway(t, nil)
	u := g.signup(t)

	expect(t, g.do(req{Method: "GET", Path: "/session", Headers: remoteUser(unique("nobody_"))}), 401, "INVALID")
	if _, err := owner.Exec(context.Background(), "SELECT auth.disable_account($1)", u.Username); err != nil {
		t.Fatal(err)
	}
	expect(t, g.do(req{Method: "GET", Path: "/session", Headers: remoteUser(u.Username)}), 401, "INVALID")
	if _, err := owner.Exec(context.Background(), "SELECT auth.enable_account($1)", u.Username); err != nil {
		t.Fatal(err)
	}
	expect(t, g.do(req{Method: "GET", Path: "/session", Headers: remoteUser(u.Username)}), 200, "")

	for _, bad := range []string{"", u.Username + " x", u.Username + ",x", "ab", strings.Repeat("a", 33),
		"al\u00e9", "x'; --", u.Username + "\x00"} {
		r, err := g.try(req{Method: "GET", Path: "/session", Headers: remoteUser(bad)})
		if err != nil {
			continue // refused by the HTTP client itself: never sent
		}
		expect(t, r, 401, "UNAUTHENTICATED")
	}

	// Sent twice: ambiguous, ignored.
	r := g.doRaw(t, "GET", "/session", [][2]string{{"X-Remote-User", u.Username}, {"X-Remote-User", u.Username}})
	expect(t, r, 401, "UNAUTHENTICATED")

	// The same gateway trusting another network: loopback is an untrusted peer.
	untrusting := startProxyGateway(t, func(c *gateway.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	})
	expect(t, untrusting.do(req{Method: "GET", Path: "/session", Headers: remoteUser(u.Username)}), 401, "UNAUTHENTICATED")
	// ... even when it claims, in X-Forwarded-For, to come through a trusted proxy.
	expect(t, untrusting.do(req{Method: "GET", Path: "/session", IP: "192.0.2.7", Headers: remoteUser(u.Username)}),
		401, "UNAUTHENTICATED")

	// The setting off: the header is nothing, even on the trusted login.
	off := startProxyGateway(t, func(c *gateway.Config) { c.ProxyUserHeader = "" })
	expect(t, off.do(req{Method: "GET", Path: "/session", Headers: remoteUser(u.Username)}), 401, "UNAUTHENTICATED")
}

// The database holds the trust: a gateway set to believe the header but
// connected as the ordinary gateway role gets every assertion refused, and
// its /readyz says why.
func TestProxyUserNeedsTheProxyRole(t *testing.T) {
	proxyGatewayURL(t)
	g := startGateway(t, func(c *gateway.Config) { c.ProxyUserHeader = "X-Remote-User" })
	u := g.signup(t)
	id := unique("proxy-untrusted-")
	expect(t, g.do(req{Method: "GET", Path: "/session", Headers: remoteUser(u.Username, "X-Request-Id", id)}), 401, "INVALID")
	var by string
	if err := owner.QueryRow(context.Background(),
		"SELECT details->>'by' FROM audit.logs WHERE request_id = $1 AND message = 'proxy identity refused'", id).Scan(&by); err != nil {
		t.Fatalf("no 'proxy identity refused' row: %v", err)
	}
	r := g.do(req{Method: "GET", Path: "//readyz"})
	expect(t, r, 503, "UNAVAILABLE")
	if !strings.Contains(string(r.Body), "gateway_proxy") {
		t.Fatalf("/readyz: %s; want it to name gateway_proxy", r.Body)
	}
	expect(t, startProxyGateway(t, nil).do(req{Method: "GET", Path: "//readyz"}), 200, "")
}

// doRaw sends a request with headers added one by one, repeats included.
func (g *testGateway) doRaw(t *testing.T, method, path string, headers [][2]string) resp {
	t.Helper()
	hr, err := http.NewRequest(method, g.URL+"/api/v1"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		hr.Header.Add(h[0], h[1])
	}
	res, err := g.http.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp{Status: res.StatusCode, Header: res.Header, Body: raw}
}

package e2e

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"homebase/gateway"
)

// Logging in and out, the session routes, the cookie, throttling, and the
// session checks on every authenticated route.

const thirtyDays = 30 * 24 * time.Hour

func TestLogin(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	u := g.signup(t)

	r := g.loginResp(u, "Firefox/1")
	expect(t, r, 201, "")
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control %q on an answer with a token, want no-store", cc)
	}
	body := r.JSON(t)
	expectKeys(t, "login answer", body, "token", "expires_at", "account")
	tok, _ := body["token"].(string)
	// 256 random bits, base64url without padding.
	if raw, err := base64.RawURLEncoding.DecodeString(tok); err != nil || len(raw) != 32 {
		t.Fatalf("token %q is not 32 bytes of base64url (%v)", tok, err)
	}
	expires := timestamp(t, body["expires_at"])
	near(t, "expires_at", expires, time.Now().Add(thirtyDays), 10*time.Minute)
	expectAccount(t, obj(t, body, "account"), u)
	if strings.Contains(string(r.Body), u.Password) {
		t.Fatal("the login answer contains the password")
	}

	// The cookie: the same token, for the browser only, over HTTPS only.
	c := sessionCookieOf(r)
	if c == nil {
		t.Fatalf("no session cookie; headers %v", r.Header)
	}
	if c.Value != tok {
		t.Fatalf("cookie value %q, want the token", c.Value)
	}
	if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
		t.Fatalf("cookie %q, want HttpOnly, Secure, SameSite=Lax, Path=/", c.Raw)
	}
	if !strings.Contains(c.Raw, "SameSite=Lax") {
		t.Fatalf("cookie %q does not say SameSite=Lax", c.Raw)
	}
	if want := int(time.Until(expires).Seconds()); c.MaxAge < want-600 || c.MaxAge > want+600 {
		t.Fatalf("cookie Max-Age %d, want about %d (until expires_at, 30 days)", c.MaxAge, want)
	}
	if c.MaxAge < int(thirtyDays.Seconds())-600 || c.MaxAge > int(thirtyDays.Seconds())+600 {
		t.Fatalf("cookie Max-Age %d, want about 30 days", c.MaxAge)
	}

	// The login is a username or an e-mail, in any case.
	for _, login := range []string{u.Email, strings.ToUpper(u.Username), strings.ToUpper(u.Email)} {
		r := g.do(req{Method: "POST", Path: "/sessions", UA: "ua-" + login, IP: u.IP,
			Body: map[string]any{"login": login, "password": u.Password}})
		expect(t, r, 201, "")
		expectAccount(t, obj(t, r.JSON(t), "account"), u)
	}
	if n := sessionRows(t, u.ID); n != 4 {
		t.Fatalf("%d sessions after 4 logins from 4 browsers, want 4", n)
	}
}

// An unknown login and a wrong password are indistinguishable.
func TestLoginInvalidCredentials(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	u := g.signup(t)

	wrong := g.do(req{Method: "POST", Path: "/sessions", UA: "ua", IP: u.IP,
		Body: map[string]any{"login": u.Username, "password": u.Password + "x"}})
	expect(t, wrong, 401, "INVALID_CREDENTIALS")
	expectErrorBody(t, wrong)
	unknown := g.do(req{Method: "POST", Path: "/sessions", UA: "ua", IP: uniqueIP(),
		Body: map[string]any{"login": unique("nobody_"), "password": u.Password}})
	expect(t, unknown, 401, "INVALID_CREDENTIALS")
	unknownEmail := g.do(req{Method: "POST", Path: "/sessions", UA: "ua", IP: uniqueIP(),
		Body: map[string]any{"login": unique("nobody_") + "@example.com", "password": u.Password}})
	expect(t, unknownEmail, 401, "INVALID_CREDENTIALS")
	if string(wrong.Body) != string(unknown.Body) || string(wrong.Body) != string(unknownEmail.Body) {
		t.Fatalf("bodies differ:\nwrong password: %s\nunknown login:  %s\nunknown e-mail: %s", wrong.Body, unknown.Body, unknownEmail.Body)
	}
	for _, r := range []resp{wrong, unknown, unknownEmail} {
		if sessionCookieOf(r) != nil || r.Header.Get("Retry-After") != "" {
			t.Fatalf("failed login set %v", r.Header)
		}
	}
	// The password is checked whole: a prefix or different case fails.
	for _, pw := range []string{u.Password[:len(u.Password)-1], strings.ToUpper(u.Password)} {
		expect(t, g.do(req{Method: "POST", Path: "/sessions", UA: "ua", IP: u.IP,
			Body: map[string]any{"login": u.Username, "password": pw}}), 401, "INVALID_CREDENTIALS")
	}
	if n := sessionRows(t, u.ID); n != 0 {
		t.Fatalf("%d sessions after failed logins", n)
	}

	// Missing members are a validation error, not a failed login.
	r := g.do(req{Method: "POST", Path: "/sessions", IP: u.IP, Body: map[string]any{"login": u.Username}})
	expect(t, r, 422, "VALIDATION")
	if d := details(t, r); d["password"] == "" {
		t.Fatalf("details %v, want password", d)
	}
	r = g.do(req{Method: "POST", Path: "/sessions", IP: u.IP, Body: map[string]any{}})
	expect(t, r, 422, "VALIDATION")
	if d := details(t, r); d["password"] == "" || d["login"] == "" {
		t.Fatalf("details %v, want login and password", d)
	}
	// The right password still works after a few failures.
	g.login(t, u, "ua")
}

// Five failures against an account from one address block that address
// (429 and Retry-After, even for the right password); the account still logs
// in from another address, and other accounts are not affected.
func TestLoginThrottledPerAccount(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	u := g.signup(t)
	other := g.signup(t)
	for i := 0; i < 5; i++ {
		expect(t, g.do(req{Method: "POST", Path: "/sessions", IP: u.IP,
			Body: map[string]any{"login": u.Username, "password": fmt.Sprintf("wrong password %d", i)}}), 401, "INVALID_CREDENTIALS")
	}
	r := g.loginResp(u, "ua") // even the right password
	expect(t, r, 429, "RATE_LIMITED")
	expectErrorBody(t, r)
	retry, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || retry < 1 || retry > 15*60 {
		t.Fatalf("Retry-After %q, want seconds in 1..900", r.Header.Get("Retry-After"))
	}
	if d, _ := r.JSON(t)["details"].(map[string]any); d["retry_after"] != float64(retry) {
		t.Fatalf("details %v, want retry_after %d", d, retry)
	}
	if sessionCookieOf(r) != nil || sessionRows(t, u.ID) != 0 {
		t.Fatal("a throttled login created a session")
	}
	// From that address the e-mail as login is blocked too ...
	expect(t, g.do(req{Method: "POST", Path: "/sessions", IP: u.IP,
		Body: map[string]any{"login": strings.ToUpper(u.Email), "password": u.Password}}), 429, "RATE_LIMITED")
	// ... but not another address: five wrong guesses lock nobody out.
	expect(t, g.do(req{Method: "POST", Path: "/sessions", IP: uniqueIP(),
		Body: map[string]any{"login": strings.ToUpper(u.Email), "password": u.Password}}), 201, "")
	// Another account is not affected either.
	g.login(t, other, "ua")
}

// Twenty failures from one address block it, whatever the logins.
func TestLoginThrottledPerIP(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	u := g.signup(t)
	ip := uniqueIP()
	for i := 0; i < 20; i++ {
		expect(t, g.do(req{Method: "POST", Path: "/sessions", IP: ip,
			Body: map[string]any{"login": unique("ghost_"), "password": "whatever password"}}), 401, "INVALID_CREDENTIALS")
	}
	r := g.do(req{Method: "POST", Path: "/sessions", IP: ip,
		Body: map[string]any{"login": u.Username, "password": u.Password}})
	expect(t, r, 429, "RATE_LIMITED")
	if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 {
		t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
	}
	// The account itself is fine from its own address.
	g.login(t, u, "ua")
}

func TestCurrentSession(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	u := g.signup(t)
	before := time.Now()
	tok := g.login(t, u, "Firefox/1")

	r := g.do(req{Method: "GET", Path: "/session", Token: tok, UA: "Firefox/1"})
	expect(t, r, 200, "")
	body := r.JSON(t)
	expectKeys(t, "GET /session", body, "account", "session", "identity")
	if body["identity"] != "token" {
		t.Fatalf("identity %v, want token", body["identity"])
	}
	expectAccount(t, obj(t, body, "account"), u)
	s := obj(t, body, "session")
	expectKeys(t, "session", s, "id", "created_at", "last_used", "expires_at")
	if id, ok := s["id"].(float64); !ok || id < 1 {
		t.Fatalf("session id %v", s["id"])
	}
	created := timestamp(t, s["created_at"])
	near(t, "created_at", created, before, 5*time.Minute)
	near(t, "last_used", timestamp(t, s["last_used"]), created, time.Minute)
	// 30 days; an hour's slack for a server whose TimeZone has DST.
	near(t, "expires_at", timestamp(t, s["expires_at"]), created.Add(thirtyDays), time.Hour)
	if strings.Contains(string(r.Body), tok) {
		t.Fatal("GET /session echoes the token")
	}

	// The cookie alone authenticates.
	rc := g.do(req{Method: "GET", Path: "/session", UA: "Firefox/1", Headers: withCookie(tok)})
	expect(t, rc, 200, "")
	if obj(t, rc.JSON(t), "session")["id"] != s["id"] {
		t.Fatalf("cookie session %s, want the same as the token's", rc.Body)
	}
	// A Bearer token wins over the cookie.
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: "not-a-token", UA: "Firefox/1", Headers: withCookie(tok)}), 401, "INVALID")
	// Bearer is case-insensitive, as RFC 6750 scheme names are.
	expect(t, g.do(req{Method: "GET", Path: "/session", UA: "Firefox/1",
		Headers: map[string]string{"Authorization": "bearer " + tok}}), 200, "")
	// Anything but Bearer is no token at all.
	expect(t, g.do(req{Method: "GET", Path: "/session", UA: "Firefox/1",
		Headers: map[string]string{"Authorization": "Basic " + tok}}), 401, "UNAUTHENTICATED")
}

// An unusable cookie is cleared, so that the browser stops sending it.
func TestBadCookieIsCleared(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	r := g.do(req{Method: "GET", Path: "/session", UA: "ua", Headers: withCookie("no-such-token")})
	expect(t, r, 401, "INVALID")
	expectCookieCleared(t, r)

	u := g.signup(t)
	tok := g.login(t, u, "Firefox/1")
	r = g.do(req{Method: "GET", Path: "/session", UA: "Chrome/9", Headers: withCookie(tok)})
	expect(t, r, 401, "BROWSER")
	expectCookieCleared(t, r)
	if c := sessionCookieOf(r); !c.Secure || !c.HttpOnly {
		t.Fatalf("clearing cookie %q lacks Secure or HttpOnly", c.Raw)
	}
	// A Bearer failure leaves cookies alone.
	r = g.do(req{Method: "GET", Path: "/session", UA: "ua", Token: "no-such-token"})
	expect(t, r, 401, "INVALID")
	if sessionCookieOf(r) != nil {
		t.Fatalf("a Bearer failure touched the cookie: %v", r.Header)
	}
}

// COOKIE_SECURE=false (plain-HTTP development) drops the Secure flag, and
// with it the __Host- prefix (browsers refuse it without Secure): the
// cookie is "session", the only name that gateway reads.
func TestCookieWithoutSecure(t *testing.T) {
	t.Parallel()
	g := startGateway(t, func(c *gateway.Config) { c.CookieSecure = false })
	u := g.signup(t)
	r := g.loginResp(u, "ua")
	expect(t, r, 201, "")
	c := sessionCookieOf(r)
	if c == nil || c.Name != plainCookie || c.Secure || strings.Contains(strings.ToLower(c.Raw), "secure") {
		t.Fatalf("cookie %v, want %s without Secure", c, plainCookie)
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.MaxAge < int(thirtyDays.Seconds())-600 {
		t.Fatalf("cookie %q lost its other attributes", c.Raw)
	}
	expect(t, g.do(req{Method: "GET", Path: "/session", UA: "ua", Headers: withCookieNamed(plainCookie, c.Value)}), 200, "")
	// The Secure gateway's name is not read here.
	expect(t, g.do(req{Method: "GET", Path: "/session", UA: "ua", Headers: withCookieNamed(secureCookie, c.Value)}),
		401, "UNAUTHENTICATED")
	out := g.do(req{Method: "DELETE", Path: "/session", UA: "ua", Headers: withCookieNamed(plainCookie, c.Value, "Origin", g.URL)})
	expect(t, out, 204, "")
	expectCookieCleared(t, out)
	if c := sessionCookieOf(out); c.Secure || c.Name != plainCookie {
		t.Fatalf("the clearing cookie %q is Secure, or not %s, on a plain-HTTP gateway", c.Raw, plainCookie)
	}
}

// COOKIE_SECURE=true: the cookie is __Host-session (Secure, Path=/, no
// Domain), so that no sibling subdomain can plant one for this origin; a
// cookie named "session" (which a sibling could plant) is not read at all.
func TestCookieHostPrefix(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	u := g.signup(t)
	r := g.loginResp(u, "ua")
	expect(t, r, 201, "")
	c := sessionCookieOf(r)
	if c == nil || c.Name != secureCookie || !c.Secure || c.Path != "/" || c.Domain != "" ||
		strings.Contains(strings.ToLower(c.Raw), "domain") {
		t.Fatalf("cookie %v, want %s; Secure; Path=/ and no Domain", c, secureCookie)
	}
	expect(t, g.do(req{Method: "GET", Path: "/session", UA: "ua", Headers: withCookieNamed(secureCookie, c.Value)}), 200, "")
	planted := g.do(req{Method: "GET", Path: "/session", UA: "ua", Headers: withCookieNamed(plainCookie, c.Value)})
	expect(t, planted, 401, "UNAUTHENTICATED")
	if sessionCookieOf(planted) != nil {
		t.Fatalf("an ignored cookie was answered with a Set-Cookie: %v", planted.Header)
	}
	out := g.do(req{Method: "DELETE", Path: "/session", UA: "ua", Headers: withCookieNamed(secureCookie, c.Value, "Origin", g.URL)})
	expect(t, out, 204, "")
	expectCookieCleared(t, out)
	if c := sessionCookieOf(out); !c.Secure || c.Name != secureCookie {
		t.Fatalf("the clearing cookie %q is not a Secure %s", c.Raw, secureCookie)
	}
}

func TestLogout(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	u := g.signup(t)
	tok := g.login(t, u, "ua")
	keep := g.login(t, u, "other ua")

	r := g.do(req{Method: "DELETE", Path: "/session", Token: tok, UA: "ua"})
	expect(t, r, 204, "")
	if len(r.Body) != 0 {
		t.Fatalf("204 with a body: %q", r.Body)
	}
	expectCookieCleared(t, r)
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: tok, UA: "ua"}), 401, "INVALID")
	expect(t, g.do(req{Method: "DELETE", Path: "/session", Token: tok, UA: "ua"}), 401, "INVALID")
	// Only that session ended.
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: keep, UA: "other ua"}), 200, "")
	if n := sessionRows(t, u.ID); n != 1 {
		t.Fatalf("%d sessions after logging one of two out, want 1", n)
	}

	// By cookie, from the application's own origin.
	r = g.do(req{Method: "DELETE", Path: "/session", UA: "other ua", Headers: withCookie(keep, "Origin", "https://app.example")})
	expect(t, r, 204, "")
	expectCookieCleared(t, r)
	if n := sessionRows(t, u.ID); n != 0 {
		t.Fatalf("%d sessions after logging both out", n)
	}
}

func TestListSessions(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	u := g.signup(t)
	other := g.signup(t)
	g.login(t, other, "ua") // someone else's session is never listed
	first := g.login(t, u, "Firefox/1")
	secondIP := uniqueIP()
	r := g.do(req{Method: "POST", Path: "/sessions", UA: "Chrome/2", IP: secondIP,
		Body: map[string]any{"login": u.Username, "password": u.Password}})
	expect(t, r, 201, "")
	second := r.JSON(t)["token"].(string)

	r = g.do(req{Method: "GET", Path: "/sessions", Token: first, UA: "Firefox/1"})
	expect(t, r, 200, "")
	body := r.JSON(t)
	expectKeys(t, "GET /sessions", body, "sessions")
	list, ok := body["sessions"].([]any)
	if !ok || len(list) != 2 {
		t.Fatalf("sessions %s, want 2", r.Body)
	}
	var prev time.Time
	current := 0
	for i, item := range list {
		s, ok := item.(map[string]any)
		if !ok {
			t.Fatalf("session %d is %T", i, item)
		}
		expectKeys(t, "listed session", s, "id", "browser_info", "ip_address", "created_at", "last_used", "expires_at", "current")
		created := timestamp(t, s["created_at"])
		timestamp(t, s["last_used"])
		near(t, "expires_at", timestamp(t, s["expires_at"]), created.Add(thirtyDays), time.Hour)
		if i > 0 && created.After(prev) {
			t.Fatalf("sessions not newest first: %s", r.Body)
		}
		prev = created
		if s["current"] == true {
			current++
		}
		if _, ok := s["current"].(bool); !ok {
			t.Fatalf("current is %T", s["current"])
		}
	}
	newest, oldest := list[0].(map[string]any), list[1].(map[string]any)
	if newest["browser_info"] != "Chrome/2" || newest["ip_address"] != secondIP || newest["current"] != false {
		t.Fatalf("newest session %v, want Chrome/2 from %s, not current", newest, secondIP)
	}
	if oldest["browser_info"] != "Firefox/1" || oldest["ip_address"] != u.IP || oldest["current"] != true {
		t.Fatalf("oldest session %v, want Firefox/1 from %s, current", oldest, u.IP)
	}
	if current != 1 {
		t.Fatalf("%d sessions marked current, want 1", current)
	}

	// Never a token or its digest.
	for _, tok := range []string{first, second} {
		var digest []byte
		if err := owner.QueryRow(context.Background(), "SELECT auth.token_digest($1)", tok).Scan(&digest); err != nil {
			t.Fatal(err)
		}
		for _, leak := range []string{tok, hex.EncodeToString(digest), base64.StdEncoding.EncodeToString(digest)} {
			if strings.Contains(string(r.Body), leak) {
				t.Fatalf("the list contains a token or digest: %s", r.Body)
			}
		}
	}
	for _, word := range []string{"token", "digest"} {
		if strings.Contains(string(r.Body), word) {
			t.Fatalf("the list mentions %q: %s", word, r.Body)
		}
	}

	// From the other session, the other one is current.
	r = g.do(req{Method: "GET", Path: "/sessions", Token: second, UA: "Chrome/2"})
	expect(t, r, 200, "")
	list = r.JSON(t)["sessions"].([]any)
	if list[0].(map[string]any)["current"] != true || list[1].(map[string]any)["current"] != false {
		t.Fatalf("current flags from the second session: %s", r.Body)
	}
}

func TestRevokeSession(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	u := g.signup(t)
	mallory := g.signup(t)
	mine := g.login(t, u, "laptop")
	phone := g.login(t, u, "phone")
	theirs := g.login(t, mallory, "ua")
	phoneID := sessionID(t, g, phone, "phone")
	theirID := sessionID(t, g, theirs, "ua")

	r := g.do(req{Method: "DELETE", Path: fmt.Sprintf("/sessions/%d", phoneID), Token: mine, UA: "laptop"})
	expect(t, r, 204, "")
	if len(r.Body) != 0 || sessionCookieOf(r) != nil {
		t.Fatalf("revoking another session answered %v %q", r.Header, r.Body)
	}
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: phone, UA: "phone"}), 401, "INVALID")
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: mine, UA: "laptop"}), 200, "")
	// Gone now: 404.
	expect(t, g.do(req{Method: "DELETE", Path: fmt.Sprintf("/sessions/%d", phoneID), Token: mine, UA: "laptop"}), 404, "NOT_FOUND")

	// Someone else's session is "not found", and survives.
	r = g.do(req{Method: "DELETE", Path: fmt.Sprintf("/sessions/%d", theirID), Token: mine, UA: "laptop"})
	expect(t, r, 404, "NOT_FOUND")
	expectErrorBody(t, r)
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: theirs, UA: "ua"}), 200, "")
	expect(t, g.do(req{Method: "DELETE", Path: "/sessions/9223372036854775807", Token: mine, UA: "laptop"}), 404, "NOT_FOUND")

	// Ids are positive integers.
	for _, id := range []string{"abc", "0", "-1", "1.5", "1e3", "9223372036854775808", "%20" + strconv.Itoa(int(phoneID))} {
		r := g.do(req{Method: "DELETE", Path: "/sessions/" + id, Token: mine, UA: "laptop"})
		expect(t, r, 400, "BAD_REQUEST")
		if d := details(t, r); d["id"] == "" {
			t.Fatalf("id %q: details %v, want id", id, d)
		}
	}

	// One's own current session can be revoked by id too.
	mineID := sessionID(t, g, mine, "laptop")
	expect(t, g.do(req{Method: "DELETE", Path: fmt.Sprintf("/sessions/%d", mineID), Token: mine, UA: "laptop"}), 204, "")
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: mine, UA: "laptop"}), 401, "INVALID")
}

// sessionID is the id of the session behind a token.
func sessionID(t *testing.T, g *testGateway, tok, ua string) int64 {
	t.Helper()
	r := g.do(req{Method: "GET", Path: "/session", Token: tok, UA: ua})
	expect(t, r, 200, "")
	return int64(obj(t, r.JSON(t), "session")["id"].(float64))
}

func TestRevokeOtherSessions(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	u := g.signup(t)
	bystander := g.signup(t)
	theirs := g.login(t, bystander, "ua")
	keep := g.login(t, u, "a")
	others := []string{g.login(t, u, "b"), g.login(t, u, "c")}

	r := g.do(req{Method: "DELETE", Path: "/sessions", Token: keep, UA: "a"})
	expect(t, r, 204, "")
	if len(r.Body) != 0 || sessionCookieOf(r) != nil {
		t.Fatalf("answer %v %q", r.Header, r.Body)
	}
	for i, tok := range others {
		expect(t, g.do(req{Method: "GET", Path: "/session", Token: tok, UA: string(rune('b' + i))}), 401, "INVALID")
	}
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: keep, UA: "a"}), 200, "")
	r = g.do(req{Method: "GET", Path: "/sessions", Token: keep, UA: "a"})
	list := r.JSON(t)["sessions"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["current"] != true {
		t.Fatalf("sessions left %s, want only the current one", r.Body)
	}
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: theirs, UA: "ua"}), 200, "")
	// Nothing else to revoke: still 204.
	expect(t, g.do(req{Method: "DELETE", Path: "/sessions", Token: keep, UA: "a"}), 204, "")
}

// The seed's rule: one session per account, browser and address.
func TestOneSessionPerDevice(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	u := g.signup(t)
	old := g.login(t, u, "Firefox/1")
	renewed := g.login(t, u, "Firefox/1")
	if old == renewed {
		t.Fatal("a second login returned the same token")
	}
	if n := sessionRows(t, u.ID); n != 1 {
		t.Fatalf("%d sessions after two logins from one device, want 1", n)
	}
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: old, UA: "Firefox/1"}), 401, "INVALID")
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: renewed, UA: "Firefox/1"}), 200, "")

	// Another browser on the same address is another device.
	chrome := g.login(t, u, "Chrome/9")
	// The same browser from another address, too.
	r := g.do(req{Method: "POST", Path: "/sessions", UA: "Firefox/1", IP: uniqueIP(),
		Body: map[string]any{"login": u.Username, "password": u.Password}})
	expect(t, r, 201, "")
	elsewhere := r.JSON(t)["token"].(string)
	if n := sessionRows(t, u.ID); n != 3 {
		t.Fatalf("%d sessions for three devices, want 3", n)
	}
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: renewed, UA: "Firefox/1"}), 200, "")
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: chrome, UA: "Chrome/9"}), 200, "")
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: elsewhere, UA: "Firefox/1"}), 200, "")
}

// A missing User-Agent is the empty browser: it can log in, and a session made
// with one must keep presenting none.
func TestNoUserAgent(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	u := g.signup(t)
	tok := g.login(t, u, "")
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: tok}), 200, "")
	r := g.do(req{Method: "GET", Path: "/sessions", Token: tok})
	if s := r.JSON(t)["sessions"].([]any)[0].(map[string]any); s["browser_info"] != "" {
		t.Fatalf("browser_info %v, want empty", s["browser_info"])
	}
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: tok, UA: "curl/8"}), 401, "BROWSER")
}

// authRoutes are the routes that need a token, with a request for each that
// is well-formed apart from authentication.
func authRoutes() []req {
	var out []req
	for _, rt := range gateway.Routes {
		if !rt.Auth {
			continue
		}
		r := req{Method: rt.Method, Path: routePath(rt, nil)}
		for _, a := range rt.Args {
			if a.From == gateway.FromBody {
				r.Body = map[string]any{}
			}
		}
		out = append(out, r)
	}
	return out
}

// Every authenticated route: no token is 401 UNAUTHENTICATED, an unknown one
// INVALID, and a session presented by another browser or past its expiry is
// refused and deleted (committed although the request fails).
func TestSessionChecksOnEveryRoute(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	routes := authRoutes()
	if len(routes) < 8 {
		t.Fatalf("only %d authenticated routes in the table", len(routes))
	}
	for _, rt := range routes {
		t.Run(rt.Method+" "+rt.Path, func(t *testing.T) {
			t.Parallel()
			g := g.in(t)
			r := rt
			r.UA = "ua"
			res := g.do(r)
			expect(t, res, 401, "UNAUTHENTICATED")
			expectErrorBody(t, res)

			r.Token = "unknown-" + unique("")
			expect(t, g.do(r), 401, "INVALID")

			u := g.signup(t)
			r.Token = g.login(t, u, "Firefox/1")
			r.UA = "Chrome/9"
			expect(t, g.do(r), 401, "BROWSER")
			if n := sessionRows(t, u.ID); n != 0 {
				t.Fatalf("%d sessions left after BROWSER, want 0", n)
			}

			r.Token = g.login(t, u, "Firefox/1")
			r.UA = "Firefox/1"
			if _, err := owner.Exec(context.Background(),
				`UPDATE auth.account_sessions SET created_at = now() - interval '30 days 1 second',
				        expiry_time = now() - interval '1 second' WHERE account_id = $1`, int64(u.ID)); err != nil {
				t.Fatal(err)
			}
			expect(t, g.do(r), 401, "EXPIRED")
			if n := sessionRows(t, u.ID); n != 0 {
				t.Fatalf("%d sessions left after EXPIRED, want 0", n)
			}
			expect(t, g.do(r), 401, "INVALID")
			if !accountExists(t, u.ID) {
				t.Fatal("a refused session took the account with it")
			}
		})
	}
}

// Expired sessions are not listed, even before anyone presents them.
func TestExpiredSessionsNotListed(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	u := g.signup(t)
	stale := g.login(t, u, "old")
	tok := g.login(t, u, "new")
	if _, err := owner.Exec(context.Background(),
		`UPDATE auth.account_sessions SET expiry_time = now() - interval '1 second' WHERE id = $1`,
		sessionID(t, g, stale, "old")); err != nil {
		t.Fatal(err)
	}
	r := g.do(req{Method: "GET", Path: "/sessions", Token: tok, UA: "new"})
	expect(t, r, 200, "")
	if list := r.JSON(t)["sessions"].([]any); len(list) != 1 || list[0].(map[string]any)["browser_info"] != "new" {
		t.Fatalf("sessions %s, want only the live one", r.Body)
	}
}

// Logins of one account from many devices at once all succeed.
func TestConcurrentLogins(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	u := g.signup(t)
	const n = 8
	var wg sync.WaitGroup
	results := make([]resp, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i], errs[i] = g.try(req{Method: "POST", Path: "/sessions", UA: fmt.Sprintf("device-%d", i), IP: u.IP,
				Body: map[string]any{"login": u.Username, "password": u.Password}})
		}(i)
	}
	wg.Wait()
	for i, r := range results {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if r.Status != 201 {
			t.Fatalf("login %d: %d %s", i, r.Status, r.Body)
		}
	}
	if got := sessionRows(t, u.ID); got != n {
		t.Fatalf("%d sessions, want %d", got, n)
	}
}

// A failure that must commit (docs/architecture.md, "Errors"): the request
// fails with 401, yet the session row is gone afterwards.
func TestSessionDroppedOnBrowserMismatch(t *testing.T) {
	g := startGateway(t, nil)
	u := g.signup(t)
	tok := g.login(t, u, "Firefox/1")

	expect(t, g.do(req{Method: "GET", Path: "/session", Token: tok, UA: "Firefox/1"}), 200, "")
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: tok, UA: "Chrome/9"}), 401, "BROWSER")
	if n := sessionRows(t, u.ID); n != 0 {
		t.Fatalf("%d sessions left after BROWSER, want 0", n)
	}
	// Even the right browser cannot use it any more.
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: tok, UA: "Firefox/1"}), 401, "INVALID")
}

func TestSessionDroppedWhenExpired(t *testing.T) {
	g := startGateway(t, nil)
	u := g.signup(t)
	tok := g.login(t, u, "ua")
	if _, err := owner.Exec(context.Background(),
		`UPDATE auth.account_sessions SET created_at = now() - interval '31 days',
		        expiry_time = now() - interval '1 day' WHERE account_id = $1`, int64(u.ID)); err != nil {
		t.Fatal(err)
	}
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: tok, UA: "ua"}), 401, "EXPIRED")
	if n := sessionRows(t, u.ID); n != 0 {
		t.Fatalf("%d sessions left after EXPIRED, want 0", n)
	}
}

package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"homebase/gateway"
)

// Requests the gateway refuses before or around the database: malformed
// bodies, wrong routes and methods, cross-site requests, and the mapping of
// unexpected SQL errors.

func TestBadRequests(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	u := g.signup(t)
	tok := g.login(t, u, "ua")
	signup := func(body any) req { return req{Method: "POST", Path: "/accounts", Body: body} }
	login := func(body any) req { return req{Method: "POST", Path: "/sessions", IP: u.IP, Body: body} }
	patch := func(body any) req { return req{Method: "PATCH", Path: "/account", Token: tok, UA: "ua", Body: body} }

	for _, c := range []struct {
		name  string
		r     req
		field string // expected in details, if any
	}{
		{"unparseable JSON", signup(`{"username": "abc",`), ""},
		{"not JSON at all", login(`login=x&password=y`), ""},
		{"empty body", login(""), ""},
		{"JSON array", login(`[{"login": "x", "password": "y"}]`), ""},
		{"JSON string", login(`"hello"`), ""},
		{"JSON null", login(`null`), ""},
		{"two objects", login(`{"login": "x"} {"password": "y"}`), ""},
		{"trailing garbage", login(`{"login": "x", "password": "y"} xyz`), ""},
		{"invalid UTF-8", login([]byte("{\"login\": \"\xff\xfe\", \"password\": \"long enough\"}")), ""},
		{"number for username", signup(map[string]any{"username": 12345, "email": "a@example.com", "password": "long enough password"}), "username"},
		{"boolean for password", login(map[string]any{"login": u.Username, "password": true}), "password"},
		{"object for email", signup(map[string]any{"username": unique("t_"), "email": map[string]any{"a": 1}, "password": "long enough password"}), "email"},
		{"array for display_name", patch(map[string]any{"display_name": []string{"a"}}), "display_name"},
		{"unknown field", signup(map[string]any{"username": unique("t_"), "email": "a@example.com", "password": "long enough password", "is_admin": true}), "is_admin"},
		{"unknown field on login", login(map[string]any{"login": u.Username, "password": u.Password, "remember_me": true}), "remember_me"},
		{"NUL in username", signup(map[string]any{"username": "nul\x00name", "email": "a@example.com", "password": "long enough password"}), "username"},
		{"NUL in password", signup(map[string]any{"username": unique("t_"), "email": "a@example.com", "password": "long enough\x00password"}), "password"},
		{"NUL in login", login(map[string]any{"login": u.Username + "\x00", "password": u.Password}), "login"},
		{"NUL in display_name", patch(map[string]any{"display_name": "\x00"}), "display_name"},
		{"NUL in email", patch(map[string]any{"email": "a\x00@example.com"}), "email"},
		{"NUL as a raw escape", login(`{"login": "x\u0000y", "password": "long enough"}`), "login"},
		{"NUL in a query parameter", req{Method: "GET", Path: "/availability?username=%00"}, "username"},
		{"non-integer session id", req{Method: "DELETE", Path: "/sessions/abc", Token: tok, UA: "ua"}, "id"},
	} {
		r := g.do(c.r)
		if r.Status != 400 {
			t.Errorf("%s: %d %s, want 400 BAD_REQUEST", c.name, r.Status, r.Body)
			continue
		}
		e := expectErrorBody(t, r)
		if e["code"] != "BAD_REQUEST" {
			t.Errorf("%s: code %v", c.name, e["code"])
		}
		if c.field != "" {
			if d := details(t, r); d[c.field] == "" {
				t.Errorf("%s: details %v, want %s", c.name, d, c.field)
			}
		}
	}
	// None of it touched the session or the account.
	r := g.do(req{Method: "GET", Path: "/session", Token: tok, UA: "ua"})
	expect(t, r, 200, "")
	if a := obj(t, r.JSON(t), "account"); a["display_name"] != u.Username || a["email"] != u.Email {
		t.Fatalf("account changed by refused requests: %v", a)
	}
}

func TestUnsupportedMediaType(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	u := g.signup(t)
	body := fmt.Sprintf(`{"login": %q, "password": %q}`, u.Username, u.Password)
	for _, ct := range []string{"text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded",
		"multipart/form-data; boundary=x", "application/jsonx", "garbage;;"} {
		r := g.do(req{Method: "POST", Path: "/sessions", IP: u.IP, Body: body, Headers: map[string]string{"Content-Type": ct}})
		if r.Status != 415 || r.Code(t) != "UNSUPPORTED_MEDIA_TYPE" {
			t.Errorf("Content-Type %q: %d %s, want 415 UNSUPPORTED_MEDIA_TYPE", ct, r.Status, r.Body)
		}
	}
	// No Content-Type at all.
	hr, _ := http.NewRequest("POST", g.URL+"/api/v1/sessions", strings.NewReader(body))
	res, err := g.http.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 415 {
		t.Fatalf("no Content-Type: %d, want 415", res.StatusCode)
	}
	// Parameters and case do not matter.
	for i, ct := range []string{"application/json; charset=utf-8", "Application/JSON"} {
		r := g.do(req{Method: "POST", Path: "/sessions", IP: u.IP, UA: fmt.Sprint(i), Body: body, Headers: map[string]string{"Content-Type": ct}})
		expect(t, r, 201, "")
	}
}

func TestPayloadTooLarge(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	// A JSON object of exactly n bytes: {"display_name":"ddd…","username":"x"}
	sized := func(n int) []byte {
		head, tail := `{"username":"x","display_name":"`, `"}`
		b := bytes.Repeat([]byte("d"), n-len(head)-len(tail))
		out := append([]byte(head), b...)
		out = append(out, tail...)
		if len(out) != n {
			t.Fatalf("built %d bytes, want %d", len(out), n)
		}
		return out
	}
	// Just over 1 MiB (small enough that the server drains the rest).
	r := g.do(req{Method: "POST", Path: "/accounts", Body: sized(1<<20 + 1)})
	expect(t, r, 413, "PAYLOAD_TOO_LARGE")
	expectErrorBody(t, r)
	r = g.do(req{Method: "POST", Path: "/accounts", Body: sized(1<<20 + 100<<10)})
	expect(t, r, 413, "PAYLOAD_TOO_LARGE")
	// Exactly 1 MiB is read, and judged on its content.
	r = g.do(req{Method: "POST", Path: "/accounts", Body: sized(1 << 20)})
	expect(t, r, 422, "VALIDATION")
	if d := details(t, r); d["display_name"] == "" {
		t.Fatalf("details %v, want display_name", d)
	}
	// The gateway still serves on.
	expect(t, g.do(req{Method: "GET", Path: "//healthz"}), 200, "")
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	for _, path := range []string{"/nope", "/accounts/1", "/session/1", "/sessions/1/extra", "//", "//api/v2/accounts", "//favicon.ico"} {
		r := g.do(req{Method: "GET", Path: path})
		if r.Status != 404 || r.Code(t) != "NOT_FOUND" {
			t.Errorf("GET %s: %d %s, want 404 NOT_FOUND", path, r.Status, r.Body)
			continue
		}
		expectErrorBody(t, r)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	for _, c := range []struct{ method, path, allow string }{
		{"PUT", "/accounts", "POST"},
		{"GET", "/accounts", "POST"},
		{"POST", "/session", "DELETE, GET"},
		{"PATCH", "/sessions", "DELETE, GET, POST"},
		{"GET", "/sessions/1", "DELETE"},
		{"POST", "/account", "DELETE, PATCH"},
		{"GET", "/account/password", "PUT"},
		{"DELETE", "/availability", "GET"},
		{"DELETE", "//healthz", "GET, HEAD"},
	} {
		r := g.do(req{Method: c.method, Path: c.path, Body: map[string]any{}})
		if r.Status != 405 || r.Code(t) != "METHOD_NOT_ALLOWED" {
			t.Errorf("%s %s: %d %s, want 405 METHOD_NOT_ALLOWED", c.method, c.path, r.Status, r.Body)
			continue
		}
		expectErrorBody(t, r)
		// RFC 9110 §15.5.6: a 405 lists the methods the resource supports.
		if got := r.Header.Get("Allow"); got != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, got, c.allow)
		}
	}
}

// The CSRF rule: a state change authenticated by the cookie alone needs an
// Origin (or Referer) of the gateway itself or an allowed origin.
func TestCSRF(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	u := g.signup(t)

	logout := func(tok string, headers ...string) resp {
		return g.do(req{Method: "DELETE", Path: "/session", UA: "ua", Headers: withCookie(tok, headers...)})
	}
	tok := g.login(t, u, "ua")
	for _, h := range [][]string{
		nil,
		{"Origin", "https://evil.example"},
		{"Origin", "null"},
		{"Origin", "https://app.example.evil.example"},
		{"Origin", "http://app.example"}, // another scheme is another origin
		{"Origin", "https://evil.example", "Referer", "https://app.example/page"},
		{"Referer", "https://evil.example/https://app.example/"},
		{"Origin", strings.Replace(g.URL, "127.0.0.1", "localhost", 1)},
	} {
		r := logout(tok, h...)
		if r.Status != 403 || r.Code(t) != "CSRF" {
			t.Fatalf("cookie logout with %v: %d %s, want 403 CSRF", h, r.Status, r.Body)
		}
		expectErrorBody(t, r)
		if sessionCookieOf(r) != nil {
			t.Fatalf("a refused request touched the cookie: %v", r.Header)
		}
	}
	// Refused means not done.
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: tok, UA: "ua"}), 200, "")
	// Reading is not a state change: any origin may.
	expect(t, g.do(req{Method: "GET", Path: "/session", UA: "ua", Headers: withCookie(tok, "Origin", "https://evil.example")}), 200, "")

	// Passes: the gateway's own origin, the allowed origin (also as a Referer),
	// and any Bearer request.
	for i, h := range [][]string{
		{"Origin", g.URL},
		{"Origin", "https://app.example"},
		{"Origin", "HTTPS://APP.EXAMPLE"},
		{"Referer", "https://app.example/settings?tab=sessions"},
		{"Referer", g.URL + "/somewhere"},
	} {
		ua := fmt.Sprintf("ua-%d", i)
		tok := g.login(t, u, ua)
		r := g.do(req{Method: "DELETE", Path: "/session", UA: ua, Headers: withCookie(tok, h...)})
		if r.Status != 204 {
			t.Fatalf("cookie logout with %v: %d %s, want 204", h, r.Status, r.Body)
		}
		expect(t, g.do(req{Method: "GET", Path: "/session", Token: tok, UA: ua}), 401, "INVALID")
	}
	r := g.do(req{Method: "DELETE", Path: "/session", Token: tok, UA: "ua"})
	expect(t, r, 204, "") // Bearer, no Origin
	tok = g.login(t, u, "ua")
	expect(t, g.do(req{Method: "DELETE", Path: "/session", Token: tok, UA: "ua",
		Headers: map[string]string{"Origin": "https://evil.example"}}), 204, "")

	// Every state-changing route is covered by the rule.
	tok = g.login(t, u, "ua")
	for _, rt := range authRoutes() {
		if rt.Method == "GET" {
			continue
		}
		rt.UA = "ua"
		rt.Headers = withCookie(tok)
		if rt.Body != nil {
			rt.Body = map[string]any{"password": u.Password}
			if rt.Path == "/account/password" {
				rt.Body = map[string]any{"current_password": u.Password, "new_password": "hijacked password"}
			}
			if rt.Path == "/account" && rt.Method == "PATCH" {
				rt.Body = map[string]any{"email": "attacker@evil.example"}
			}
		}
		r := g.do(rt)
		if r.Status != 403 || r.Code(t) != "CSRF" {
			t.Fatalf("cookie %s %s without Origin: %d %s, want 403 CSRF", rt.Method, rt.Path, r.Status, r.Body)
		}
	}
	if !accountExists(t, u.ID) || sessionRows(t, u.ID) != 1 {
		t.Fatal("a refused cross-site request changed the account")
	}
	g.login(t, u, "ua2") // the password did not change
}

// A wrong password on a cookie-authenticated request is not a session
// failure: the browser must keep its (still valid) session cookie.
func TestWrongPasswordKeepsCookie(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	u := g.signup(t)
	tok := g.login(t, u, "ua")
	for _, r := range []req{
		{Method: "PUT", Path: "/account/password", Body: map[string]any{"current_password": "wrong password", "new_password": "a new password"}},
		{Method: "DELETE", Path: "/account", Body: map[string]any{"password": "wrong password"}},
	} {
		r.UA, r.IP, r.Headers = "ua", u.IP, withCookie(tok, "Origin", "https://app.example")
		res := g.do(r)
		expect(t, res, 401, "INVALID_CREDENTIALS")
		if c := sessionCookieOf(res); c != nil {
			t.Fatalf("%s %s with a wrong password sent %q: the browser would drop a valid session", r.Method, r.Path, c.Raw)
		}
		expect(t, g.do(req{Method: "GET", Path: "/session", UA: "ua", Headers: withCookie(tok)}), 200, "")
	}
}

// CORS: the allowed origin may read answers with credentials; preflights are
// answered; other origins get no CORS headers.
func TestCORS(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	r := g.do(req{Method: "OPTIONS", Path: "/account", Headers: map[string]string{
		"Origin": "https://app.example", "Access-Control-Request-Method": "PATCH",
		"Access-Control-Request-Headers": "content-type"}})
	expect(t, r, 204, "")
	h := r.Header
	if h.Get("Access-Control-Allow-Origin") != "https://app.example" || h.Get("Access-Control-Allow-Credentials") != "true" ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), "PATCH") ||
		!strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "content-type") {
		t.Fatalf("preflight headers %v", h)
	}
	r = g.do(req{Method: "GET", Path: "/availability?username=x", Headers: map[string]string{"Origin": "https://app.example"}})
	expect(t, r, 200, "")
	if r.Header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		!strings.Contains(r.Header.Get("Access-Control-Expose-Headers"), "Retry-After") {
		t.Fatalf("CORS headers %v", r.Header)
	}
	r = g.do(req{Method: "OPTIONS", Path: "/account", Headers: map[string]string{
		"Origin": "https://evil.example", "Access-Control-Request-Method": "PATCH"}})
	if r.Header.Get("Access-Control-Allow-Origin") != "" || r.Status < 400 {
		t.Fatalf("preflight from another origin: %d %v", r.Status, r.Header)
	}
}

// SQL errors that are not the API's own: the status follows the SQLSTATE
// table, and the body says nothing of the SQL. The route table has no such
// route, so this test serves two more: a function that does not exist
// (42883 → 500) and one outside api (42501 → 403), which also shows that the
// gateway role cannot reach internal functions.
func TestUnexpectedSQLErrors(t *testing.T) {
	t.Parallel()
	g := startServer(t, nil, func(s *gateway.Server) {
		s.Routes = append(append([]gateway.Route(nil), s.Routes...),
			gateway.Route{Method: "GET", Path: "/e2e/missing", Func: "api.e2e_no_such_function", Status: 200},
			gateway.Route{Method: "GET", Path: "/e2e/internal", Func: "auth.new_token", Status: 200},
		)
	})

	r := g.do(req{Method: "GET", Path: "/e2e/missing", Headers: map[string]string{"X-Request-Id": "e2e-500"}})
	expect(t, r, 500, "INTERNAL")
	expectErrorBody(t, r)
	r2 := g.do(req{Method: "GET", Path: "/e2e/internal", Headers: map[string]string{"X-Request-Id": "e2e-403"}})
	expect(t, r2, 403, "FORBIDDEN")
	expectErrorBody(t, r2)
	for _, res := range []resp{r, r2} {
		low := strings.ToLower(string(res.Body))
		for _, leak := range []string{"e2e_no_such_function", "auth", "function", "schema", "permission", "sqlstate", "42"} {
			if strings.Contains(low, leak) {
				t.Fatalf("the error body leaks %q: %s", leak, res.Body)
			}
		}
	}
	// The log has what the body does not.
	line := g.accessLine(t, "e2e-500")
	if line["status"] != float64(500) || line["level"] != "error" || !strings.Contains(fmt.Sprint(line["error"]), "e2e_no_such_function") {
		t.Fatalf("access line of the 500: %v", line)
	}
	if line := g.accessLine(t, "e2e-403"); line["sqlstate"] != "42501" {
		t.Fatalf("access line of the 403: %v", line)
	}
}

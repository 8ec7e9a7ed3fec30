package gateway

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/rs/zerolog"
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

// X-Forwarded-For from a peer outside TRUSTED_PROXIES: the gateway warns
// once per process (not once per request) that every client then shares
// the proxy's address, naming TRUSTED_PROXIES; a trusted peer's header, or
// a request without one, warns of nothing.
func TestUntrustedForwardingWarnsOnce(t *testing.T) {
	var logs bytes.Buffer
	s := &Server{log: zerolog.New(&logs),
		cfg: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}
	send := func(peer, xff string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = peer
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		s.clientIP(r)
	}
	send("203.0.113.9:5000", "")
	send("10.1.2.3:5000", "198.51.100.1")
	if logs.Len() != 0 {
		t.Fatalf("logged %q without an untrusted X-Forwarded-For", logs.String())
	}
	for range 5 {
		send("203.0.113.9:5000", "198.51.100.1")
	}
	send("[2001:db8::1]:5000", "198.51.100.2")
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("%d log lines for six requests, want one:\n%s", len(lines), logs.String())
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
		t.Fatal(err)
	}
	msg, _ := line["message"].(string)
	if line["level"] != "warn" || line["peer"] != "203.0.113.9" || !strings.Contains(msg, "TRUSTED_PROXIES") ||
		!strings.Contains(msg, "throttling") {
		t.Fatalf("log line %s, want a warning naming the peer, throttling and TRUSTED_PROXIES", lines[0])
	}
}

func TestSessionToken(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", "session=from-cookie")
	if tok, fromCookie := sessionToken(r, sessionCookie); tok != "from-cookie" || !fromCookie {
		t.Fatalf("cookie: %q %v", tok, fromCookie)
	}
	r.Header.Set("Authorization", "bearer  from-header ")
	if tok, fromCookie := sessionToken(r, sessionCookie); tok != "from-header" || fromCookie {
		t.Fatalf("bearer wins over the cookie: %q %v", tok, fromCookie)
	}
	r.Header.Set("Authorization", "Basic dXNlcjpwdw==")
	if tok, _ := sessionToken(r, sessionCookie); tok != "" {
		t.Fatalf("another scheme is no token: %q", tok)
	}
}

// The session cookie is __Host-session when Secure, session on plain-HTTP
// development; each gateway sets and reads its own name only, so a
// "session" cookie planted by a sibling subdomain is not read by a Secure
// gateway.
func TestSessionCookieName(t *testing.T) {
	if got := cookieName(true); got != "__Host-session" {
		t.Errorf("COOKIE_SECURE=true: %q, want __Host-session", got)
	}
	if got := cookieName(false); got != "session" {
		t.Errorf("COOKIE_SECURE=false: %q, want session", got)
	}
	for _, secure := range []bool{true, false} {
		name, other := cookieName(secure), cookieName(!secure)
		s := &Server{cfg: Config{CookieSecure: secure}}
		w := httptest.NewRecorder()
		s.setSessionCookie(w, []byte(`{"token": "tok", "expires_at": "2999-01-01T00:00:00Z"}`))
		c := w.Result().Cookies()
		if len(c) != 1 || c[0].Name != name || c[0].Value != "tok" || c[0].Path != "/" || c[0].Domain != "" ||
			c[0].Secure != secure {
			t.Errorf("COOKIE_SECURE=%v: sets %v, want %s=tok; Path=/, no Domain, Secure %v", secure, c, name, secure)
		}
		w = httptest.NewRecorder()
		clearCookie(w, secure)
		if c := w.Result().Cookies(); len(c) != 1 || c[0].Name != name || c[0].MaxAge >= 0 {
			t.Errorf("COOKIE_SECURE=%v: clears %v, want %s", secure, c, name)
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", other+"=planted")
		if tok, _ := sessionToken(r, name); tok != "" {
			t.Errorf("COOKIE_SECURE=%v: read the cookie %s, want only %s", secure, other, name)
		}
		r.Header.Set("Cookie", other+"=planted; "+name+"=mine")
		if tok, fromCookie := sessionToken(r, name); tok != "mine" || !fromCookie {
			t.Errorf("COOKIE_SECURE=%v: read %q, want %s's value", secure, tok, name)
		}
	}
}

// A Number body member is a JSON number only, passed on as its exact decimal
// text (no float64 rounding); strings, bools, objects and numbers numeric
// cannot hold are a 400 naming the field.
func TestDecodeNumber(t *testing.T) {
	a := bodyNumber("amount")
	for _, c := range []struct{ raw, want string }{
		{`0`, "0"},
		{`-0`, "-0"},
		{`12`, "12"},
		{`-3.25`, "-3.25"},
		{`0.1`, "0.1"},
		{`12.50`, "12.50"},
		{`1e3`, "1e3"},
		{`2.5E-2`, "2.5E-2"},
		{`12345678901234567890.123456789012345678901`, "12345678901234567890.123456789012345678901"}, // beyond float64's precision
		{`1e308`, "1e308"},
		{`0e-99999`, "0e-99999"}, // zero however written
	} {
		v, e := decodeField(a, json.RawMessage(c.raw))
		if e != nil {
			t.Errorf("%s: %d %v", c.raw, e.status, e.Details)
			continue
		}
		if v != c.want {
			t.Errorf("%s: passed as %#v, want %q", c.raw, v, c.want)
		}
	}
	for _, c := range []struct{ raw, reason string }{
		{`"12"`, "must be a number"},
		{`true`, "must be a number"},
		{`[1]`, "must be a number"},
		{`{"n": 1}`, "must be a number"},
		{`1e400`, "is out of range"},
		{`-1e400`, "is out of range"},
		{`1e-400`, "is out of range"},
		{`1` + strings.Repeat("0", maxNumber), "is out of range"},
	} {
		_, e := decodeField(a, json.RawMessage(c.raw))
		if e == nil {
			t.Errorf("%s: accepted", c.raw)
			continue
		}
		var d map[string]string
		if e.status != 400 || e.Code != "BAD_REQUEST" || json.Unmarshal(e.Details, &d) != nil || d["amount"] != c.reason {
			t.Errorf("%s: %d %s %s, want 400 BAD_REQUEST {amount: %q}", c.raw, e.status, e.Code, e.Details, c.reason)
		}
	}
}

// A body is a committed failure only when "$status" is one of its own
// members, with an error status; the same text inside a value, or nested,
// leaves a success a success.
func TestCommittedFailure(t *testing.T) {
	for _, c := range []struct {
		body   string
		status int // 0: a success
		code   string
	}{
		{`{"$status" : 401, "code" : "EXPIRED", "message" : "the session has expired", "details" : null, "hint" : null}`, 401, "EXPIRED"},
		{`{"$status" : 429, "code" : "RATE_LIMITED", "message" : "wait", "details" : {"retry_after" : 60}, "hint" : null}`, 429, "RATE_LIMITED"},
		{`{"code":"X","$status":403,"message":"no"}`, 403, "X"}, // wherever the member is
		{`{"$status": 409}`, 409, "CONFLICT"},                               // no code: the status's own
		{`{"id": 1, "message": "\"$status\": 401"}`, 0, ""},                 // escaped quotes in a value
		{`{"id": 1, "message": "$status"}`, 0, ""},                          // the name as a value
		{`{"items": [{"$status": 401, "code": "X"}], "next": null}`, 0, ""}, // nested, not the body's own
		{`{"$status": 200, "code": "X"}`, 0, ""},                            // not an error status
		{`{"$status": "401", "code": "X"}`, 0, ""},                          // not a number
		{`{"id": 1}`, 0, ""},
		{``, 0, ""},
	} {
		e := committedFailure([]byte(c.body))
		switch {
		case c.status == 0 && e != nil:
			t.Errorf("%s: a failure (%d), want a success", c.body, e.status)
		case c.status != 0 && e == nil:
			t.Errorf("%s: a success, want %d", c.body, c.status)
		case e != nil && (e.status != c.status || e.Code != c.code):
			t.Errorf("%s: %d %s, want %d %s", c.body, e.status, e.Code, c.status, c.code)
		}
	}
	// What the gateway then sends has no "$status".
	rec := httptest.NewRecorder()
	writeError(rec, committedFailure([]byte(`{"$status" : 401, "code" : "EXPIRED", "message" : "m", "details" : null, "hint" : null}`)))
	if rec.Code != 401 || strings.Contains(rec.Body.String(), "$status") {
		t.Errorf("sent %d %s", rec.Code, rec.Body)
	}
	var sent map[string]any
	if json.Unmarshal(rec.Body.Bytes(), &sent) != nil || sent["code"] != "EXPIRED" || sent["message"] != "m" {
		t.Errorf("sent %s", rec.Body)
	}
}

// Only GET routes may be read-only: a route marked ReadOnly goes to the
// replica, where a write fails (and is repeated on the primary), so a route
// whose purpose is to write must never carry the mark; and a read-only route
// never sets or clears the session cookie.
func TestReadOnlyRoutesAreGets(t *testing.T) {
	n := 0
	for _, rt := range Routes {
		if !rt.ReadOnly {
			continue
		}
		n++
		if rt.Method != "GET" || rt.Cookie != NoCookie {
			t.Errorf("%s %s (%s) is marked ReadOnly", rt.Method, rt.Path, rt.Func)
		}
	}
	if n == 0 {
		t.Error("no route is marked ReadOnly")
	}
}

// readForm takes a form body, urlencoded or multipart, whose fields are the
// route's, each once; anything else is refused in the error shape.
func TestReadForm(t *testing.T) {
	rt := Route{Args: []Arg{query("token"), form("List-Unsubscribe")}}
	read := func(ct, body string) (map[string]string, *apiError) {
		r := httptest.NewRequest("POST", "/unsubscribe?token=t", strings.NewReader(body))
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		if body == "" {
			r.ContentLength = 0
		}
		return readForm(httptest.NewRecorder(), r, rt)
	}
	if f, e := read(formURLEncoded, "List-Unsubscribe=One-Click"); e != nil || f["List-Unsubscribe"] != "One-Click" || len(f) != 1 {
		t.Errorf("urlencoded: %v, %v", f, e)
	}
	if f, e := read("", ""); e != nil || len(f) != 0 {
		t.Errorf("no body: %v, %v; want no field", f, e)
	}
	var mb strings.Builder
	w := multipart.NewWriter(&mb)
	w.WriteField("List-Unsubscribe", "One-Click")
	w.Close()
	if f, e := read(w.FormDataContentType(), mb.String()); e != nil || f["List-Unsubscribe"] != "One-Click" {
		t.Errorf("multipart: %v, %v", f, e)
	}
	mb.Reset()
	w = multipart.NewWriter(&mb)
	fw, _ := w.CreateFormFile("List-Unsubscribe", "x.txt")
	fw.Write([]byte("One-Click"))
	w.Close()
	for _, c := range []struct {
		ct, body string
		status   int
	}{
		{"application/json", `{"List-Unsubscribe": "One-Click"}`, 415},
		{formURLEncoded, "List-Unsubscribe=One-Click&List-Unsubscribe=One-Click", 400},
		{formURLEncoded, "List-Unsubscribe=One-Click&token=x", 400}, // the token is the query's, not the body's
		{formURLEncoded, "List-Unsubscribe=%zz", 400},
		{w.FormDataContentType(), mb.String(), 400}, // a file
		{formURLEncoded, "List-Unsubscribe=" + strings.Repeat("x", maxBody), 413},
	} {
		if f, e := read(c.ct, c.body); e == nil || e.status != c.status {
			t.Errorf("%s %.60q: %v, %+v; want %d", c.ct, c.body, f, e, c.status)
		}
	}
}

package gateway

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/mux"
)

// Every text argument of every route has a maximum, and a refusal: a 422
// reason in SQL's words, or OverMax's answer.
func TestEveryTextArgHasMax(t *testing.T) {
	for _, rt := range Routes {
		for _, a := range rt.Args {
			if a.Kind != Text {
				if a.Max != 0 {
					t.Errorf("%s %s: %s is not text but has a Max", rt.Method, rt.Path, a.Name)
				}
				continue
			}
			if a.Max < 1 {
				t.Errorf("%s %s: text argument %s has no Max", rt.Method, rt.Path, a.Name)
			}
			if (a.TooLong == "") == (a.OverMax == nil) {
				t.Errorf("%s %s: %s needs exactly one of TooLong (a 422 reason) and OverMax", rt.Method, rt.Path, a.Name)
			}
		}
	}
}

// Max counts characters (code points, as SQL's length does), bytes with
// MaxBytes, and characters without surrounding whitespace with Trim.
func TestArgTooLong(t *testing.T) {
	chars := body("x").atMost(3)
	for v, want := range map[string]bool{"": false, "abc": false, "abcd": true, "äöü": false, "äöüß": true, "日本語": false} {
		if got := chars.tooLong(v); got != want {
			t.Errorf("Max 3 characters, %q: %v, want %v", v, got, want)
		}
	}
	bytes := body("x").upTo(4, "r").inBytes()
	for v, want := range map[string]bool{"abcd": false, "abcde": true, "ää": false, "äää": true} {
		if got := bytes.tooLong(v); got != want {
			t.Errorf("Max 4 bytes, %q: %v, want %v", v, got, want)
		}
	}
	trim := body("x").atMost(3).trim()
	for v, want := range map[string]bool{"  abc \t\n\u00a0": false, " abcd ": true, "a  b": true} {
		if got := trim.tooLong(v); got != want {
			t.Errorf("Max 3 trimmed, %q: %v, want %v", v, got, want)
		}
	}
	if (Arg{Name: "x"}).tooLong(strings.Repeat("x", 1<<20)) {
		t.Error("an argument without Max refused a long value")
	}
}

func route(t *testing.T, method, path string) Route {
	t.Helper()
	for _, rt := range Routes {
		if rt.Method == method && rt.Path == path {
			return rt
		}
	}
	t.Fatalf("no route %s %s", method, path)
	return Route{}
}

// A text argument over its Max is refused by readArgs, before any call:
// every such field named in one 422 in SQL's words, or with what SQL
// answers for a value that long (a login: 401 INVALID_CREDENTIALS, as an
// unknown one; a cursor: 400; a handle: 404). Just at the limit, it passes.
func TestReadArgsMax(t *testing.T) {
	s := &Server{}
	huge := strings.Repeat("x", 100_000)
	call := func(rt Route, target string, body any, vars map[string]string) ([]any, *apiError) {
		t.Helper()
		var r = httptest.NewRequest(rt.Method, target, nil)
		if body != nil {
			raw, _ := json.Marshal(body)
			r = httptest.NewRequest(rt.Method, target, strings.NewReader(string(raw)))
			r.Header.Set("Content-Type", "application/json")
		}
		r.RemoteAddr = "192.0.2.1:1234"
		if vars != nil {
			r = mux.SetURLVars(r, vars)
		}
		return s.readArgs(&requestWriter{}, r, rt, "")
	}
	for _, c := range []struct {
		rt      Route
		target  string
		body    map[string]any
		vars    map[string]string
		status  int
		code    string
		details map[string]string
	}{
		{route(t, "POST", "/accounts"), "/", map[string]any{"username": huge, "email": "a@b", "password": huge,
			"display_name": strings.Repeat("é", 65)}, nil, 422, "VALIDATION",
			map[string]string{"username": usernameRule, "password": "must be at most 72 bytes",
				"display_name": "must be at most 64 characters"}},
		{route(t, "POST", "/sessions"), "/", map[string]any{"login": huge, "password": "pw"}, nil,
			401, "INVALID_CREDENTIALS", nil},
		{route(t, "POST", "/sessions"), "/", map[string]any{"login": "alice", "password": strings.Repeat("p", 73)}, nil,
			401, "INVALID_CREDENTIALS", nil},
		{route(t, "PUT", "/account/password"), "/", map[string]any{"current_password": huge, "new_password": huge}, nil,
			422, "VALIDATION", map[string]string{"new_password": "must be at most 72 bytes"}},
		{route(t, "PUT", "/account/password"), "/", map[string]any{"current_password": huge, "new_password": "new password"}, nil,
			401, "INVALID_CREDENTIALS", nil},
		{route(t, "POST", "/posts"), "/", map[string]any{"title": huge, "content": huge}, nil, 422, "VALIDATION",
			map[string]string{"title": "must be at most 200 characters"}},
		{route(t, "GET", "/availability"), "/?email=" + huge, nil, nil, 422, "VALIDATION",
			map[string]string{"email": "must be at most 254 characters"}},
		{route(t, "GET", "/posts"), "/?before=" + huge, nil, nil, 400, "BAD_REQUEST",
			map[string]string{"before": "is not a cursor from this route"}},
		{route(t, "GET", "/users/{handle}/activities"), "/", nil, map[string]string{"handle": strings.Repeat("h", 33)},
			404, "NOT_FOUND", nil},
		{route(t, "GET", "/trackers/{id}/series"), "/?tz=" + huge + "&bucket=" + huge, nil, map[string]string{"id": "1"},
			422, "VALIDATION", map[string]string{"tz": zoneRule, "bucket": "must be day, week or month"}},
	} {
		var body any
		if c.body != nil {
			body = c.body
		}
		_, e := call(c.rt, c.target, body, c.vars)
		if e == nil || e.status != c.status || e.Code != c.code {
			t.Errorf("%s %s: %+v, want %d %s", c.rt.Method, c.rt.Path, e, c.status, c.code)
			continue
		}
		var got map[string]string
		json.Unmarshal(e.Details, &got)
		if len(got) != len(c.details) {
			t.Errorf("%s %s: details %s, want %v", c.rt.Method, c.rt.Path, e.Details, c.details)
		}
		for k, v := range c.details {
			if got[k] != v {
				t.Errorf("%s %s: details.%s %q, want %q", c.rt.Method, c.rt.Path, k, got[k], v)
			}
		}
	}
	// At the limit: passed on.
	args, e := call(route(t, "POST", "/accounts"), "/", map[string]any{"username": strings.Repeat("u", 32),
		"email": strings.Repeat("e", 252) + "@x", "password": strings.Repeat("ü", 36),
		"display_name": strings.Repeat("é", 64)}, nil)
	if e != nil || args[contextItems] != strings.Repeat("u", 32) {
		t.Fatalf("values at their maximum: %+v", e)
	}
	args, e = call(route(t, "POST", "/posts"), "/", map[string]any{"title": " \t" + strings.Repeat("t", 200) + "\u00a0 ",
		"content": "c"}, nil)
	if e != nil || args[contextItems] == nil {
		t.Fatalf("a 200-character title with whitespace around it: %+v", e)
	}
}

// The OpenAPI document gives each text argument its maximum (maxLength, in
// characters), and says what a longer one gets where that is not a 422.
func TestOpenAPIMaxLength(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name   string         `json:"name"`
				Schema map[string]any `json:"schema"`
			} `json:"parameters"`
			RequestBody struct {
				Content map[string]struct {
					Schema struct {
						Properties map[string]map[string]any `json:"properties"`
					} `json:"schema"`
				} `json:"content"`
			} `json:"requestBody"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(OpenAPIDocument(Routes, 1, ""), &doc); err != nil {
		t.Fatal(err)
	}
	body := func(path, method, field string) map[string]any {
		return doc.Paths[path][method].RequestBody.Content["application/json"].Schema.Properties[field]
	}
	if m := body("/accounts", "post", "email")["maxLength"]; m != 254.0 {
		t.Errorf("sign-up email maxLength %v, want 254", m)
	}
	if p := body("/accounts", "post", "password"); p["maxLength"] != 72.0 || !strings.Contains(p["description"].(string), "72 bytes") {
		t.Errorf("sign-up password %v, want maxLength 72 and 72 bytes", p)
	}
	if l := body("/sessions", "post", "login"); l["maxLength"] != 254.0 || !strings.Contains(l["description"].(string), "401 INVALID_CREDENTIALS") {
		t.Errorf("login %v, want maxLength 254, longer: 401 INVALID_CREDENTIALS", l)
	}
	if ti := body("/posts", "post", "title"); ti["maxLength"] != nil || !strings.Contains(ti["description"].(string), "200") {
		t.Errorf("post title %v, want no maxLength (trimmed), 200 said", ti)
	}
	found := false
	for _, p := range doc.Paths["/posts"]["get"].Parameters {
		if p.Name == "before" {
			found = p.Schema["maxLength"] == float64(maxCursor)
		}
	}
	if !found {
		t.Errorf("GET /posts before: no maxLength %d", maxCursor)
	}
}

// surelyTooLong judges a JSON string from its length alone only when no
// decoding could bring it under the maximum.
func TestSurelyTooLong(t *testing.T) {
	chars, bytes := body("x").atMost(2), body("x").upTo(2, "r").inBytes()
	escaped := func(n int) json.RawMessage { return json.RawMessage(`"` + strings.Repeat(`\ud83d\ude00`, n) + `"`) }
	for _, c := range []struct {
		a    Arg
		raw  json.RawMessage
		want bool
	}{
		{chars, escaped(2), false}, // 26 bytes, 2 characters
		{chars, json.RawMessage(`"` + strings.Repeat("x", 36) + `"`), true},
		{chars, json.RawMessage(`"` + strings.Repeat("x", 35) + `"`), false}, // not sure: decoded and counted
		{bytes, json.RawMessage(`"\u0041\u0042"`), false},                    // 14 bytes, 2 bytes decoded
		{bytes, json.RawMessage(`"` + strings.Repeat("x", 18) + `"`), true},
		{chars.trim(), json.RawMessage(`"` + strings.Repeat(" ", 100) + `"`), false},
		{chars, json.RawMessage(`12345678901234567890123456789012345678`), false}, // not a string
	} {
		if got := surelyTooLong(c.a, c.raw); got != c.want {
			t.Errorf("%s (Max %d, bytes %v): %v, want %v", c.raw, c.a.Max, c.a.MaxBytes, got, c.want)
		}
	}
}

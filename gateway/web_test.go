package gateway

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// webServer: the gateway's whole handler with WEB_DIR set to a small build
// (index.html, a hashed asset, a favicon). No database: the static paths and
// the API's 404s need none.
func webServer(t *testing.T) http.Handler {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{
		"index.html":              "<!doctype html><title>app</title>",
		"assets/index-Ab12.js":    "console.log(1)",
		"favicon.svg":             "<svg/>",
		"assets/sub/deep-Cd3.css": "body{}",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := &Server{cfg: Config{WebDir: dir}, log: zerolog.Nop(), metrics: newMetrics(nil, zerolog.Nop())}
	return s.Handler()
}

func webGet(t *testing.T, h http.Handler, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}

func TestWebHashedAssetsAreImmutable(t *testing.T) {
	h := webServer(t)
	for _, p := range []string{"/assets/index-Ab12.js", "/assets/sub/deep-Cd3.css"} {
		rec := webGet(t, h, "GET", p)
		if rec.Code != 200 || rec.Header().Get("Cache-Control") != webAssetsCache {
			t.Errorf("GET %s: %d, Cache-Control %q; want 200, %q", p, rec.Code, rec.Header().Get("Cache-Control"), webAssetsCache)
		}
	}
	if ct := webGet(t, h, "GET", "/assets/index-Ab12.js").Header().Get("Content-Type"); !strings.Contains(ct, "javascript") {
		t.Errorf("the script's Content-Type is %q", ct)
	}
}

func TestWebIndexIsNoCache(t *testing.T) {
	h := webServer(t)
	for _, p := range []string{"/", "/index.html", "/favicon.svg"} {
		rec := webGet(t, h, "GET", p)
		if rec.Code != 200 || rec.Header().Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s: %d, Cache-Control %q; want 200, no-cache", p, rec.Code, rec.Header().Get("Cache-Control"))
		}
	}
	if body := webGet(t, h, "GET", "/").Body.String(); !strings.Contains(body, "<title>app</title>") {
		t.Errorf("GET /: %q, want index.html", body)
	}
}

func TestWebAppRoutesFallBackToIndex(t *testing.T) {
	h := webServer(t)
	for _, p := range []string{"/login", "/confirm-email?token=abc", "/reset-password?token=x", "/blog/some-post"} {
		rec := webGet(t, h, "GET", p)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), "<title>app</title>") || rec.Header().Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s: %d %q (Cache-Control %q); want index.html, no-cache", p, rec.Code, rec.Body.String(), rec.Header().Get("Cache-Control"))
		}
	}
	// A missing file is a 404, never index.html: a page built before a
	// release must not run HTML as its script.
	for _, p := range []string{"/assets/index-Old1.js", "/robots.txt", "/assets/gone"} {
		if rec := webGet(t, h, "GET", p); rec.Code != 404 {
			t.Errorf("GET %s: %d, want 404", p, rec.Code)
		}
	}
	// Nothing outside WEB_DIR, however the path climbs.
	for _, p := range []string{"/../../../../../etc/passwd", "/assets/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd"} {
		if rec := webGet(t, h, "GET", p); strings.Contains(rec.Body.String(), "root:") {
			t.Errorf("GET %s: %d, a file outside WEB_DIR", p, rec.Code)
		}
	}
	if rec := webGet(t, h, "POST", "/login"); rec.Code != 405 || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /login: %d, Allow %q; want 405, GET, HEAD", rec.Code, rec.Header().Get("Allow"))
	}
	if rec := webGet(t, h, "HEAD", "/login"); rec.Code != 200 {
		t.Errorf("HEAD /login: %d, want 200", rec.Code)
	}
}

func TestWebNeverAnswersAPI(t *testing.T) {
	h := webServer(t)
	for _, p := range []string{"/api/v1/no-such-route", "/api/v2/x", "/api", "/api/", "/api/v1/index.html", "/api/v1/"} {
		rec := webGet(t, h, "GET", p)
		if rec.Code == 200 || strings.Contains(rec.Body.String(), "<title>app</title>") ||
			!strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Errorf("GET %s: %d %q (%s); want the API's JSON error", p, rec.Code, rec.Body.String(), rec.Header().Get("Content-Type"))
		}
	}
	// Without WEB_DIR, / is the API's 404 as before.
	s := &Server{log: zerolog.Nop(), metrics: newMetrics(nil, zerolog.Nop())}
	if rec := webGet(t, s.Handler(), "GET", "/login"); rec.Code != 404 {
		t.Errorf("no WEB_DIR: GET /login %d, want 404", rec.Code)
	}
}

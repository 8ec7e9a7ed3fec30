package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// A request whose URL or headers pass maxHeaderBytes (but not Go's own,
// larger limit) is answered by the gateway in the error shape, with its
// request id: 414 for the URL, 431 for the headers. Just under, it passes.
func TestHeaderLimits(t *testing.T) {
	s := &Server{log: zerolog.Nop(), metrics: newMetrics(nil, zerolog.Nop())}
	reached := false
	h := s.withRequestContext(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = true
		w.WriteHeader(204)
	}))
	for _, c := range []struct {
		target, header string
		status         int
		code           string
	}{
		{"/x?q=" + strings.Repeat("q", maxHeaderBytes), "", 414, "URI_TOO_LONG"},
		{"/x", strings.Repeat("h", maxHeaderBytes), 431, "HEADERS_TOO_LARGE"},
		{"/x?q=" + strings.Repeat("q", maxHeaderBytes/2), strings.Repeat("h", maxHeaderBytes/2), 431, "HEADERS_TOO_LARGE"},
		{"/x?q=" + strings.Repeat("q", maxHeaderBytes/2-100), strings.Repeat("h", maxHeaderBytes/2-100), 204, ""},
	} {
		reached = false
		r := httptest.NewRequest("GET", c.target, nil)
		if c.header != "" {
			r.Header.Set("X-Padding", c.header)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.status {
			t.Errorf("target %d bytes, header %d: %d, want %d", len(c.target), len(c.header), w.Code, c.status)
			continue
		}
		if c.code == "" {
			if !reached {
				t.Error("a request under the limits did not reach the handler")
			}
			continue
		}
		var e map[string]any
		if json.Unmarshal(w.Body.Bytes(), &e) != nil || e["code"] != c.code || reached ||
			w.Header().Get("X-Request-Id") == "" || w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("target %d bytes, header %d: %s %v (reached the handler: %v), want %s in the error shape with a request id",
				len(c.target), len(c.header), w.Body, w.Header(), reached, c.code)
		}
	}
}

// What docs/api.md says of JSON as parsed: a member given twice counts with
// its last value; a lone surrogate escape becomes U+FFFD.
func TestBodyDuplicatesAndLoneSurrogates(t *testing.T) {
	rt := route(t, "PATCH", "/account")
	r := httptest.NewRequest("PATCH", "/", strings.NewReader(`{"display_name": "first", "display_name": "last \ud800 one"}`))
	r.Header.Set("Content-Type", "application/json")
	args, e := (&Server{}).readArgs(&requestWriter{}, r, rt, "")
	if e != nil {
		t.Fatal(e)
	}
	if got := args[contextItems]; got != "last \uFFFD one" {
		t.Fatalf("display_name %q, want the last value with U+FFFD for the lone surrogate", got)
	}
}

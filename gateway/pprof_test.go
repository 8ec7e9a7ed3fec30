package gateway

import (
	"net/http/httptest"
	"testing"

	"github.com/rs/zerolog"
)

// The profiles are served by PprofHandler, on PPROF_ADDR's listener only;
// the public handler does not know the path.
func TestPprofOnlyOnItsOwnListener(t *testing.T) {
	s := New(Config{}, nil, zerolog.Nop())
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/heap"} {
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if w.Code != 404 {
			t.Errorf("public handler, GET %s: %d, want 404", path, w.Code)
		}
	}
	w := httptest.NewRecorder()
	PprofHandler().ServeHTTP(w, httptest.NewRequest("GET", "/debug/pprof/cmdline", nil))
	if w.Code != 200 {
		t.Fatalf("pprof handler, GET /debug/pprof/cmdline: %d, want 200", w.Code)
	}
}

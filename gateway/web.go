package gateway

import (
	"io/fs"
	"net/http"
	"os"
	"path"
	"strings"
)

// The web client (web/, built into web/dist) served by the gateway itself
// when WEB_DIR names the build: one handler for every path outside /api/
// that no other route answers (docs/web.md). Vite names the files under
// assets/ by their content's hash, so they never change and are cached for
// a year; index.html, which names them, is revalidated on every load. A
// path without a file extension that names no file is one of the app's
// routes (/login, /confirm-email): the app's index.html answers it, and the
// app's router shows the page. Nothing under /api/ ever reaches this
// handler: an unknown API path stays a JSON 404.
type webHandler struct{ root fs.FS }

func newWebHandler(dir string) http.Handler { return webHandler{root: os.DirFS(dir)} }

const (
	webAssetsCache = "public, max-age=31536000, immutable"
	webIndexCache  = "no-cache"
)

// isAPIPath: the paths the web handler never answers.
func isAPIPath(p string) bool { return p == "/api" || strings.HasPrefix(p, "/api/") }

func (h webHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if isAPIPath(r.URL.Path) {
		writeError(w, newError(404, "no such route", nil))
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, newError(405, "method not allowed on this route", nil))
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name == "" {
		name = "index.html"
	}
	if h.serveFile(w, r, name) {
		return
	}
	// A missing asset or file (anything with an extension) is a 404: an
	// old page asking for a replaced script must not get HTML back.
	if strings.HasPrefix(name, "assets/") || path.Ext(name) != "" {
		writeError(w, newError(404, "no such file", nil))
		return
	}
	if !h.serveFile(w, r, "index.html") {
		writeError(w, newError(404, "no such file", nil))
	}
}

// serveFile answers with the regular file name under the root and its
// caching rule; false if there is no such file.
func (h webHandler) serveFile(w http.ResponseWriter, r *http.Request, name string) bool {
	f, err := h.root.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return false
	}
	rs, ok := f.(interface {
		Read([]byte) (int, error)
		Seek(int64, int) (int64, error)
	})
	if !ok {
		return false
	}
	if strings.HasPrefix(name, "assets/") {
		w.Header().Set("Cache-Control", webAssetsCache)
	} else {
		w.Header().Set("Cache-Control", webIndexCache)
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, name, st.ModTime(), rs)
	return true
}

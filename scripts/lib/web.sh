# Part of scripts/lib.sh (sourced by it, not run): the web client (web/, docs/web.md):
# its npm packages, pinned by web/package-lock.json, and its build into web/dist.

WEB_SRC="$ROOT/web"
WEB_DIST="$WEB_SRC/dist"

# web/node_modules exactly as web/package-lock.json pins it (npm ci), installed
# again only when the lock file changed. Playwright's own browser download
# cannot work here: the tests drive Debian's chromium (ensure_packages).
ensure_web_packages() {
  local stamp="$WEB_SRC/node_modules/.homebase-lock.sha256" want
  want=$(sha256sum "$WEB_SRC/package-lock.json" | cut -d' ' -f1)
  [[ -f $stamp && $(<"$stamp") == "$want" ]] && return 0
  command -v npm >/dev/null || ensure_packages npm
  command -v npm >/dev/null || die "npm is not installed (Debian: apt-get install npm); the web client needs it"
  say "installing web/'s packages (npm ci, pinned by web/package-lock.json)"
  (cd "$WEB_SRC" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error) >&2 ||
    die "npm ci in web/ failed"
  printf '%s\n' "$want" >"$stamp"
}

# The digest of web/'s sources: every file but the installed packages, the
# build and the test output.
web_sources_digest() {
  (cd "$WEB_SRC" && find . \( -name node_modules -o -name dist -o -name test-results -o -name playwright-report \) -prune \
    -o -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
}

# Builds web/ into web/dist (tsc, then vite build); with "changed", only when
# the sources changed since the last build (scripts/run), else always
# (scripts/test).
build_web() { # [changed]
  local stamp="$LOCAL_DIR/web-dist.sha256" digest
  ensure_web_packages
  digest=$(web_sources_digest)
  if [[ ${1:-} == changed && -f $WEB_DIST/index.html && -f $stamp && $(<"$stamp") == "$digest" ]]; then
    return 0
  fi
  say "building the web client into web/dist"
  (cd "$WEB_SRC" && npm run --silent build >&2) || { say "the web client does not build"; return 1; }
  mkdir -p "$LOCAL_DIR" && printf '%s\n' "$digest" >"$stamp"
}

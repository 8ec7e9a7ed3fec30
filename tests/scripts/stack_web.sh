# The web client on the running stack: nginx serves web/dist itself
# (deploy/nginx/homebase.conf): the hashed assets cached for a year, index.html
# and the app's routes (no extension) with no-cache, a missing asset or file
# a 404, the app's Content-Security-Policy on its pages, and /api/ still the
# gateways' (an unknown API path is the API's JSON 404); no request for a
# page or an asset reaches a gateway.
# Part of tests/scripts/stack.sh (sourced by it once the stack is up, not
# run): it uses stack.sh's helpers (https, header, header_count,
# check_headers) and variables (BASE, TMP, STACK_DIR, WEB_CSP).

check "scripts/run --stack built the web client (web/dist/index.html)" test -f "$WEB_DIST/index.html"
check "  ... and prints its URL" grep -qF "web client $BASE/" "$RUN_LOG"
check "the built index.html has no inline script (every <script> has a src)" \
  none "inline scripts" "$(grep -o '<script[^>]*>' "$WEB_DIST/index.html" | grep -v ' src=' || true)"
check "  ... and no inline style" none "inline styles" "$(grep -oE '<style|style="' "$WEB_DIST/index.html" || true)"

check "GET /: 200, index.html" equal "$(https GET /)" 200
check "  ... text/html" contains "$(header Content-Type)" text/html
check "  ... the app's page" contains "$(cat "$TMP/body")" '<main id="app">'
check "  ... Cache-Control: no-cache" equal "$(header Cache-Control)" no-cache
check_headers "GET /"
cp "$TMP/body" "$TMP/index.html"
check "GET /settings (an app route, no file): 200, index.html" equal "$(https GET /settings)" 200
check "  ... the same bytes as /" cmp -s "$TMP/body" "$TMP/index.html"
check "  ... Cache-Control: no-cache" equal "$(header Cache-Control)" no-cache
check_headers "GET /settings"
check "GET /confirm-email?token=x: 200, index.html" equal "$(https GET '/confirm-email?token=x')" 200
check "  ... the same bytes as /" cmp -s "$TMP/body" "$TMP/index.html"
check "GET /index.html: 200, no-cache" equal "$(https GET /index.html) $(header Cache-Control)" "200 no-cache"

asset=$(grep -oE '/assets/[^"]+\.js' "$WEB_DIST/index.html" | head -1)
check "index.html names a hashed script ($asset)" test -n "$asset"
check "GET $asset: 200" equal "$(https GET "$asset")" 200
check "  ... Cache-Control: public, max-age=31536000, immutable (once)" \
  equal "$(header Cache-Control) ($(header_count Cache-Control))" "public, max-age=31536000, immutable (1)"
check "  ... a JavaScript type" contains "$(header Content-Type)" javascript
check "  ... its bytes" cmp -s "$TMP/body" "$WEB_DIST$asset"
check_headers "GET $asset"
check "  ... gzipped for a client that asks" \
  equal "$(https GET "$asset" -H 'Accept-Encoding: gzip' >/dev/null; header Content-Encoding)" gzip
css=$(grep -oE '/assets/[^"]+\.css' "$WEB_DIST/index.html" | head -1)
check "GET $css: 200, text/css, immutable" \
  equal "$(https GET "$css") $(header Content-Type) $(header Cache-Control)" "200 text/css public, max-age=31536000, immutable"

check "GET /assets/no-such-file.js: 404 (never index.html)" equal "$(https GET /assets/no-such-file.js)" 404
check "  ... and no immutable Cache-Control" equal "$(header_count Cache-Control)" 0
check "GET /assets/no-such-page (no extension): 404" equal "$(https GET /assets/no-such-page)" 404
check "GET /no-such-file.png (an extension, outside assets): 404" equal "$(https GET /no-such-file.png)" 404
check_headers "nginx's 404 of a file"

check "GET /api/v1/no-such-route: the API's 404" equal "$(https GET /api/v1/no-such-route)" 404
check "  ... in the API's JSON" contains "$(cat "$TMP/body")" '"code":"NOT_FOUND"'
check_headers "the API's 404" api
check "GET /api/v1/no-such-file.js: the API's 404 too, never a file" equal "$(https GET /api/v1/no-such-file.js)" 404
check "  ... in the API's JSON" contains "$(cat "$TMP/body")" '"code":"NOT_FOUND"'

# What reached a gateway: the access log's upstream of each request above.
sleep 0.2 # nginx writes the access log line after the answer
page_lines='"GET (/|/settings|/confirm-email[^ ]*|/index.html|/assets/[^ ]*|/no-such-file.png) '
check "nginx logged the page and asset requests above" test "$(grep -cE "$page_lines" "$STACK_DIR/nginx/logs/access.log")" -ge 10
check "  ... none of them reached a gateway (upstream=-)" \
  none "page requests sent upstream" "$(grep -E "$page_lines" "$STACK_DIR/nginx/logs/access.log" | grep -v 'upstream=- ' || true)"
check "  ... while /api/ did" grep -qE '"GET /api/v1/no-such-route .* upstream=127\.0\.0\.1:' "$STACK_DIR/nginx/logs/access.log"

# In a browser: the pages run under that CSP (web/tests/csp.spec.ts, chromium
# through nginx): no violation, no console error.
ensure_packages chromium
csp_in_browser() {
  (cd "$WEB_SRC" && STACK_CSP=1 BASE_URL="$BASE" PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 \
    npx --no-install playwright test csp.spec.ts --output "$TMP/playwright" >"$TMP/csp.log" 2>&1) ||
    { tail -40 "$TMP/csp.log" >&2; return 1; }
}
check "chromium through nginx: sign up, log in, settings, admin under the CSP, no violation (web/tests/csp.spec.ts)" csp_in_browser

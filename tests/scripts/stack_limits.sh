# What nginx refuses on the running stack: bodies over 1 MiB, and each
# route's rate limit past its burst, with the headers of those answers.
# Part of tests/scripts/stack.sh (sourced by it once the stack is up, not
# run): it uses stack.sh's helpers (https, header, check_headers, burst) and
# variables (BASE, CA, TMP, PROXY_AUTH_PORT).

# Body size.
head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$TMP/big.json"
check "a body of 1 MiB + 1 byte: 413 from nginx" \
  equal "$(https POST /api/v1/accounts -H 'Content-Type: application/json' --data-binary "@$TMP/big.json")" 413
check "  ... in the API's error shape" contains "$(cat "$TMP/body")" '"code":"PAYLOAD_TOO_LARGE"'
check_headers "nginx's 413" api

# The rate limit on logins (10 a minute per client, burst 5).
codes=()
for ((i = 0; i < 10; i++)); do
  codes+=("$(https POST /api/v1/sessions -H 'Content-Type: application/json' -d '{"login":"nobody_here","password":"wrong"}')")
done
check "10 logins at once: the first ones reach the gateway (got ${codes[*]})" equal "${codes[0]} ${codes[1]} ${codes[2]}" "401 401 401"
check "  ... the last ones get 429 from nginx" equal "${codes[9]}" 429
https POST /api/v1/sessions -H 'Content-Type: application/json' -d '{"login":"nobody_here","password":"wrong"}' >/dev/null
check "  ... as JSON RATE_LIMITED with Retry-After" contains "$(header Retry-After) $(cat "$TMP/body")" '60 {"code":"RATE_LIMITED"'
check "  ... once (nginx's Retry-After, no empty one)" equal "$(header_count Retry-After)" 1
check "  ... and Cache-Control: no-store" equal "$(header Cache-Control)" no-store
check_headers "nginx's 429" api

# The other bcrypt routes (10 a minute per client, burst 5), without a
# session: the gateway answers 401 until nginx answers 429.
codes=$(burst 10 PUT /api/v1/account/password -H 'Content-Type: application/json' -d '{"current_password":"a","new_password":"b"}')
check "10 PUT /api/v1/account/password at once: the first ones reach the gateway (got $codes)" equal "$(cut -d' ' -f1-3 <<<"$codes")" "401 401 401"
check "  ... the last ones get 429 from nginx" equal "$(awk '{ print $NF }' <<<"$codes")" 429
codes=$(burst 10 DELETE /api/v1/account -H 'Content-Type: application/json' -d '{"password":"a"}')
check "10 DELETE /api/v1/account at once: the first ones reach the gateway (got $codes)" equal "$(cut -d' ' -f1-3 <<<"$codes")" "401 401 401"
check "  ... the last ones get 429 from nginx" equal "$(awk '{ print $NF }' <<<"$codes")" 429
# The mail routes and the address change (10 a minute per client, burst 5,
# each in its own zone): without a session, or with a token that is no
# mailed one, the gateway answers (202, 400, 401) until nginx answers 429.
edge_limited() { # what method path [curl args...]
  local what=$1 codes
  shift
  codes=$(burst 10 "$@")
  check "10 $what at once: the first ones reach the gateway (got $codes)" lacks "$(cut -d' ' -f1-3 <<<"$codes")" 429
  check "  ... the last ones get 429 from nginx" \
    equal "$(awk '{ print $NF }' <<<"$codes") $(grep -c 'too many requests from this address' "$TMP/body")" "429 1"
}
edge_limited "PATCH /api/v1/account" PATCH /api/v1/account -H 'Content-Type: application/json' -d '{"display_name":"x"}'
edge_limited "POST /api/v1/password-resets" POST /api/v1/password-resets -H 'Content-Type: application/json' \
  -d '{"email":"stack_nobody@example.com"}'
edge_limited "PUT /api/v1/password-resets" PUT /api/v1/password-resets -H 'Content-Type: application/json' \
  -d '{"token":"no-such-token","new_password":"correct horse battery"}'
edge_limited "POST /api/v1/email-confirmations" POST /api/v1/email-confirmations -H 'Content-Type: application/json' \
  -d '{"token":"no-such-token"}'
edge_limited "POST /api/v1/account/email-confirmation" POST /api/v1/account/email-confirmation
# The availability check: 30 a minute per client, burst 10. One curl on one
# kept-alive connection, so that the 15 are sent well within the 2 s in
# which the limit grants one more (one by one, on a loaded machine, they
# were not).
codes=$(curl -s --max-time 30 --cacert "$CA" -D "$TMP/headers" -o "$TMP/body" -w '%{http_code} ' \
  "$BASE/api/v1/availability?username=stack_nobody&n=[1-15]" || true)
check "15 GET /api/v1/availability at once: the first ones reach the gateway (got $codes)" lacks "$(cut -d' ' -f1-3 <<<"$codes")" 429
check "  ... the last ones get 429 from nginx" equal "$(awk '{ print $NF }' <<<"$codes")" 429
check "  ... as nginx's RATE_LIMITED (not the gateway's)" contains "$(cat "$TMP/body")" 'too many requests from this address'
codes=()
for ((i = 0; i < 10; i++)); do codes+=("$(https GET /api/v1/sessions)" "$(https GET /api/v1/session)"); done
check "GET /api/v1/sessions and /api/v1/session are not limited (${codes[*]})" lacks "${codes[*]}" 429

# The proxy-auth server counts every request (5 a second per client, burst
# 20): 60 wrong passwords on one kept-alive connection (one curl, well
# under the few seconds the rate would need to let them all through) get
# 429 after the burst.
read -r -a codes <<<"$(curl -s --max-time 30 --cacert "$CA" -u 'stack_px:a guess' -D "$TMP/headers" -o "$TMP/body" \
  -w '%{http_code} ' "https://127.0.0.1:$PROXY_AUTH_PORT/api/v1/session?n=[1-60]" || true)"
check "60 wrong passwords at the proxy-auth server: 401 first (got ${codes[*]})" equal "${codes[0]} ${codes[1]}" "401 401"
check "  ... then 429 from nginx" equal "${codes[59]:-}" 429
check "  ... as JSON RATE_LIMITED with Retry-After" contains "$(header Retry-After) $(cat "$TMP/body")" '1 {"code":"RATE_LIMITED"'
check_headers "the proxy-auth server's 429" api

#!/usr/bin/env bash
# The proxy-asserted identity through the real nginx (auth_basic with an
# htpasswd file made by `scripts/db htpasswd`) in front of a real gateway
# with PROXY_USER_HEADER=X-Remote-User, connected as gateway_proxy:
#   - the right user and password get that user's own data, with no token,
#     and a write under it is in audit.logs as the proxy's;
#   - a wrong or missing password is nginx's own 401, which no gateway sees;
#   - a user of the password file without an account: the gateway's 401 INVALID;
#   - X-Remote-User sent by the client through the proxy-auth server is
#     overwritten with the authenticated user;
#   - X-Remote-User sent through the token server is cleared: here that
#     server's upstream is the very gateway that believes the header (the
#     strictest case: one pool of gateways for both servers), so nginx's
#     clearing is all that stands between the forged header and an identity;
#   - X-Remote-User sent straight to the gateway from a peer outside its
#     TRUSTED_PROXIES (127.0.0.2, while nginx connects from 127.0.0.1) is
#     ignored, where the same request from 127.0.0.1 is believed.
#
# On a scratch database (${TEST_DB_NAME}_proxy, dropped before and after), on
# free loopback ports (free_ports, scripts/lib/ports.sh), with every file in
# a temporary folder. Run by scripts/test; by itself once the cluster runs:
#   bash tests/scripts/proxy_auth.sh
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/lib.sh"
source "$ROOT/tests/scripts/checks.sh"

SCRATCH="${TEST_DB_NAME}_proxy"
TMP=$(mktemp -d)
export STACK_DIR="$TMP/stack" HTPASSWD_FILE="$TMP/htpasswd"
CA="$LOCAL_DIR/tls/ca.crt"
GW_PID=""

cleanup() {
  local rc=$?
  [[ -n $NGINX_PID ]] && stop_pid "$NGINX_PID"
  [[ -n $GW_PID ]] && stop_pid "$GW_PID"
  if [[ $rc -ne 0 ]]; then
    for f in "$STACK_DIR"/nginx/logs/error.log "$TMP"/gateway.log; do
      [[ -s $f ]] && { say "$f (last lines):"; tail -10 "$f" >&2; }
    done
  fi
  drop_database "$SCRATCH" >/dev/null 2>&1 || true
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT


if using_local_cluster && ! cluster_running; then
  die "the local cluster is not running: scripts/db start (or scripts/test) first"
fi
ensure_nginx
ensure_tls_cert

# Four free ports: plain HTTP, HTTPS (tokens), HTTPS (proxy auth), the gateway.
ports=$(free_ports 4)
read -r HTTP_PORT HTTPS_PORT PROXY_AUTH_PORT GW <<<"$ports"
export PROXY_AUTH_PORT
TOKEN_BASE="https://127.0.0.1:$HTTPS_PORT/api/v1"
PROXY_BASE="https://127.0.0.1:$PROXY_AUTH_PORT/api/v1"
GW_BASE="http://127.0.0.1:$GW/api/v1"

# call method url [curl args...]: "STATUS" of a request; the headers land in
# $TMP/headers, the body in $TMP/body.
call() {
  local method=$1 url=$2
  shift 2
  curl -s --max-time 10 --cacert "$CA" -X "$method" -D "$TMP/headers" -o "$TMP/body" -w '%{http_code}' "$@" "$url" || true
}
header() { sed -n "s/^$1: *//Ip" "$TMP/headers" | tr -d '\r' | head -1; }
body() { cat "$TMP/body"; }
scratch_sql() { psql "$(owner_url "$SCRATCH")" -X -q -At -v ON_ERROR_STOP=1 -c "$1"; }
json=(-H 'Content-Type: application/json')

drop_database "$SCRATCH" >/dev/null
bootstrap_roles
create_database "$SCRATCH"
migrate "$SCRATCH" 2>/dev/null

say "building the gateway"
(cd "$ROOT" && go build -o "$TMP/gateway" ./gateway/cmd/gateway)
start_gateway "$TMP/gateway" "$GW" "$TMP/gateway.log" DATABASE_URL="$(gateway_proxy_url "$SCRATCH")" \
  TRUSTED_PROXIES=127.0.0.1/32 PROXY_USER_HEADER=X-Remote-User COOKIE_SECURE=true MAINTENANCE_INTERVAL=0
GW_PID=$STARTED_PID
check "the gateway (PROXY_USER_HEADER=X-Remote-User, login gateway_proxy) is ready" \
  wait_for_200 15 "http://127.0.0.1:$GW/readyz"

# nginx: the token server and the proxy-auth server, both in front of that gateway.
PROXY_AUTH_GATEWAYS="127.0.0.1:$GW" render_nginx "$HTTP_PORT" "$HTTPS_PORT" "127.0.0.1:$GW"
start_nginx
check "nginx serves the token server" wait_for_200 15 "https://127.0.0.1:$HTTPS_PORT/readyz" --cacert "$CA"

# Two accounts, a tracker each (made with their tokens), and the password file.
for u in alice bob; do
  check "sign-up of ${u}_px through the token server: 201" equal "$(call POST "$TOKEN_BASE/accounts" "${json[@]}" \
    -d "{\"username\":\"${u}_px\",\"email\":\"${u}_px@example.com\",\"password\":\"$u account password\"}")" 201
done
printf 'alice basic pw\n' | bash "$ROOT/scripts/db" htpasswd alice_px
printf 'bob basic pw\n' | bash "$ROOT/scripts/db" htpasswd bob_px
printf 'carol basic pw\n' | bash "$ROOT/scripts/db" htpasswd carol_px
check "scripts/db htpasswd wrote three users, SHA-512 crypt" \
  equal "$(cut -d: -f1 "$HTPASSWD_FILE" | sort | xargs) $(cut -d'$' -f2 "$HTPASSWD_FILE" | sort -u)" "alice_px bob_px carol_px 6"


for u in alice bob; do
  tok=$(curl -s --cacert "$CA" "${json[@]}" -d "{\"login\":\"${u}_px\",\"password\":\"$u account password\"}" \
    "$TOKEN_BASE/sessions" | sed -n 's/.*"token" *: *"\([^"]*\)".*/\1/p')
  check "$u creates a tracker with her token: 201" equal "$(call POST "$TOKEN_BASE/trackers" "${json[@]}" \
    -H "Authorization: Bearer $tok" -d "{\"name\":\"$u tracker\",\"type\":\"note\"}")" 201
done

# The proxy-auth server: nginx checks the password.
check "proxy auth without a password: 401 from nginx" equal "$(call GET "$PROXY_BASE/session")" 401
check "  ... asking for Basic credentials" contains "$(header WWW-Authenticate)" 'Basic realm="homebase"'
check "a wrong password: 401 from nginx" equal "$(call GET "$PROXY_BASE/trackers" -u 'alice_px:not her password')" 401
check "  ... which no gateway answered (upstream=- in nginx's access log)" \
  grep -q 'GET /api/v1/trackers HTTP/[0-9.]*" 401 .* upstream=- ' "$STACK_DIR/nginx/logs/access.log"
check "  ... nor saw (the gateway logged no 401 on /api/v1/trackers)" \
  bash -c "! grep '\"path\":\"/api/v1/trackers\"' '$TMP/gateway.log' | grep -q '\"status\":401'"
check "the account's own password is not the proxy's: 401 from nginx" \
  equal "$(call GET "$PROXY_BASE/trackers" -u 'alice_px:alice account password')" 401

check "alice with her password: GET /trackers 200, no token" equal "$(call GET "$PROXY_BASE/trackers" -u 'alice_px:alice basic pw')" 200
check "  ... her own tracker" contains "$(body)" '"alice tracker"'
check "  ... and not bob's" lacks "$(body)" '"bob tracker"'
check "bob with his password: his own tracker only" \
  equal "$(call GET "$PROXY_BASE/trackers" -u 'bob_px:bob basic pw') $(grep -o '"[a-z]* tracker"' "$TMP/body" | xargs)" \
  "200 bob tracker"
check "GET /session as alice: identity proxy, no session" \
  equal "$(call GET "$PROXY_BASE/session" -u 'alice_px:alice basic pw') $(body | tr -d ' ' | grep -o '"session":null,"identity":"proxy"')" \
  '200 "session":null,"identity":"proxy"'

# A write, from the site's own origin (the CSRF rule holds for Basic auth).
rid="px-write-$$-$(date +%s)"
check "alice POST /trackers without Origin: 403 CSRF" \
  equal "$(call POST "$PROXY_BASE/trackers" -u 'alice_px:alice basic pw' "${json[@]}" -d '{"name":"walks","type":"note"}') $(body | grep -o '"code":"CSRF"')" \
  '403 "code":"CSRF"'
check "alice POST /trackers from https://127.0.0.1:$PROXY_AUTH_PORT: 201" \
  equal "$(call POST "$PROXY_BASE/trackers" -u 'alice_px:alice basic pw' "${json[@]}" -H "Origin: https://127.0.0.1:$PROXY_AUTH_PORT" \
    -H "X-Request-Id: $rid" -d '{"name":"walks","type":"note"}')" 201
check "  ... in audit.logs as the proxy's, with alice's account, the client's IP and the change" \
  equal "$(scratch_sql "SELECT a.username || ' ' || host(l.client_ip) || ' ' || (l.details->>'identity') || ' ' || (l.details->>'changes')
                          FROM audit.logs l JOIN auth.accounts a ON a.id = l.account_id
                         WHERE l.request_id = '$rid' AND l.source = 'proxy'")" \
  'alice_px 127.0.0.1 proxy ["INSERT tracking.trackers"]'

check "carol (in the password file, no account): the gateway's 401 INVALID" \
  equal "$(call GET "$PROXY_BASE/session" -u 'carol_px:carol basic pw') $(body | grep -o '"code":"INVALID"')" '401 "code":"INVALID"'

# Forged headers.
check "alice sending X-Remote-User: bob_px through the proxy-auth server is still alice" \
  equal "$(call GET "$PROXY_BASE/trackers" -u 'alice_px:alice basic pw' -H 'X-Remote-User: bob_px') $(grep -o '"[a-z]* tracker"' "$TMP/body" | xargs)" \
  "200 alice tracker"
check "X-Remote-User: alice_px through the token server, no token: 401 UNAUTHENTICATED (cleared by nginx)" \
  equal "$(call GET "$TOKEN_BASE/trackers" -H 'X-Remote-User: alice_px') $(body | grep -o '"code":"UNAUTHENTICATED"')" \
  '401 "code":"UNAUTHENTICATED"'
check "  ... and a write that way is refused the same" \
  equal "$(call POST "$TOKEN_BASE/trackers" -H 'X-Remote-User: alice_px' -H "Origin: https://127.0.0.1:$HTTPS_PORT" \
    "${json[@]}" -d '{"name":"forged","type":"note"}')" 401
check "X-Remote-User: alice_px straight to the gateway from 127.0.0.2 (not a trusted proxy): 401 UNAUTHENTICATED" \
  equal "$(call GET "$GW_BASE/trackers" --interface 127.0.0.2 -H 'X-Remote-User: alice_px') $(body | grep -o '"code":"UNAUTHENTICATED"')" \
  '401 "code":"UNAUTHENTICATED"'
check "  ... while from 127.0.0.1, nginx's address, it is believed (200)" \
  equal "$(call GET "$GW_BASE/trackers" -H 'X-Remote-User: alice_px')" 200
check "no tracker named forged was made" equal "$(scratch_sql "SELECT count(*) FROM tracking.trackers WHERE name = 'forged'")" 0

say "the proxy-asserted identity holds behind nginx"

#!/usr/bin/env bash
# The local stack behind nginx, as `scripts/run --stack` brings it up: what
# deploy/nginx/homebase.conf promises, checked through the real nginx in
# front of two real gateways and the real database.
#
# On a scratch database (${TEST_DB_NAME}_stack, dropped before and after), on
# free loopback ports, with the stack's files in a temporary folder
# (STACK_DIR), so that a developer's own stack is left alone:
#   - https through nginx with the throw-away CA (.local/tls/ca.crt), for
#     127.0.0.1 and localhost; plain HTTP redirects to it; HSTS;
#   - /metrics: 404 through nginx, 200 from a gateway directly on loopback;
#   - the client's X-Request-Id comes back, and is in nginx's access log;
#   - a client's own X-Forwarded-For does not become its IP: a sign-up sent
#     with a forged one is in audit.logs with the real address (127.0.0.1);
#     and the gateways believe nginx's (scripts/run --stack sets
#     TRUSTED_PROXIES): a client on 127.0.0.2 is 127.0.0.2 in audit.logs and
#     in the gateway's access log, not nginx's 127.0.0.1;
#   - the headers of every answer (the gateways' and nginx's own: 404, 413,
#     429, the plain-HTTP redirect, the proxy-auth server's 401):
#     X-Content-Type-Options, Referrer-Policy, HSTS on https, a Server
#     header without nginx's version, and a Content-Security-Policy: the
#     API's on /api/, the web client's elsewhere;
#   - the web client (tests/scripts/stack_web.sh): nginx serves web/dist
#     itself, assets immutable, index.html and the app's routes no-cache,
#     a missing asset a 404, /api/ still the gateways';
#   - a body over 1 MiB: 413 from nginx, in the API's error shape;
#   - beyond their bursts, 429 from nginx: POST /api/v1/sessions (GETs are
#     not limited), PUT /api/v1/account/password, DELETE /api/v1/account
#     (PATCH is not limited), GET /api/v1/availability, and any request to
#     the proxy-auth server;
#   - requests reach both gateways over kept-alive connections, those with
#     one session cookie (__Host-session) the same one, and the rest
#     are served when one stops;
#   - the gateways reach PostgreSQL only through PgBouncer (its own instance
#     here, in the temporary folder): each of their backends is one of
#     PgBouncer's server connections (SHOW SERVERS on its admin console);
#   - the proxy-auth server (homebase-proxy-auth.conf) asks for a password, and
#     a user of its password file gets in with no token (tests/scripts/proxy_auth.sh
#     checks the rest of it);
#   - the streaming replica (scripts/db replica start, unless it ran already):
#     /readyz reports it streaming, and read-only routes are served by it;
#   - mail (tests/scripts/stack_mail.sh): a sign-up through nginx reaches
#     Mailpit, its link to the https URL; the sender's health and counters;
#   - SIGTERM to scripts/run stops nginx, the gateways, the mail sender,
#     Mailpit and PgBouncer: their ports are free; and the replica, if
#     scripts/run started it.
#
# Run by scripts/test; by itself once the cluster runs (scripts/db start):
#   bash tests/scripts/stack.sh
# TEST_DB_NAME names the scratch database; the ports are free_ports' (scripts/lib/ports.sh).
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/lib.sh"
source "$ROOT/tests/scripts/checks.sh"

SCRATCH="${TEST_DB_NAME}_stack"
TMP=$(mktemp -d)
export STACK_DIR="$TMP/stack" PGBOUNCER_DIR="$TMP/pgbouncer" HTPASSWD_FILE="$TMP/htpasswd"
RUN_LOG="$TMP/run.log"
RUN_PID=""
CA="$LOCAL_DIR/tls/ca.crt"

cleanup() {
  local rc=$?
  [[ -n $RUN_PID ]] && stop_pid "$RUN_PID" 20
  if [[ $rc -ne 0 ]]; then
    say "scripts/run --stack said (last lines):"
    tail -20 "$RUN_LOG" >&2 2>/dev/null || true
    for f in "$STACK_DIR"/nginx/logs/error.log "$STACK_DIR"/gateway-*.log "$STACK_DIR"/mailer.log; do
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

# Ten free ports: plain HTTP, HTTPS, two gateways, PgBouncer, proxy auth
# and its gateway, Mailpit's SMTP and API, the sender's health.
ports=$(free_ports 10)
read -r HTTP_PORT HTTPS_PORT GW1 GW2 PGBOUNCER_PORT PROXY_AUTH_PORT GWP SMTP_PORT MAIL_UI_PORT MAILER_HEALTH_PORT <<<"$ports"
export PGBOUNCER_PORT PROXY_AUTH_PORT SMTP_PORT MAIL_UI_PORT MAILER_HEALTH_PORT
BASE="https://127.0.0.1:$HTTPS_PORT"

# https method path [curl args...]: "STATUS" of a request through nginx;
# the headers land in $TMP/headers, the body in $TMP/body.
https() {
  local method=$1 path=$2
  shift 2
  curl -s --max-time 10 --cacert "$CA" -X "$method" -D "$TMP/headers" -o "$TMP/body" -w '%{http_code}' \
    "$@" "$BASE$path" || true
}
header() { sed -n "s/^$1: *//Ip" "$TMP/headers" | tr -d '\r' | head -1; }
header_count() { grep -ci "^$1:" "$TMP/headers" || true; }
# The headers every answer carries, after a request ($1 says which); the
# CSP: with "api" as $2, the API's; with "http" (the plain-HTTP redirect)
# none; else the web client's.
CSP="default-src 'none'; frame-ancestors 'none'"
WEB_CSP="default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
check_headers() { # what [api|plain|http]
  check "  ... $1: X-Content-Type-Options: nosniff" equal "$(header X-Content-Type-Options)" nosniff
  check "  ... $1: Referrer-Policy: no-referrer" equal "$(header Referrer-Policy)" no-referrer
  check "  ... $1: Server without a version" equal "$(header Server)" nginx
  case ${2:-plain} in
    api) check "  ... $1: Content-Security-Policy" equal "$(header Content-Security-Policy)" "$CSP" ;;
    http) check "  ... $1: no Content-Security-Policy" equal "$(header_count Content-Security-Policy)" 0 ;;
    *) check "  ... $1: the web client's Content-Security-Policy (once)" \
         equal "$(header Content-Security-Policy) ($(header_count Content-Security-Policy))" "$WEB_CSP (1)" ;;
  esac
  if [[ ${2:-} != http ]]; then
    check "  ... $1: Strict-Transport-Security" contains "$(header Strict-Transport-Security)" "max-age="
  fi
}
# n method path [curl args...]: the statuses of n requests sent one after
# the other, as fast as curl goes (a few seconds at most).
burst() {
  local n=$1 i out=()
  shift
  for ((i = 0; i < n; i++)); do out+=("$(https "$@")"); done
  printf '%s\n' "${out[*]}"
}
scratch_sql() { psql "$(owner_url "$SCRATCH")" -X -q -At -v ON_ERROR_STOP=1 -c "$1"; }
listener_pid() { ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1; }

drop_database "$SCRATCH" >/dev/null
replica_before=0
replica_running && replica_before=1
say "scripts/run --stack on $SCRATCH: https :$HTTPS_PORT, http :$HTTP_PORT, gateways :$GW1 :$GW2"
printf 'stack pw\n' | bash "$ROOT/scripts/db" htpasswd stack_px
DB_NAME=$SCRATCH HTTPS_PORT=$HTTPS_PORT STACK_HTTP_PORT=$HTTP_PORT STACK_GATEWAY_PORTS="$GW1,$GW2" STACK_PROXY_GATEWAY_PORT=$GWP \
  MAINTENANCE_INTERVAL=0 bash "$ROOT/scripts/run" --stack >"$RUN_LOG" 2>&1 &
RUN_PID=$!
for ((i = 0; i < 600; i++)); do # 120 s at most (a first build of the gateway included)
  grep -q 'the stack is up' "$RUN_LOG" && break
  pid_alive "$RUN_PID" || fail "scripts/run --stack exited before the stack was up"
  sleep 0.2
done
check "scripts/run --stack says the stack is up" grep -q 'the stack is up' "$RUN_LOG"
check "it prints the https URL" grep -qF "$BASE/" "$RUN_LOG"
check "  ... and the proxy-auth URL" grep -qF "https://127.0.0.1:$PROXY_AUTH_PORT/" "$RUN_LOG"

NGINX_MASTER=$(cat "$STACK_DIR/nginx/nginx.pid" 2>/dev/null || true)
GW1_PID=$(listener_pid "$GW1") GW2_PID=$(listener_pid "$GW2")
check "nginx and both gateways listen (pids ${NGINX_MASTER:-?}, ${GW1_PID:-?}, ${GW2_PID:-?})" \
  test -n "$NGINX_MASTER" -a -n "$GW1_PID" -a -n "$GW2_PID"
check "nginx runs on the rendered configuration only (not /etc/nginx/nginx.conf)" \
  contains "$(ps -o args= -p "$NGINX_MASTER")" "-c $STACK_DIR/nginx/nginx.conf"

# TLS, redirect, HSTS.
check "GET /readyz through nginx over https (certificate verified with .local/tls/ca.crt): 200" \
  equal "$(https GET /readyz)" 200
check "  ... with Strict-Transport-Security" contains "$(header Strict-Transport-Security)" "max-age="
check_headers "GET /readyz (a gateway's 200)"
check "GET /api/v1/posts: 200" equal "$(https GET /api/v1/posts)" 200
check_headers "GET /api/v1/posts" api
check "GET /api/v1/no-such-route: a gateway's 404" equal "$(https GET /api/v1/no-such-route)" 404
check_headers "the gateway's 404" api
check "the certificate is valid for localhost too" \
  equal "$(curl -s --max-time 10 --cacert "$CA" -o /dev/null -w '%{http_code}' "https://localhost:$HTTPS_PORT/healthz")" 200
check "without the CA, curl refuses the certificate" \
  equal "$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "$BASE/healthz" || true)" 000
check "TLS 1.2 is served" \
  equal "$(curl -s --max-time 10 --cacert "$CA" --tlsv1.2 --tls-max 1.2 -o /dev/null -w '%{http_code}' "$BASE/healthz" || true)" 200
check "TLS 1.1 is refused" \
  equal "$(curl -s --max-time 10 --cacert "$CA" --tlsv1.1 --tls-max 1.1 -o /dev/null -w '%{http_code}' "$BASE/healthz" || true)" 000
check "plain http redirects to https (301, same path and query)" \
  equal "$(curl -s --max-time 10 -D "$TMP/headers" -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$HTTP_PORT/api/v1/session?x=1")" \
  "301 $BASE/api/v1/session?x=1"
check_headers "the redirect" http

# The proxy-auth server: a password, then the account of that name, no token.
check "proxy auth without a password: 401 from nginx" \
  equal "$(curl -s --max-time 10 --cacert "$CA" -D "$TMP/headers" -o /dev/null -w '%{http_code}' "https://127.0.0.1:$PROXY_AUTH_PORT/api/v1/session")" 401
check_headers "the proxy-auth server's 401" api
https POST /api/v1/accounts -H 'Content-Type: application/json' \
  -d '{"username":"stack_px","email":"stack_px@example.com","password":"correct horse battery"}' >/dev/null
check "  ... with stack_px's password (scripts/db htpasswd): GET /session is stack_px's, identity proxy" \
  contains "$(curl -s --max-time 10 --cacert "$CA" -u 'stack_px:stack pw' "https://127.0.0.1:$PROXY_AUTH_PORT/api/v1/session" | tr -d ' ')" \
  '"username":"stack_px"'

# /metrics.
check "GET /metrics through nginx: 404" equal "$(https GET /metrics)" 404
check_headers "nginx's own 404"
check "GET /metrics from a gateway directly on loopback: 200" \
  equal "$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$GW1/metrics")" 200

# Request ids.
rid="stack-test-$$-$(date +%s)"
check "X-Request-Id sent through nginx: 200" equal "$(https GET /healthz -H "X-Request-Id: $rid")" 200
check "  ... comes back" equal "$(header X-Request-Id)" "$rid"
check "  ... and is in nginx's access log" grep -qF "rid=$rid " "$STACK_DIR/nginx/logs/access.log"
https GET /healthz >/dev/null
check "without one, the gateway answers with nginx's id (in its access log too)" \
  grep -qF "rid=$(header X-Request-Id) " "$STACK_DIR/nginx/logs/access.log"

# The client's IP: a forged X-Forwarded-For is replaced, not believed.
rid="stack-xff-$$-$(date +%s)"
check "POST /api/v1/accounts through nginx with X-Forwarded-For: 203.0.113.9: 201" \
  equal "$(https POST /api/v1/accounts -H 'Content-Type: application/json' -H 'X-Forwarded-For: 203.0.113.9' \
    -H "X-Request-Id: $rid" -d '{"username":"stack_xff","email":"stack_xff@example.com","password":"correct horse battery"}')" 201
check "  ... audit.logs has the real client IP 127.0.0.1, not the forged one" \
  equal "$(scratch_sql "SELECT string_agg(DISTINCT host(client_ip), ',') FROM audit.logs WHERE request_id = '$rid'")" 127.0.0.1
# nginx connects to the gateways from 127.0.0.1: a client on another address
# tells the gateway's trust of nginx's X-Forwarded-For (TRUSTED_PROXIES) from
# its taking nginx for the client, which would put every client under one key
# of the per-IP login throttle.
rid="stack-client-$$-$(date +%s)"
check "POST /api/v1/accounts from 127.0.0.2 (curl --interface), with X-Forwarded-For: 203.0.113.9: 201" \
  equal "$(https POST /api/v1/accounts --interface 127.0.0.2 -H 'Content-Type: application/json' -H 'X-Forwarded-For: 203.0.113.9' \
    -H "X-Request-Id: $rid" -d '{"username":"stack_ip2","email":"stack_ip2@example.com","password":"correct horse battery"}')" 201
check "  ... audit.logs has the client's IP 127.0.0.2, not nginx's or the forged one" \
  equal "$(scratch_sql "SELECT string_agg(DISTINCT host(client_ip), ',') FROM audit.logs WHERE request_id = '$rid'")" 127.0.0.2
check "  ... and so has the gateway's access log" \
  bash -c "grep -hF '$rid' '$STACK_DIR'/gateway-*.log | sed 's/\x1b\[[0-9;]*m//g' | grep -q 'client=127.0.0.2'"

source "$ROOT/tests/scripts/stack_web.sh"
source "$ROOT/tests/scripts/stack_limits.sh"
source "$ROOT/tests/scripts/stack_mail.sh"

# Both gateways, and one of them gone.
check "nginx sent requests to the first gateway" grep -qF "upstream=127.0.0.1:$GW1 " "$STACK_DIR/nginx/logs/access.log"
check "  ... and to the second" grep -qF "upstream=127.0.0.1:$GW2 " "$STACK_DIR/nginx/logs/access.log"
# One session cookie, one gateway (the one that knows the client's last
# write): twelve requests with the same __Host-session all go to one
# upstream, where requests without a token spread over both.
for i in $(seq 1 12); do
  curl -s --max-time 10 --cacert "$CA" -o /dev/null -H "X-Request-Id: affinity-$$-$i" \
    -H "Cookie: theme=dark; __Host-session=stack-affinity-$$" "$BASE/api/v1/session" || true
done
upstreams=$(grep -E "rid=affinity-$$-[0-9]+ " "$STACK_DIR/nginx/logs/access.log" | grep -o 'upstream=[^ ]*' | sort -u | xargs)
check "requests with one session cookie go to one gateway ($upstreams)" \
  test "$(wc -w <<<"$upstreams")" -eq 1 -a "$(grep -cE "rid=affinity-$$-[0-9]+ " "$STACK_DIR/nginx/logs/access.log")" -eq 12

# PgBouncer between the gateways and PostgreSQL.
PGB_PID=$(pgbouncer_pid || true)
check "PgBouncer runs (pid ${PGB_PID:-?}) on 127.0.0.1:$PGBOUNCER_PORT" test -n "$PGB_PID"
clients=$(psql_pgbouncer_admin -At -F ' ' -c "SHOW CLIENTS" | awk -v db="$SCRATCH" '$1 == "C" && $2 == "gateway" && $3 == db' | wc -l)
check "the gateways are PgBouncer's clients (SHOW CLIENTS: $clients for $SCRATCH)" test "$clients" -ge 2
servers=$(psql_pgbouncer_admin -At -c "SHOW SERVERS" | awk -F '|' -v db="$SCRATCH" '$2 == "gateway" && $3 == db { print $(NF - 2) }' | sort -n | xargs)
backends=$(psql "$(admin_url postgres)" -X -At -c "SELECT pid FROM pg_stat_activity WHERE usename = 'gateway' AND datname = '$SCRATCH' ORDER BY pid" | xargs)
check "every gateway backend of $SCRATCH is a PgBouncer server connection (backends: $backends)" \
  test -n "$backends" -a "$backends" == "$servers"
check "  ... its pool is in transaction mode" \
  equal "$(psql_pgbouncer_admin -At -F ' ' -c "SHOW POOLS" | awk -v db="$SCRATCH" '$1 == db && $2 == "gateway" { print $NF }')" transaction
# The replica.
https GET /readyz >/dev/null
check "/readyz through nginx reports the replica, streaming" contains "$(cat "$TMP/body")" '"replica":{"status":"streaming"'
replica_reads() {
  curl -s --max-time 5 "http://127.0.0.1:$GW1/metrics" "http://127.0.0.1:$GW2/metrics" |
    awk '/^homebase_gateway_replica_reads_total\{outcome="replica"\}/ { n += $2 } END { print n + 0 }'
}
for ((i = 0; i < 50; i++)); do # 10 s at most
  https GET /api/v1/posts >/dev/null
  [[ $(replica_reads) -ge 2 ]] && break
  sleep 0.2
done
check "GET /api/v1/posts through nginx is served by the replica (replica reads: $(replica_reads))" \
  test "$(replica_reads)" -ge 2
idle=$(ss -Htn state established "( dport = :$GW1 or dport = :$GW2 )" 2>/dev/null | wc -l)
check "nginx keeps idle connections to the gateways open between requests (keepalive: $idle)" test "$idle" -ge 1
stop_pid "$GW2_PID" 10
check "the second gateway stopped (SIGTERM)" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$GW2) 2>/dev/null"
codes=()
for ((i = 0; i < 10; i++)); do codes+=("$(https GET /readyz)"); done
check "with one gateway left, every request is still answered (${codes[*]})" \
  equal "${codes[*]}" "200 200 200 200 200 200 200 200 200 200"
for ((i = 0; i < 25; i++)); do # 5 s at most (scripts/run looks every second)
  grep -q "the gateway on 127.0.0.1:$GW2 exited" "$RUN_LOG" && break
  sleep 0.2
done
check "scripts/run says the gateway exited" grep -q "the gateway on 127.0.0.1:$GW2 exited" "$RUN_LOG"
check "  ... and keeps the stack up" equal "$(https GET /readyz)" 200

# SIGTERM to scripts/run.
kill -TERM "$RUN_PID"
for ((i = 0; i < 150; i++)); do pid_alive "$RUN_PID" || break; sleep 0.2; done # 30 s at most
check "SIGTERM: scripts/run exits" bash -c "! kill -0 $RUN_PID 2>/dev/null || [[ \$(ps -o stat= -p $RUN_PID) == Z* ]]"
wait "$RUN_PID" 2>/dev/null || true
RUN_PID=""
check "  ... nginx's master is gone" bash -c "! kill -0 $NGINX_MASTER 2>/dev/null"
check "  ... the first gateway is gone" bash -c "! kill -0 $GW1_PID 2>/dev/null"
check "  ... PgBouncer is gone" bash -c "! kill -0 $PGB_PID 2>/dev/null"
check "  ... the mail sender and Mailpit are gone" bash -c "! kill -0 $MAILER_PID 2>/dev/null && ! kill -0 $MAILPIT_PID 2>/dev/null"
if [[ $replica_before -eq 0 ]]; then
  check "  ... the replica it started is stopped" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$REPLICA_PORT_LOCAL) 2>/dev/null"
fi
for p in $ports; do
  check "  ... port $p is free" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null"
done

say "the stack behind nginx does what deploy/nginx/homebase.conf promises"
